# Unit tests of the SecurityPolicy policy, run by `go test ./policy/envoygateway/`.
package privgate.envoygateway_test

import data.privgate.envoygateway

ids(inp) := result if {
	result := {v.id | some v in (envoygateway.deny | envoygateway.warn)} with input as inp
}

test_uncovers if {
	ids({"request": {"operation": "DELETE"}, "policy": {}, "uncovered": [{"host": "h", "by": "HTTPRoute apps/a", "gateway": "Gateway g/eg", "gaps": [{"reason": "no-policy"}]}]}) == {"securitypolicy-uncovers"}
}

test_lockout if {
	ids({"request": {"operation": "CREATE"}, "policy": {"httpExtAuth": true, "cookieForwarded": false, "service": "oauth2-proxy/oauth2-proxy"}}) == {"securitypolicy-lockout"}
}

test_cookie_forwarded if {
	ids({"request": {"operation": "CREATE"}, "policy": {"httpExtAuth": true, "cookieForwarded": true}}) == set()
}

test_deleted_lockout_says_nothing if {
	ids({"request": {"operation": "DELETE"}, "policy": {"httpExtAuth": true, "cookieForwarded": false}}) == set()
}
