package main

import (
	"cmp"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMigrateThenCheck: the examples' Ingresses migrate to each implementation, and what migrate
// prints passes privgate check with no finding (the second judge is check's own, on the printed
// YAML), with the implementation's own login: Istio's CUSTOM AuthorizationPolicy, Envoy
// Gateway's SecurityPolicy, Traefik's Middleware named by the rules. Grafana's allowed groups
// travel with it, on its route's annotation and to the login configured for exactly them: on
// Istio a Gateway of their own with the group's provider, on Envoy Gateway a SecurityPolicy on
// the route to the group's Service, on Traefik a Middleware with allowed_groups.
func TestMigrateThenCheck(t *testing.T) {
	config := migrateConfig(t)
	common := []string{
		"kind: HTTPRoute", "name: argocd-server", "type: PathPrefix", "port: 443", // the named port, from the Service
		"protocol: HTTPS", "name: argocd-server-privgate-tls", "cert-manager.io/cluster-issuer: letsencrypt-production",
		"kind: GatewayClass", "protocol: HTTP\n", // the public blog has no TLS: a plain listener, no login
		"privgate.io/allowed-groups: /developers,/sre",
	}
	cases := map[string][]string{
		"istio": {"kind: AuthorizationPolicy", "action: CUSTOM", "controllerName: istio.io/gateway-controller",
			"name: oauth2-proxy-developers-sre", "name: privgate-migrated-a559a3f4"},
		"envoy-gateway": {"kind: SecurityPolicy", "extAuth:", "kind: ReferenceGrant", "controllerName: gateway.envoyproxy.io/gatewayclass-controller",
			"name: oauth2-proxy-developers-sre", "kind: HTTPRoute\n    name: grafana"},
		"traefik": {"kind: Middleware", "forwardAuth:", "type: ExtensionRef", "name: privgate-login", "controllerName: traefik.io/gateway-controller",
			"/oauth2/auth?allowed_groups=/developers,/sre"},
	}
	for impl, wants := range cases {
		t.Run(impl, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, "migrate", "--to", impl, "--config", config,
				"-f", "../../examples/admitted/argocd-server.yaml", "-f", "../../examples/admitted/oauth2-proxy.yaml",
				"-f", "../../examples/admitted/public-blog.yaml", "-f", "../../examples/admitted/grafana.yaml", "-f", "testdata/migrate/services.yaml")
			if code != 0 {
				t.Fatalf("migrate: exit %d\n%s", code, stderr)
			}
			for _, want := range append(common, wants...) {
				if !strings.Contains(stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout)
				}
			}
			if strings.Contains(stdout, "status:") || strings.Contains(stdout, "creationTimestamp") {
				t.Errorf("output carries status or creationTimestamp:\n%s", stdout)
			}
			if !strings.Contains(stderr, "note: argocd/argocd-server metadata.annotations[nginx.ingress.kubernetes.io/backend-protocol]: not carried over") {
				t.Errorf("the annotation left behind is not listed: %q", stderr)
			}
			checkClean(t, config, stdout)
		})
	}
}

// migrateConfig is the examples' config with a traefik section (the login Middleware's address).
func migrateConfig(t *testing.T) string {
	t.Helper()
	return exampleConfigWith(t, func(cfg string) string {
		return cfg + "traefik:\n  authAddress: http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth\n"
	})
}

// exampleConfigWith is the examples' config, changed by edit, in a file of its own.
func exampleConfigWith(t *testing.T, edit func(string) string) string {
	t.Helper()
	raw, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("../../examples/groups.txt")
	cfg := edit(strings.Replace(string(raw), "file: groups.txt", "file: "+abs, 1))
	path := filepath.Join(t.TempDir(), "privgate.yaml")
	writeFile(t, path, cfg)
	return path
}

// withoutGroupLogins is the examples' config with no group logins (istio.groupLogins,
// envoyGateway.groupLogins): every item of them is dropped.
func withoutGroupLogins(t *testing.T) string {
	t.Helper()
	return exampleConfigWith(t, func(cfg string) string {
		out := groupLoginLines.ReplaceAllString(cfg, "")
		if out == cfg {
			t.Fatal("the examples' config has no groupLogins to drop")
		}
		return out
	})
}

// groupLoginLines are a groupLogins key and its items (indented deeper, or list items).
var groupLoginLines = regexp.MustCompile(`(?m)^  groupLogins:\n(?:  [- ] .*\n)*`)

// TestMigrateRefuses: what cannot move without losing its login (or its meaning) exits 1,
// prints nothing and says which object and why.
func TestMigrateRefuses(t *testing.T) {
	noGroupLogins := withoutGroupLogins(t)
	cases := map[string]struct {
		args   []string
		stderr []string
		code   int    // 1 unless said: refused; 2: cannot run
		config string // exampleConfig unless said
	}{
		"groups without a login of their own on istio": {
			[]string{"--to", "istio", "-f", "../../examples/admitted/grafana.yaml"},
			[]string{"refused: monitoring/grafana metadata.annotations[privgate.io/allowed-groups]: allowed groups /developers, /sre narrow who gets in, and istio sends every route to one fixed login",
				"istio.groupLogins has no login for exactly /developers,/sre"}, 0, noGroupLogins,
		},
		"groups without a login of their own on envoy-gateway": {
			[]string{"--to", "envoy-gateway", "-f", "../../examples/admitted/grafana.yaml"},
			[]string{"refused: monitoring/grafana metadata.annotations[privgate.io/allowed-groups]: allowed groups /developers, /sre narrow who gets in, and envoy-gateway sends every route to one fixed login",
				"envoyGateway.groupLogins has no login for exactly /developers,/sre"}, 0, noGroupLogins,
		},
		"groups on istio, every route on one Gateway": {
			[]string{"--to", "istio", "--gateway", "gateways/shared", "-f", "../../examples/admitted/grafana.yaml"},
			[]string{"refused: monitoring/grafana metadata.annotations[privgate.io/allowed-groups]: allowed groups /developers, /sre need a login of their own, and istio runs one login per gateway workload: Gateway gateways/shared cannot serve them"}, 0, "",
		},
		"a named port without its Service": {
			[]string{"--to", "istio", "-f", "../../examples/admitted/argocd-server.yaml"},
			[]string{`refused: argocd/argocd-server spec.rules[0].http.paths[0].backend: the port of Service argocd-server is named ("https")`}, 0, "",
		},
		"regular-expression paths": {
			[]string{"--to", "istio", "-f", "testdata/migrate/regex.yaml"},
			[]string{"refused: legacy/regex spec.rules[0].http.paths[0].pathType: paths are regular expressions here"}, 0, "",
		},
		"traefik without a traefik section": {
			[]string{"--to", "traefik", "-f", "testdata/migrate/headlamp.yaml"},
			[]string{"no traefik section"}, 2, "",
		},
		"the output judged: a class whose login privgate cannot prove": {
			[]string{"--to", "istio", "--gateway-class", "haproxy", "-f", "testdata/migrate/headlamp.yaml", "-f", "testdata/migrate/foreign-class.yaml"},
			[]string{"refused: HTTPRoute [gateway-unsupported] headlamp/headlamp headlamp.private.example.com", "nothing printed"}, 0, "",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"migrate", "--config", cmp.Or(c.config, exampleConfig)}, c.args...)...)
			want := cmp.Or(c.code, 1)
			if code != want || stdout != "" {
				t.Fatalf("exit %d, stdout %q, want %d and nothing printed\n%s", code, stdout, want, stderr)
			}
			for _, want := range c.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestMigrateFromTraefik: on a k3s-shaped cluster, the Ingresses privgate protected on Traefik's
// class (the login Middleware in router.middlewares, no auth-url) move to Traefik's Gateway API
// with their login and groups, and the output passes privgate check.
func TestMigrateFromTraefik(t *testing.T) {
	config := "../../examples/traefik/privgate.yaml"
	code, stdout, stderr := runCmd(t, "migrate", "--to", "traefik", "--config", config,
		"-f", "../../examples/traefik/admitted/grafana-ingress.yaml", "-f", "../../examples/traefik/admitted/argocd-groups-ingress.yaml")
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"type: ExtensionRef", "name: privgate-login\n", "/oauth2/auth?allowed_groups=/developers", "privgate.io/allowed-groups: /developers"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "router.middlewares]: carried over only as the login") || strings.Contains(stderr, "router.tls") {
		t.Errorf("notes: router.middlewares is carried as the login, router.tls by the Gateway's listeners:\n%s", stderr)
	}
	checkClean(t, config, stdout)
}

// checkClean: privgate check of a migration's output admits everything, with no finding at all.
func checkClean(t *testing.T, config, migrated string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "migrated.yaml")
	writeFile(t, out, migrated)
	code, checked, _ := runCmd(t, "check", "--config", config, "-f", out)
	if code != 0 || !strings.Contains(checked, "0 denied") || strings.Contains(checked, "[") {
		t.Fatalf("privgate check of the migration: exit %d\n%s", code, checked)
	}
}
