#!/usr/bin/env bash
# Builds oauth2-proxy from the Go module proxy at a pinned version and caches the binary outside
# the repository, keyed on version; a second run builds nothing. Prints the binary's path on its
# last line.
set -euo pipefail

OAUTH2_PROXY_VERSION=${OAUTH2_PROXY_VERSION:-v7.15.6}
CACHE=${PRIVGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/privgate}
DIR="$CACHE/oauth2-proxy-$OAUTH2_PROXY_VERSION"
BIN="$DIR/oauth2-proxy"
export GOWORK=off GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN=local

log() { echo "build-oauth2-proxy: $*" >&2; }

have() { [ -x "$BIN" ] && [ -s "$DIR/version" ] && [ "$(cat "$DIR/version")" = "$OAUTH2_PROXY_VERSION" ]; }

if ! have; then
  log "building oauth2-proxy $OAUTH2_PROXY_VERSION from the Go module proxy (a few minutes, once)"
  mkdir -p "$DIR"
  ( cd "$DIR" && GOBIN="$DIR" go install "github.com/oauth2-proxy/oauth2-proxy/v7@$OAUTH2_PROXY_VERSION" ) >&2
  echo "$OAUTH2_PROXY_VERSION" > "$DIR/version"
  have || { log "$BIN was not built"; exit 1; }
fi
echo "$BIN"
