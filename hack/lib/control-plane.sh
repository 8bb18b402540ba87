# shellcheck shell=bash
# A real etcd + kube-apiserver on 127.0.0.1, for the demo. Source this file, then:
#   cp_start WORKDIR    builds (once, cached) and starts them; exports KUBECONFIG and KUBECTL
#   cp_stop             stops every process cp_start started (also on EXIT via the caller's trap)
# Serving certificates come from `privgate certs generate` (PRIVGATE must point at the binary), the
# admin's client certificate from hack/devcerts (development only, so not in privgate), so nothing
# beyond Go and the module proxy is needed.

CP_PIDS=()

cp_log() { echo "control-plane: $*" >&2; }

# cp_free_port prints a TCP port nothing listens on (bash's /dev/tcp: no extra tools).
cp_free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  cp_log "no free port found"
  return 1
}

cp_start() {
  local work bin root etcd_port peer_port api_port
  # Absolute, since hack/devcerts runs from the repository root, not from the caller's directory.
  mkdir -p "$1"
  work=$(cd "$1" && pwd)
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  bin=$(bash "$root/hack/build-control-plane.sh")
  export KUBECTL="$bin/kubectl"
  mkdir -p "$work/etcd" "$work/pki"
  chmod 700 "$work/etcd"

  "$PRIVGATE" certs generate --dir "$work/pki/apiserver" --san 127.0.0.1 --san localhost --validity 24h >/dev/null
  go -C "$root" run ./hack/devcerts -dir "$work/pki/admin" -cn admin -org system:masters -validity 24h
  # The service-account signing key: any EC key will do; the serving key of a throwaway cert is one.
  "$PRIVGATE" certs generate --dir "$work/pki/sa" --san service-accounts --validity 24h >/dev/null

  etcd_port=$(cp_free_port) peer_port=$(cp_free_port) api_port=$(cp_free_port)
  "$bin/etcd" --data-dir "$work/etcd" --name default \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "default=http://127.0.0.1:$peer_port" --listen-metrics-urls "" \
    >"$work/etcd.log" 2>&1 &
  CP_PIDS+=($!)

  # --endpoint-reconciler-type=none: 1.37 refuses a loopback advertise address otherwise.
  "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --endpoint-reconciler-type=none \
    --secure-port "$api_port" \
    --tls-cert-file "$work/pki/apiserver/tls.crt" --tls-private-key-file "$work/pki/apiserver/tls.key" \
    --client-ca-file "$work/pki/admin/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$work/pki/sa/tls.key" --service-account-signing-key-file "$work/pki/sa/tls.key" \
    --service-cluster-ip-range 10.0.0.0/24 --authorization-mode RBAC \
    >"$work/apiserver.log" 2>&1 &
  CP_PIDS+=($!)

  export KUBECONFIG="$work/kubeconfig"
  "$KUBECTL" config set-cluster local --server "https://127.0.0.1:$api_port" \
    --certificate-authority "$work/pki/apiserver/ca.crt" --embed-certs >/dev/null
  "$KUBECTL" config set-credentials admin --client-certificate "$work/pki/admin/tls.crt" \
    --client-key "$work/pki/admin/tls.key" --embed-certs >/dev/null
  "$KUBECTL" config set-context local --cluster local --user admin >/dev/null
  "$KUBECTL" config use-context local >/dev/null

  for _ in $(seq 120); do
    if "$KUBECTL" get --raw /readyz >/dev/null 2>&1; then
      cp_log "kube-apiserver ready on https://127.0.0.1:$api_port (etcd on $etcd_port)"
      return 0
    fi
    sleep 0.5
  done
  cp_log "kube-apiserver did not become ready; its log:"
  tail -20 "$work/apiserver.log" >&2
  return 1
}

# cp_kill stops processes: SIGTERM, then SIGKILL for any still running after 10 s (a webhook or
# an API server draining keep-alive connections to each other would otherwise wait minutes).
cp_kill() {
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  local deadline=$((SECONDS + 10)) pid alive
  while [ "$SECONDS" -lt "$deadline" ]; do
    alive=0
    for pid in "$@"; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; fi
    done
    [ "$alive" -eq 1 ] || break
    sleep 0.2
  done
  kill -9 "$@" 2>/dev/null || true
  for pid in "$@"; do
    wait "$pid" 2>/dev/null || true
  done
}

cp_stop() {
  cp_kill "${CP_PIDS[@]}"
  CP_PIDS=()
}
