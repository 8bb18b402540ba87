#!/usr/bin/env python3
"""Writes the golden cases' YAML (cases/*.yaml): one shared cluster, and per case the objects
that differ and the judged object last. Run from this directory; then go test -update."""
import textwrap

BASE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: eg}
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: eg, namespace: gateways}
spec:
  gatewayClassName: eg
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    allowedRoutes: {namespaces: {from: All}}
    tls: {certificateRefs: [{name: private-wildcard}]}
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: All}}
---
apiVersion: v1
kind: Service
metadata: {name: oauth2-proxy, namespace: oauth2-proxy}
spec:
  selector: {app: oauth2-proxy}
  ports: [{name: http, port: 4180}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: ReferenceGrant
metadata: {name: security-policies, namespace: oauth2-proxy}
spec:
  from:
  - {group: gateway.envoyproxy.io, kind: SecurityPolicy, namespace: gateways}
  - {group: gateway.envoyproxy.io, kind: SecurityPolicy, namespace: monitoring}
  to:
  - {group: "", kind: Service, name: oauth2-proxy}
"""

LOGIN = """\
  extAuth:
    http:
      backendRefs: [{name: oauth2-proxy, namespace: oauth2-proxy, port: 4180}]
    headersToExtAuth: [cookie]
"""

def policy(name, ns, targets, body=LOGIN, created=None, extra=""):
    md = f"name: {name}, namespace: {ns}"
    if created:
        md += f", creationTimestamp: \"{created}\""
    return f"apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: SecurityPolicy\nmetadata: {{{md}}}\nspec:\n{targets}{extra}{body}"

GW = "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: eg}]\n"
ROUTE = "  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: grafana}]\n"
CORS = "  cors: {allowOrigins: [\"https://grafana.private.example.com\"]}\n"

def route(rules=None, labels="", section=""):
    rules = rules or "  - backendRefs: [{name: grafana, port: 3000}]\n"
    md = "name: grafana, namespace: monitoring" + (f", labels: {{{labels}}}" if labels else "")
    ref = "  - {name: eg, namespace: gateways" + (f", sectionName: {section}" if section else "") + "}\n"
    return f"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{{md}}}\nspec:\n  parentRefs:\n{ref}  hostnames: [grafana.private.example.com]\n  rules:\n{rules}"

GATEWAY_LOGIN = policy("login", "gateways", GW)

cases = {}
def case(name, want, comment, *docs, op=None):
    head = f"# want: {want}\n" + (f"# operation: {op}\n" if op else "") + "".join("# " + l + "\n" for l in textwrap.wrap(comment, 94))
    cases[name] = head + "---\n".join([BASE] + list(docs))

# Which policy is in force: most specific wins, ties to the oldest, then by name.
case("httproute-gateway-login", "", "A SecurityPolicy on the whole Gateway with HTTP extAuth to oauth2-proxy, the session cookie sent along: every route on it is behind login.", GATEWAY_LOGIN, route())
case("httproute-no-policy", "gateway-login", "No SecurityPolicy on the Gateway, its listeners, the route or its rules: published without login; the fix is one on the Gateway.", route())
case("httproute-route-policy-replaces", "gateway-login", "A route-level policy written for CORS replaces the Gateway's whole policy (no mergeType): the route loses its login.", GATEWAY_LOGIN, policy("cors", "monitoring", ROUTE, CORS), route())
case("httproute-route-policy-merged", "", "The same route-level policy with mergeType: StrategicMerge is merged into the Gateway's: the login stays.", GATEWAY_LOGIN, policy("cors", "monitoring", ROUTE, CORS, extra="  mergeType: StrategicMerge\n"), route())
case("httproute-rule-policy", "gateway-login", "A policy on one rule (sectionName: admin) beats the route's and the Gateway's there: that rule alone is published without login.", GATEWAY_LOGIN,
     policy("admin-cors", "monitoring", "  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: grafana, sectionName: admin}]\n", CORS),
     route("  - backendRefs: [{name: grafana, port: 3000}]\n  - name: admin\n    matches: [{path: {type: PathPrefix, value: /admin}}]\n    backendRefs: [{name: grafana, port: 3000}]\n"))
case("httproute-listener-policy-other-listener", "gateway-login", "A policy on the https listener only: the route also attaches to the http listener, where nothing is in force.",
     policy("login", "gateways", "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: eg, sectionName: https}]\n"), route())
case("httproute-listener-beats-gateway", "gateway-login", "The listener's policy (failOpen) beats the Gateway's login on that listener.", GATEWAY_LOGIN,
     policy("https-open", "gateways", "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: eg, sectionName: https}]\n", LOGIN + "    failOpen: true\n"), route(section="https"))
case("httproute-same-level-oldest", "gateway-login", "Two policies on the route: the older one (a-cors, CORS only) attaches, the newer login is Conflicted, whatever their names.",
     policy("z-login", "monitoring", ROUTE, created="2026-02-01T00:00:00Z"), policy("y-cors", "monitoring", ROUTE, CORS, created="2026-01-01T00:00:00Z"), route())
case("httproute-same-level-name", "gateway-login", "Two policies on the route created at the same time: the first by namespace/name (a-cors) attaches.",
     policy("b-login", "monitoring", ROUTE, created="2026-01-01T00:00:00Z"), policy("a-cors", "monitoring", ROUTE, CORS, created="2026-01-01T00:00:00Z"), route())
case("httproute-target-selector", "gateway-login", "A policy selecting the route by label (targetSelectors) is a route-level policy: without login it replaces the Gateway's.", GATEWAY_LOGIN,
     policy("team-cors", "monitoring", "  targetSelectors: [{kind: HTTPRoute, matchLabels: {team: observability}}]\n", CORS), route(labels="team: observability"))
case("httproute-empty-selector", "gateway-login", "An empty targetSelector selects every HTTPRoute in the policy's namespace.", GATEWAY_LOGIN,
     policy("all-cors", "monitoring", "  targetSelectors: [{kind: HTTPRoute}]\n", CORS), route())
case("httproute-selector-cross-namespace", "", "A selector in another namespace with namespaces.from: All selects the route only with a ReferenceGrant in the route's namespace: there is none, so the Gateway's login stays.", GATEWAY_LOGIN,
     policy("everyone-cors", "gateways", "  targetSelectors: [{kind: HTTPRoute, namespaces: {from: All}}]\n", CORS), route())
case("httproute-targetref-other-namespace", "", "targetRefs carry no namespace: a policy in another namespace naming the route targets a route of its own namespace, not this one.", GATEWAY_LOGIN,
     policy("cors", "gateways", ROUTE, CORS), route())

# What makes the policy in force no login.
def gateway_case(name, want, comment, body, r=None):
    case(name, want, comment, policy("login", "gateways", GW, body), r or route())
gateway_case("httproute-fail-open", "gateway-login", "extAuth with failOpen: true lets every request through whenever oauth2-proxy fails or times out.", LOGIN + "    failOpen: true\n")
gateway_case("httproute-fail-open-invalid", "gateway-login", "An extAuth Envoy Gateway cannot resolve (a Service in another namespace without ReferenceGrant) is left out with failOpen: true.",
             "  extAuth:\n    http:\n      backendRefs: [{name: oauth2-proxy, namespace: auth, port: 4180}]\n    headersToExtAuth: [cookie]\n    failOpen: true\n")
gateway_case("httproute-ext-auth-other-service", "gateway-login", "extAuth to a Service not in envoyGateway.extAuthServices: privgate cannot tell it is login.",
             "  extAuth:\n    http:\n      backendRefs: [{name: opa, port: 8181}]\n    headersToExtAuth: [cookie]\n")
gateway_case("httproute-ext-auth-grpc", "gateway-login", "extAuth over gRPC: oauth2-proxy answers HTTP only.",
             "  extAuth:\n    grpc:\n      backendRefs: [{name: oauth2-proxy, namespace: oauth2-proxy, port: 4180}]\n")
OIDC = "  oidc:\n    provider: {issuer: \"https://keycloak.example.com/realms/example\"}\n    clientID: grafana\n    clientSecret: {name: grafana-oidc}\n"
gateway_case("httproute-oidc", "", "Envoy's own OIDC login with the configured Keycloak realm as issuer.", OIDC)
gateway_case("httproute-oidc-other-issuer", "gateway-login", "OIDC with another issuer than the configured Keycloak realm.", OIDC.replace("realms/example", "realms/other"))
gateway_case("httproute-oidc-pass-through", "gateway-login", "oidc.passThroughAuthHeader: a request carrying its own bearer token skips the OIDC login.",
             OIDC + "    passThroughAuthHeader: true\n  jwt:\n    providers:\n    - name: keycloak\n      remoteJWKS: {uri: \"https://keycloak.example.com/realms/example/protocol/openid-connect/certs\"}\n")
case("httproute-pass-through-invalid", "", "A route policy with passThroughAuthHeader and no JWT fails Envoy Gateway's validation: it sets nothing, and the Gateway's login applies.", GATEWAY_LOGIN,
     policy("oidc", "monitoring", ROUTE, OIDC + "    passThroughAuthHeader: true\n"), route())
case("tlsroute-passthrough", "gateway-unsupported", "A TLS passthrough listener and a TLSRoute: Envoy never sees the HTTP requests, so no SecurityPolicy can put login in front of them.",
     """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: passthrough, namespace: gateways}
spec:
  gatewayClassName: eg
  listeners:
  - name: tls
    port: 443
    protocol: TLS
    hostname: "*.private.example.com"
    allowedRoutes: {namespaces: {from: All}}
    tls: {mode: Passthrough}
""", policy("login", "gateways", "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: passthrough}]\n"),
     """apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: db, namespace: monitoring}
spec:
  parentRefs: [{name: passthrough, namespace: gateways}]
  hostnames: [db.private.example.com]
  rules:
  - backendRefs: [{name: db, port: 5432}]
""")

# SecurityPolicy writes and deletions.
case("securitypolicy-delete-uncovers", "securitypolicy-uncovers", "Deleting the Gateway's login leaves the route without one.", route(), GATEWAY_LOGIN, op="DELETE")
case("securitypolicy-route-cors-uncovers", "securitypolicy-uncovers", "A route-level policy written for CORS, without mergeType, would replace the Gateway's login on the route.", GATEWAY_LOGIN, route(), policy("cors", "monitoring", ROUTE, CORS))
case("securitypolicy-route-cors-merged", "", "The same with mergeType: StrategicMerge keeps the Gateway's login.", GATEWAY_LOGIN, route(), policy("cors", "monitoring", ROUTE, CORS, extra="  mergeType: StrategicMerge\n"))
case("securitypolicy-fail-open-uncovers", "securitypolicy-uncovers", "Turning on failOpen in the Gateway's login (an UPDATE: the earlier version is stored).", GATEWAY_LOGIN, route(), policy("login", "gateways", GW, LOGIN + "    failOpen: true\n"))
case("securitypolicy-lockout", "securitypolicy-lockout", "HTTP extAuth without the session cookie in headersToExtAuth: oauth2-proxy never sees the session, everyone is sent to sign in again (a warning: nobody gets in).", route(),
     policy("login", "gateways", GW, "  extAuth:\n    http:\n      backendRefs: [{name: oauth2-proxy, namespace: oauth2-proxy, port: 4180}]\n"))

for name, text in cases.items():
    with open(f"cases/{name}.yaml", "w") as f:
        f.write(text)
