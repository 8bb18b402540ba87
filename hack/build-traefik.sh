#!/usr/bin/env bash
# Builds Traefik from the Go module proxy at a pinned version and caches the binary outside the
# repository, keyed on version; a second run builds nothing. Prints the binary's path on its last
# line. `go install` refuses the module (its go.mod has replace directives), so the module's
# directory is copied and built as the main module there (about 6 minutes on 2 cores, once).
# v3.7 cannot be built this way: a module it needs (traefik/dynamic/ext) is not served.
# The copy's CRD definitions are kept beside the binary (crds.yml), for the tests to apply.
set -euo pipefail

TRAEFIK_VERSION=${TRAEFIK_VERSION:-v3.6.12}
CACHE=${PRIVGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/privgate}
DIR="$CACHE/traefik-$TRAEFIK_VERSION"
BIN="$DIR/traefik"
export GOWORK=off GOTOOLCHAIN=local

log() { echo "build-traefik: $*" >&2; }

have() {
  local out
  [ -x "$BIN" ] && [ -s "$DIR/crds.yml" ] && out=$("$BIN" version 2>/dev/null) && [[ "$out" == *"${TRAEFIK_VERSION#v}"* ]]
}

if ! have; then
  log "building traefik $TRAEFIK_VERSION from the Go module proxy (about 6 minutes on 2 cores, once)"
  mkdir -p "$DIR"
  src=$(cd "$DIR" && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || { log "go mod download gave no module directory"; exit 1; }
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  # The version string, as Traefik's own build stamps it (pkg/version).
  ( cd "$work" && GOFLAGS=-mod=mod go build -buildvcs=false -trimpath \
      -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
      -o "$BIN" ./cmd/traefik ) >&2
  cp "$work/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml" "$DIR/crds.yml"
  have || { log "$BIN does not report version $TRAEFIK_VERSION"; exit 1; }
fi
echo "$BIN"
