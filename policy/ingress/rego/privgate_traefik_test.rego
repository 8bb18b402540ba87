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
	"traefik": {
		"login": login_id, "loginObject": config.traefik.loginMiddleware, "loginAddress": config.traefik.authAddress,
		"tls": true, "entryPoints": [{"name": "websecure", "known": true, "tls": true, "chain": {"links": links, "login": at}}],
	},
}

# sre_ingress allows the group /sre: its login is the group login for /sre.
sre_id := "traefik-oauth2-proxy-0123abcd@kubernetescrd"

sre_address := concat("", [config.traefik.authAddress, "?allowed_groups=/sre"])

sre_login := object.union(login, {"id": sre_id, "address": sre_address, "groups": ["/sre"]})

sre_ingress(links, at) := object.union(ingress({"privgate.io/allowed-groups": "/sre"}, links, at), {"traefik": {
	"login": sre_id, "loginObject": "traefik/oauth2-proxy-0123abcd", "loginAddress": sre_address, "groups": ["/sre"],
}})

# What this file adds to privgate.rego's problems (its gate turns them into deny; the Go golden
# cases in policy/traefik test the two together), so that these tests hold whatever an admin's
# privgate.rego is.
problem_ids(inp) := ids if {
	ids := {v.id | some v in privgate.problems; startswith(v.id, "traefik-")} with input as inp with data.privgate.config as config
}

test_login_first_admitted if {
	problem_ids(ingress({}, [login], 0)) == set()
}

test_nginx_rules_foreign if {
	inp := ingress({}, [login], 0)
	privgate.foreign_rule({"id": "auth-missing"}) with input as inp
	privgate.foreign_rule({"id": "class-foreign"}) with input as inp
	not privgate.foreign_rule({"id": "issuer-foreign"}) with input as inp
	not privgate.foreign_rule({"id": "traefik-login-missing"}) with input as inp
	not privgate.foreign_rule({"id": "auth-missing"}) with input as object.remove(inp, ["traefik"])
}

test_login_missing if {
	problem_ids(ingress({}, [], -1)) == {"traefik-login-missing"}
}

test_login_invalid if {
	wrong := object.union(login, {"login": false, "address": "http://elsewhere/"})
	problem_ids(ingress({}, [wrong], -1)) == {"traefik-login-invalid"}
	gone := {"id": login_id, "field": "f", "state": "missing", "login": false, "safe": false}
	problem_ids(ingress({}, [gone], -1)) == {"traefik-login-invalid"}
}

test_chain_order if {
	plugin := {"id": "x@file", "field": "f", "state": "foreign", "login": false, "safe": false}
	problem_ids(ingress({}, [plugin, login], 1)) == {"traefik-chain-order"}
}

test_groups_login_first_admitted if {
	problem_ids(sre_ingress([sre_login], 0)) == set()
	# The login for everyone first, then the group's: the second lets fewer through.
	problem_ids(sre_ingress([login, sre_login], 0)) == set()
}

test_groups_login_missing if {
	# Only the login for everyone: every signed-in user gets in.
	problem_ids(sre_ingress([login], 0)) == {"traefik-groups-login"}
	problem_ids(sre_ingress([], -1)) == {"traefik-login-missing"}
	gone := {"id": sre_id, "field": "f", "state": "missing", "login": false, "safe": false}
	problem_ids(sre_ingress([login, gone], 0)) == {"traefik-login-invalid"}
}

test_groups_login_other_groups if {
	# The group login's name, but its address lets in another group (or everyone).
	other := object.union(sre_login, {"address": concat("", [config.traefik.authAddress, "?allowed_groups=/SRE"]), "groups": ["/SRE"]})
	problem_ids(sre_ingress([other], 0)) == {"traefik-login-invalid"}
	wide := object.remove(object.union(sre_login, {"address": config.traefik.authAddress}), ["groups"])
	problem_ids(sre_ingress([wide], 0)) == {"traefik-login-invalid"}
}

test_groups_chain_order if {
	# Between the login for everyone and the group's, a middleware that answers on its own
	# answers every signed-in user.
	plugin := {"id": "x@file", "field": "f", "state": "foreign", "login": false, "safe": false}
	problem_ids(sre_ingress([login, plugin, sre_login], 0)) == {"traefik-chain-order"}
}
