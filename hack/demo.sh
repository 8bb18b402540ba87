#!/usr/bin/env bash
# make demo: privgate in front of a real kube-apiserver, driven with kubectl as a user would.
# Starts etcd + kube-apiserver (built once from the Go module proxy, then cached), privgate serve
# with a fresh CA, and the webhook configurations of deploy/webhooks rendered for the local URL;
# then walks through what privgate admits, mutates and denies, Ingresses first, then hosts
# published through an Istio gateway, then (restarted with a traefik section) Traefik's. Exit 0 only if every step behaved as expected. Everything
# it starts is stopped on exit or Ctrl-C.
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

heading "Before privgate: an Ingress nobody protected, and the CRDs"
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
# Istio's and Gateway API's CRDs, byte copies of those in the Go modules privgate is built with.
# Installed before privgate starts, which then watches their kinds at once (it looks for CRDs
# installed later every 15 s). Server-side: HTTPRoute's CRD is too large for kubectl's
# last-applied annotation.
"$KUBECTL" apply --server-side -f policy/crdschema/crds/ >/dev/null
"$KUBECTL" wait --for condition=Established --timeout 60s -f policy/crdschema/crds/ >/dev/null
echo "legacy/grafana-old stored without login; reports.openreports.io, Istio's and Gateway API's CRDs installed"

heading "Starting privgate serve with a fresh CA for 127.0.0.1"
"$PRIVGATE" certs generate --dir "$WORK/privgate-certs" --san 127.0.0.1 --validity 1h >/dev/null
PORT=$(cp_free_port)
"$PRIVGATE" serve --config examples/privgate.yaml --cert-dir "$WORK/privgate-certs" --host 127.0.0.1 \
  --port "$PORT" --metrics-bind-address 0 --namespace privgate >"$WORK/privgate.log" 2>&1 &
PRIVGATE_PID=$!

# Render deploy/webhooks for the local URL: a service reference cannot reach a local process.
# Every webhook of each configuration is pointed at privgate (Ingresses, Istio and Gateway API
# routes and gateways, AuthorizationPolicies, RBAC bindings), whatever their number.
CA=$(base64 -w0 <"$WORK/privgate-certs/ca.crt")
mkdir -p "$WORK/webhooks"
"$KUBECTL" kustomize deploy/webhooks >"$WORK/webhooks-service.yaml"
# clientconfig KIND PATH prints a JSON patch setting every webhook's clientConfig of KIND to PATH.
clientconfig() {
  local n ops=()
  # The one top-level list of a webhook configuration is its webhooks.
  n=$(awk -v kind="$1" '/^kind: /{k=$2} /^- / && k==kind {n++} END{print n+0}' "$WORK/webhooks-service.yaml")
  for ((i = 0; i < n; i++)); do
    ops+=("{\"op\": \"replace\", \"path\": \"/webhooks/$i/clientConfig\", \"value\": {\"url\": \"https://127.0.0.1:$PORT$2\", \"caBundle\": \"$CA\"}}")
  done
  local IFS=,
  echo "[${ops[*]}]"
}
cat >"$WORK/webhooks/kustomization.yaml" <<YAML
resources: [$(realpath --relative-to="$WORK/webhooks" deploy/webhooks)]
patches:
  - target: {kind: MutatingWebhookConfiguration, name: privgate}
    patch: '$(clientconfig MutatingWebhookConfiguration /mutate)'
  - target: {kind: ValidatingWebhookConfiguration, name: privgate}
    patch: '$(clientconfig ValidatingWebhookConfiguration /validate)'
YAML
"$KUBECTL" kustomize "$WORK/webhooks" >"$WORK/webhooks.yaml"
"$KUBECTL" apply -f "$WORK/webhooks.yaml" >/dev/null
for ns in argocd monitoring headlamp oauth2-proxy web privgate istio-system; do
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
# examples/istio/ is judged too: its VirtualService against the AuthorizationPolicy beside it.
# (examples/traefik/ has a config of its own: see the last section.)
show bin/privgate check --config examples/privgate.yaml -f examples/admitted -f examples/denied -f examples/istio
if [ "$RC" -eq 1 ] && grep -q "7 admitted (2 mutated), 3 denied" <<<"$OUT"; then
  record OK "privgate check: same verdicts (7 admitted, 3 denied), exit 1"
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

heading "6. A private host published through an Istio gateway needs login in front of the gateway"
# The shared gateway names no private host itself (*.example.com): admitted. A VirtualService
# binding grafana.private.example.com to it is refused until a CUSTOM AuthorizationPolicy sends
# every request for that host on the gateway's pods to oauth2-proxy; the message ends with one.
show "$KUBECTL" apply -f examples/istio/gateway.yaml
show "$KUBECTL" apply -f examples/istio/grafana-virtualservice.yaml
if [ "$RC" -ne 0 ] && grep -q "denied the request" <<<"$OUT" && grep -qF "[gateway-login] monitoring/grafana grafana.private.example.com" <<<"$OUT"; then
  record OK "grafana VirtualService refused (gateway-login), the policy to apply in the message"
else
  record FAIL "grafana VirtualService was not refused with gateway-login"
fi
# The message's policy is one line of JSON that kubectl accepts as it is.
sed -n 's/.*Apply: //p' <<<"$OUT" >"$WORK/login-policy.json"
echo "\$ kubectl apply --dry-run=server -f - <<<'{the policy after \"Apply:\"}'"
set +e
OUT=$("$KUBECTL" apply --dry-run=server -f - <"$WORK/login-policy.json" 2>&1)
RC=$?
set -e
echo "$OUT" | sed 's/^/  /'
if [ "$RC" -eq 0 ] && grep -q "authorizationpolicy.security.istio.io/privgate-login created (server dry run)" <<<"$OUT"; then
  record OK "the message's policy is accepted by kubectl apply"
else
  record FAIL "kubectl refused the policy in the message"
fi
# privgate istio policy prints the policies that cover every uncovered private host in view
# (here the manifests; --kubeconfig reads a cluster). examples/istio/login-policy.yaml is that
# policy with comments.
show bin/privgate istio policy --config examples/privgate.yaml -f examples/istio/gateway.yaml -f examples/istio/grafana-virtualservice.yaml
if [ "$RC" -eq 0 ] && grep -qF -- "- grafana.private.example.com:*" <<<"$OUT" && grep -q "name: oauth2-proxy" <<<"$OUT"; then
  record OK "privgate istio policy prints the covering policy (host and host:*)"
else
  record FAIL "privgate istio policy did not print the covering policy"
fi
show "$KUBECTL" apply -f examples/istio/login-policy.yaml
# privgate judges the VirtualService against its cache of policies: wait for the new one there.
for _ in $(seq 40); do
  "$KUBECTL" apply --dry-run=server -f examples/istio/grafana-virtualservice.yaml >/dev/null 2>&1 && break
  sleep 0.5
done
show "$KUBECTL" apply -f examples/istio/grafana-virtualservice.yaml
if [ "$RC" -eq 0 ] && grep -q "virtualservice.networking.istio.io/grafana created" <<<"$OUT"; then
  record OK "grafana VirtualService admitted once the login policy covers it"
else
  record FAIL "grafana VirtualService was refused with the login policy in place"
fi
# Deleting the policy now would publish Grafana without login. (Wait until privgate's cache
# holds the new VirtualService; a dry-run changes nothing.)
for _ in $(seq 40); do
  "$KUBECTL" delete --dry-run=server -f examples/istio/login-policy.yaml >/dev/null 2>&1 || break
  sleep 0.5
done
show "$KUBECTL" delete -f examples/istio/login-policy.yaml
if [ "$RC" -ne 0 ] && grep -qF "[authz-uncovers] istio-system/privgate-login grafana.private.example.com" <<<"$OUT" &&
  "$KUBECTL" -n istio-system get authorizationpolicy privgate-login >/dev/null 2>&1; then
  record OK "deleting the login policy refused (authz-uncovers), policy kept"
else
  record FAIL "deleting the login policy was not refused"
fi
show "$KUBECTL" get gateways.networking.istio.io,virtualservices,authorizationpolicies -A

heading "Traefik (k3s): the default class traefik, the login a ForwardAuth Middleware"
# privgate again, with examples/traefik/privgate.yaml: its traefik section (docs/traefik.md).
kill "$PRIVGATE_PID" 2>/dev/null || true
wait "$PRIVGATE_PID" 2>/dev/null || true
"$PRIVGATE" serve --config examples/traefik/privgate.yaml --cert-dir "$WORK/privgate-certs" --host 127.0.0.1 \
  --port "$PORT" --metrics-bind-address 0 --namespace privgate >"$WORK/privgate-traefik.log" 2>&1 &
PRIVGATE_PID=$!
for ns in traefik observability; do "$KUBECTL" create namespace "$ns" >/dev/null; done
show "$KUBECTL" apply -f examples/traefik/login.yaml
# A bare private Ingress: the API server sets the class traefik, privgate adds the login. (Until
# privgate is up with the Middleware in its cache, it is refused: fail closed.)
for _ in $(seq 40); do
  "$KUBECTL" apply --dry-run=server -f examples/traefik/admitted/grafana-ingress.yaml >/dev/null 2>&1 && break
  sleep 0.5
done
show "$KUBECTL" apply -f examples/traefik/admitted/grafana-ingress.yaml
show "$KUBECTL" -n observability get ingress grafana -o "go-template=$ANNOTATIONS"
if "$KUBECTL" -n observability get ingress grafana -o jsonpath='{.spec.ingressClassName} {.metadata.annotations.traefik\.ingress\.kubernetes\.io/router\.middlewares}' |
  grep -q "^traefik traefik-oauth2-proxy@kubernetescrd$"; then
  record OK "bare private Ingress under the default class traefik comes back with the login Middleware"
else
  record FAIL "bare private Ingress of class traefik was not mutated as expected"
fi
show "$KUBECTL" apply -f examples/traefik/denied/headlamp-no-login.yaml
if [ "$RC" -ne 0 ] && grep -qF "[traefik-login-missing]" <<<"$OUT"; then
  record OK "IngressRoute without the login refused (traefik-login-missing)"
else
  record FAIL "IngressRoute without the login was not refused"
fi
show "$KUBECTL" -n traefik delete middleware oauth2-proxy
if [ "$RC" -ne 0 ] && grep -qF "[traefik-uncovers]" <<<"$OUT"; then
  record OK "deleting the login Middleware in use refused (traefik-uncovers)"
else
  record FAIL "deleting the login Middleware in use was not refused"
fi

heading "Summary"
printf '%s\n' "${RESULTS[@]}"
if [ "$FAILED" -ne 0 ]; then
  echo "privgate's log:"; tail -20 "$WORK/privgate.log"
  exit 1
fi
echo "All steps behaved as expected."
