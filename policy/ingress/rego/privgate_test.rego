# Unit tests of the default policy, run by `go test ./policy/` and `privgate policy test DIR`
# through OPA's tester. Each test builds an input the way privgate does (see privgate.rego).
package privgate_test

import data.privgate

config := {
	"privateDomains": ["private.example.com"],
	"exemptHosts": ["oauth2.private.example.com"],
	"auth": {
		"url": "https://oauth2.private.example.com/oauth2/auth",
		"signin": "https://oauth2.private.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri",
	},
	"tls": {"clusterIssuer": "letsencrypt-production"},
	"ingressClasses": ["nginx"],
	"groups": {"annotation": "privgate.io/allowed-groups", "claimFormat": "path"},
	"annotationPrefix": "nginx.ingress.kubernetes.io",
	"controller": {
		"noAuthLocations": ["/.well-known/acme-challenge"],
		"noTLSRedirectLocations": ["/.well-known/acme-challenge"],
		"defaultBackend": "",
		"errorBackends": ["ingress-nginx/error-pages"],
	},
}

known := {"/developers": true, "/sre": true, "/developers/frontend": true}

good_annotations := {
	"nginx.ingress.kubernetes.io/auth-url": "https://oauth2.private.example.com/oauth2/auth",
	"nginx.ingress.kubernetes.io/auth-signin": "https://oauth2.private.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri",
	"cert-manager.io/cluster-issuer": "letsencrypt-production",
}

private_host := {"host": "grafana.private.example.com", "field": "spec.rules[0].host", "private": true, "exempt": false, "tls": true, "any": false}

public_host := {"host": "www.example.com", "field": "spec.rules[1].host", "private": false, "exempt": false, "tls": false, "any": false}

# input_with builds a private Ingress with the given annotations, class and hosts.
input_with(annotations, class, hosts) := {
	"request": {"operation": "CREATE", "namespace": "monitoring", "name": "grafana", "dryRun": false, "userInfo": {"username": "alice"}},
	"object": {
		"metadata": {"name": "grafana", "namespace": "monitoring", "annotations": annotations},
		"spec": {"ingressClassName": class},
	},
	"hosts": hosts,
	"acmeSolver": false,
	"groupsStale": false,
}

good := input_with(good_annotations, "nginx", [private_host])

# The ids of the default rules. Tests look only at these, so that an admin's extra rules (which
# add their own ids) never make the defaults' tests fail.
default_ids := {
	"auth-missing", "auth-url-invalid", "auth-signin-invalid", "auth-url-userinfo", "auth-signin-userinfo",
	"auth-url-endpoint", "auth-signin-endpoint", "auth-url-fragment", "auth-signin-fragment", "auth-url-query",
	"tls-missing", "issuer-foreign", "class-foreign", "class-conflict", "class-missing", "hosts-mixed",
	"annotation-risky", "auth-dropped", "cors-open", "error-page-backend", "path-no-auth", "path-no-tls-redirect",
	"group-form", "group-chars", "group-unknown", "groups-mismatch", "signin-ignored",
}

ids(set) := {v.id | some v in set; v.id in default_ids}

deny_ids(inp) := result if {
	result := ids(privgate.deny) with input as inp with data.privgate.config as config with data.privgate.groups as known
}

warn_ids(inp) := result if {
	result := ids(privgate.warn) with input as inp with data.privgate.config as config with data.privgate.groups as known
}

test_protected_ingress_passes if {
	deny_ids(good) == set()
}

test_missing_auth_url_denied if {
	inp := input_with(object.remove(good_annotations, ["nginx.ingress.kubernetes.io/auth-url"]), "nginx", [private_host])
	deny_ids(inp) == {"auth-missing"}
}

test_empty_auth_signin_denied if {
	inp := input_with(object.union(good_annotations, {"nginx.ingress.kubernetes.io/auth-signin": " "}), "nginx", [private_host])
	"auth-missing" in deny_ids(inp)
}

auth_url(u) := input_with(object.union(good_annotations, {"nginx.ingress.kubernetes.io/auth-url": u}), "nginx", [private_host])

test_auth_url_lookalikes_denied if {
	deny_ids(auth_url("https://oauth2.private.example.com.evil.io/oauth2/auth")) == {"auth-url-endpoint"}
	deny_ids(auth_url("https://oauth2.private.example.com@evil.io/oauth2/auth")) == {"auth-url-userinfo", "auth-url-endpoint"}
	deny_ids(auth_url("https://oauth2.private.example.com/oauth2/auth%2f")) == {"auth-url-invalid", "auth-url-endpoint"}
	deny_ids(auth_url("http://oauth2.private.example.com/oauth2/auth")) == {"auth-url-endpoint"}
	deny_ids(auth_url("https://oauth2.private.example.com:8443/oauth2/auth")) == {"auth-url-endpoint"}
	deny_ids(auth_url("https://oauth2.private.example.com/oauth2/auth/../x")) == {"auth-url-endpoint"}
	deny_ids(auth_url("https://oauth2.private.example.com/oauth2/authx")) == {"auth-url-endpoint"}
	deny_ids(auth_url("oauth2.private.example.com/oauth2/auth")) == {"auth-url-invalid"}
}

test_auth_url_equivalent_forms_pass if {
	deny_ids(auth_url("https://OAUTH2.private.example.com:443/oauth2/auth")) == set()
	deny_ids(auth_url("HTTPS://oauth2.private.example.com/oauth2/auth?allowed_emails=a:b")) == set()
}

test_auth_url_foreign_query_denied if {
	deny_ids(auth_url("https://oauth2.private.example.com/oauth2/auth?skip=1")) == {"auth-url-query"}
}

test_auth_signin_other_host_denied if {
	inp := input_with(object.union(good_annotations, {"nginx.ingress.kubernetes.io/auth-signin": "https://login.example.net/oauth2/start"}), "nginx", [private_host])
	deny_ids(inp) == {"auth-signin-endpoint"}
}

test_tls_missing_denied if {
	uncovered := object.union(private_host, {"tls": false})
	deny_ids(input_with(good_annotations, "nginx", [uncovered])) == {"tls-missing"}
}

test_other_issuer_denied if {
	deny_ids(input_with(object.union(good_annotations, {"cert-manager.io/cluster-issuer": "selfsigned"}), "nginx", [private_host])) == {"issuer-foreign"}
	deny_ids(input_with(object.union(good_annotations, {"cert-manager.io/issuer": "mine"}), "nginx", [private_host])) == {"issuer-foreign"}
}

test_foreign_class_denied if {
	deny_ids(input_with(good_annotations, "traefik", [private_host])) == {"class-foreign"}
	legacy := object.union(good_annotations, {"kubernetes.io/ingress.class": "haproxy"})
	deny_ids(input_with(legacy, null, [private_host])) == {"class-foreign"}
	deny_ids(input_with(legacy, "nginx", [private_host])) == {"class-foreign", "class-conflict"}
	deny_ids(input_with(good_annotations, null, [private_host])) == {"class-missing"}
}

test_public_and_private_hosts_denied if {
	deny_ids(input_with(good_annotations, "nginx", [private_host, public_host])) == {"hosts-mixed"}
}

test_exempt_host_mixed_with_protected_denied if {
	exempt := {"host": "oauth2.private.example.com", "field": "spec.rules[1].host", "private": true, "exempt": true, "tls": true, "any": false}
	deny_ids(input_with(good_annotations, "nginx", [private_host, exempt])) == {"hosts-mixed"}
}

test_exempt_only_and_public_only_pass if {
	exempt := {"host": "oauth2.private.example.com", "field": "spec.rules[0].host", "private": true, "exempt": true, "tls": false, "any": false}
	deny_ids(input_with({}, "traefik", [exempt])) == set()
	deny_ids(input_with({}, "traefik", [public_host])) == set()
}

test_acme_solver_passes if {
	solver := object.union(input_with({}, null, [object.union(private_host, {"tls": false})]), {"acmeSolver": true})
	deny_ids(solver) == set()
}

# Exempt objects are judged on what reaches past their exemption, and only on that.
solver_with(annotations) := object.union(input_with(annotations, null, [object.union(private_host, {"tls": false})]), {"acmeSolver": true})

test_exempt_objects_judged_on_host_wide_annotations if {
	exempt := {"host": "oauth2.private.example.com", "field": "spec.rules[0].host", "private": true, "exempt": true, "tls": false, "any": false}
	deny_ids(solver_with({"nginx.ingress.kubernetes.io/ssl-passthrough": "true"})) == {"annotation-risky"}
	deny_ids(solver_with({"nginx.ingress.kubernetes.io/server-snippet": "x"})) == {"annotation-risky"}
	deny_ids(solver_with({"nginx.ingress.kubernetes.io/ssl-redirect": "false"})) == set()
	deny_ids(solver_with({"nginx.ingress.kubernetes.io/satisfy": "any"})) == set()
	deny_ids(solver_with({"nginx.ingress.kubernetes.io/custom-http-errors": "404", "nginx.ingress.kubernetes.io/default-backend": "app"})) == {"error-page-backend"}
	deny_ids(solver_with({"nginx.ingress.kubernetes.io/custom-http-errors": "404", "nginx.ingress.kubernetes.io/default-backend": "error-pages"})) == {"error-page-backend"}
	deny_ids(input_with({"nginx.ingress.kubernetes.io/mirror-target": "https://copy.example.com"}, "nginx", [exempt])) == {"annotation-risky"}
	deny_ids(input_with({"nginx.ingress.kubernetes.io/custom-http-errors": "401"}, "nginx", [exempt])) == set() # the built-in 404 server
	deny_ids(input_with({"nginx.ingress.kubernetes.io/custom-http-errors": "401", "nginx.ingress.kubernetes.io/default-backend": "landing"}, "nginx", [exempt])) == {"error-page-backend"}
}

error_pages_from_app(codes) := input_with(object.union(good_annotations, {
	"nginx.ingress.kubernetes.io/custom-http-errors": codes,
	"nginx.ingress.kubernetes.io/default-backend": "grafana",
}), "nginx", [private_host])

test_login_failure_codes if {
	deny_ids(error_pages_from_app("500")) == {"error-page-backend"}
	deny_ids(error_pages_from_app("502,503,504")) == set()
}

with_annotation(k, v) := input_with(object.union(good_annotations, {k: v}), "nginx", [private_host])

test_risky_annotations_denied if {
	every name in ["configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet", "modsecurity-snippet", "auth-proxy-set-headers", "server-alias", "mirror-target", "mirror-uri", "mirror-host"] {
		deny_ids(with_annotation(concat("/", ["nginx.ingress.kubernetes.io", name]), "x")) == {"annotation-risky"}
	}
}

# The spellings of every value-dependent annotation are tested from docs/ingress-nginx.md's
# table (TestControllerReading); these are the policy's own smoke tests.
test_risky_values_denied if {
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/satisfy", " any")) == {"annotation-risky"}
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/ssl-passthrough", "T")) == {"annotation-risky"}
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/ssl-redirect", "0")) == {"annotation-risky"}
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/from-to-www-redirect", "1")) == {"annotation-risky"}
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/enable-cors", "true")) == {"cors-open"}
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/auth-cache-key", "static")) == {"annotation-risky"}
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/auth-always-set-cookie", "yes")) == {"auth-dropped"}
}

test_values_the_controller_ignores_pass if {
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/satisfy", "Any")) == set()
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/ssl-redirect", "no")) == set()
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/enable-cors", "yes")) == set()
}

test_harmless_values_pass if {
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/satisfy", "all")) == set()
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/ssl-redirect", "true")) == set()
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/auth-cache-key", "$cookie__oauth2_proxy")) == set()
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/proxy-body-size", "8m")) == set()
	cors := object.union(good_annotations, {
		"nginx.ingress.kubernetes.io/enable-cors": "true",
		"nginx.ingress.kubernetes.io/cors-allow-origin": "https://app.private.example.com",
	})
	deny_ids(input_with(cors, "nginx", [private_host])) == set()
}

test_custom_http_errors if {
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/custom-http-errors", "404, 401")) == set()
	app := object.union(good_annotations, {
		"nginx.ingress.kubernetes.io/custom-http-errors": "403",
		"nginx.ingress.kubernetes.io/default-backend": "grafana",
	})
	deny_ids(input_with(app, "nginx", [private_host])) == {"error-page-backend"}
	deny_ids(with_annotation("nginx.ingress.kubernetes.io/custom-http-errors", "404")) == set()
}

with_path(path, annotations) := object.union(input_with(object.union(good_annotations, annotations), "nginx", [private_host]), {"object": {"spec": {"ingressClassName": "nginx", "rules": [{
	"host": "grafana.private.example.com",
	"http": {"paths": [{"path": path, "pathType": "ImplementationSpecific", "backend": {"service": {"name": "grafana", "port": {"number": 80}}}}]},
}]}}})

test_paths_the_controller_exempts if {
	deny_ids(with_path("/.well-known/acme-challenge|/", {"nginx.ingress.kubernetes.io/use-regex": "true"})) == {"path-no-auth", "path-no-tls-redirect"}
	deny_ids(with_path("/.well-known/acme-challenge-x", {})) == {"path-no-auth", "path-no-tls-redirect"}
	deny_ids(with_path("/.well-known/other", {})) == set()
	deny_ids(with_path("/", {})) == set()
}

grouped(groups_value, auth_groups) := input_with(object.union(good_annotations, {
	"privgate.io/allowed-groups": groups_value,
	"nginx.ingress.kubernetes.io/auth-url": concat("", ["https://oauth2.private.example.com/oauth2/auth?allowed_groups=", auth_groups]),
}), "nginx", [private_host])

test_known_groups_pass if {
	deny_ids(grouped("/developers, /sre", "/developers,/sre")) == set()
	deny_ids(grouped("/developers/frontend", "/developers/frontend")) == set()
}

test_unknown_group_denied if {
	deny_ids(grouped("/Developers", "/Developers")) == {"group-unknown"}
}

test_unknown_group_warns_when_stale if {
	inp := object.union(grouped("/Developers", "/Developers"), {"groupsStale": true})
	deny_ids(inp) == set()
	warn_ids(inp) == {"group-unknown"}
}

test_group_form_denied if {
	deny_ids(grouped("developers", "developers")) == {"group-form"}
}

test_group_name_form if {
	inp := grouped("SRE", "SRE")
	by_name := object.union(config, {"groups": {"annotation": "privgate.io/allowed-groups", "claimFormat": "name"}})
	ids(privgate.deny) == set() with input as inp with data.privgate.config as by_name with data.privgate.groups as {"SRE": true}
	ids(privgate.deny) == {"group-form"} with input as grouped("/SRE", "/SRE") with data.privgate.config as by_name with data.privgate.groups as {"SRE": true}
}

test_group_characters_denied if {
	every bad in ["/dev+ops", "/dev@ops", "/dev%20ops", "/dev ops", "/dev$ops"] {
		"group-chars" in deny_ids(grouped(bad, "/developers"))
	}
}

test_groups_mismatch_denied if {
	deny_ids(grouped("/developers", "/sre")) == {"groups-mismatch"}
}

test_messages_name_field_and_fix if {
	inp := input_with(object.remove(good_annotations, ["nginx.ingress.kubernetes.io/auth-url"]), "nginx", [private_host])
	some v in privgate.deny with input as inp with data.privgate.config as config with data.privgate.groups as known
	v.host == "grafana.private.example.com"
	v.field == "metadata.annotations[nginx.ingress.kubernetes.io/auth-url]"
	contains(v.message, "privgate sets \"https://oauth2.private.example.com/oauth2/auth\"")
}

# A class is reported where it is written: the legacy annotation names its own field.
test_class_field_names_where_it_is_written if {
	inp := input_with(object.union(good_annotations, {"kubernetes.io/ingress.class": "traefik"}), null, [private_host])
	fields := {v.field | some v in privgate.deny; v.id == "class-foreign"} with input as inp
		with data.privgate.config as config
		with data.privgate.groups as known
	fields == {"metadata.annotations[kubernetes.io/ingress.class]"}
}

# ---- a class Traefik's NGINX provider serves (servedBy) --------------------------------------

# privgate sets input.nginxProvider from servedBy (policy/ingress/facts.go).
provider_deny_ids(inp) := result if {
	result := ids(privgate.deny) with input as object.union(inp, {"nginxProvider": true}) with data.privgate.config as config with data.privgate.groups as known
}

provider_warn_ids(inp) := result if {
	result := ids(privgate.warn) with input as object.union(inp, {"nginxProvider": true}) with data.privgate.config as config with data.privgate.groups as known
}

test_provider_ignores_what_it_does_not_read if {
	ignored := object.union(good_annotations, {
		"nginx.ingress.kubernetes.io/configuration-snippet": "auth_request off;",
		"nginx.ingress.kubernetes.io/satisfy": "any",
		"nginx.ingress.kubernetes.io/auth-always-set-cookie": "yes",
	})
	provider_deny_ids(input_with(ignored, "nginx", [private_host])) == set()
	deny_ids(input_with(ignored, "nginx", [private_host])) == {"annotation-risky", "auth-dropped"}
}

test_provider_auth_type_drops_the_login if {
	inp := input_with(object.union(good_annotations, {"nginx.ingress.kubernetes.io/auth-type": "basic"}), "nginx", [private_host])
	provider_deny_ids(inp) == {"auth-dropped"}
	deny_ids(inp) == set()
}

test_provider_warns_signin_ignored if {
	provider_warn_ids(good) == {"signin-ignored"}
	warn_ids(good) == set()
}
