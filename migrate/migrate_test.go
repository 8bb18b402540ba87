package migrate_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/migrate"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/targets"
)

func ingress(t *testing.T, doc string) *networkingv1.Ingress {
	t.Helper()
	ing := &networkingv1.Ingress{}
	if err := yaml.UnmarshalStrict([]byte(doc), ing); err != nil {
		t.Fatal(err)
	}
	return ing
}

// summary renders a result compactly: each route's hostnames and rules, each Gateway's
// listeners, the notes and refusals.
func summary(t *testing.T, r migrate.Result) string {
	t.Helper()
	var b strings.Builder
	for _, g := range r.Gateways {
		b.WriteString("gateway " + g.Namespace + "/" + g.Name + " class=" + string(g.Spec.GatewayClassName))
		for _, l := range g.Spec.Listeners {
			b.WriteString(" " + string(l.Name) + ":" + string(*l.Hostname) + ":" + string(l.Protocol))
			if l.TLS != nil {
				b.WriteString(":" + string(l.TLS.CertificateRefs[0].Name))
			}
		}
		b.WriteString("\n")
	}
	for _, rt := range r.Routes {
		spec, _ := json.Marshal(rt.Route.Spec)
		b.WriteString("route " + rt.Route.Namespace + "/" + rt.Route.Name + " from " + rt.From + " " + string(spec) + "\n")
	}
	for _, rt := range r.Routes {
		for k, v := range rt.Route.Annotations {
			b.WriteString("annotation " + rt.Route.Namespace + "/" + rt.Route.Name + " " + k + "=" + v + "\n")
		}
	}
	for _, l := range r.Logins {
		meta := l["metadata"].(map[string]any)
		fa := l["spec"].(map[string]any)["forwardAuth"].(map[string]any)
		b.WriteString(fmt.Sprintf("login %s/%s %s\n", meta["namespace"], meta["name"], fa["address"]))
	}
	for _, n := range r.Notes {
		b.WriteString("note " + n.String() + "\n")
	}
	for _, n := range r.Refused {
		b.WriteString("refused " + n.String() + "\n")
	}
	return b.String()
}

// testConfig is a config with every implementation's login, and a login for /sre and /developers.
func testConfig(t *testing.T) *policy.Config {
	t.Helper()
	cfg, err := targets.ParseConfig("../examples/privgate.yaml", []byte(`privateDomains: [private.example.com]
auth: {url: https://oauth2.private.example.com/oauth2/auth, signin: https://oauth2.private.example.com/oauth2/start}
tls: {clusterIssuer: le}
ingressClasses: [nginx]
groups: {file: groups.txt}
traefik: {authAddress: "http://oauth2-proxy.oauth2-proxy.svc:4180/oauth2/auth"}
istio: {extensionProviders: [oauth2-proxy], groupLogins: [{groups: [/sre, /developers], provider: oauth2-proxy-ops}]}
envoyGateway: {extAuthServices: [oauth2-proxy/oauth2-proxy], groupLogins: [{groups: [/sre, /developers], service: oauth2-proxy/oauth2-proxy-ops}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestIngresses(t *testing.T) {
	cfg := testConfig(t)
	istio, _ := migrate.Lookup(targets.Migrations(cfg), "istio")
	envoy, _ := migrate.Lookup(targets.Migrations(cfg), "envoy-gateway")
	traefik, err := migrate.Lookup(targets.Migrations(cfg), "traefik")
	if err != nil {
		t.Fatal(err)
	}
	base := migrate.Options{To: istio, AnnotationPrefix: "nginx.ingress.kubernetes.io", GroupsAnnotation: "privgate.io/allowed-groups"}
	with := func(f func(*migrate.Options)) migrate.Options { o := base; f(&o); return o }
	// onTraefik knows the private zone, as privgate migrate does from privgate.yaml.
	onTraefik := with(func(o *migrate.Options) {
		o.To, o.Private = traefik, func(h string) bool { return strings.HasSuffix(h, ".private.example.com") }
	})
	cases := []struct {
		name string
		opts migrate.Options
		in   string
		want []string // lines (or parts of lines) of the summary
	}{
		{"paths keep their types; hosts get their own routes", base, `
metadata: {name: app, namespace: ns}
spec:
  tls: [{hosts: [a.private.example.com], secretName: a-tls}]
  rules:
  - host: a.private.example.com
    http: {paths: [{path: /exact, pathType: Exact, backend: {service: {name: s, port: {number: 8080}}}}, {path: /api, pathType: ImplementationSpecific, backend: {service: {name: s, port: {number: 8080}}}}]}
  - host: b.example.com
    http: {paths: [{pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}`,
			[]string{
				"gateway ns/privgate-migrated class=istio https-0:a.private.example.com:HTTPS:a-tls http-1:b.example.com:HTTP",
				`route ns/app-0 from ns/app {"parentRefs":[{"name":"privgate-migrated"}],"hostnames":["a.private.example.com"],"rules":[{"matches":[{"path":{"type":"Exact","value":"/exact"}}],"backendRefs":[{"name":"s","port":8080}]},{"matches":[{"path":{"type":"PathPrefix","value":"/api"}}],"backendRefs":[{"name":"s","port":8080}]}]}`,
				`route ns/app-1 from ns/app {"parentRefs":[{"name":"privgate-migrated"}],"hostnames":["b.example.com"],"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"backendRefs":[{"name":"s","port":80}]}]}`,
			}},
		{"defaultBackend: last rule of each host; alone, a route for every host", base, `
metadata: {name: catch, namespace: ns}
spec:
  defaultBackend: {service: {name: d, port: {number: 80}}}`,
			[]string{`route ns/catch from ns/catch {"parentRefs":[{"name":"privgate-migrated"}],"rules":[{"backendRefs":[{"name":"d","port":80}]}]}`}},
		{"an existing Gateway: attached across namespaces, nothing generated", with(func(o *migrate.Options) { o.Gateway = &types.NamespacedName{Namespace: "gw", Name: "shared"} }), `
metadata: {name: app, namespace: ns, annotations: {cert-manager.io/cluster-issuer: le}}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{`"parentRefs":[{"namespace":"gw","name":"shared"}]`, "note ns/app spec.tls: attached to Gateway gw/shared: its listeners must admit routes from namespace ns",
				"note ns/app metadata.annotations[cert-manager.io/cluster-issuer]: not carried over"}},
		{"annotations left behind are listed; the login and the class are not", base, `
metadata:
  name: app
  namespace: ns
  annotations:
    kubernetes.io/ingress.class: nginx
    nginx.ingress.kubernetes.io/auth-url: https://oauth2.private.example.com/oauth2/auth
    nginx.ingress.kubernetes.io/proxy-body-size: 8m
    argocd.argoproj.io/tracking-id: x
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{"note ns/app metadata.annotations[argocd.argoproj.io/tracking-id]: not carried over: an annotation of another tool",
				"note ns/app metadata.annotations[nginx.ingress.kubernetes.io/proxy-body-size]: not carried over: ingress-nginx's proxy-body-size"}},
		{"groups: refused where the implementation has none per route", base, `
metadata: {name: app, namespace: ns, annotations: {nginx.ingress.kubernetes.io/auth-url: "https://oauth2.private.example.com/oauth2/auth?allowed_groups=/sre"}}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{"refused ns/app metadata.annotations[nginx.ingress.kubernetes.io/auth-url]: allowed groups /sre narrow who gets in, and istio sends every route to one fixed login, so they would be lost",
				"istio.groupLogins has no login for exactly /sre"}},
		{"groups on envoy-gateway without their login: refused naming the key", with(func(o *migrate.Options) { o.To = envoy }), `
metadata: {name: app, namespace: ns, annotations: {privgate.io/allowed-groups: "/sre, /platform"}}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{"refused ns/app metadata.annotations[privgate.io/allowed-groups]: allowed groups /sre, /platform narrow who gets in, and envoy-gateway sends every route to one fixed login",
				"envoyGateway.groupLogins has no login for exactly /sre,/platform"}},
		{"istio: a set of groups with its login gets a Gateway of its own, the routes its annotation", base, `
metadata: {name: app, namespace: ns, annotations: {nginx.ingress.kubernetes.io/auth-url: "https://oauth2.private.example.com/oauth2/auth?allowed_groups=/developers,/sre"}}
spec:
  tls: [{hosts: [a.private.example.com], secretName: a-tls}]
  rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]`,
			[]string{"gateway ns/privgate-migrated-" + groupsHash("/developers,/sre") + " class=istio https-0:a.private.example.com:HTTPS:a-tls",
				`route ns/app from ns/app {"parentRefs":[{"name":"privgate-migrated-` + groupsHash("/developers,/sre") + `"}]`,
				"annotation ns/app privgate.io/allowed-groups=/developers,/sre"}},
		{"istio: groups and --gateway: refused, one workload runs one login", with(func(o *migrate.Options) { o.Gateway = &types.NamespacedName{Namespace: "gw", Name: "shared"} }), `
metadata: {name: app, namespace: ns, annotations: {privgate.io/allowed-groups: "/sre,/developers"}}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{"refused ns/app metadata.annotations[privgate.io/allowed-groups]: allowed groups /sre, /developers need a login of their own, and istio runs one login per gateway workload: Gateway gw/shared cannot serve them"}},
		{"envoy-gateway: groups with their login travel on the route, on the namespace's Gateway", with(func(o *migrate.Options) { o.To = envoy }), `
metadata: {name: app, namespace: ns, annotations: {privgate.io/allowed-groups: " /sre , /developers"}}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{"gateway ns/privgate-migrated class=eg", `route ns/app from ns/app {"parentRefs":[{"name":"privgate-migrated"}]`,
				"annotation ns/app privgate.io/allowed-groups=/sre,/developers"}},
		{"traefik: the login Middleware named first in every rule of a protected route", with(func(o *migrate.Options) { o.To = traefik }), `
metadata: {name: app, namespace: ns, annotations: {nginx.ingress.kubernetes.io/auth-url: "https://oauth2.private.example.com/oauth2/auth"}}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{`"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"filters":[{"type":"ExtensionRef","extensionRef":{"group":"traefik.io","kind":"Middleware","name":"privgate-login"}}]`,
				"login ns/privgate-login http://oauth2-proxy.oauth2-proxy.svc:4180/oauth2/auth"}},
		{"traefik: allowed groups travel in a login Middleware of their own", with(func(o *migrate.Options) { o.To = traefik }), `
metadata: {name: app, namespace: ns, annotations: {nginx.ingress.kubernetes.io/auth-url: "https://oauth2.private.example.com/oauth2/auth?allowed_groups=/sre,/developers"}}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{`"extensionRef":{"group":"traefik.io","kind":"Middleware","name":"privgate-login-` + groupsHash("/developers,/sre") + `"}`,
				"login ns/privgate-login-" + groupsHash("/developers,/sre") + " http://oauth2-proxy.oauth2-proxy.svc:4180/oauth2/auth?allowed_groups=/developers,/sre",
				"annotation ns/app privgate.io/allowed-groups=/sre,/developers"}},
		{"traefik: an Ingress of Traefik's class, its login in router.middlewares, keeps it; its public host gets none", onTraefik, `
metadata:
  name: app
  namespace: ns
  annotations:
    traefik.ingress.kubernetes.io/router.middlewares: traefik-oauth2-proxy@kubernetescrd
    traefik.ingress.kubernetes.io/router.tls: "true"
    privgate.io/allowed-groups: /sre
spec:
  ingressClassName: traefik
  rules:
  - {host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}
  - {host: b.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}`,
			[]string{`route ns/app-0 from ns/app {"parentRefs":[{"name":"privgate-migrated"}],"hostnames":["a.private.example.com"],"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"filters":[{"type":"ExtensionRef","extensionRef":{"group":"traefik.io","kind":"Middleware","name":"privgate-login-` + groupsHash("/sre") + `"}}]`,
				`route ns/app-1 from ns/app {"parentRefs":[{"name":"privgate-migrated"}],"hostnames":["b.example.com"],"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"backendRefs"`,
				"login ns/privgate-login-" + groupsHash("/sre") + " http://oauth2-proxy.oauth2-proxy.svc:4180/oauth2/auth?allowed_groups=/sre",
				"note ns/app metadata.annotations[traefik.ingress.kubernetes.io/router.middlewares]: carried over only as the login"}},
		{"traefik: a private Ingress nothing protected gets the login rather than an open route", onTraefik, `
metadata: {name: legacy, namespace: ns}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`,
			[]string{`"filters":[{"type":"ExtensionRef","extensionRef":{"group":"traefik.io","kind":"Middleware","name":"privgate-login"}}]`,
				"login ns/privgate-login http://oauth2-proxy.oauth2-proxy.svc:4180/oauth2/auth"}},
		{"a resource backend: refused, nothing written", base, `
metadata: {name: app, namespace: ns}
spec: {rules: [{host: a.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {resource: {kind: Bucket, name: b}}}]}}]}`,
			[]string{"refused ns/app spec.rules[0].http.paths[0].backend: a resource backend"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := summary(t, migrate.Ingresses([]*networkingv1.Ingress{ingress(t, c.in)}, c.opts))
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("want %s\ngot:\n%s", w, got)
				}
			}
			if starts(got, "refused ") && (starts(got, "route ") || starts(got, "gateway ")) {
				t.Errorf("a refused Ingress left routes behind:\n%s", got)
			}
		})
	}
}

// TestGatewayPerGroups: on Istio, Ingresses allowing the same groups, in any order, share their
// namespace's Gateway for those groups; everyone else's routes attach to the namespace's own.
func TestGatewayPerGroups(t *testing.T) {
	istio, _ := migrate.Lookup(targets.Migrations(testConfig(t)), "istio")
	ing := func(name, groups string) *networkingv1.Ingress {
		return ingress(t, `
metadata: {name: `+name+`, namespace: ns, annotations: {privgate.io/allowed-groups: "`+groups+`"}}
spec: {rules: [{host: `+name+`.private.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]}`)
	}
	res := migrate.Ingresses([]*networkingv1.Ingress{ing("a", "/sre,/developers"), ing("b", "/developers, /sre"), ing("c", "")},
		migrate.Options{To: istio, AnnotationPrefix: "nginx.ingress.kubernetes.io", GroupsAnnotation: "privgate.io/allowed-groups"})
	got := summary(t, res)
	for _, want := range []string{
		"gateway ns/privgate-migrated class=istio http-0:c.private.example.com:HTTP\n",
		"gateway ns/privgate-migrated-" + groupsHash("/developers,/sre") + " class=istio http-0:a.private.example.com:HTTP http-1:b.private.example.com:HTTP\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %s\ngot:\n%s", want, got)
		}
	}
	if len(res.Gateways) != 2 {
		t.Errorf("%d Gateways, want 2:\n%s", len(res.Gateways), got)
	}
}

// groupsHash is the short hash naming the Gateway of a set of groups, sorted and comma-joined.
func groupsHash(sorted string) string {
	sum := sha256.Sum256([]byte(sorted))
	return hex.EncodeToString(sum[:4])
}

func TestLookup(t *testing.T) {
	if _, err := migrate.Lookup(targets.Migrations(&policy.Config{}), "nginx"); err == nil || !strings.Contains(err.Error(), "istio, envoy-gateway, traefik") {
		t.Fatalf("got %v", err)
	}
}

// starts reports whether a line of s starts with prefix.
func starts(s, prefix string) bool {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}
