#!/usr/bin/env bash
# Copies the OpenReports Report CRD into deploy/crds from the reports-api module, so that the CRD we
# ship is the one generated for the Go types the audit writes. The file is generated upstream
# (controller-gen): it is copied byte for byte, never edited here.
#
#   hack/crds.sh            the version in go.mod
#   hack/crds.sh v0.2.2     another version (then require the same one in go.mod)
set -euo pipefail
cd "$(dirname "$0")/.."

MODULE=github.com/openreports/reports-api
CRD=openreports.io_reports.yaml
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
rm -f "deploy/crds/$CRD"
cp "$dir/config/crd/$CRD" "deploy/crds/$CRD"
chmod 0644 "deploy/crds/$CRD"
# The README names the version people get; keep it true.
sed -i "s|$MODULE@v[^ \`)]*|$MODULE@$version|g" deploy/crds/README.md
log "deploy/crds/$CRD from $MODULE@$version"
