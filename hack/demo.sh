#!/usr/bin/env bash
# make demo: privgate in front of a real kube-apiserver, driven with kubectl as a user would.
# Starts etcd + kube-apiserver (built once from the Go module proxy, then cached), privgate serve
# with a fresh CA, and the webhook configurations of deploy/webhooks rendered for the local URL;
# then walks through what privgate admits, mutates and denies. Exit 0 only if every step behaved
# as expected. Everything it starts is stopped on exit or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/control-plane.sh
source hack/lib/control-plane.sh

WORK=$(mktemp -d)
PRIVGATE_PID=""
cleanup() {
  # privgate and the control plane together: each drains the other's keep-alive connections.
  cp_kill ${PRIVGATE_PID:+"$PRIVGATE_PID"} "${CP_PIDS[@]}"
  CP_PIDS=()
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
heading() { echo; bold "== $*"; }
# Annotations one a line, without kubectl's own last-applied bookkeeping.
ANNOTATIONS='{{range $k, $v := .metadata.annotations}}{{if ne $k "kubectl.kubernetes.io/last-applied-configuration"}}{{$k}}: {{$v}}{{"\n"}}{{end}}{{end}}'
RESULTS=()
FAILED=0
record() { # record OK|FAIL "what"
  RESULTS+=("$(printf '%-4s %s' "$1" "$2")")
  [ "$1" = OK ] || FAILED=1
}
# show prints a command, runs it, and keeps its output and exit code in OUT and RC.
show() {
  echo "\$ $*" | sed "s|$KUBECTL|kubectl|; s|bin/privgate|privgate|"
  set +e
  OUT=$("$@" 2>&1)
  RC=$?
  set -e
  if [ -n "$OUT" ]; then echo "$OUT" | sed 's/^/  /'; else echo "  (nothing)"; fi
  return 0
}

heading "Building privgate and the local control plane (first run: 7–16 minutes, then cached)"
go build -o bin/privgate ./cmd/privgate
PRIVGATE=$PWD/bin/privgate
cp_start "$WORK"

heading "Before privgate: an Ingress nobody protected, and the OpenReports CRD"
# As on a cluster where privgate is installed late: this one never went through the webhook.
"$KUBECTL" create namespace legacy >/dev/null
"$KUBECTL" apply -f - >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: grafana-old, namespace: legacy}
spec:
  ingressClassName: nginx
  rules: [{host: grafana-old.private.example.com}]
YAML
"$KUBECTL" apply -k deploy/crds >/dev/null
echo "legacy/grafana-old stored without login; reports.openreports.io installed"

heading "Starting privgate serve with a fresh CA for 127.0.0.1"
"$PRIVGATE" certs generate --dir "$WORK/privgate-certs" --san 127.0.0.1 --validity 1h >/dev/null
PORT=$(cp_free_port)
"$PRIVGATE" serve --config examples/privgate.yaml --cert-dir "$WORK/privgate-certs" --host 127.0.0.1 \
  --port "$PORT" --metrics-bind-address 0 --namespace privgate >"$WORK/privgate.log" 2>&1 &
PRIVGATE_PID=$!

# Render deploy/webhooks for the local URL: a service reference cannot reach a local process.
CA=$(base64 -w0 <"$WORK/privgate-certs/ca.crt")
mkdir -p "$WORK/webhooks"
cat >"$WORK/webhooks/kustomization.yaml" <<YAML
resources: [$(realpath --relative-to="$WORK/webhooks" deploy/webhooks)]
patches:
  - target: {kind: MutatingWebhookConfiguration, name: privgate}
    patch: '[{"op": "replace", "path": "/webhooks/0/clientConfig", "value": {"url": "https://127.0.0.1:$PORT/mutate", "caBundle": "$CA"}}]'
  - target: {kind: ValidatingWebhookConfiguration, name: privgate}
    patch: '[{"op": "replace", "path": "/webhooks/0/clientConfig", "value": {"url": "https://127.0.0.1:$PORT/validate", "caBundle": "$CA"}}]'
YAML
"$KUBECTL" kustomize "$WORK/webhooks" >"$WORK/webhooks.yaml"
"$KUBECTL" apply -f "$WORK/webhooks.yaml" >/dev/null
for ns in argocd monitoring headlamp oauth2-proxy web privgate; do
  "$KUBECTL" create namespace "$ns" >/dev/null
done
# The API server picks up a new webhook configuration within about a second.
for _ in $(seq 60); do
  if "$KUBECTL" apply --dry-run=server -f examples/admitted/argocd-server.yaml -o yaml 2>/dev/null | grep -q auth-url; then
    break
  fi
  sleep 0.5
done
echo "privgate serving on https://127.0.0.1:$PORT, webhooks registered"

heading "1. A bare private Ingress is accepted, and comes back protected"
show "$KUBECTL" apply -f examples/admitted/argocd-server.yaml
show "$KUBECTL" -n argocd get ingress argocd-server -o "go-template=$ANNOTATIONS"
show "$KUBECTL" -n argocd get ingress argocd-server -o jsonpath='class: {.spec.ingressClassName}{"\n"}tls: {.spec.tls}{"\n"}'
if "$KUBECTL" -n argocd get ingress argocd-server -o jsonpath='{.metadata.annotations.nginx\.ingress\.kubernetes\.io/auth-url} {.spec.tls[0].secretName}' |
  grep -q "https://oauth2.private.example.com/oauth2/auth argocd-server-privgate-tls"; then
  record OK "bare private Ingress admitted with auth-url, auth-signin, issuer, class and tls injected"
else
  record FAIL "bare private Ingress was not mutated as expected"
fi

heading "2. Unprotected or weakened private Ingresses are rejected"
for case in "grafana-snippet:configuration-snippet" "headlamp-traefik:class-foreign" "prometheus-wrong-group:did you mean /developers?"; do
  file=${case%%:*} want=${case#*:}
  show "$KUBECTL" apply -f "examples/denied/$file.yaml"
  if [ "$RC" -ne 0 ] && grep -qF "$want" <<<"$OUT" && grep -q "denied the request" <<<"$OUT"; then
    record OK "$file rejected ($want)"
  else
    record FAIL "$file was not rejected with \"$want\""
  fi
done
show "$KUBECTL" get ingress -A
if ! grep -qE "grafana-snippet|headlamp|prometheus" <<<"$OUT"; then
  record OK "nothing denied was stored"
else
  record FAIL "a denied Ingress was stored"
fi

heading "3. Public and exempt Ingresses pass untouched"
for file in public-blog oauth2-proxy; do
  show "$KUBECTL" apply -f "examples/admitted/$file.yaml"
done
ns_name() { awk '/^  name:/{n=$2} /^  namespace:/{s=$2} END{print s" "n}' "$1"; }
for file in public-blog oauth2-proxy; do
  read -r ns name < <(ns_name "examples/admitted/$file.yaml")
  show "$KUBECTL" -n "$ns" get ingress "$name" -o "go-template=$ANNOTATIONS"
  if [ "$RC" -eq 0 ] && [ -z "$OUT" ]; then
    record OK "$file admitted untouched"
  else
    record FAIL "$file was changed or refused"
  fi
done

heading "4. privgate check gives the same verdicts offline"
show bin/privgate check --config examples/privgate.yaml -f examples/
if [ "$RC" -eq 1 ] && grep -q "4 admitted (2 mutated), 3 denied" <<<"$OUT"; then
  record OK "privgate check: same verdicts (4 admitted, 3 denied), exit 1"
else
  record FAIL "privgate check verdicts differ"
fi

heading "5. The whole zone: what was stored before privgate is found"
# The audit runs at start (and on every change): its Report appears within seconds.
for _ in $(seq 40); do
  "$KUBECTL" -n legacy get reports.openreports.io privgate-ingress-grafana-old >/dev/null 2>&1 && break
  sleep 0.5
done
show "$KUBECTL" get reports -A
if grep -qE "legacy +privgate-ingress-grafana-old +0 +3" <<<"$OUT"; then
  record OK "audit found legacy/grafana-old (Report: 3 failures)"
else
  record FAIL "no Report for legacy/grafana-old"
fi
show bin/privgate audit --kubeconfig "$KUBECONFIG" --config examples/privgate.yaml
if [ "$RC" -eq 1 ] && grep -q "DENIED    legacy/grafana-old" <<<"$OUT" && grep -qE "grafana-old.private.example.com +unprotected" <<<"$OUT"; then
  record OK "privgate audit: legacy/grafana-old unprotected, exit 1"
else
  record FAIL "privgate audit did not report legacy/grafana-old"
fi

heading "Summary"
printf '%s\n' "${RESULTS[@]}"
if [ "$FAILED" -ne 0 ]; then
  echo "privgate's log:"; tail -20 "$WORK/privgate.log"
  exit 1
fi
echo "All steps behaved as expected."
