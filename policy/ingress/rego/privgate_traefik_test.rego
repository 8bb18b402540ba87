# Unit tests of privgate_traefik.rego: Ingresses of Traefik's classes, judged on input.traefik.
package privgate_traefik_test

import data.privgate

config := {
	"tls": {"clusterIssuer": "letsencrypt-production"},
	"ingressClasses": ["nginx"],
	"groups": {"annotation": "privgate.io/allowed-groups"},
	"traefik": {
		"ingressClasses": ["traefik"],
		"loginMiddleware": "traefik/oauth2-proxy",
		"authAddress": "http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth",
		"entryPoints": {"web": [], "websecure": []},
		"tlsEntryPoints": ["websecure"],
	},
}

login_id := "traefik-oauth2-proxy@kubernetescrd"

login := {"id": login_id, "field": "f", "state": "ok", "type": "forwardAuth", "login": true, "safe": false, "address": config.traefik.authAddress}

# ingress is a private Ingress of class traefik with the given annotations and the routers'
# chain on websecure.
ingress(annotations, links, at) := {
	"request": {"operation": "CREATE", "namespace": "monitoring", "name": "grafana"},
	"object": {"metadata": {"name": "grafana", "namespace": "monitoring", "annotations": annotations}, "spec": {"ingressClassName": "traefik"}},
	"hosts": [{"host": "grafana.private.example.com", "field": "spec.rules[0].host", "private": true, "exempt": false, "tls": true, "any": false}],
	"traefik": {"login": login_id, "tls": true, "entryPoints": [{"name": "websecure", "known": true, "tls": true, "chain": {"links": links, "login": at}}]},
}

# Only the default rules' ids: an admin's own rules (--policy-dir) add others.
default_id(id) if startswith(id, "traefik-")

default_id(id) if id in {"tls-missing", "issuer-foreign", "class-foreign", "class-conflict", "class-missing", "hosts-mixed", "auth-missing", "auth-url-endpoint"}

deny_ids(inp) := ids if {
	ids := {v.id | some v in privgate.deny; default_id(v.id)} with input as inp with data.privgate.config as config with data.privgate.groups as {}
}

test_login_first_admitted if {
	deny_ids(ingress({"cert-manager.io/cluster-issuer": "letsencrypt-production"}, [login], 0)) == set()
}

test_nginx_rules_foreign if {
	# No auth-url: ingress-nginx's auth-missing does not apply to a router Traefik builds.
	deny_ids(ingress({"nginx.ingress.kubernetes.io/auth-url": "https://evil.example.net/"}, [login], 0)) == set()
}

test_shared_rules_kept if {
	deny_ids(ingress({"cert-manager.io/cluster-issuer": "selfsigned"}, [login], 0)) == {"issuer-foreign"}
}

test_class_not_foreign if {
	inp := ingress({}, [login], 0)
	not "class-foreign" in deny_ids(inp)
}

test_login_missing if {
	deny_ids(ingress({}, [], -1)) == {"traefik-login-missing"}
}

test_login_invalid if {
	wrong := object.union(login, {"login": false, "address": "http://elsewhere/"})
	deny_ids(ingress({}, [wrong], -1)) == {"traefik-login-invalid"}
	gone := {"id": login_id, "field": "f", "state": "missing", "login": false, "safe": false}
	deny_ids(ingress({}, [gone], -1)) == {"traefik-login-invalid"}
}

test_chain_order if {
	plugin := {"id": "x@file", "field": "f", "state": "foreign", "login": false, "safe": false}
	deny_ids(ingress({}, [plugin, login], 1)) == {"traefik-chain-order"}
}

test_groups_unsupported if {
	deny_ids(ingress({"privgate.io/allowed-groups": "/sre"}, [login], 0)) == {"traefik-groups-unsupported"}
}
