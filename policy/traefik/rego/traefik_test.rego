package privgate.traefik_test

import data.privgate.traefik

config := {"traefik": {
	"loginMiddleware": "traefik/oauth2-proxy",
	"authAddress": "http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth",
	"allowCrossNamespace": false,
	"entryPoints": {"web": [], "websecure": []},
	"tlsEntryPoints": ["websecure"],
}}

login := {"id": "monitoring-login@kubernetescrd", "field": "spec.routes[0].middlewares[1]", "state": "ok", "type": "forwardAuth", "login": true, "safe": false}

errors_app := {"id": "monitoring-errors@kubernetescrd", "field": "spec.routes[0].middlewares[0]", "state": "ok", "type": "errors", "login": false, "safe": false}

headers := {"id": "monitoring-headers@kubernetescrd", "field": "spec.routes[0].middlewares[0]", "state": "ok", "type": "headers", "login": false, "safe": true}

route(links, login_at) := {"field": "spec.routes[0]", "hosts": ["grafana.private.example.com"], "tls": true, "entryPoints": [{"name": "websecure", "known": true, "tls": true, "chain": {"links": links, "login": login_at}}]}

# Only the default rules' ids: an admin's own rules (--policy-dir) add others.
ids(set) := {v.id | some v in set; startswith(v.id, "traefik-")}

test_login_first_admitted if {
	count(traefik.deny) == 0 with input as {"routes": [route([login], 0)]} with data.privgate.config as config
}

test_safe_before_login_admitted if {
	count(traefik.deny) == 0 with input as {"routes": [route([headers, login], 1)]} with data.privgate.config as config
}

test_errors_before_login_denied if {
	ids(traefik.deny) == {"traefik-chain-order"} with input as {"routes": [route([errors_app, login], 1)]} with data.privgate.config as config
}

test_no_login_denied if {
	ids(traefik.deny) == {"traefik-login-missing"} with input as {"routes": [route([headers], -1)]} with data.privgate.config as config
}

test_skipped_route_warned_only if {
	r := object.union(route([], -1), {"skipped": "cross-namespace"})
	count(traefik.deny) == 0 with input as {"routes": [r]} with data.privgate.config as config
	ids(traefik.warn) == {"traefik-route-skipped"} with input as {"routes": [r]} with data.privgate.config as config
}

test_exempt_host_admitted if {
	r := object.union(route([], -1), {"hosts": ["oauth2.private.example.com"]})
	cfg := object.union(config, {"exemptHosts": ["oauth2.private.example.com"]})
	count(traefik.deny) == 0 with input as {"routes": [r]} with data.privgate.config as cfg
}

test_tcp_private_denied if {
	ids(traefik.deny) == {"traefik-tcp-private"} with input as {"tcp": [{"field": "spec.routes[0]", "hosts": ["db.private.example.com"], "passthrough": true}]} with data.privgate.config as config
}

test_uncovers_denied if {
	req := {"request": {"operation": "DELETE"}, "uncovered": [{"object": "Ingress monitoring/grafana", "hosts": ["grafana.private.example.com"], "entryPoints": ["websecure"]}]}
	ids(traefik.deny) == {"traefik-uncovers"} with input as req with data.privgate.config as config
}
