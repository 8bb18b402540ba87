#!/usr/bin/env bash
# Copies the OpenReports Report and ClusterReport CRDs into deploy/crds from the reports-api module, so that the CRD we
# ship is the one generated for the Go types the audit writes. The file is generated upstream
# (controller-gen): it is copied byte for byte, never edited here.
#
# It also copies the Istio and Gateway API CRDs that `privgate check` validates objects against
# (policy/crdschema embeds them) from istio.io/api and sigs.k8s.io/gateway-api at the versions in
# go.mod, the ones whose Go types privgate decodes with, Envoy Gateway's SecurityPolicy CRD from
# github.com/envoyproxy/gateway and Traefik's (IngressRoute, IngressRouteTCP, Middleware) from
# github.com/traefik/traefik/v3, each at the version pinned below (neither module is in go.mod:
# privgate decodes the fields it reads into small types of its own, policy/envoygateway and
# policy/traefik/router, and the CRD is what holds those types to the real schema); a test in
# policy/crdschema keeps them equal.
#
#   hack/crds.sh            the version in go.mod
#   hack/crds.sh v0.2.2     another reports-api version (then require the same one in go.mod)
set -euo pipefail
cd "$(dirname "$0")/.."

MODULE=github.com/openreports/reports-api
CRDS=(openreports.io_reports.yaml openreports.io_clusterreports.yaml)
export GOWORK=off GOTOOLCHAIN=local

log() { echo "crds: $*" >&2; }

version=${1:-}
if [ -z "$version" ]; then
  version=$(go list -m -f '{{.Version}}' "$MODULE") ||
    { log "$MODULE is not in go.mod yet: name a version, e.g. hack/crds.sh v0.2.1"; exit 1; }
fi
go mod download "$MODULE@$version"
dir=$(go list -m -f '{{.Dir}}' "$MODULE@$version")

# The module cache is read-only: replace the file rather than write through a 0444 copy.
for crd in "${CRDS[@]}"; do
  # deploy/crds for kustomize, and the chart's copy (crds.install), kept identical (TestChart).
  for to in deploy/crds charts/privgate/files/crds; do
    rm -f "$to/$crd"
    cp "$dir/config/crd/$crd" "$to/$crd"
    chmod 0644 "$to/$crd"
  done
done
# The README names the version people get; keep it true.
sed -i "s|$MODULE@v[^ \`)]*|$MODULE@$version|g" deploy/crds/README.md
log "deploy/crds/{${CRDS[*]}} from $MODULE@$version"

# policy/crdschema: the CRDs of the kinds privgate judges, at the versions in go.mod (never an
# argument: the schema must be the one of the Go types privgate decodes with).
SCHEMAS=policy/crdschema/crds
ISTIO=istio.io/api
ISTIO_CRDS=(authorizationpolicies.security.istio.io virtualservices.networking.istio.io gateways.networking.istio.io)
GATEWAY=sigs.k8s.io/gateway-api
GATEWAY_CRDS=(gatewayclasses gateways httproutes grpcroutes referencegrants)
# Pinned here, not in go.mod; policy/crdschema's test reads it from this line.
ENVOY_GATEWAY=github.com/envoyproxy/gateway
ENVOY_GATEWAY_VERSION=v1.9.1
ENVOY_GATEWAY_CRDS=(gateway.envoyproxy.io_securitypolicies.yaml)
TRAEFIK=github.com/traefik/traefik/v3
TRAEFIK_VERSION=v3.6.12 # also in policy/crdschema's TestEmbeddedCRDsMatchModules
TRAEFIK_FILE=docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml
TRAEFIK_CRDS=(ingressroutes.traefik.io ingressroutetcps.traefik.io middlewares.traefik.io)

istio_version=$(go list -m -f '{{.Version}}' "$ISTIO")
gateway_version=$(go list -m -f '{{.Version}}' "$GATEWAY")
go mod download "$ISTIO@$istio_version" "$GATEWAY@$gateway_version"
istio_dir=$(go list -m -f '{{.Dir}}' "$ISTIO")
gateway_dir=$(go list -m -f '{{.Dir}}' "$GATEWAY")
envoy_dir=$(go mod download -json "$ENVOY_GATEWAY@$ENVOY_GATEWAY_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')

mkdir -p "$SCHEMAS"
rm -f "$SCHEMAS"/*.yaml
# Istio ships one multi-document file: take our documents out of it unchanged.
go run ./hack/crdsplit "$istio_dir/kubernetes/customresourcedefinitions.gen.yaml" "$SCHEMAS" "${ISTIO_CRDS[@]}"
traefik_dir=$(go mod download -json "$TRAEFIK@$TRAEFIK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
go run ./hack/crdsplit "$traefik_dir/$TRAEFIK_FILE" "$SCHEMAS" "${TRAEFIK_CRDS[@]}"
gateway_files=()
for plural in "${GATEWAY_CRDS[@]}"; do
  crd=gateway.networking.k8s.io_$plural.yaml
  gateway_files+=("$crd")
  cp "$gateway_dir/config/crd/standard/$crd" "$SCHEMAS/$crd"
  chmod 0644 "$SCHEMAS/$crd"
done

for crd in "${ENVOY_GATEWAY_CRDS[@]}"; do
  cp "$envoy_dir/charts/gateway-helm/charts/crds/crds/generated/$crd" "$SCHEMAS/$crd"
  chmod 0644 "$SCHEMAS/$crd"
done

items() { printf '\n  - `%s`' "$@"; }
cat >"$SCHEMAS/README.md" <<README
The CustomResourceDefinitions that \`privgate check\` validates Istio, Gateway API, Envoy Gateway
and Traefik objects against; package \`policy/crdschema\` embeds every \`*.yaml\` here. Written by \`hack/crds.sh\`, never
edited by hand:

- from \`$ISTIO@$istio_version\`, \`kubernetes/customresourcedefinitions.gen.yaml\`, one document
  each, split out byte for byte (\`hack/crdsplit\`) into \`<group>_<plural>.yaml\`:$(items "${ISTIO_CRDS[@]}")
- from \`$GATEWAY@$gateway_version\`, \`config/crd/standard/\`, copied byte for byte:$(items "${gateway_files[@]}")
- from \`$ENVOY_GATEWAY@$ENVOY_GATEWAY_VERSION\` (pinned in \`hack/crds.sh\`, not in go.mod),
  \`charts/gateway-helm/charts/crds/crds/generated/\`, copied byte for byte:$(items "${ENVOY_GATEWAY_CRDS[@]}")
- from \`$TRAEFIK@$TRAEFIK_VERSION\` (pinned in hack/crds.sh, not in go.mod), \`$TRAEFIK_FILE\`,
  split out the same way:$(items "${TRAEFIK_CRDS[@]}")

The first two follow go.mod: after bumping either module there, run \`hack/crds.sh\` again
(\`TestEmbeddedCRDsMatchModules\` fails until the copies match the modules' files).
README
log "$SCHEMAS from $ISTIO@$istio_version, $GATEWAY@$gateway_version, $ENVOY_GATEWAY@$ENVOY_GATEWAY_VERSION and $TRAEFIK@$TRAEFIK_VERSION"
