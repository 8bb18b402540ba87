# Ingresses of Traefik's classes (traefik.ingressClasses): Traefik's kubernetesIngress provider
# reads none of ingress-nginx's annotations, so the login is the Middleware in
# router.middlewares, judged on the chain Traefik runs on each entrypoint (docs/traefik.md).
#
# Inputs beside the Ingress target's: input.traefik (policy/ingress/traefik.go)
#   login        the login Middleware's ID (<namespace>-<name>@kubernetescrd): for the groups the
#                Ingress allows, that login's group login (traefik.loginMiddleware-<hash>)
#   loginObject, loginAddress   that Middleware as namespace/name, and where it must forward
#   groups       the groups annotation's groups, sorted ([] or absent: everyone who logs in)
#   tls          router.tls is set: the routers are served over TLS only
#   entryPoints  [{name, known, tls, chain: {links: [{id, field, via, state, type, objects,
#                login, safe, address, groups}], login}}]: chain.login is the first login's
#                index, -1 none; a link's groups are those its login narrows to
#   unknown      router.* annotations Traefik does not know (it skips the Ingress)
package privgate

# ingress-nginx's rules are foreign to an Ingress Traefik serves, but for those on what both
# controllers read alike: certificates, classes, hosts mixed in one Ingress.
traefik_shared := {
	"tls-missing", "issuer-foreign", "class-conflict", "class-missing", "hosts-mixed",
	"group-form", "group-chars", "group-unknown",
}

foreign_rule(v) if {
	input.traefik
	not startswith(v.id, "traefik-")
	not v.id in traefik_shared
}

# This file stands on its own (an admin may replace privgate.rego): its helpers are its own.
traefik_cfg := data.privgate.config

traefik_annotations := object.get(input.object, ["metadata", "annotations"], {})

traefik_hosts := concat(",", sort([h.host | some h in input.hosts; h.private; not h.exempt]))

# The same function as privgate.rego's (Rego merges identical definitions), so that this file stands
# on its own and its rule ids are found where the README's rule table test looks for them.
violation(id, host, field, message) := {"id": id, "host": host, "field": field, "message": message}

traefik_field(key) := sprintf("metadata.annotations[%s]", [key])

traefik_login_field := traefik_field("traefik.ingress.kubernetes.io/router.middlewares")

# The groups the Ingress allows, and on each entrypoint the position of the first login that
# enforces them: any login when it names none (a login narrowed to groups lets fewer in),
# else one narrowed to exactly those groups (oauth2-proxy compares names exactly). -1: none.
traefik_groups := {g | some g in object.get(input.traefik, "groups", [])}

traefik_link_groups(l) := {g | some g in object.get(l, "groups", [])}

traefik_login_at(ep) := ep.chain.login if count(traefik_groups) == 0

traefik_login_at(ep) := min(is) if {
	count(traefik_groups) > 0
	is := [i | some i, l in ep.chain.links; l.login; traefik_link_groups(l) == traefik_groups]
	count(is) > 0
} else := -1 if count(traefik_groups) > 0

traefik_groups_text(gs) := concat(", ", sort([g | some g in gs])) if count(gs) > 0

else := "everyone who logs in"

# The login itself, where router.middlewares names it and it is not what it must be.
traefik_login_link contains l if {
	some ep in input.traefik.entryPoints
	some l in ep.chain.links
	l.id == input.traefik.login
	not l.login
}

problems contains violation("traefik-login-invalid", traefik_hosts, traefik_login_field, msg) if {
	some l in traefik_login_link
	l.state == "missing"
	msg := sprintf("names the login Middleware %s, which does not exist, so Traefik disables the routers and the hosts fall to any other router; ask the platform team to create Middleware %s, a forwardAuth to %s", [l.id, input.traefik.loginObject, input.traefik.loginAddress])
}

problems contains violation("traefik-login-invalid", traefik_hosts, traefik_login_field, msg) if {
	some l in traefik_login_link
	l.state != "missing"
	object.get(l, "type", "") != "forwardAuth"
	msg := sprintf("names the login Middleware %s (%s), which is %s, not a forwardAuth to %s; fix the Middleware", [l.id, concat(", ", object.get(l, "objects", [])), traefik_what(l), input.traefik.loginAddress])
}

problems contains violation("traefik-login-invalid", traefik_hosts, traefik_login_field, msg) if {
	some l in traefik_login_link
	l.state == "ok"
	l.type == "forwardAuth"
	msg := sprintf("names the login Middleware %s, whose forwardAuth.address is %q, not traefik.authAddress %q, so requests are not sent to login; fix the Middleware", [l.id, object.get(l, "address", ""), traefik_cfg.traefik.authAddress])
}

# The login named for the Ingress's groups narrows to other groups.
problems contains violation("traefik-login-invalid", traefik_hosts, traefik_login_field, msg) if {
	some ep in input.traefik.entryPoints
	some l in ep.chain.links
	l.id == input.traefik.login
	l.login
	traefik_link_groups(l) != traefik_groups
	msg := sprintf("names the login Middleware %s, whose forwardAuth.address %q lets in %s, not %s as the groups annotation says; set its address to %q", [l.id, l.address, traefik_groups_text(traefik_link_groups(l)), traefik_groups_text(traefik_groups), input.traefik.loginAddress])
}

traefik_what(l) := sprintf("a %s middleware", [l.type]) if l.type

else := sprintf("%s (several Middlewares share the ID, or it sets no single type)", [l.state])

# No login on an entrypoint the routers are served on.
problems contains violation("traefik-login-missing", traefik_hosts, traefik_login_field, msg) if {
	eps := [ep.name | some ep in input.traefik.entryPoints; ep.chain.login < 0]
	count(eps) > 0
	count(traefik_login_link) == 0
	msg := sprintf("the routers run no login on entrypoint %s (no forwardAuth Middleware to %s in the entrypoint's or the router's middlewares), so requests reach the app without login; put %s first in router.middlewares (privgate adds it when it is missing)", [concat(", ", eps), traefik_cfg.traefik.authAddress, input.traefik.login])
}

# A login runs, but none narrowed to the groups the Ingress allows: everyone it admits gets in.
problems contains violation("traefik-groups-login", traefik_hosts, traefik_login_field, msg) if {
	eps := [ep.name | some ep in input.traefik.entryPoints; ep.chain.login >= 0; traefik_login_at(ep) < 0]
	count(eps) > 0
	not traefik_login_named
	msg := sprintf("the routers' login on entrypoint %s does not narrow to the groups annotation's %s, so every signed-in user it admits gets in; put %s (a forwardAuth to %s) first in router.middlewares (privgate adds it when it is missing)", [concat(", ", eps), traefik_groups_text(traefik_groups), input.traefik.login, input.traefik.loginAddress])
}

traefik_login_named if {
	some ep in input.traefik.entryPoints
	some l in ep.chain.links
	l.id == input.traefik.login
}

# A middleware before the login that can answer on its own.
problems contains violation("traefik-chain-order", traefik_hosts, l.field, msg) if {
	some ep in input.traefik.entryPoints
	traefik_login_at(ep) >= 0
	some i, l in ep.chain.links
	i < traefik_login_at(ep)
	not l.safe
	not l.login # another login first only lets fewer through
	msg := sprintf("middleware %s%s runs before the login and can answer on its own (%s), so what it answers needs no login; put %s before it", [l.id, traefik_via(l), traefik_why_unsafe(l), input.traefik.login])
}

traefik_via(l) := sprintf(" (from chain %s)", [l.via]) if l.via

else := ""

traefik_why_unsafe(l) := "an errors page served by a Service other than the login's: the app answers the login's refusals" if l.type == "errors"

else := sprintf("%s middleware", [l.type]) if l.type

else := sprintf("%s: privgate cannot see what it does", [l.state])

problems contains violation("traefik-entrypoint-unknown", traefik_hosts, traefik_field("traefik.ingress.kubernetes.io/router.entrypoints"), msg) if {
	some ep in input.traefik.entryPoints
	not ep.known
	msg := sprintf("names entrypoint %q, which is not one of traefik.entryPoints (%s); privgate cannot tell what runs there: use one of those", [ep.name, concat(", ", sort(object.keys(traefik_cfg.traefik.entryPoints)))])
}

problems contains violation("traefik-tls-missing", traefik_hosts, traefik_field("traefik.ingress.kubernetes.io/router.tls"), msg) if {
	not input.traefik.tls
	some ep in input.traefik.entryPoints
	ep.known
	not ep.tls
	msg := sprintf("router.tls is not \"true\" and entrypoint %s has no TLS, so Traefik serves the app over plain http, session cookies included; remove the annotation (privgate sets \"true\") or name only TLS entrypoints (%s)", [ep.name, concat(", ", traefik_cfg.traefik.tlsEntryPoints)])
}

# Traefik serves only IngressClasses whose controller is its own (client.go, GetIngressClasses):
# a class in traefik.ingressClasses that another controller serves is not what privgate judged.
problems contains violation("traefik-class-controller", traefik_hosts, "spec.ingressClassName", msg) if {
	input.traefik
	some c, controller in object.get(input, "classes", {})
	controller != "traefik.io/ingress-controller"
	msg := sprintf("IngressClass %q is served by controller %q, not Traefik (traefik.io/ingress-controller), so the login Middleware privgate judged is not what runs; fix the IngressClass or traefik.ingressClasses", [c, controller])
}

cautions contains violation("traefik-annotation-unknown", traefik_hosts, traefik_field(key), msg) if {
	some key in input.traefik.unknown
	msg := "is not an option Traefik's Ingress provider knows, so Traefik skips the whole Ingress (nothing is served); fix the name"
}

cautions contains violation("traefik-middleware-missing", traefik_hosts, l.field, msg) if {
	some ep in input.traefik.entryPoints
	some l in ep.chain.links
	l.id != input.traefik.login
	l.state in {"missing", "invalid"}
	msg := sprintf("middleware %s%s is %s, so Traefik disables the routers and the hosts fall to any other router; fix or remove it", [l.id, traefik_via(l), l.state])
}
