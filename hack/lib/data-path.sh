# shellcheck shell=bash
# The real data path for the demo: Traefik (its ingress-nginx provider serving class nginx, as a
# cluster moving off ingress-nginx runs it) reading the demo's API server, oauth2-proxy at the
# auth-url privgate writes, and an app behind every Service. Source after control-plane.sh (it
# needs KUBECONFIG and KUBECTL), then:
#   dp_start WORKDIR     builds (once, cached) Traefik and oauth2-proxy and starts them; exports
#                        DP_HTTP and DP_HTTPS (Traefik's entrypoints, 127.0.0.1:PORT)
#   dp_backend NS NAME   applies a headless Service NAME and its EndpointSlice pointing at the app
#   dp_certificate NS SECRET HOST   the TLS Secret cert-manager would issue for HOST
#   dp_status HOST       the status Traefik answers for GET http://HOST/
# oauth2-proxy answers as https://oauth2.private.example.com (a certificate from a fresh CA that
# Traefik trusts through SSL_CERT_FILE); no DNS names it, so Traefik reaches it through
# hack/netdemo's CONNECT proxy (HTTPS_PROXY). It needs no identity provider to refuse an
# anonymous request: the e2e suite (test/e2e/datapath_test.go) runs the whole login.

DP_PIDS=()

dp_log() { echo "data-path: $*" >&2; }

dp_ip() { # this machine's first non-loopback IPv4: EndpointSlices refuse 127.0.0.0/8
  local ip
  ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' || true)
  [ -n "$ip" ] || { dp_log "no non-loopback IPv4 address"; return 1; }
  echo "$ip"
}

dp_wait() { # dp_wait URL: until it answers
  local _
  for _ in $(seq 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/${1##*:}") 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  dp_log "nothing listens on $1"
  return 1
}

dp_start() {
  local work root traefik oauth2 secret app connect oauth2_http oauth2_https
  mkdir -p "$1"
  work=$(cd "$1" && pwd)
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  traefik=$(bash "$root/hack/build-traefik.sh")
  oauth2=$(bash "$root/hack/build-oauth2-proxy.sh")
  DP_IP=$(dp_ip)
  go -C "$root" build -o "$work/netdemo" ./hack/netdemo
  "$PRIVGATE" certs generate --dir "$work/oauth2-certs" --san oauth2.private.example.com --validity 1h >/dev/null

  app=$(cp_free_port) connect=$(cp_free_port) oauth2_http=$(cp_free_port) oauth2_https=$(cp_free_port)
  DP_APP_PORT=$app
  "$work/netdemo" -app "0.0.0.0:$app" -connect "127.0.0.1:$connect" \
    -route "oauth2.private.example.com:443=127.0.0.1:$oauth2_https" >"$work/netdemo.log" 2>&1 &
  DP_PIDS+=($!)

  secret=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  # No identity provider runs here: discovery is skipped and its endpoints only named.
  local idp=https://keycloak.example.com/realms/platform
  "$oauth2" --http-address "127.0.0.1:$oauth2_http" --https-address "127.0.0.1:$oauth2_https" \
    --tls-cert-file "$work/oauth2-certs/tls.crt" --tls-key-file "$work/oauth2-certs/tls.key" \
    --provider oidc --oidc-issuer-url "$idp" --skip-oidc-discovery \
    --login-url "$idp/protocol/openid-connect/auth" --redeem-url "$idp/protocol/openid-connect/token" \
    --oidc-jwks-url "$idp/protocol/openid-connect/certs" \
    --client-id oauth2-proxy --client-secret demo --cookie-secret "$secret" \
    --cookie-domain .private.example.com --whitelist-domain .private.example.com \
    --email-domain '*' --reverse-proxy --silence-ping-logging >"$work/oauth2-proxy.log" 2>&1 &
  DP_PIDS+=($!)

  DP_HTTP=127.0.0.1:$(cp_free_port) DP_HTTPS=127.0.0.1:$(cp_free_port)
  local ping=127.0.0.1:$(cp_free_port)
  "$KUBECTL" apply --server-side -f "$(dirname "$traefik")/crds.yml" >/dev/null
  HTTPS_PROXY="http://127.0.0.1:$connect" NO_PROXY="$DP_IP,127.0.0.1,localhost" \
    SSL_CERT_FILE="$work/oauth2-certs/ca.crt" \
    "$traefik" --entryPoints.web.address="$DP_HTTP" --entryPoints.websecure.address="$DP_HTTPS" \
    --entryPoints.websecure.http.tls=true --entryPoints.ping.address="$ping" --ping.entryPoint=ping \
    --providers.kubernetesingress --providers.kubernetescrd \
    --experimental.kubernetesingressnginx --providers.kubernetesingressnginx \
    --log.level=INFO >"$work/traefik.log" 2>&1 &
  DP_PIDS+=($!)
  dp_wait "$ping" && dp_wait "$DP_HTTP" && dp_wait "127.0.0.1:$oauth2_https" && dp_wait "127.0.0.1:$app"
  export DP_HTTP DP_HTTPS DP_IP DP_APP_PORT
  dp_log "Traefik on http://$DP_HTTP and https://$DP_HTTPS, oauth2-proxy as https://oauth2.private.example.com"
}

dp_backend() {
  "$KUBECTL" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: $2, namespace: $1}
spec:
  clusterIP: None
  ports: [{name: http, port: 80, targetPort: $DP_APP_PORT}, {name: https, port: 443, targetPort: $DP_APP_PORT}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: $2, namespace: $1, labels: {kubernetes.io/service-name: $2}}
addressType: IPv4
ports: [{name: http, port: $DP_APP_PORT, protocol: TCP}, {name: https, port: $DP_APP_PORT, protocol: TCP}]
endpoints: [{addresses: ["$DP_IP"], conditions: {ready: true}}]
YAML
}

dp_certificate() { # dp_certificate NS SECRET HOST: the Secret cert-manager would issue for HOST
  local dir
  dir=$(mktemp -d)
  "$PRIVGATE" certs generate --dir "$dir" --san "$3" --validity 1h >/dev/null
  "$KUBECTL" -n "$1" create secret tls "$2" --cert "$dir/tls.crt" --key "$dir/tls.key" >/dev/null
  rm -rf "$dir"
}

dp_status() { # dp_status HOST: the status Traefik's web entrypoint answers for GET / on HOST
  local code=000 _
  if exec 3<>"/dev/tcp/${DP_HTTP%:*}/${DP_HTTP##*:}"; then
    printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
    read -r _ code _ <&3 || true
    exec 3>&-
  fi
  echo "$code"
}
