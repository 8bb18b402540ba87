# privgate's default policy for Traefik's CRDs (traefik.io/v1alpha1): every router answering a
# private host runs the login (a forwardAuth Middleware to traefik.authAddress) before anything
# that can answer on its own; no TCP router takes a private name; no Middleware change or
# deletion leaves a router in use without its login (docs/traefik.md).
#
# Inputs besides the shared ones (policy/traefik/object.go):
#   input.login      the login Middleware's ID
#   input.routes     an IngressRoute's private routes: [{field, hosts, priority, skipped, tls,
#                    entryPoints: [{name, known, tls, chain: {links, login}}]}]
#   input.tcp        an IngressRouteTCP's private routes: [{field, hosts, passthrough}]
#   input.uncovered  a Middleware change's victims: [{object, hosts, entryPoints}]
package privgate.traefik

cfg := data.privgate.config

violation(id, host, field, message) := {"id": id, "host": host, "field": field, "message": message}

hosts_text(r) := concat(",", r.hosts)

exempt(r) if {
	every h in r.hosts {
		h in object.get(cfg, "exemptHosts", [])
	}
}

# The routes Traefik builds and judges: private, not exempt, not skipped.
served contains r if {
	some r in input.routes
	not r.skipped
	not exempt(r)
}

deny contains violation("traefik-login-missing", hosts_text(r), sprintf("%s.middlewares", [r.field]), msg) if {
	some r in served
	eps := [ep | some ep in r.entryPoints; ep.chain.login < 0]
	count(eps) > 0
	msg := sprintf("the router runs no login on entrypoint %s (no forwardAuth Middleware to %s; %s); add a Middleware reference to %s first%s", [concat(", ", [ep.name | some ep in eps]), cfg.traefik.authAddress, missing_why(eps[0].chain), cfg.traefik.loginMiddleware, cross_hint])
}

missing_why(c) := sprintf("its middlewares are %s", [concat(", ", [sprintf("%s (%s)", [l.id, l.state]) | some l in c.links])]) if count(c.links) > 0

else := "it names none"

# With allowCrossNamespace false Traefik refuses a reference to the login's namespace: a
# ForwardAuth Middleware of the route's own namespace to the same address is the login too.
cross_hint := "" if cfg.traefik.allowCrossNamespace

else := " (allowCrossNamespace is false: outside its namespace, create a forwardAuth Middleware to that address in the route's namespace and name it)"

deny contains violation("traefik-chain-order", hosts_text(r), l.field, msg) if {
	some r in served
	some ep in r.entryPoints
	ep.chain.login >= 0
	some i, l in ep.chain.links
	i < ep.chain.login
	not l.safe
	msg := sprintf("middleware %s%s runs before the login and can answer on its own (%s), so what it answers needs no login; move it after the login", [l.id, via(l), why_unsafe(l)])
}

via(l) := sprintf(" (from chain %s)", [l.via]) if l.via

else := ""

why_unsafe(l) := "an errors page served by a Service other than the login's: the app answers the login's refusals" if l.type == "errors"

else := sprintf("%s middleware", [l.type]) if l.type

else := sprintf("%s: privgate cannot see what it does", [l.state])

deny contains violation("traefik-entrypoint-unknown", hosts_text(r), "spec.entryPoints", msg) if {
	some r in served
	some ep in r.entryPoints
	not ep.known
	msg := sprintf("entrypoint %q is not one of traefik.entryPoints (%s); privgate cannot tell what runs there: use one of those", [ep.name, concat(", ", sort(object.keys(cfg.traefik.entryPoints)))])
}

deny contains violation("traefik-tls-missing", hosts_text(r), "spec.tls", msg) if {
	some r in served
	not r.tls
	some ep in r.entryPoints
	ep.known
	not ep.tls
	msg := sprintf("no spec.tls and entrypoint %s has no TLS, so Traefik serves the route over plain http, session cookies included; add spec.tls or name only TLS entrypoints (%s)", [ep.name, concat(", ", cfg.traefik.tlsEntryPoints)])
}

warn contains violation("traefik-route-skipped", hosts_text(r), r.field, msg) if {
	some r in input.routes
	r.skipped
	msg := sprintf("Traefik skips this route (%s), so it serves nothing; fix that reference", [r.skipped])
}

deny contains violation("traefik-tcp-private", concat(",", r.hosts), sprintf("%s.match", [r.field]), msg) if {
	some r in input.tcp
	not exempt(r)
	msg := sprintf("a TCP router %s for a private name: Traefik never runs an HTTP login in front of it, so the app is reached without login; publish it with an IngressRoute behind %s", [tcp_how(r), cfg.traefik.loginMiddleware])
}

for_groups(u) := sprintf(" for %s", [concat(", ", u.groups)]) if count(object.get(u, "groups", [])) > 0

else := ""

tcp_how(r) := "passing TLS through to the backend" if r.passthrough

else := "forwarding the decrypted stream"

deny contains violation("traefik-uncovers", concat(",", u.hosts), "metadata.name", msg) if {
	some u in input.uncovered
	msg := sprintf("%s leaves %s on entrypoint %s without its login%s (it runs it now); change that object first, then this Middleware", [what_change, u.object, concat(", ", u.entryPoints), for_groups(u)])
}

what_change := "deleting this Middleware" if input.request.operation == "DELETE"

else := "this change"
