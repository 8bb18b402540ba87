# privgate's default policy for Envoy Gateway's SecurityPolicies (docs/gateway-api.md): a write or
# deletion that leaves a private host published on Envoy Gateway without login is refused; an
# HTTP extAuth that never sees the session cookie locks everyone out.
#
# Inputs (policy/envoygateway/target.go): input.object, the SecurityPolicy as written;
# input.uncovered, the published private hosts the change leaves without login (exposures, as for
# the gateway target: host, by, gateway, gaps worded by data.privgate.gatewayapi.why, fix);
# input.policy, what privgate read of the policy (httpExtAuth, cookieForwarded, service).
# Outputs: deny and warn; modes per rule in privgate.yaml's envoyGateway.rules.
package privgate.envoygateway

import data.privgate.gatewayapi

violation(id, host, field, message) := {"id": id, "host": host, "field": field, "message": message}

deny contains v if {
	some v in problems
}

warn contains v if {
	some v in cautions
}

problems contains violation("securitypolicy-uncovers", e.host, "", msg) if {
	some e in input.uncovered
	msg := sprintf("this change leaves %s, published by %s through %s, without login: %s. Cover it first: %s", [e.host, e.by, e.gateway, gatewayapi.why(e), object.get(e, "fix", "")])
}

cautions contains violation("securitypolicy-lockout", "", "spec.extAuth.headersToExtAuth", msg) if {
	input.request.operation != "DELETE"
	input.policy.httpExtAuth
	not input.policy.cookieForwarded
	msg := sprintf("extAuth to %s does not list cookie in headersToExtAuth: Envoy Gateway sends an HTTP login service only Host, Method, Path, Content-Length and Authorization, so oauth2-proxy never sees the session and everyone is sent to sign in again; add cookie to headersToExtAuth", [input.policy.service])
}
