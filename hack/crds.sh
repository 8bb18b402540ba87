#!/usr/bin/env bash
# Copies the OpenReports Report and ClusterReport CRDs into deploy/crds from the reports-api module, so that the CRD we
# ship is the one generated for the Go types the audit writes. The file is generated upstream
# (controller-gen): it is copied byte for byte, never edited here.
#
#   hack/crds.sh            the version in go.mod
#   hack/crds.sh v0.2.2     another version (then require the same one in go.mod)
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
log "deploy/crds/$CRD from $MODULE@$version"
