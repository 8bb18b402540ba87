# privgate's default policy for Ingresses: every private host must be behind oauth2-proxy login,
# with TLS, on an ingress class that enforces it, without annotations that weaken it.
#
# Inputs (the README's "Editing the policy" lists them; policy/input.go defines them):
#   input.request   operation, namespace, name, dryRun, userInfo.username of the request
#   input.object    the Ingress after mutation (metadata.managedFields dropped)
#   input.hosts     [{host, field, private, exempt, tls, any}] computed by privgate
#   input.acmeSolver   true for cert-manager's own HTTP-01 solver Ingress
#   input.nginxProvider  true when Traefik's NGINX provider executes the Ingress's class (servedBy)
#   input.groupsStale  true when the group source has been unreachable past maxStaleness
#   data.privgate.config  the config (privgate.yaml)
#   data.privgate.groups  {"<group>": true} for every known group
# Outputs: deny and warn, sets of {id, host, field, message} (group-unknown adds "group", for
# privgate's "did you mean" hint). privgate prints each as
#   [id] <namespace>/<name> <host> <field>: <message>
# and privgate.yaml's `rules: {<id>: deny|warn|audit|off}` changes what one of them does.
#
# Layout: every default rule below adds to `problems` (denied) or `cautions` (warned); the one
# gate here applies them only to Ingresses that answer a protected host. Rules of your own can
# add to deny and warn directly (see the README's example).
package privgate

import data.privgate.allowedgroups

cfg := data.privgate.config

obj := input.object

annotations := object.get(obj, ["metadata", "annotations"], {})

prefix := concat("", [cfg.annotationPrefix, "/"])

nginx(name) := concat("", [prefix, name])

auth_url_key := nginx("auth-url")

auth_signin_key := nginx("auth-signin")

# The annotations under the controller's prefix, by name without it.
nginx_names contains substring(key, count(prefix), -1) if {
	some key, _ in annotations
	startswith(key, prefix)
}

protected_hosts := sort([h.host | some h in input.hosts; h.private; not h.exempt])

# protected: the Ingress answers a private host that must be behind login.
protected if {
	count(protected_hosts) > 0
	not input.acmeSolver
}

deny contains v if {
	protected
	some v in problems
	not foreign_rule(v) # privgate_traefik.rego
}

# Ownership holds for every private host, exempt ones included: a second namespace's Ingress on
# oauth2-proxy's own host would answer its auth subrequests.
deny contains v if {
	not input.acmeSolver
	some v in ownership
}

warn contains v if {
	protected
	some v in cautions
	not foreign_rule(v)
}

# An exemption is as narrow as the thing exempted. cert-manager's solver Ingress answers one token
# path without login, and oauth2-proxy's own host (exemptHosts) cannot require login: both are
# exempt from login and what comes with it (auth, TLS, issuer, class, groups, the exempt paths),
# not from annotations whose effect reaches past that (cert-manager copies the issuer's
# ingressTemplate annotations onto its solver).
exempt_object if {
	not protected
	some h in input.hosts
	h.private
}

deny contains v if {
	exempt_object
	some v in exempt_problems
}

# The hosts a message names: the protected ones, else (an exempt object) the private ones.
hosts_text := concat(",", protected_hosts) if count(protected_hosts) > 0

else := concat(",", sort([h.host | some h in input.hosts; h.private]))

violation(id, host, field, message) := {"id": id, "host": host, "field": field, "message": message}

annotation_field(key) := sprintf("metadata.annotations[%s]", [key])

# ---- auth-url and auth-signin -------------------------------------------------------------

problems contains violation("auth-missing", hosts_text, annotation_field(key), msg) if {
	some key in [auth_url_key, auth_signin_key]
	not annotations[key]
	msg := sprintf("missing, so requests reach the app without login; remove whatever drops it (privgate sets %q)", [expected(key)])
}

problems contains violation("auth-missing", hosts_text, annotation_field(key), msg) if {
	some key in [auth_url_key, auth_signin_key]
	trim_space(annotations[key]) == ""
	msg := sprintf("is empty, which switches external auth off; remove the annotation (privgate sets %q)", [expected(key)])
}

expected(key) := cfg.auth.url if key == auth_url_key

expected(key) := cfg.auth.signin if key == auth_signin_key

# url_parts parses an absolute URL by RFC 3986's grammar (appendix B), then splits the authority
# into userinfo, host and port. Comparing parts, not prefixes, is what stops
# https://oauth2.private.example.com.evil.io/ and https://oauth2.private.example.com@evil.io/.
url_parts(u) := parts if {
	m := regex.find_all_string_submatch_n(`^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*@)?(\[[^\]/?#]*\]|[^:\[\]/?#]*)(?::([0-9]*))?([^?#]*)(\?[^#]*)?(#.*)?$`, u, 1)
	count(m) == 1
	scheme := lower(m[0][1])
	host := lower(m[0][3])
	port := port_or_default(m[0][4], scheme)
	parts := {
		"scheme": scheme,
		"userinfo": m[0][2] != "",
		"host": host,
		"port": port,
		"path": m[0][5],
		"query": trim_prefix(m[0][6], "?"),
		"fragment": m[0][7],
		"endpoint": concat("", [scheme, "://", host, ":", port, m[0][5]]),
	}
}

port_or_default(p, _) := p if p != ""

port_or_default("", "https") := "443"

port_or_default("", "http") := "80"

# ingress-nginx accepts only these characters in auth-url and auth-signin; with annotation
# validation off it would drop a value with others, and the location would run without auth.
nginx_url_chars := `^[-._~a-zA-Z0-9/:, ?&=$]*$`

# The same, with any allowed_groups value let through: groups are judged by the group rules.
nginx_url_chars_or_groups := `^(?:[-._~a-zA-Z0-9/:, ?&=$]|allowed_groups=[^&]*)*$`

endpoint_checks := [
	{
		"key": auth_url_key, "want": cfg.auth.url,
		"invalid": "auth-url-invalid", "userinfo": "auth-url-userinfo",
		"endpoint": "auth-url-endpoint", "fragment": "auth-url-fragment",
	},
	{
		"key": auth_signin_key, "want": cfg.auth.signin,
		"invalid": "auth-signin-invalid", "userinfo": "auth-signin-userinfo",
		"endpoint": "auth-signin-endpoint", "fragment": "auth-signin-fragment",
	},
]

# Both URLs parsed once per decision (complete rules are evaluated once; see
# docs/performance-profile.md).
parsed := {key: p |
	some key in [auth_url_key, auth_signin_key]
	p := url_parts(annotations[key])
}

wanted := {auth_url_key: url_parts(cfg.auth.url).endpoint, auth_signin_key: url_parts(cfg.auth.signin).endpoint}

problems contains violation(c.invalid, hosts_text, annotation_field(c.key), msg) if {
	some c in endpoint_checks
	not parsed[c.key]
	value := annotations[c.key]
	trim_space(value) != ""
	msg := sprintf("%q is not an absolute URL; remove it (privgate sets %q)", [value, c.want])
}

# Groups in allowed_groups are judged by the group rules, and userinfo by its own rule: each
# problem is reported once, where it was written.
problems contains violation(c.invalid, hosts_text, annotation_field(c.key), msg) if {
	ingress_nginx
	some c in endpoint_checks
	not regex.match(nginx_url_chars_or_groups, annotations[c.key])
	value := regex.replace(annotations[c.key], `allowed_groups=[^&]*`, "")
	not url_parts(value).userinfo
	not regex.match(nginx_url_chars, value)
	bad := regex.find_n(`[^-._~a-zA-Z0-9/:, ?&=$]`, value, 1)[0]
	msg := sprintf("contains %q, which ingress-nginx rejects in this annotation (and then serves the app without auth); remove it", [bad])
}

problems contains violation(c.userinfo, hosts_text, annotation_field(c.key), msg) if {
	some c in endpoint_checks
	parsed[c.key].userinfo
	msg := sprintf("%q carries userinfo (user@host), a way to make a URL look like another; use %q", [annotations[c.key], c.want])
}

problems contains violation(c.endpoint, hosts_text, annotation_field(c.key), msg) if {
	some c in endpoint_checks
	parsed[c.key].endpoint != wanted[c.key]
	msg := sprintf("points at %s, not the configured %s (scheme, host, port and path must all match); remove it so privgate sets it", [parsed[c.key].endpoint, wanted[c.key]])
}

problems contains violation(c.fragment, hosts_text, annotation_field(c.key), msg) if {
	some c in endpoint_checks
	parsed[c.key].fragment != ""
	msg := sprintf("%q carries a fragment; use %q", [annotations[c.key], c.want])
}

# oauth2-proxy's auth endpoint takes allowed_groups (and allowed_emails) to narrow who passes;
# anything else in the query is not ours to judge.
auth_url_params := {"allowed_groups", "allowed_emails"}

problems contains violation("auth-url-query", hosts_text, annotation_field(auth_url_key), msg) if {
	some param in split(parsed[auth_url_key].query, "&")
	param != ""
	name := split(param, "=")[0]
	not name in auth_url_params
	msg := sprintf("query parameter %q is not one oauth2-proxy's auth endpoint narrows access with (allowed_groups, allowed_emails); remove it", [name])
}

# ---- TLS and issuer -----------------------------------------------------------------------

problems contains violation("tls-missing", h.host, h.field, msg) if {
	some h in input.hosts
	h.private
	not h.tls
	msg := "not covered by spec.tls, so it would be served without a certificate; add it to a spec.tls entry (privgate adds one when none covers it)"
}

problems contains violation("issuer-foreign", hosts_text, annotation_field("cert-manager.io/cluster-issuer"), msg) if {
	issuer := annotations["cert-manager.io/cluster-issuer"]
	issuer != cfg.tls.clusterIssuer
	msg := sprintf("names ClusterIssuer %q; private hosts take certificates from %q: remove the annotation or set it to that", [issuer, cfg.tls.clusterIssuer])
}

problems contains violation("issuer-foreign", hosts_text, annotation_field("cert-manager.io/issuer"), msg) if {
	issuer := annotations["cert-manager.io/issuer"]
	msg := sprintf("names the namespaced Issuer %q; private hosts take certificates from ClusterIssuer %q: remove it", [issuer, cfg.tls.clusterIssuer])
}

# ---- ingress class ------------------------------------------------------------------------

classes contains c if {
	c := obj.spec.ingressClassName
	c != null
}

classes contains c if c := annotations["kubernetes.io/ingress.class"]

# Where a class is written, for messages: spec.ingressClassName, else the legacy annotation.
class_field(c) := "spec.ingressClassName" if obj.spec.ingressClassName == c

else := annotation_field("kubernetes.io/ingress.class")

problems contains violation("class-foreign", hosts_text, class_field(c), msg) if {
	some c in classes
	not c in cfg.ingressClasses
	not c in object.get(cfg, ["traefik", "ingressClasses"], [])
	msg := sprintf("class %q is not one whose controller enforces auth-url (%s); a controller that ignores the annotation would publish the app without login: use %s", [c, concat(", ", cfg.ingressClasses), cfg.ingressClasses[0]])
}

problems contains violation("class-conflict", hosts_text, "spec.ingressClassName", msg) if {
	count(classes) > 1
	msg := sprintf("spec.ingressClassName and the kubernetes.io/ingress.class annotation disagree (%s); controllers differ on which wins: keep spec.ingressClassName only", [concat(" vs ", sort(classes))])
}

problems contains violation("class-missing", hosts_text, "spec.ingressClassName", msg) if {
	count(classes) == 0
	msg := sprintf("no ingress class, so the cluster default (which may not enforce auth) would serve it; set spec.ingressClassName: %s", [cfg.ingressClasses[0]])
}

# A class privgate accepts must be served by a controller that enforces auth-url, when the
# IngressClass exists (privgate reads it from the cluster: input.classes).
problems contains violation("class-controller", hosts_text, class_field(c), msg) if {
	some c in classes
	c in cfg.ingressClasses
	controller := input.classes[c]
	not controller in cfg.ingressControllers
	msg := sprintf("IngressClass %q is served by controller %q, not one that enforces auth-url (%s), so it would publish the app without login; use a class of those controllers, or fix the IngressClass", [c, controller, concat(", ", cfg.ingressControllers)])
}

# ---- hosts other namespaces own ------------------------------------------------------------
# ingress-nginx merges every Ingress naming a host into one server: a second namespace's Ingress
# for a host receives part of its requests, session cookies included.

shared_namespace(ns) if ns in cfg.hostOwnership.sharedNamespaces

# (The owner is the oldest claim outside the shared namespaces: privgate finds it.)
ownership contains violation("host-owned", host, field, msg) if {
	some host, owner in object.get(input, "owners", {})
	not shared_namespace(input.request.namespace)
	field := [h.field | some h in input.hosts; h.host == host][0]
	msg := sprintf("already served by Ingress %s/%s, which owns it (the oldest Ingress for a host decides its namespace); use another host, or ask the platform team to add this namespace to hostOwnership.sharedNamespaces", [owner.namespace, owner.name])
}

# ---- hosts sharing one Ingress ------------------------------------------------------------

problems contains violation("hosts-mixed", h.host, h.field, msg) if {
	some h in input.hosts
	not h.private
	msg := sprintf("public host in an Ingress with private hosts (%s); annotations apply to every host, so split it into a public and a private Ingress", [hosts_text])
}

problems contains violation("hosts-mixed", h.host, h.field, msg) if {
	some h in input.hosts
	h.exempt
	msg := sprintf("exempt host in an Ingress with protected hosts (%s); it would get login too (a redirect loop for oauth2-proxy): give it its own Ingress", [hosts_text])
}

# ---- annotations that switch off or weaken external auth ----------------------------------
# Each annotation is judged as ingress-nginx v1.15.1 reads it: docs/ingress-nginx.md lists every
# annotation and controller setting with the controller's parser (and its source), and privgate's
# stance; its tables drive this policy's tests. On a class Traefik's NGINX provider serves, only
# the annotations it reads count (controller_reads, below; docs/traefik.md).

# strconv.ParseBool's spellings, untrimmed: the controller's parser.GetBoolAnnotation.
bool_true := {"1", "t", "T", "true", "TRUE", "True"}

bool_false := {"0", "f", "F", "false", "FALSE", "False"}

# Denied when present on a protected Ingress, whatever the value.
risky := {
	"configuration-snippet": "injects raw nginx configuration into the location, where it can turn auth_request off or proxy elsewhere (the snippet class behind IngressNightmare)",
	"server-snippet": "injects raw nginx configuration into the server block, where it can add locations without auth_request",
	"auth-snippet": "injects raw nginx configuration into the auth subrequest, where it can rewrite what oauth2-proxy sees or answer for it",
	"stream-snippet": "injects raw nginx stream configuration, which can forward traffic around the HTTP auth",
	"modsecurity-snippet": "injects raw ModSecurity/nginx configuration into the location",
	"auth-proxy-set-headers": "sets headers on the auth subrequest, which can spoof what oauth2-proxy judges (X-Forwarded-Uri, X-Forwarded-Host)",
	"server-alias": "adds hostnames to the server outside spec.rules: an alias another Ingress also claims is silently served by whichever nginx reads first, and a wildcard or regex alias captures hostnames nobody listed; name each host in spec.rules",
	"mirror-target": "copies every request, with its session cookie, to another backend",
	"mirror-uri": "copies every request, with its session cookie, to another location",
	"mirror-host": "sets the Host of mirrored requests, which copy session cookies elsewhere",
}

# Annotations whose effect reaches past one location: the whole host (ssl-passthrough, the
# server's names, a server for the www. twin), other backends (mirrors), or raw configuration,
# which can do anything. Exempt objects are judged on these too.
host_wide := {
	"configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet", "modsecurity-snippet",
	"server-alias", "mirror-target", "mirror-uri", "mirror-host", "ssl-passthrough", "from-to-www-redirect",
}

# The risky annotations found, by name: protected Ingresses are denied all of them, exempt
# objects the host-wide ones.
problems contains f.violation if some f in risky_found

exempt_problems contains f.violation if {
	some f in risky_found
	f.name in host_wide
}

# Each annotation of the Ingress is looked up in the table (rather than intersecting their key
# sets, which builds both sets on every decision).
risky_found contains {"name": name, "violation": violation("annotation-risky", hosts_text, annotation_field(key), msg)} if {
	some name in nginx_names
	controller_reads(name)
	reason := risky[name]
	key := nginx(name)
	msg := sprintf("%s; remove it (ask the platform team if you need what it does)", [reason])
}

# Denied for the values the controller acts on, spelled as its parser accepts them. The sets are
# written out (bool_true, bool_false) so that the table is a constant, built once when the policy
# compiles rather than on every decision.
risky_values := {
	# satisfy: trimmed, then exactly "any" or "all" (Any, ANY are ignored: satisfy all).
	"satisfy": {"values": {"any"}, "trim": true, "why": "lets any one access check pass the request, so an allowlisted IP or basic-auth user skips oauth2-proxy"},
	"ssl-passthrough": {"values": {"1", "t", "T", "true", "TRUE", "True"}, "trim": false, "why": "hands the host's TLS streams to the backend, so nginx never sees a request and never runs auth_request"},
	"ssl-redirect": {"values": {"0", "f", "F", "false", "FALSE", "False"}, "trim": false, "why": "serves the app over plain http, exposing session cookies and data"},
	"from-to-www-redirect": {"values": {"1", "t", "T", "true", "TRUE", "True"}, "trim": false, "why": "adds a server for the www. twin of each host, outside spec.rules"},
}

risky_found contains {"name": name, "violation": violation("annotation-risky", hosts_text, annotation_field(key), msg)} if {
	some name in nginx_names
	controller_reads(name)
	rv := risky_values[name]
	key := nginx(name)
	value := annotations[key]
	read_as(value, rv.trim) in rv.values
	msg := sprintf("%q %s; remove it", [value, risky_why(name, rv)])
}

read_as(value, true) := trim_space(value)

read_as(value, false) := value

# Values that make the controller drop the whole external-auth configuration of the Ingress,
# without an error: they fail their validator, the parser wraps that error so that it is no
# longer recognised as a validation error, and the annotation group is skipped
# (authreq/main.go, annotations.go). Empty values are not validated.
auth_dropping := {
	"auth-request-redirect": {"valid": `^[-._~a-zA-Z0-9/:,?&=]*$`, "spaces": true, "expect": "characters from [-._~a-zA-Z0-9/:,?&=]"},
	"auth-cache-duration": {"valid": `^[-._~a-zA-Z0-9/:, ]*$`, "spaces": false, "expect": "characters from [-._~a-zA-Z0-9/:, ]"},
}

problems contains violation("auth-dropped", hosts_text, annotation_field(key), msg) if {
	some name in nginx_names
	controller_reads(name)
	d := auth_dropping[name]
	key := nginx(name)
	value := annotations[key]
	checked := without_spaces(value, d.spaces)
	checked != ""
	not regex.match(d.valid, checked)
	msg := sprintf("%q makes ingress-nginx drop the Ingress's whole external auth without an error (it wants %s), so the app is served without login; fix or remove it", [value, d.expect])
}

parses_as_bool(v) if v in bool_true

parses_as_bool(v) if v in bool_false

problems contains violation("auth-dropped", hosts_text, annotation_field(key), msg) if {
	controller_reads("auth-always-set-cookie")
	key := nginx("auth-always-set-cookie")
	value := annotations[key]
	value != "" # not validated: reads false
	not parses_as_bool(value)
	msg := sprintf("%q is not a boolean ingress-nginx reads (1, t, T, true, TRUE, True or their false forms), so it drops the Ingress's whole external auth without an error and serves the app without login; write true or false", [value])
}

without_spaces(value, true) := replace(value, " ", "")

without_spaces(value, false) := value

# ---- cross-origin reads of authenticated responses ----------------------------------------
# With enable-cors, ingress-nginx answers Access-Control-Allow-Origin for the origins it parsed
# from cors-allow-origin (reflecting the request's Origin), with credentials unless
# cors-allow-credentials reads false (cors/main.go). A missing or unparsable value becomes *.

cors_enabled if annotations[nginx("enable-cors")] in bool_true

# Credentials are on unless the value reads false: a missing or unparsable one means true.
cors_credentials if not cors_credentials_off

cors_credentials_off if annotations[nginx("cors-allow-credentials")] in bool_false

# A missing or empty value is *, and so is a value whose whole (spaces removed) fails the
# controller's validator.
cors_value_valid(v) if regex.match(`^((((([a-z]+://)?(\*\.)?[A-Za-z0-9\-.]*(:\d+)?,?)|null)+)|\*)?$`, replace(v, " ", ""))

cors_origins := ["*"] if {
	not annotations[nginx("cors-allow-origin")]
} else := ["*"] if {
	trim_space(annotations[nginx("cors-allow-origin")]) == ""
} else := ["*"] if {
	not cors_value_valid(annotations[nginx("cors-allow-origin")])
} else := ["*"] if {
	some o in split(annotations[nginx("cors-allow-origin")], ",")
	trim_space(o) == "*"
} else := [o |
	some raw in split(annotations[nginx("cors-allow-origin")], ",")
	o := trim_space(raw)
	regex.match(`^([a-z]+://(\*\.)?[A-Za-z0-9\-.]*(:\d+)?|null)$`, o)
]

cors_open_reason(o) := "* (every origin; also what the controller makes of a missing or unparsable value)" if o == "*"

cors_open_reason(o) := "null (the Origin of sandboxed iframes and data: URLs, which any website can create)" if o == "null"

cors_open_reason(o) := sprintf("%s (every subdomain, including ones someone else controls)", [o]) if contains(o, "*.")

problems contains violation("cors-open", hosts_text, annotation_field(nginx("enable-cors")), msg) if {
	ingress_nginx
	cors_enabled
	cors_credentials
	some o in cors_origins
	reason := cors_open_reason(o)
	msg := sprintf("ingress-nginx allows origin %s with credentials, so other websites can read authenticated responses in the user's browser; list exact https origins in cors-allow-origin, or set cors-allow-credentials: \"false\"", [reason])
}

# auth-cache-key caches oauth2-proxy's answer under the key: unless the key is the user's own
# credential, one user's login admits everyone sharing the key.
problems contains violation("annotation-risky", hosts_text, annotation_field(key), msg) if {
	controller_reads("auth-cache-key")
	key := nginx("auth-cache-key")
	value := annotations[key]
	not regex.match(`\$(cookie_[A-Za-z0-9_]+|http_authorization)`, value)
	msg := sprintf("%q caches the auth decision under a key that is not the user's session, so one login would admit others; key it on the session cookie, e.g. $cookie__oauth2_proxy", [value])
}

# ---- refused requests answered by another backend -----------------------------------------
# custom-http-errors (trimmed, split on ",", each entry trimmed; customhttperrors/main.go) makes
# nginx answer those codes from the error backend, in a location without auth: the
# default-backend annotation's Service, else the controller's default backend.
#
# The statuses a request gets without a login: a refused login answers 401 (no session: the
# sign-in redirect's error_page comes first, but only with auth-signin) or 403 (a session outside
# allowed_groups); a failed one 500: auth_request (and the Lua auth of auth-keepalive) turns any
# other answer of the auth subrequest into 500, oauth2-proxy unreachable, answering 5xx, or with
# headers too large for the auth location's buffer (docs/ingress-nginx.md). On an exempt object
# nothing is behind login: every status.
login_failure_codes := {"401", "403", "500"}

error_codes contains trim_space(c) if {
	controller_reads("custom-http-errors")
	some c in split(trim_space(annotations[nginx("custom-http-errors")]), ",")
	trim_space(c) != ""
}

error_backend := sprintf("%s/%s", [input.request.namespace, trim_space(annotations[nginx("default-backend")])]) if {
	trim_space(annotations[nginx("default-backend")]) != ""
} else := object.get(cfg, ["controller", "defaultBackend"], "")

trusted_error_backend if error_backend == ""

trusted_error_backend if error_backend in object.get(cfg, ["controller", "errorBackends"], [])

problems contains violation("error-page-backend", hosts_text, annotation_field(nginx("custom-http-errors")), msg) if {
	refused := error_codes & login_failure_codes
	count(refused) > 0
	not trusted_error_backend
	msg := sprintf("intercepts %s, so a request whose login was refused (401, 403) or failed (500: oauth2-proxy unreachable, or its answer's headers too large) is answered by Service %s (the error page, served without auth, with the path rewritten to /): if that is an app, users without login reach it; drop %s, or have the platform team list the Service in controller.errorBackends", [concat(" and ", sort(refused)), error_backend, concat(",", sort(refused))])
}

exempt_problems contains violation("error-page-backend", hosts_text, annotation_field(nginx("custom-http-errors")), msg) if {
	count(error_codes) > 0
	not trusted_error_backend
	msg := sprintf("intercepts %s on an exempt object (cert-manager's solver, or an exemptHosts host such as oauth2-proxy's), where nothing is behind login: those answers (and, on oauth2-proxy's host, the 401s of auth subrequests) are replaced by Service %s's / page, served without auth; remove custom-http-errors (or default-backend) from it, or have the platform team list the Service in controller.errorBackends", [concat(",", sort(error_codes)), error_backend])
}

# ---- paths the controller exempts ----------------------------------------------------------
# ingress-nginx leaves auth_request (and the https redirect) out of every location whose path
# starts with one of no-auth-locations (no-tls-redirect-locations), as a plain string prefix of
# the path as written, regex or not (template.go, isLocationInLocationList).

# Each path with where it is written; the field is rendered only when a rule reports the path.
paths contains {"path": p.path, "rule": i, "index": j} if {
	some i, rule in object.get(obj, ["spec", "rules"], [])
	some j, p in object.get(rule, ["http", "paths"], [])
}

regex_paths if annotations[nginx("use-regex")] in bool_true

regex_paths if trim_space(object.get(annotations, nginx("rewrite-target"), "")) != ""

# The entries of a controller setting that path starts with.
exempting(path, setting) := [loc |
	some raw in object.get(cfg, ["controller", setting], [])
	loc := trim(raw, " ")
	loc != ""
	startswith(path, loc)
]

default regex_note := ""

regex_note := " and, as a regex (use-regex, rewrite-target), it can match every URL of the host" if regex_paths

path_field(p) := sprintf("spec.rules[%d].http.paths[%d].path", [p.rule, p.index])

problems contains violation("path-no-auth", hosts_text, path_field(p), msg) if {
	ingress_nginx
	some p in paths
	some loc in exempting(p.path, "noAuthLocations")
	msg := sprintf("path %q starts with %q, a location ingress-nginx serves without auth (no-auth-locations)%s; use another path (only cert-manager's own solver belongs there)", [p.path, loc, regex_note])
}

problems contains violation("path-no-tls-redirect", hosts_text, path_field(p), msg) if {
	ingress_nginx
	some p in paths
	some loc in exempting(p.path, "noTLSRedirectLocations")
	msg := sprintf("path %q starts with %q, a location ingress-nginx serves over plain http too (no-tls-redirect-locations)%s; use another path", [p.path, loc, regex_note])
}

# ---- groups -------------------------------------------------------------------------------

groups_key := cfg.groups.annotation

# Each named group with the annotation it was written in (the field is rendered only when a rule
# reports it).
named_groups contains {"group": g, "key": groups_key} if some g in annotation_groups

# A group in auth-url that the annotation names too is reported once, against the annotation.
named_groups contains {"group": g, "key": auth_url_key} if {
	some g in auth_url_groups
	not g in annotation_groups
}

auth_url_groups contains g if {
	some param in split(parsed[auth_url_key].query, "&")
	startswith(param, "allowed_groups=")
	some g in split(substring(param, count("allowed_groups="), -1), ",")
	g != ""
}

annotation_groups contains g if {
	some raw in split(annotations[groups_key], ",")
	g := trim_space(raw)
	g != ""
}

# Characters a group may use: what ingress-nginx accepts in auth-url, minus the query's own
# separators (",", "&", "=", "?"), "$" (an nginx variable) and space.
group_chars := `^[-._~a-zA-Z0-9/:]+$`

problems contains violation("group-form", hosts_text, annotation_field(n.key), msg) if {
	some n in named_groups
	msg := allowedgroups.wrong_form(n.group)
}

problems contains violation("group-chars", hosts_text, annotation_field(n.key), msg) if {
	some n in named_groups
	not regex.match(group_chars, n.group)
	bad := regex.find_n(`[^-._~a-zA-Z0-9/:]`, n.group, 1)[0]
	msg := sprintf("group %q contains %q, which cannot travel in auth-url's allowed_groups (ingress-nginx rejects %%, @, + and # there, and , & = ? $ and spaces change the query); rename the group or grant access another way", [n.group, bad])
}

# A group reported for its characters is not reported unknown as well. The "group" field lets
# privgate append "did you mean ...?" from the known groups.
group_unknown contains object.union(violation("group-unknown", hosts_text, annotation_field(n.key), msg), {"group": n.group}) if {
	some n in named_groups
	regex.match(group_chars, n.group)
	msg := allowedgroups.unknown(n.group)
}

problems contains v if {
	some v in group_unknown
	not allowedgroups.stale
}

cautions contains v if {
	some v in group_unknown
	allowedgroups.stale
}

problems contains violation("groups-mismatch", hosts_text, annotation_field(auth_url_key), msg) if {
	groups_key in object.keys(annotations)
	annotation_groups != auth_url_groups
	msg := sprintf("auth-url allows groups [%s] but %s names [%s], so the annotation is not what is enforced; remove auth-url so privgate sets it from the annotation", [concat(",", sort(auth_url_groups)), groups_key, concat(",", sort(annotation_groups))])
}

# ---- classes Traefik's NGINX provider serves -----------------------------------------------
# Ingresses of a class Traefik's NGINX provider serves (providers.kubernetesIngressNGINX; privgate.yaml
# servedBy: {<class>: traefik-nginx-provider}). It claims ingress-nginx's controller name and reads
# its annotations, but only some of them, and differently: docs/traefik.md has the table, read from
# Traefik v3.6.12, pkg/provider/kubernetes/ingress-nginx. What it never reads cannot open anything
# there (a snippet is ignored), so only what it reads is judged; what it reads and can drop the
# login with is judged as it drops it.

# The controller that executes the Ingress's class: privgate decides it (input.nginxProvider,
# from servedBy and the classes the Ingress names), once for the Go facts and this policy.
nginx_provider if input.nginxProvider

ingress_nginx if not nginx_provider

# The annotations the provider reads, without the prefix: the fields of ingressConfig
# (annotations.go), always under nginx.ingress.kubernetes.io/ (privgate refuses another
# annotationPrefix where a class is served by the provider).
provider_reads := {
	"auth-type", "auth-secret", "auth-realm", "auth-secret-type",
	"auth-url", "auth-response-headers",
	"force-ssl-redirect", "ssl-redirect", "ssl-passthrough", "use-regex",
	"affinity", "session-cookie-name", "session-cookie-secure", "session-cookie-path",
	"session-cookie-domain", "session-cookie-samesite", "session-cookie-max-age",
	"service-upstream", "backend-protocol",
	"proxy-ssl-secret", "proxy-ssl-verify", "proxy-ssl-name", "proxy-ssl-server-name",
	"enable-cors", "cors-allow-credentials", "cors-expose-headers", "cors-allow-headers",
	"cors-allow-methods", "cors-allow-origin", "cors-max-age",
}

# controller_reads(name): the controller serving the Ingress reads annotation name.
controller_reads(_) if ingress_nginx

controller_reads(name) if {
	nginx_provider
	name in provider_reads
}

# What a risky value does, worded for the controller that executes it.
risky_why(name, rv) := provider_why[name] if nginx_provider

else := rv.why

provider_why := {
	"ssl-passthrough": "makes Traefik's NGINX provider route the host's TLS streams to the backend (a TCP router, HostSNI with passthrough), so no HTTP router and no ForwardAuth ever sees a request; the provider needs no --enable-ssl-passthrough for it",
	"ssl-redirect": "makes Traefik's NGINX provider serve the app over plain http beside https (its -http router), exposing session cookies and data",
}

# The provider publishes a path's router first and applies its middlewares after (kubernetes.go:
# the router is stored, then applyMiddlewares). Basic auth comes first there, and any error in it
# (an auth-type other than basic or digest, an empty one included; an auth-secret that is empty,
# missing, unreadable or holds no users; an auth-secret-type other than auth-file or auth-map)
# returns before the ForwardAuth of auth-url is added: the router stays, without login.
problems contains violation("auth-dropped", hosts_text, annotation_field(key), msg) if {
	nginx_provider
	key := nginx("auth-type")
	value := annotations[key]
	msg := sprintf("%q: Traefik's NGINX provider applies basic auth before auth-url, and when that fails (%s) it skips the ForwardAuth but still serves the router, so the app is served without login; remove it (oauth2-proxy is the login here)", [value, basic_auth_failure(value)])
}

basic_auth_failure(v) := "here it always does: auth-type must be basic or digest" if not v in {"basic", "digest"}

else := "a missing, unreadable or malformed auth-secret, or an auth-secret-type other than auth-file or auth-map, which privgate cannot see from here"

# auth-signin is not among what the provider reads: a request without a session gets
# oauth2-proxy's bare 401 instead of the sign-in redirect. Nothing is open, but nobody without a
# session can sign in from this host.
cautions contains violation("signin-ignored", hosts_text, annotation_field(auth_signin_key), msg) if {
	nginx_provider
	msg := sprintf("Traefik's NGINX provider does not read auth-signin: without a session users get oauth2-proxy's bare 401, not the sign-in page, so they must sign in at %s first; serve the host on a Traefik class (traefik.ingressClasses), whose login middleware redirects, or silence this rule (rules: {signin-ignored: off})", [split(cfg.auth.signin, "?")[0]])
}

# CORS as the provider builds it (applyCORSConfiguration): a Headers middleware whose origin list
# is cors-allow-origin split on "," and trimmed (default *), credentials on unless
# cors-allow-credentials parses as false. Traefik answers an Origin equal to an entry, and * as
# the literal * (headers/header.go, isOriginAllowed), which browsers refuse with credentials; so
# of the entries, only null lets another website read authenticated responses.
problems contains violation("cors-open", hosts_text, annotation_field(nginx("enable-cors")), msg) if {
	nginx_provider
	cors_enabled
	cors_credentials
	some raw in split(annotations[nginx("cors-allow-origin")], ",")
	trim_space(raw) == "null"
	msg := "Traefik's NGINX provider allows origin null (the Origin of sandboxed iframes and data: URLs, which any website can create) with credentials, so other websites can read authenticated responses in the user's browser; remove null from cors-allow-origin, or set cors-allow-credentials: \"false\""
}
