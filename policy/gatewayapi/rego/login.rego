# The wording of why a policy that attaches to Gateways, listeners, routes or route rules leaves
# a published host without login (Envoy Gateway's SecurityPolicy): the codes privgate computes
# in Go (gatewayapi.Gap, policy/gatewayapi/implementation.go), worded once for every target that
# reports them (privgate.istio on routes and Gateways, privgate.envoygateway on policy changes).
package privgate.gatewayapi

# Why no login covers an exposure, gap by gap.
why(e) := concat("; ", [gap(g, e.host) | some g in e.gaps]) if {
	count(e.gaps) > 0
} else := "no login policy applies there"

where(g) := sprintf("on %s (listener %s)", [g.routeRule, g.listener]) if {
	object.get(g, "routeRule", "") != ""
	object.get(g, "listener", "") != ""
} else := sprintf("on %s", [g.routeRule]) if {
	object.get(g, "routeRule", "") != ""
} else := sprintf("on listener %s", [g.listener]) if {
	object.get(g, "listener", "") != ""
} else := "there"

gap(g, _) := sprintf("no policy with login is in force %s", [where(g)]) if g.reason == "no-policy"

gap(g, _) := sprintf("%s, in force %s, sets no login (extAuth or oidc)%s", [g.policy, where(g), replaces(g)]) if g.reason == "no-login"

replaces(g) := sprintf(" and replaces %s, whose login then no longer applies: add the login to it, or mergeType: StrategicMerge to keep the parent's", [g.replaces]) if {
	object.get(g, "replaces", "") != ""
} else := ""

gap(g, _) := sprintf("%s, in force %s, sends external authorization to %s, which is not in envoyGateway.extAuthServices nor envoyGateway.groupLogins", [g.policy, where(g), object.get(g, "provider", "no Service")]) if {
	g.reason == "ext-auth-service"
}

gap(g, _) := sprintf("%s, in force %s, sends external authorization over gRPC, which oauth2-proxy does not answer: use extAuth.http", [g.policy, where(g)]) if {
	g.reason == "ext-auth-grpc"
}

gap(g, _) := sprintf("%s, in force %s, sets extAuth.failOpen: true, so requests pass whenever the login service fails or times out", [g.policy, where(g)]) if {
	g.reason == "fail-open"
}

gap(g, _) := sprintf("%s, in force %s, has an invalid extAuth (%s) and failOpen: true, so Envoy Gateway leaves the login out", [g.policy, where(g), object.get(g, "detail", "")]) if {
	g.reason == "fail-open-invalid"
}

gap(g, _) := sprintf("%s, in force %s, uses OIDC issuer %q, not the configured Keycloak realm (%s)", [g.policy, where(g), object.get(g, "provider", ""), issuer(g)]) if {
	g.reason == "oidc-issuer"
}

issuer(g) := g.detail if {
	object.get(g, "detail", "") != ""
} else := "none: groups.keycloak is not set"

gap(g, _) := sprintf("%s, in force %s, sets oidc.passThroughAuthHeader: a request carrying its own Authorization header skips the login", [g.policy, where(g)]) if {
	g.reason == "pass-through-auth"
}

# Traefik's Gateway API provider: the login is a Middleware named by an ExtensionRef filter of
# the rule (policy/traefik/gateway.go, docs/traefik.md).
gap(g, _) := "Traefik serves it, and privgate.yaml has no traefik section saying what its login is (traefik.authAddress)" if g.reason == "traefik-unconfigured"

gap(g, _) := sprintf("no login Middleware (a forwardAuth to traefik.authAddress) runs %s: add an ExtensionRef filter (group traefik.io, kind Middleware) naming one in the route's namespace", [where(g)]) if g.reason == "traefik-no-login"

gap(g, _) := sprintf("%s runs before the login %s and can answer on its own: put the login's ExtensionRef filter first", [object.get(g, "detail", "a middleware"), where(g)]) if g.reason == "traefik-chain-order"

gap(g, _) := sprintf("the RequestMirror filter (%s) copies requests, session cookies included, to another backend before the login %s: remove it or put it after the login", [object.get(g, "detail", "a filter"), where(g)]) if g.reason == "traefik-mirror"

# A route allowing only some groups (its groups annotation) needs the login for exactly those:
# oauth2-proxy run with --allowed-group (Istio, Envoy Gateway) or allowed_groups in a forwardAuth
# address (Traefik).
gap(g, _) := sprintf("%s, in force %s, sends requests to %s, which lets in %s, not only groups %s: %s", [
	object.get(g, "policy", "the login"), where(g), object.get(g, "provider", "a login"), allows(g), concat(",", object.get(g, "groups", [])), groups_fix(g),
]) if g.reason == "groups-login"

gap(g, _) := sprintf("the route lets in only groups %s, and privgate.yaml has no login for exactly those: add one to %s (an oauth2-proxy run with --allowed-group for each)%s", [
	concat(",", object.get(g, "groups", [])), object.get(g, "setting", "the implementation's groupLogins"), own_gateway(g),
]) if g.reason == "groups-no-login"

allows(g) := concat(" ", ["groups", concat(",", object.get(g, "allows", []))]) if {
	count(object.get(g, "allows", [])) > 0
} else := "everyone who logs in"

groups_fix(g) := sprintf("use %s, the login for these groups%s", [g.want, own_gateway(g)]) if {
	object.get(g, "want", "") != ""
} else := "configure a login for exactly these groups"

# Istio runs one CUSTOM provider per gateway workload, and deploys one workload per Gateway.
own_gateway(g) := ", on a Gateway of their own (Istio runs one CUSTOM provider per gateway workload, one workload per Gateway)" if {
	object.get(g, "perWorkload", false)
} else := ""

codes := {"groups-login", "groups-no-login", "no-policy", "no-login", "ext-auth-service", "ext-auth-grpc", "fail-open", "fail-open-invalid", "oidc-issuer", "pass-through-auth", "traefik-unconfigured", "traefik-no-login", "traefik-chain-order", "traefik-mirror"}

# A code this policy does not word still reads as a reason.
gap(g, _) := sprintf("%s does not cover it (%s)", [object.get(g, "policy", "a login policy"), g.reason]) if {
	not g.reason in codes
}
