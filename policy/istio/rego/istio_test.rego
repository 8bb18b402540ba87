# Unit tests of the istio policy, run by `go test ./policy/istio/` and `privgate policy test DIR`.
# The exposures are what privgate computes in Go (policy/istio); these tests pin what the policy
# makes of them.
package privgate.istio_test

import data.privgate.istio

config := {"istio": {"extensionProviders": ["oauth2-proxy"]}}

exposure(over) := object.union({
	"host": "grafana.private.example.com", "field": "spec.hosts[0]", "by": "VirtualService monitoring/grafana",
	"gateway": "Gateway istio-system/public", "workload": "istio-system/{istio=ingressgateway}",
	"exempt": false, "covered": false, "uncheckable": false, "fix": "{...}",
}, over)

ids(inp) := result if {
	result := {v.id | some v in istio.deny} with input as inp with data.privgate.config as config
}

warned(inp) := result if {
	result := {v.id | some v in istio.warn} with input as inp with data.privgate.config as config
}

test_uncovered_host if {
	ids({"exposures": [exposure({})]}) == {"gateway-login"}
}

test_covered_host if {
	ids({"exposures": [exposure({"covered": true, "policy": "AuthorizationPolicy istio-system/login"})]}) == set()
}

test_exempt_host if {
	ids({"exposures": [exposure({"exempt": true})]}) == set()
}

test_message_lists_gaps_and_fix if {
	msgs := {v.message | some v in istio.deny} with input as {"exposures": [exposure({"gaps": [{"reason": "dry-run", "policy": "AuthorizationPolicy istio-system/login"}]})]}
		with data.privgate.config as config
	some m in msgs
	contains(m, "AuthorizationPolicy istio-system/login is in dry-run")
	endswith(m, "Apply: {...}")
}

# The gaps are codes privgate computes (gatewayapi.Gap); the policy words them.
test_gap_wording if {
	host := "grafana.private.example.com"
	istio.why({"host": host, "gaps": []}) == "no CUSTOM AuthorizationPolicy applies to those pods"
	istio.why({"host": host, "gaps": [{"reason": "providers", "providers": ["a", "b"]}]}) == "the gateway has CUSTOM policies for providers a, b, and Istio allows one per workload"
	istio.why({"host": host, "gaps": [{"reason": "provider", "policy": "P", "provider": "ext-authz"}, {"reason": "no-rules", "policy": "Q"}]}) == `P names provider "ext-authz", which is not in istio.extensionProviders nor istio.groupLogins; Q has no rules, so it matches no request`
	rules := {"reason": "rules", "policy": "P", "rules": [
		{"rule": 0, "reason": "from"},
		{"rule": 2, "reason": "when"},
		{"rule": 1, "reason": "to", "to": [
			{"to": 0, "narrows": [{"field": "paths"}, {"field": "notPaths", "value": "/public"}]},
			{"to": 1, "narrows": [{"field": "hostPorts"}, {"field": "notHosts", "value": "*.example.com"}]},
		]},
	]}
	istio.why({"host": host, "gaps": [rules]}) == concat("", [
		"P does not match every request to grafana.private.example.com: rules[0] narrows by from (sources); ",
		"rules[2] narrows by when (conditions); ",
		`rules[1] to[0] narrows by paths, leaves out notPaths "/public" (not in istio.allowedNotPaths), `,
		`to[1] hosts match grafana.private.example.com but not grafana.private.example.com:<port> (clients may send the port: add "grafana.private.example.com:*"), `,
		`notHosts "*.example.com" leaves it out`,
	])
	# A code of another implementation's, not worded here, still reads as a reason.
	istio.why({"host": host, "gaps": [{"reason": "extauth-disabled", "policy": "SecurityPolicy gw/login"}]}) == "SecurityPolicy gw/login does not cover it (extauth-disabled)"
}

test_unsupported_gateway if {
	ids({"exposures": [exposure({"uncheckable": true, "unsupported": {"reason": "class-not-in-view", "class": "eg"}})]}) == {"gateway-unsupported"}
	# Undecided by the reason's presence: uncheckable decides, even without a reason.
	ids({"exposures": [exposure({"uncheckable": true})]}) == {"gateway-unsupported"}
	ids({"exposures": [exposure({"unsupported": {"reason": "class-not-in-view", "class": "eg"}})]}) == {"gateway-login"}
}

# Why no login can be checked is a code privgate computes (gatewayapi.Unsupported); the policy
# words it.
test_unsupported_wording if {
	istio.unchecked({"unsupported": {"reason": "class-not-in-view", "class": "eg"}}) == `its GatewayClass "eg" is not in view, so its controller is unknown`
	istio.unchecked({"unsupported": {"reason": "controller", "class": "eg", "controller": "gateway.envoyproxy.io/gatewayclass-controller", "known": ["istio.io/gateway-controller"]}}) == `its GatewayClass "eg" is run by gateway.envoyproxy.io/gatewayclass-controller, which privgate cannot check for login (it knows istio.io/gateway-controller)`
	istio.unchecked({"unsupported": {"reason": "service-not-in-view", "address": "gw.edge.svc.cluster.local"}}) == "its address gw.edge.svc.cluster.local names a Service not in view, so its pods are unknown"
	istio.unchecked({"unsupported": {"reason": "passthrough", "server": "tls"}}) == "its server tls passes TLS through: an HTTP login provider never sees those requests"
	istio.unchecked({"unsupported": {"reason": "server-protocol", "server": "db", "protocol": "TCP"}}) == "its server db carries TCP, not HTTP: an HTTP login provider never sees those requests"
	istio.unchecked({"unsupported": {"reason": "listener-protocol", "listener": "db", "protocol": "TLS"}}) == "its listener db carries TLS, not HTTP: an HTTP login provider never sees those requests"
	istio.unchecked({"unsupported": {"reason": "tls-route"}}) == "it is routed as TLS passed through: an HTTP login provider never sees those requests"
	istio.unchecked({"unsupported": {"reason": "parent", "kind": "XListenerSet", "group": "gateway.networking.x-k8s.io"}}) == "its parent is a XListenerSet (gateway.networking.x-k8s.io), which privgate cannot follow to a gateway"
	istio.unchecked({"unsupported": {"reason": "hostnetwork"}}) == "no login can be checked there (hostnetwork)"
	istio.unchecked({}) == "no login can be checked there"
}

policy_object(spec) := {"kind": "AuthorizationPolicy", "metadata": {"name": "login", "namespace": "istio-system"}, "spec": spec}

# What privgate reads of the policy (input.policy): by default CUSTOM, a configured provider.
read(over) := object.union({
	"custom": true, "provider": "oauth2-proxy", "providerKnown": true,
	"dryRun": false, "selectorAndTargetRefs": false,
}, over)

unknown_provider(name) := read({"provider": name, "providerKnown": false})

gateways := ["istio-system/{istio=ingressgateway}"]

test_provider_unknown if {
	ids({"request": {"operation": "CREATE"}, "gateways": gateways, "object": policy_object({"action": "CUSTOM", "provider": {"name": "ext-authz"}}), "policy": unknown_provider("ext-authz")}) == {"authz-provider-unknown"}
}

# A CUSTOM policy on an app's sidecar (OPA as ext-authz) stands in front of no gateway.
test_sidecar_provider_is_not_judged if {
	ids({"request": {"operation": "CREATE"}, "object": policy_object({"action": "CUSTOM", "provider": {"name": "opa-ext-authz"}}), "policy": unknown_provider("opa-ext-authz")}) == set()
}

test_provider_known if {
	ids({"request": {"operation": "CREATE"}, "gateways": gateways, "object": policy_object({"action": "CUSTOM", "provider": {"name": "oauth2-proxy"}}), "policy": read({})}) == set()
}

test_other_actions_are_not_login if {
	ids({"request": {"operation": "CREATE"}, "gateways": gateways, "object": policy_object({"action": "DENY", "rules": [{}]}), "policy": read({"custom": false, "provider": "", "providerKnown": false})}) == set()
}

test_deleting_is_judged_by_what_it_uncovers if {
	ids({"request": {"operation": "DELETE"}, "gateways": gateways, "object": policy_object({"action": "CUSTOM", "provider": {"name": "ext-authz"}}), "policy": unknown_provider("ext-authz")}) == set()
	ids({"request": {"operation": "DELETE"}, "object": policy_object({"action": "CUSTOM", "provider": {"name": "oauth2-proxy"}}), "policy": read({}), "uncovered": [exposure({})]}) == {"authz-uncovers"}
}

test_selector_and_target_refs if {
	ids({"request": {"operation": "CREATE"}, "object": policy_object({"action": "CUSTOM", "provider": {"name": "oauth2-proxy"}, "selector": {"matchLabels": {"a": "b"}}, "targetRefs": [{"kind": "Gateway", "name": "x"}]}), "policy": read({"selectorAndTargetRefs": true, "targetRefFields": ["targetRefs"]})}) == {"authz-selector-and-targetrefs"}
}

test_provider_conflict if {
	ids({"request": {"operation": "CREATE"}, "object": policy_object({"action": "CUSTOM", "provider": {"name": "oauth2-proxy"}}), "policy": read({}), "conflicts": [{"workload": "w", "providers": ["a", "oauth2-proxy"], "policies": ["p", "q"]}]}) == {"authz-provider-conflict"}
}

test_dry_run_warns if {
	# How Istio reads the annotation (strconv.ParseBool) is privgate's Go (input.policy.dryRun).
	obj := object.union(policy_object({"action": "CUSTOM", "provider": {"name": "oauth2-proxy"}}), {"metadata": {"annotations": {"istio.io/dry-run": "true"}}})
	warned({"request": {"operation": "UPDATE"}, "gateways": gateways, "object": obj, "policy": read({"dryRun": true})}) == {"authz-dry-run"}
	ids({"request": {"operation": "UPDATE"}, "gateways": gateways, "object": obj, "policy": read({"dryRun": true})}) == set()
}

test_enforced_policy_does_not_warn if {
	warned({"request": {"operation": "UPDATE"}, "gateways": gateways, "object": policy_object({"action": "CUSTOM", "provider": {"name": "oauth2-proxy"}}), "policy": read({})}) == set()
}

# A route's groups (input.groups) are judged as an Ingress's, on the private hosts it publishes.
grouped := object.union(config, {"groups": {"annotation": "privgate.io/allowed-groups", "claimFormat": "path"}})

route_groups(over) := object.union({"groups": ["/Developers"], "exposures": [exposure({"covered": true})]}, over)

known_groups := {"/developers": true}

judged(inp) := result if {
	result := {"deny": {v.id | some v in istio.deny}, "warn": {v.id | some v in istio.warn}} with input as inp with data.privgate.config as grouped with data.privgate.groups as known_groups
}

test_route_group_unknown if {
	judged(route_groups({})) == {"deny": {"group-unknown"}, "warn": set()}
}

test_route_group_unknown_names_group_and_annotation if {
	some v in istio.deny with input as route_groups({}) with data.privgate.config as grouped with data.privgate.groups as known_groups
	v.group == "/Developers"
	v.field == "metadata.annotations[privgate.io/allowed-groups]"
	v.host == "grafana.private.example.com"
}

test_route_group_unknown_stale_warns if {
	judged(route_groups({"groupsStale": true})) == {"deny": set(), "warn": {"group-unknown"}}
}

test_route_group_known if {
	judged(route_groups({"groups": ["/developers"]})) == {"deny": set(), "warn": set()}
}

# No group-chars on routes: the groups never travel in ingress-nginx's auth-url.
test_route_group_chars_not_judged if {
	judged(route_groups({"groups": ["/dev&ops"]})) == {"deny": {"group-unknown"}, "warn": set()}
}

# An exempt host (oauth2-proxy's own) needs no login, so no groups either.
test_route_groups_on_exempt_host if {
	judged(route_groups({"exposures": [exposure({"exempt": true})]})) == {"deny": set(), "warn": set()}
}
