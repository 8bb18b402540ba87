# privgate: `make help` lists the targets. `make test` is what CI (.ci/run) and the README run.
SHELL := /usr/bin/env bash
GO ?= go
BIN := bin/privgate
# A count, not a duration: with a duration go1.26's fuzz coordinator can fail a clean run with a
# bare "context deadline exceeded" at the deadline (go.dev/issue/75804, fixed in Go 1.27). It
# happened here once in CI, with no crasher written. 20000 inputs take about 10 s per target.
FUZZTIME ?= 20000x
BENCHTIME ?= 200x
# staticcheck, run from the Go module proxy at a pinned version (go run caches the build).
STATICCHECK_VERSION ?= v0.8.2

.PHONY: help build test unit fuzz bench-short bench-go bench e2e demo fmt vet lint control-plane helm data-path

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

build: ## build bin/privgate
	$(GO) build -o $(BIN) ./cmd/privgate

test: lint unit bench-short e2e ## everything CI runs: vet and staticcheck, unit (fuzz corpora replayed), benchmarks (short), end-to-end

# go test replays every fuzz target's seeds and testdata/fuzz corpus as plain tests: that is the
# fuzzing CI does, the same inputs every run. New inputs are explored by `make fuzz` only, which
# may find something new and fail at any time, so it never gates a merge.
unit: ## unit tests: config, hosts, mutation goldens, Rego tests, webhook over HTTPS, check, groups, fuzz corpora
	$(GO) test -count=1 ./...

fuzz: ## explore new inputs: each fuzz target for FUZZTIME inputs (20000x); not in make test or CI. Add a crasher found to testdata/fuzz
	$(GO) test -run '^$$' -fuzz '^FuzzZonesPrivate$$' -fuzztime $(FUZZTIME) ./policy/
	$(GO) test -run '^$$' -fuzz '^FuzzJSONValue$$' -fuzztime $(FUZZTIME) ./policy/internal/jsonterm/
	$(GO) test -run '^$$' -fuzz '^FuzzSurelyPublic$$' -fuzztime $(FUZZTIME) ./policy/ingress/
	$(GO) test -run '^$$' -fuzz '^FuzzSurelyPublic$$' -fuzztime $(FUZZTIME) ./policy/rbac/
	$(GO) test -run '^$$' -fuzz '^FuzzHostCoverage$$' -fuzztime $(FUZZTIME) ./policy/istio/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./policy/envoygateway/
	$(GO) test -run '^$$' -fuzz '^FuzzHandler$$' -fuzztime $(FUZZTIME) ./webhook/

bench-short: ## run every benchmark briefly so none rots
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./...

bench-go: ## the decision-path Go benchmarks at full length
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./policy/... ./webhook/ ./groups/

bench: ## load harness: privgate vs opa run --server vs an HTTPS floor (~90 s); writes docs/performance.md
	bash hack/bench.sh

control-plane: ## build (once, cached) etcd, kube-apiserver and kubectl from the Go module proxy
	bash hack/build-control-plane.sh

helm: ## build (once, cached) Helm from the Go module proxy, for the chart's tests
	bash hack/build-helm.sh

data-path: ## build (once, cached) Traefik and oauth2-proxy from the Go module proxy: the real data path of e2e and the demo
	bash hack/build-traefik.sh
	bash hack/build-oauth2-proxy.sh

e2e: control-plane helm data-path ## end-to-end tests through a real kube-apiserver + etcd (envtest), kubectl, Helm, Traefik and oauth2-proxy
	KUBEBUILDER_ASSETS="$$(bash hack/build-control-plane.sh)" HELM="$$(bash hack/build-helm.sh)" \
	TRAEFIK="$$(bash hack/build-traefik.sh)" OAUTH2_PROXY="$$(bash hack/build-oauth2-proxy.sh)" \
	$(GO) test -count=1 -tags e2e -timeout 15m ./test/e2e/

demo: data-path ## privgate in front of a real kube-apiserver, driven with kubectl, and probed through a real Traefik (no cluster needed)
	bash hack/demo.sh

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet, gofmt check
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet -tags e2e ./...

lint: vet ## vet, staticcheck (its default checks, pinned), and the policy's own tests through privgate
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags e2e ./...
	$(GO) run ./cmd/privgate policy test policy/ingress/rego
