#!/usr/bin/env bash
# Builds Helm from the Go module proxy at a pinned version and caches the binary outside the
# repository, keyed on version; a second run builds nothing. Prints the binary's path on its last
# line. The chart tests (make test) and `make chart` use it.
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.22.0}
CACHE=${PRIVGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/privgate}
DIR="$CACHE/helm-$HELM_VERSION"
HELM="$DIR/helm"
export GOWORK=off GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN=local

log() { echo "build-helm: $*" >&2; }

have() {
  local out
  [ -x "$HELM" ] && out=$("$HELM" version --short 2>/dev/null) && [[ "$out" == "$HELM_VERSION"* ]]
}

if ! have; then
  log "building helm $HELM_VERSION from the Go module proxy (a few minutes, once)"
  mkdir -p "$DIR"
  # -ldflags: helm reports its version from these, not from the module.
  ( cd "$DIR" && GOBIN="$DIR" go install -ldflags "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
      "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ) >&2
  have || { log "$HELM does not report version $HELM_VERSION"; exit 1; }
fi
echo "$HELM"
