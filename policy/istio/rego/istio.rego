# privgate's default policy for hosts published through shared gateways (Istio VirtualServices
# and Gateways, Gateway API Gateways and routes on Istio) and for the CUSTOM
# AuthorizationPolicies that put login in front of them (docs/istio.md).
#
# Inputs (policy/input.go, policy/istio/config.go; docs/istio.md): input.object, the object as
# written; input.exposures, one per private host the object publishes and gateway workload, with
# covered (some enforced CUSTOM policy with a configured provider matches every request to it
# there), gaps (why each policy that applies does not: codes, worded by why), uncheckable (no
# login can be checked on that gateway) and unsupported (why: a code, worded by unchecked), and
# fix (a policy that would cover it); for an AuthorizationPolicy, input.policy (what privgate
# read of it, as Istio reads it: custom, provider, providerKnown, dryRun, selectorAndTargetRefs
# and targetRefFields), input.uncovered (published hosts its change leaves without login),
# input.conflicts (workloads it leaves with two providers) and input.gateways (the gateway
# workloads it applies to); data.privgate.config.istio. The facts are privgate's (Go): this
# policy decides and words, and never reads them again from input.object. input.groups are the
# groups a route publishing a private host allows (its groups annotation), checked against
# data.privgate.groups (input.groupsStale) as an Ingress's are.
# Outputs: deny and warn, as for Ingresses; modes per rule in privgate.yaml's istio.rules.
package privgate.istio

import data.privgate.allowedgroups
import data.privgate.gatewayapi

cfg := data.privgate.config

violation(id, host, field, message) := {"id": id, "host": host, "field": field, "message": message}

deny contains v if {
	some v in problems
}

warn contains v if {
	some v in cautions
}

# One gate for what needs login: private, not exempt.
unprotected contains e if {
	some e in input.exposures
	not e.exempt
	not e.covered
}

# Why no login covers an exposure: its gaps, the codes privgate computed (gatewayapi.Gap),
# worded here.
why(e) := concat("; ", [gap(g, e.host) | some g in e.gaps]) if {
	count(e.gaps) > 0
} else := "no CUSTOM AuthorizationPolicy applies to those pods"

gap(g, _) := sprintf("the gateway has CUSTOM policies for providers %s, and Istio allows one per workload", [concat(", ", object.get(g, "providers", []))]) if {
	g.reason == "providers"
}

gap(g, _) := sprintf("%s is in dry-run (istio.io/dry-run), so it only logs", [object.get(g, "policy", "")]) if {
	g.reason == "dry-run"
}

gap(g, _) := sprintf("%s names provider %q, which is not in istio.extensionProviders nor istio.groupLogins", [object.get(g, "policy", ""), object.get(g, "provider", "")]) if {
	g.reason == "provider"
}

gap(g, _) := sprintf("%s has no rules, so it matches no request", [object.get(g, "policy", "")]) if {
	g.reason == "no-rules"
}

gap(g, host) := sprintf("%s does not match every request to %s: %s", [object.get(g, "policy", ""), host, concat("; ", rules)]) if {
	g.reason == "rules"
	rules := [sprintf("rules[%d] %s", [r.rule, rule_gap(r, host)]) | some r in object.get(g, "rules", [])]
}

# Another implementation's code (a policy attaching to Gateways, listeners, routes or rules:
# Envoy Gateway's SecurityPolicy) is worded by privgate.gatewayapi.
gap(g, host) := gatewayapi.gap(g, host) if {
	not g.reason in {"providers", "dry-run", "provider", "no-rules", "rules"}
}

rule_gap(r, _) := "narrows by from (sources)" if r.reason == "from"

rule_gap(r, _) := "narrows by when (conditions)" if r.reason == "when"

rule_gap(r, host) := concat(", ", [sprintf("to[%d] %s", [o.to, concat(", ", [narrowing(n, host) | some n in o.narrows])]) | some o in object.get(r, "to", [])]) if {
	r.reason == "to"
}

rule_gap(r, _) := concat(" ", ["narrows by", r.reason]) if not r.reason in {"from", "when", "to"}

# methods, notMethods, ports, notPorts, paths
narrowing(n, _) := concat(" ", ["narrows by", n.field]) if {
	not n.field in {"notPaths", "hosts", "hostPorts", "notHosts"}
}

narrowing(n, _) := sprintf("leaves out notPaths %q (not in istio.allowedNotPaths)", [object.get(n, "value", "")]) if n.field == "notPaths"

narrowing(n, host) := concat(" ", ["hosts do not match", host]) if n.field == "hosts"

narrowing(n, host) := sprintf("hosts match %s but not %s:<port> (clients may send the port: add %q)", [host, host, concat("", [host, ":*"])]) if {
	n.field == "hostPorts"
}

narrowing(n, _) := sprintf("notHosts %q leaves it out", [object.get(n, "value", "")]) if n.field == "notHosts"

problems contains violation("gateway-login", e.host, e.field, msg) if {
	some e in unprotected
	not e.uncheckable
	msg := sprintf("is published through %s on pods %s without login: %s%s", [e.gateway, e.workload, why(e), apply(e)])
}

problems contains violation("gateway-unsupported", e.host, e.field, msg) if {
	some e in unprotected
	e.uncheckable
	msg := sprintf("is published through %s, and %s; publish private hosts through a gateway whose login privgate checks, or exempt the host", [e.gateway, unchecked(e)])
}

# Why no login can be checked on a gateway: the code privgate computed (gatewayapi.Unsupported),
# worded here.
unchecked(e) := why if {
	why := unsupported(e.unsupported)
} else := "no login can be checked there"

unsupported(u) := sprintf("its GatewayClass %q is not in view, so its controller is unknown", [object.get(u, "class", "")]) if {
	u.reason == "class-not-in-view"
}

unsupported(u) := sprintf("its GatewayClass %q is run by %s, which privgate cannot check for login (it knows %s)", [object.get(u, "class", ""), object.get(u, "controller", ""), concat(", ", object.get(u, "known", []))]) if {
	u.reason == "controller"
}

unsupported(u) := sprintf("its address %s names a Service not in view, so its pods are unknown", [object.get(u, "address", "")]) if {
	u.reason == "service-not-in-view"
}

unsupported(u) := sprintf("its server %s passes TLS through: %s", [object.get(u, "server", ""), unseen]) if {
	u.reason == "passthrough"
}

unsupported(u) := sprintf("its server %s carries %s, not HTTP: %s", [object.get(u, "server", ""), object.get(u, "protocol", ""), unseen]) if {
	u.reason == "server-protocol"
}

unsupported(u) := sprintf("its listener %s carries %s, not HTTP: %s", [object.get(u, "listener", ""), object.get(u, "protocol", ""), unseen]) if {
	u.reason == "listener-protocol"
}

unsupported(u) := sprintf("it is routed as TLS passed through: %s", [unseen]) if u.reason == "tls-route"

unsupported(u) := sprintf("its parent is a %s (%s), which privgate cannot follow to a gateway", [object.get(u, "kind", ""), object.get(u, "group", "")]) if {
	u.reason == "parent"
}

# A code this policy does not word (another implementation's) still reads as a reason.
unsupported(u) := sprintf("no login can be checked there (%s)", [u.reason]) if {
	not u.reason in {"class-not-in-view", "controller", "service-not-in-view", "passthrough", "server-protocol", "listener-protocol", "tls-route", "parent"}
}

unseen := "an HTTP login provider never sees those requests"

# ---- groups a route allows ------------------------------------------------------------------
# A route's groups are checked as an Ingress's (privgate.allowedgroups): /Developers where the
# group is /developers lets nobody in, whichever implementation runs the login, and groups-no-login
# alone would send the admin to configure a login for a group that does not exist. Not
# group-chars: on Gateway API the groups never travel in ingress-nginx's auth-url, but as
# oauth2-proxy's --allowed-group (istio.groupLogins, envoyGateway.groupLogins) or escaped in a
# Traefik Middleware's address, and a login not letting in exactly them is refused (groups-login).

# The private hosts the route publishes that need login (exempt ones need no groups either).
route_hosts := concat(",", sort({e.host | some e in input.exposures; not e.exempt}))

route_groups contains g if {
	route_hosts != ""
	some g in object.get(input, "groups", [])
}

groups_field := sprintf("metadata.annotations[%s]", [cfg.groups.annotation])

problems contains violation("group-form", route_hosts, groups_field, msg) if {
	some g in route_groups
	msg := allowedgroups.wrong_form(g)
}

# The "group" field lets privgate append "did you mean ...?" from the known groups.
group_unknown contains object.union(violation("group-unknown", route_hosts, groups_field, msg), {"group": g}) if {
	some g in route_groups
	msg := allowedgroups.unknown(g)
}

problems contains v if {
	some v in group_unknown
	not allowedgroups.stale
}

cautions contains v if {
	some v in group_unknown
	allowedgroups.stale
}

# What an AuthorizationPolicy itself says, when it stands in front of a gateway publishing hosts
# (input.gateways): a CUSTOM policy on an app's sidecar (OPA, say) is not a login privgate judges.
# input.policy is what privgate read of the AuthorizationPolicy, as Istio reads it.
custom if {
	input.policy.custom
	input.request.operation != "DELETE"
	count(object.get(input, "gateways", [])) > 0
}

problems contains violation("authz-provider-unknown", "", "spec.provider.name", msg) if {
	custom
	not input.policy.providerKnown
	msg := sprintf("CUSTOM action sends requests to provider %q, which is not in istio.extensionProviders (%s) nor istio.groupLogins, so privgate cannot tell it enforces login; name one of those, or add it to privgate.yaml if it is meshConfig's login provider", [input.policy.provider, concat(", ", cfg.istio.extensionProviders)])
}

problems contains violation("authz-selector-and-targetrefs", "", "spec.selector", msg) if {
	input.policy.selectorAndTargetRefs
	some refs in input.policy.targetRefFields
	msg := sprintf("sets both selector and %s, which Istio refuses: the policy applies nowhere; keep one", [refs])
}

problems contains violation("authz-uncovers", e.host, "", msg) if {
	input.object.kind == "AuthorizationPolicy"
	some e in input.uncovered
	msg := sprintf("this change leaves %s, published by %s through %s on pods %s, without login: %s%s", [e.host, e.by, e.gateway, e.workload, why(e), cover_first(e)])
}

# A gateway written (created under routes that name it, or moved to other pods) publishes the
# hosts of the routes bound to it.
problems contains violation("gateway-uncovers", e.host, "", msg) if {
	input.object.kind == "Gateway"
	some e in input.uncovered
	msg := sprintf("this change publishes %s, routed by %s, on pods %s without login: %s%s", [e.host, e.by, e.workload, why_gateway(e), cover_first(e)])
}

why_gateway(e) := unchecked(e) if {
	e.uncheckable
} else := why(e)

problems contains violation("authz-provider-conflict", "", "spec.provider.name", msg) if {
	some c in input.conflicts
	msg := sprintf("pods %s would have CUSTOM policies for providers %s (%s), and Istio allows one provider per workload: use one provider", [c.workload, concat(", ", c.providers), concat(", ", c.policies)])
}

cautions contains violation("authz-dry-run", "", "metadata.annotations", msg) if {
	custom
	input.policy.dryRun
	msg := "istio.io/dry-run is true: the policy only logs what it would do and keeps no one out"
}

# The policy that would cover an exposure, when privgate has one to suggest (a missing one must
# never silence the finding).
apply(e) := sprintf(". Apply: %s", [e.fix]) if object.get(e, "fix", "") != ""

else := "."

cover_first(e) := sprintf(". Cover it first: %s", [e.fix]) if object.get(e, "fix", "") != ""

else := "."
