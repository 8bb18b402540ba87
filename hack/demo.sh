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
# shellcheck source=lib/data-path.sh
source hack/lib/data-path.sh

WORK=$(mktemp -d)
PRIVGATE_PID=""
cleanup() {
  # privgate and the control plane together: each drains the other's keep-alive connections.
  cp_kill ${PRIVGATE_PID:+"$PRIVGATE_PID"} "${CP_PIDS[@]}" "${DP_PIDS[@]}"
  CP_PIDS=() DP_PIDS=()
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
LEGACY_INGRESS='apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: grafana-old, namespace: legacy}
spec:
  ingressClassName: nginx
  rules:
    - host: grafana-old.private.example.com
      http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: grafana-old, port: {number: 80}}}}]}'
"$KUBECTL" apply -f - >/dev/null <<<"$LEGACY_INGRESS"
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
# examples/istio/ and examples/envoy-gateway/ are judged too: each route against the login policy
# beside it. (examples/traefik/ has a config of its own: see the last section.)
show bin/privgate check --config examples/privgate.yaml -f examples/admitted -f examples/denied -f examples/istio -f examples/envoy-gateway
if [ "$RC" -eq 1 ] && grep -q "10 admitted (2 mutated), 3 denied" <<<"$OUT"; then
  record OK "privgate check: same verdicts (10 admitted, 3 denied), exit 1"
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

heading "6. From the network: privgate probe through a real Traefik and oauth2-proxy"
# Traefik's ingress-nginx provider serves class nginx as ingress-nginx would, auth-url included:
# what privgate predicts from the manifests, asked of the controller. Each private host of the
# zone (privgate audit's list, less the exempt login host) gets the plain request and the
# bypass variants, without credentials (README, "privgate probe").
dp_start "$WORK/data-path"
"$KUBECTL" apply -f - >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
YAML
dp_backend legacy grafana-old
dp_backend argocd argocd-server
# What cert-manager would issue for the tls privgate adds (the Ingress names the issuer).
dp_certificate argocd argocd-server-privgate-tls argocd.private.example.com
dp_certificate legacy grafana-old-privgate-tls grafana-old.private.example.com
# Traefik reads the new objects within a few seconds.
for _ in $(seq 60); do
  [ "$(dp_status grafana-old.private.example.com)" = 200 ] && [ "$(dp_status argocd.private.example.com)" != 404 ] && break
  sleep 0.5
done
show bin/privgate probe --kubeconfig "$KUBECONFIG" --config examples/privgate.yaml --address "$DP_HTTPS" --insecure
if [ "$RC" -eq 1 ] && grep -q "OPEN: grafana-old.private.example.com" <<<"$OUT" && ! grep -qE "^(open|unreachable) .*argocd" <<<"$OUT" &&
  grep -qE "^login +401 argocd.private.example.com +plain" <<<"$OUT"; then
  record OK "privgate probe: legacy/grafana-old open on the network, argocd behind the login (401), exit 1"
else
  record FAIL "privgate probe did not find grafana-old open and argocd behind the login"
fi
# The fix: the same manifest, applied through privgate now, comes back with the login.
# (replace, not apply: kubectl apply sends nothing for a manifest it already applied.)
show "$KUBECTL" replace -f - <<<"$LEGACY_INGRESS"
for _ in $(seq 60); do
  [ "$(dp_status grafana-old.private.example.com)" != 200 ] && break
  sleep 0.5
done
show bin/privgate probe --kubeconfig "$KUBECONFIG" --config examples/privgate.yaml --address "$DP_HTTPS" --insecure
if [ "$RC" -eq 0 ] && ! grep -qE "^(open|unreachable) " <<<"$OUT"; then
  record OK "after the fix, privgate probe: every request meets the login, exit 0"
else
  record FAIL "after the fix, privgate probe still found a request past the login"
fi

heading "7. A private host published through an Istio gateway needs login in front of the gateway"
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

heading "8. A private host on Envoy Gateway needs a SecurityPolicy with login in front of it"
# Envoy Gateway's class runs the Gateway: its login is the SecurityPolicy in force on each route
# rule and listener (docs/gateway-api.md). No Envoy runs here: privgate judges the objects.
for ns in gateways argo; do "$KUBECTL" create namespace "$ns" >/dev/null 2>&1 || true; done
show "$KUBECTL" apply -f examples/envoy-gateway/gateway.yaml
if [ "$RC" -ne 0 ] && grep -qF "[gateway-login] gateways/private *.private.example.com" <<<"$OUT"; then
  record OK "Gateway on Envoy Gateway refused without a SecurityPolicy (gateway-login)"
else
  record FAIL "Gateway on Envoy Gateway was not refused with gateway-login"
fi
# privgate envoygateway policy prints the SecurityPolicy (and the ReferenceGrant it needs);
# examples/envoy-gateway/login-policy.yaml is that, with comments.
show bin/privgate envoygateway policy --config examples/privgate.yaml -f examples/envoy-gateway/gateway.yaml
if [ "$RC" -eq 0 ] && grep -q "kind: SecurityPolicy" <<<"$OUT" && grep -q "name: oauth2-proxy" <<<"$OUT"; then
  record OK "privgate envoygateway policy prints the covering SecurityPolicy"
else
  record FAIL "privgate envoygateway policy did not print the covering SecurityPolicy"
fi
show "$KUBECTL" apply -f examples/envoy-gateway/login-policy.yaml
# privgate judges the Gateway against its cache of policies: wait for the new one there.
for _ in $(seq 40); do
  "$KUBECTL" apply --dry-run=server -f examples/envoy-gateway/gateway.yaml >/dev/null 2>&1 && break
  sleep 0.5
done
show "$KUBECTL" apply -f examples/envoy-gateway/gateway.yaml -f examples/envoy-gateway/workflows-route.yaml
if [ "$RC" -eq 0 ] && grep -q "httproute.gateway.networking.k8s.io/argo-workflows created" <<<"$OUT"; then
  record OK "Gateway and route admitted once the Gateway's SecurityPolicy covers them"
else
  record FAIL "Gateway or route refused with the SecurityPolicy in place"
fi
# A route-level policy written for CORS only replaces the Gateway's whole policy, login included.
cat >"$WORK/cors-policy.yaml" <<'YAML'
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: cors, namespace: argo}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: argo-workflows}]
  cors: {allowOrigins: ["https://dashboard.private.example.com"]}
YAML
for _ in $(seq 40); do # until privgate's cache holds the route
  "$KUBECTL" apply --dry-run=server -f "$WORK/cors-policy.yaml" >/dev/null 2>&1 || break
  sleep 0.5
done
show "$KUBECTL" apply -f "$WORK/cors-policy.yaml"
if [ "$RC" -ne 0 ] && grep -qF "[securitypolicy-uncovers] argo/cors workflows.private.example.com" <<<"$OUT"; then
  record OK "a route-level CORS policy replacing the login refused (securitypolicy-uncovers)"
else
  record FAIL "the route-level CORS policy was not refused"
fi
echo "  mergeType: StrategicMerge" >>"$WORK/cors-policy.yaml"
show "$KUBECTL" apply -f "$WORK/cors-policy.yaml"
if [ "$RC" -eq 0 ]; then
  record OK "the same with mergeType: StrategicMerge keeps the login, admitted"
else
  record FAIL "the merged CORS policy was refused"
fi

heading "9. Moving to Gateway API without losing the login: privgate migrate"
# The argocd Ingress of step 1, moved to Istio's Gateway API: its route, a Gateway with its
# certificate, the login in front of it, all judged before anything is printed. (Its port is
# named: the Service says the number.)
MIGRATE="bin/privgate migrate --to istio --config examples/privgate.yaml -f examples/admitted/argocd-server.yaml -f cmd/privgate/testdata/migrate/services.yaml"
show $MIGRATE
# What goes to kubectl is standard output alone (the notes on what stays behind go to stderr).
set +e
MIGRATED=$($MIGRATE 2>/dev/null)
set -e
if [ "$RC" -eq 0 ] && grep -q "kind: HTTPRoute" <<<"$MIGRATED" && grep -q "action: CUSTOM" <<<"$MIGRATED"; then
  record OK "privgate migrate writes the route, the Gateway and the login"
else
  record FAIL "privgate migrate did not write the route and its login"
fi
show "$KUBECTL" apply -f - <<<"$MIGRATED"
if [ "$RC" -eq 0 ] && grep -q "httproute.gateway.networking.k8s.io/argocd-server created" <<<"$OUT"; then
  record OK "the migration applies with privgate's webhooks on"
else
  record FAIL "the migration was refused by privgate's webhooks"
fi
# Grafana lets in /developers and /sre only. Its groups travel to the login configured for exactly
# them (istio.groupLogins: an oauth2-proxy run with --allowed-group): a Gateway of their own (Istio
# runs one CUSTOM provider per gateway workload) whose policy names that provider, and the route
# carries the groups annotation, which privgate judges its login against.
MIGRATE="bin/privgate migrate --to istio --config examples/privgate.yaml -f examples/admitted/grafana.yaml"
show $MIGRATE
set +e
MIGRATED=$($MIGRATE 2>/dev/null)
set -e
if [ "$RC" -eq 0 ] && grep -q "name: oauth2-proxy-developers-sre" <<<"$MIGRATED" && grep -q "privgate.io/allowed-groups: /developers,/sre" <<<"$MIGRATED"; then
  record OK "Grafana's allowed groups travel to Istio: a Gateway of their own, their group's login"
else
  record FAIL "Grafana's allowed groups did not travel to Istio"
fi
show "$KUBECTL" apply -f - <<<"$MIGRATED"
if [ "$RC" -eq 0 ] && grep -q "httproute.gateway.networking.k8s.io/grafana created" <<<"$OUT"; then
  record OK "Grafana's migration applies with privgate's webhooks on"
else
  record FAIL "Grafana's migration was refused by privgate's webhooks"
fi
# Without a login for its groups, it is refused, naming the key to add one under.
sed '/^  groupLogins:/,/^    \(provider\|service\):/d' examples/privgate.yaml >"$WORK/privgate-no-group-logins.yaml"
sed -i "s#file: groups.txt#file: $PWD/examples/groups.txt#" "$WORK/privgate-no-group-logins.yaml"
show bin/privgate migrate --to istio --config "$WORK/privgate-no-group-logins.yaml" -f examples/admitted/grafana.yaml
if [ "$RC" -eq 1 ] && grep -q "refused: monitoring/grafana metadata.annotations\[privgate.io/allowed-groups\]" <<<"$OUT" && grep -q "istio.groupLogins has no login" <<<"$OUT"; then
  record OK "without a login for its groups, Grafana is refused, naming istio.groupLogins"
else
  record FAIL "Grafana without a login for its groups was not refused"
fi

heading "10. Traefik (k3s): the default class traefik, the login a ForwardAuth Middleware"
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
# Allowed groups on Traefik: the Ingress for /developers gets the group login (a forwardAuth with
# allowed_groups=/developers, login.yaml's second Middleware), which privgate names for it.
"$KUBECTL" create namespace argocd >/dev/null 2>&1 || true
show "$KUBECTL" apply -f examples/traefik/admitted/argocd-groups-ingress.yaml
if [ "$RC" -eq 0 ] && "$KUBECTL" -n argocd get ingress argocd -o jsonpath='{.metadata.annotations.traefik\.ingress\.kubernetes\.io/router\.middlewares}' |
  grep -qE "^traefik-oauth2-proxy-[0-9a-f]{8}@kubernetescrd$"; then
  record OK "an Ingress allowing /developers on Traefik runs that group's login Middleware"
else
  record FAIL "an Ingress allowing /developers on Traefik did not get its group's login"
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
  if [ -s "$WORK/data-path/traefik.log" ]; then echo "Traefik's log:"; grep -v '"level":"info"' "$WORK/data-path/traefik.log" | tail -20; fi
  exit 1
fi
echo "All steps behaved as expected."
