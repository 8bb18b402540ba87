# Unit tests of the wording of login gaps, run by `go test ./policy/gatewayapi/`.
package privgate.gatewayapi_test

import data.privgate.gatewayapi

test_why_names_rule_and_listener if {
	e := {"host": "grafana.private.example.com", "gaps": [{"reason": "fail-open", "policy": "SecurityPolicy apps/cors", "routeRule": "spec.rules[1]", "listener": "https"}]}
	gatewayapi.why(e) == "SecurityPolicy apps/cors, in force on spec.rules[1] (listener https), sets extAuth.failOpen: true, so requests pass whenever the login service fails or times out"
}

test_replaced_login if {
	g := {"reason": "no-login", "policy": "SecurityPolicy apps/cors", "listener": "https", "replaces": "SecurityPolicy gateways/login"}
	contains(gatewayapi.gap(g, "h"), "replaces SecurityPolicy gateways/login")
}

test_every_code_worded if {
	every c in gatewayapi.codes {
		not contains(gatewayapi.gap({"reason": c, "policy": "P"}, "h"), "does not cover it (")
	}
}

test_unknown_code if {
	gatewayapi.gap({"reason": "new"}, "h") == "a login policy does not cover it (new)"
}

test_no_gaps if {
	gatewayapi.why({"host": "h", "gaps": []}) == "no login policy applies there"
}

test_groups_login_everyone if {
	g := {"reason": "groups-login", "policy": "SecurityPolicy gw/login", "listener": "https", "provider": "Service oauth2-proxy/oauth2-proxy", "groups": ["/sre"], "want": "oauth2-proxy/oauth2-proxy-sre"}
	gatewayapi.gap(g, "h") == "SecurityPolicy gw/login, in force on listener https, sends requests to Service oauth2-proxy/oauth2-proxy, which lets in everyone who logs in, not only groups /sre: use oauth2-proxy/oauth2-proxy-sre, the login for these groups"
}

test_groups_login_other_groups_per_workload if {
	g := {"reason": "groups-login", "policy": "AuthorizationPolicy gw/login", "provider": "oauth2-proxy-dev", "allows": ["/developers"], "groups": ["/sre", "/ops"], "want": "oauth2-proxy-sre", "perWorkload": true}
	gatewayapi.gap(g, "h") == "AuthorizationPolicy gw/login, in force there, sends requests to oauth2-proxy-dev, which lets in groups /developers, not only groups /sre,/ops: use oauth2-proxy-sre, the login for these groups, on a Gateway of their own (Istio runs one CUSTOM provider per gateway workload, one workload per Gateway)"
}

test_groups_no_login_names_the_key if {
	g := {"reason": "groups-no-login", "groups": ["/sre"], "setting": "envoyGateway.groupLogins"}
	gatewayapi.gap(g, "h") == "the route lets in only groups /sre, and privgate.yaml has no login for exactly those: add one to envoyGateway.groupLogins (an oauth2-proxy run with --allowed-group for each)"
}
