#!/usr/bin/env bash
# make bench: issue 7's load harness. Builds bin/privgate, opa (from the Go module proxy at a pinned
# version, cached outside the repository) and the harness (test/load), then runs privgate serve, a
# floor handler and opa run --server side by side under the same load, prints one table and writes
# docs/performance.md. Bounded at 5 minutes; every server it starts is stopped on exit and on ^C.
#
#   hack/bench.sh            the measured run (about 2 minutes), writes docs/performance.md
#   hack/bench.sh --quick    2 s windows, writes nothing: a smoke test
#
# Other flags go to the harness: bin/privgate-load -h lists them.
set -euo pipefail
cd "$(dirname "$0")/.."

OPA_VERSION=${OPA_VERSION:-v1.22.2}
CACHE=${PRIVGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/privgate}
OPA_DIR="$CACHE/opa-$OPA_VERSION"
OPA="$OPA_DIR/opa"
export GOWORK=off GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN=local

log() { echo "bench: $*" >&2; }

# Output captured before matching: with pipefail, `opa version | grep -q` fails at random when grep
# exits before opa has written everything.
have_opa() {
  local out
  [ -x "$OPA" ] && out=$("$OPA" version 2>/dev/null) && [[ $'\n'"$out"$'\n' == *$'\n'"Version: ${OPA_VERSION#v}"$'\n'* ]]
}

if ! have_opa; then
  log "building opa $OPA_VERSION from the Go module proxy (about a minute, once)"
  mkdir -p "$OPA_DIR"
  if ! ( cd "$OPA_DIR" && GOBIN="$OPA_DIR" go install "github.com/open-policy-agent/opa@$OPA_VERSION" ) >&2; then
    # `go install pkg@version` refuses modules with replace directives; a scratch module does not.
    log "go install failed; building from a scratch module"
    work=$(mktemp -d)
    trap 'rm -rf "$work" || true' EXIT
    ( cd "$work"
      printf 'module opabuild\n\ngo 1.26.0\n' > go.mod
      go get -tool "github.com/open-policy-agent/opa@$OPA_VERSION"
      go build -o "$OPA" github.com/open-policy-agent/opa ) >&2
  fi
  have_opa || { log "$OPA does not report version $OPA_VERSION"; exit 1; }
fi

log "building bin/privgate and bin/privgate-load"
go build -o bin/privgate ./cmd/privgate
go build -o bin/privgate-load ./test/load

revision=$(git describe --always --dirty 2>/dev/null || echo unknown)
bin/privgate-load --privgate bin/privgate --opa "$OPA" --revision "$revision" "$@"
case " $* " in
*" --quick "*) ;; # the smoke test stops here
*)
  # The audit's cost: a real kube-apiserver with 5,000 Ingresses (control plane cached by
  # build-control-plane.sh); adds its section to docs/performance.md.
  log "audit of 5,000 stored Ingresses"
  KUBEBUILDER_ASSETS="$(bash hack/build-control-plane.sh)" bin/privgate-load audit --privgate bin/privgate --out docs/performance.md
  # Bounded memory: mixes of concurrent ~7 MiB reviews and small ones against deploy/'s 192 MiB
  # limit; fails when a mix's peak RSS reaches it or a small review goes unanswered.
  log "memory under concurrent large reviews"
  bin/privgate-load memory --privgate bin/privgate --label "$revision" --out docs/performance.md
  ;;
esac
