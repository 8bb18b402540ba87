#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kubectl from the Go module proxy at pinned versions and caches the
# binaries outside the repository, keyed on version. A second run builds nothing. Prints the
# directory holding the three binaries (usable as KUBEBUILDER_ASSETS) on its last line.
#
# Why from source: the only registry our machines reach is the Go module proxy, and
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces staging modules with local paths),
# so a scratch module pins every staging module to its published version instead.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
CACHE=${PRIVGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/privgate}
BIN="$CACHE/control-plane-k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

log() { echo "build-control-plane: $*" >&2; }

# reports "$2" in the output of command "$1 ..." (captured first: with pipefail, `cmd | grep -q`
# fails at random when grep exits before cmd has written everything).
reports() {
  local out
  out=$("${@:2}" 2>/dev/null) || return 1
  [[ "$out" == *"$1"* ]]
}

have() {
  [ -x "$BIN/etcd" ] && [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubectl" ] &&
    reports "$K8S_VERSION" "$BIN/kube-apiserver" --version &&
    reports "$K8S_VERSION" "$BIN/kubectl" version --client &&
    reports "${ETCD_VERSION#v}" "$BIN/etcd" --version
}

if have; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$BIN"
export GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
work=$(mktemp -d)
trap 'rm -rf "$work" || true' EXIT

if ! { [ -x "$BIN/etcd" ] && reports "${ETCD_VERSION#v}" "$BIN/etcd" --version; }; then
  log "building etcd $ETCD_VERSION (about 1 minute)"
  mkdir -p "$work/etcd"
  ( cd "$work/etcd"
    printf 'module etcdbuild\n\ngo 1.26.0\n' > go.mod
    # `go install etcd@version` fails on etcd's replace directives; a scratch module does not.
    go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
    go build -o "$BIN/etcd" go.etcd.io/etcd/server/v3 >&2 )
fi

log "building kube-apiserver and kubectl $K8S_VERSION (7–16 minutes on 2 cores, once)"
mkdir -p "$work/k8s"
cd "$work/k8s"
printf 'module kasbuild\n\ngo 1.26.0\n' > go.mod
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
staging_version="v0${K8S_VERSION#v1}"
# Every staging module that kubernetes requires at v0.0.0 is published as k8s.io/X at v0.<minor>.<patch>.
n=0
for mod in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod"); do
  if grep -qE "^[[:space:]]*$mod v0\.0\.0" "$gomod"; then
    go mod edit -replace="$mod=$mod@$staging_version"
    n=$((n + 1))
  fi
done
log "pinned $n staging modules to $staging_version"
log "resolving modules"
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
log "compiling (progress: one line a minute)"
( while sleep 60; do log "still compiling..."; done ) &
ticker=$!
# Every command in an EXIT trap counts under set -e: a kill of a ticker already gone would turn
# a finished build into a failure (it did, on a fresh machine), so nothing here may fail.
trap 'kill "$ticker" 2>/dev/null || true; rm -rf "$work" || true' EXIT
go build -ldflags "$ldflags" -o "$BIN/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl >&2
kill "$ticker" 2>/dev/null || true

have || { log "built binaries do not report $K8S_VERSION / etcd $ETCD_VERSION"; exit 1; }
log "done: $BIN"
echo "$BIN"
