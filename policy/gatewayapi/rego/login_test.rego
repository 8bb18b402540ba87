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
