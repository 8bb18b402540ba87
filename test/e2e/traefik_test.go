//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privgate/privgate/policy/traefik/router"
)

// traefikMigrateConfig is the examples' ingress-nginx config, the source of a migration, with the
// traefik section of config (the k3s-shaped one TestTraefik runs) that names the login address.
func traefikMigrateConfig(t *testing.T, config string) string {
	t.Helper()
	raw, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	section := string(raw)[strings.Index(string(raw), "\ntraefik:\n")+1:]
	return exampleConfigWith(t, "privgate-migrate-traefik.yaml", "traefik", section)
}

// TestTraefik: on a k3s-shaped cluster (the default IngressClass is traefik, set by the API
// server before any webhook), Ingresses of Traefik's classes and Traefik's CRDs go through
// kubectl on the real API server with privgate's webhooks on, and check, the webhooks and the
// audit agree (docs/traefik.md). No Traefik runs here: the objects are what it would read.
func TestTraefik(t *testing.T) {
	config := c.example("traefik/privgate.yaml")
	// The real Traefik of the last subtest, started (if no test has yet) while privgate still
	// judges with the default config its start-up checks the webhooks against.
	d := c.dataPath(t)
	c.restart(t, config, "--metrics-bind-address", "0", "--discovery-interval", "1s")
	defer c.restoreDefault(t)
	if err := c.registerWebhooks(); err != nil {
		t.Fatal(err)
	}
	for _, crd := range []string{"ingressroutes", "ingressroutetcps", "middlewares"} {
		file := filepath.Join(c.root, "policy/crdschema/crds/traefik.io_"+crd+".yaml")
		if _, stderr, code := c.run("", "create", "-f", file); code != 0 && !strings.Contains(stderr, "AlreadyExists") {
			t.Fatal(stderr)
		}
	}
	if _, stderr, code := c.run("", "wait", "--for", "condition=established", "--timeout", "60s",
		"crd/ingressroutes.traefik.io", "crd/ingressroutetcps.traefik.io", "crd/middlewares.traefik.io"); code != 0 {
		t.Fatal(stderr)
	}
	c.namespaces(t, "traefik", "observability", "monitoring", "headlamp", "data")
	// k3s's default class: every Ingress created without a class from here on gets it. The tests
	// after this one expect none, so it goes at the end.
	defer c.run("", "delete", "ingressclass", "traefik", "--ignore-not-found")
	defer c.run("", "-n", "observability", "delete", "ingress", "grafana", "--ignore-not-found")
	apply := func(file string, args ...string) (string, int) {
		t.Helper()
		_, stderr, code := c.run("", append([]string{"apply", "-f", c.example("traefik/" + file)}, args...)...)
		return stderr, code
	}
	if stderr, code := apply("login.yaml"); code != 0 {
		t.Fatal(stderr)
	}

	t.Run("a bare private Ingress comes back protected, as check says", func(t *testing.T) {
		// Until privgate's view holds the login Middleware, the Ingress is refused (fail closed).
		if err := c.eventually(20*time.Second, func() error {
			if stderr, code := apply("admitted/grafana-ingress.yaml"); code != 0 {
				return fmt.Errorf("refused: %s", stderr)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
		ann, spec, _ := c.ingress(t, "observability", "grafana")
		if spec["ingressClassName"] != "traefik" || ann["traefik.ingress.kubernetes.io/router.middlewares"] != "traefik-oauth2-proxy@kubernetescrd" ||
			ann["traefik.ingress.kubernetes.io/router.tls"] != "true" || ann[issuer] != "letsencrypt-production" || ann[authURL] != "" {
			t.Errorf("stored: class %v, annotations %v", spec["ingressClassName"], ann)
		}
		tls, _ := json.Marshal(spec["tls"])
		if string(tls) != `[{"hosts":["grafana-k3s.private.example.com"],"secretName":"grafana-privgate-tls"}]` {
			t.Errorf("spec.tls %s", tls)
		}
		// check, reading the same files, applies the default class and gives the same verdict.
		out, err := exec.Command(c.privgate, "check", "--config", config, "-f", c.example("traefik/login.yaml"), "-f", c.example("traefik/admitted/grafana-ingress.yaml")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ADMITTED  observability/grafana") || !strings.Contains(string(out), "traefik-oauth2-proxy@kubernetescrd") {
			t.Errorf("check: %v\n%s", err, out)
		}
	})

	t.Run("denied examples are refused by the webhook as by check", func(t *testing.T) {
		for file, rule := range map[string]string{
			"denied/headlamp-no-login.yaml":           "[traefik-login-missing] headlamp/headlamp-open headlamp.private.example.com",
			"denied/grafana-errors-before-login.yaml": "[traefik-chain-order] monitoring/grafana-errors",
			"denied/db-passthrough.yaml":              "[traefik-tcp-private] data/db db.private.example.com",
		} {
			if err := c.eventually(20*time.Second, func() error {
				stderr, code := apply(file, "--dry-run=server")
				if code == 0 || !strings.Contains(stderr, rule) {
					return fmt.Errorf("%s: exit %d: %s", file, code, stderr)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
			out, _ := exec.Command(c.privgate, "check", "--config", config, "-f", c.example("traefik/login.yaml"), "-f", c.example("traefik/"+file)).CombinedOutput()
			if !strings.Contains(string(out), rule) {
				t.Errorf("check %s:\n%s", file, out)
			}
		}
	})

	t.Run("an IngressRoute behind its namespace's login is admitted; deleting that login is refused", func(t *testing.T) {
		if err := c.eventually(20*time.Second, func() error {
			if stderr, code := apply("admitted/headlamp-ingressroute.yaml"); code != 0 {
				return fmt.Errorf("refused: %s", stderr)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
		if err := c.eventually(20*time.Second, func() error {
			_, stderr, code := c.run("", "-n", "headlamp", "delete", "middleware", "login", "--dry-run=server")
			if code == 0 || !strings.Contains(stderr, "[traefik-uncovers]") || !strings.Contains(stderr, "IngressRoute headlamp/headlamp") {
				return fmt.Errorf("delete: exit %d: %s", code, stderr)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
		_, stderr, code := c.run("", "-n", "traefik", "delete", "middleware", "oauth2-proxy", "--dry-run=server")
		if code == 0 || !strings.Contains(stderr, "[traefik-uncovers]") || !strings.Contains(stderr, "Ingress observability/grafana") {
			t.Errorf("deleting the Ingress's login: exit %d: %s", code, stderr)
		}
	})

	t.Run("privgate migrate's output applies with the webhook on, login first", func(t *testing.T) {
		// The Gateway API kinds, as TestEnvoyGateway and TestIstio install them (left to them if
		// there already).
		for _, crd := range []string{"gatewayclasses", "gateways", "httproutes"} {
			file := filepath.Join(c.root, "policy/crdschema/crds/gateway.networking.k8s.io_"+crd+".yaml")
			switch _, stderr, code := c.run("", "create", "-f", file); {
			case code == 0:
				defer c.run("", "delete", "-f", file, "--wait=false")
			case !strings.Contains(stderr, "AlreadyExists"):
				t.Fatal(stderr)
			}
		}
		if _, stderr, code := c.run("", "wait", "--for", "condition=established", "--timeout", "60s",
			"crd/gatewayclasses.gateway.networking.k8s.io", "crd/gateways.gateway.networking.k8s.io", "crd/httproutes.gateway.networking.k8s.io"); code != 0 {
			t.Fatal(stderr)
		}
		c.namespaces(t, "argocd")
		// Migrating off ingress-nginx: the examples' Ingresses, read with the examples' config and
		// this test's traefik section (the login Middleware's address), whose login migrate
		// writes as a forwardAuth Middleware each rule names first (ExtensionRef). Grafana's
		// groups travel in a Middleware of their own, the address carrying allowed_groups.
		out := c.migrate(t, "traefik", traefikMigrateConfig(t, config), true)
		if !strings.Contains(out, "controllerName: traefik.io/gateway-controller") || !strings.Contains(out, "/oauth2/auth?allowed_groups=/developers,/sre") {
			t.Fatalf("migrate --to traefik:\n%s", out)
		}
		// Each write is judged against privgate's view, which learns of the one before it a
		// moment later (until then a route's Gateway or login is not in view: refused).
		if err := c.eventually(20*time.Second, func() error {
			if msg, code := c.apply(out); code != 0 {
				return fmt.Errorf("kubectl apply of the migration: %s", msg)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s\n%s", err, out, c.privgateLogs())
		}
		defer c.deleteMigration(t, out)
		if msg, code := c.apply(out, "--dry-run=server"); code != 0 {
			t.Errorf("re-applying the migration: %s", msg)
		}
		// The route is judged by the login it names: without its ExtensionRef it is refused.
		route := out[strings.Index(out, "# HTTPRoute argocd/argocd-server"):]
		route = route[:strings.Index(route, "\n---\n")]
		bare := strings.Replace(route, "    filters:\n    - extensionRef:\n        group: traefik.io\n        kind: Middleware\n        name: privgate-login\n      type: ExtensionRef\n", "", 1)
		if bare == route {
			t.Fatalf("no login filter in the migrated route:\n%s", route)
		}
		if msg, code := c.apply(bare, "--dry-run=server"); code == 0 || !strings.Contains(msg, "[gateway-login]") || !strings.Contains(msg, "argocd.private.example.com") {
			t.Errorf("the migrated route without its login: exit %d: %s", code, msg)
		}
		// Deleting the login Middleware the routes name would disable their routers on Traefik:
		// refused (traefik-uncovers weighs the HTTPRoutes on Traefik's Gateways too).
		if _, msg, code := c.run("", "delete", "middleware", "-n", "argocd", "privgate-login", "--dry-run=server"); code == 0 ||
			!strings.Contains(msg, "[traefik-uncovers]") || !strings.Contains(msg, "HTTPRoute argocd/argocd-server") {
			t.Errorf("deleting the migrated login Middleware argocd/privgate-login: exit %d: %s", code, msg)
		}
	})

	t.Run("a bare Ingress, protected by privgate, is served behind the login by a real Traefik", func(t *testing.T) {
		// The same cluster, with the login at the data path's oauth2-proxy: Traefik reaches it.
		authAddress := fmt.Sprintf("http://%s:%d/oauth2/auth", d.ip, d.oauth2)
		raw, err := os.ReadFile(config)
		if err != nil {
			t.Fatal(err)
		}
		cfg := strings.NewReplacer(
			"authAddress: http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth", "authAddress: "+authAddress,
			"loginMiddleware: traefik/oauth2-proxy", "loginMiddleware: "+loginNamespace+"/login-k3s",
			"file: ../groups.txt", "file: "+c.example("groups.txt"),
		).Replace(string(raw))
		path := filepath.Join(c.work, "privgate-k3s.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		c.restart(t, path, "--metrics-bind-address", "0", "--discovery-interval", "1s")
		if err := c.registerWebhooks(); err != nil {
			t.Fatal(err)
		}
		const ns, host = "k3s", "k3s-app.private.example.com"
		c.namespaces(t, ns)
		defer c.run("", "delete", "namespace", ns, "--wait=false")
		login := fmt.Sprintf("apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: login-k3s, namespace: %s}\nspec:\n  forwardAuth: {address: %q}\n", loginNamespace, authAddress)
		if _, stderr, code := c.run(login+d.backend(t, ns, "app"), "apply", "-f", "-"); code != 0 {
			t.Fatal(stderr)
		}
		// No class, no annotation: the API server sets k3s's default class, privgate the rest.
		bare := fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: app, namespace: %s}\nspec:\n  rules:\n  - host: %s\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}\n", ns, host)
		if err := c.eventually(20*time.Second, func() error {
			if _, stderr, code := c.run(bare, "apply", "-f", "-"); code != 0 {
				return fmt.Errorf("refused: %s", stderr)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
		ann, _, _ := c.ingress(t, ns, "app")
		if got := ann["traefik.ingress.kubernetes.io/router.middlewares"]; got != loginNamespace+"-login-k3s@kubernetescrd" {
			t.Fatalf("stored router.middlewares %q", got)
		}
		// router.tls: Traefik serves the router over TLS only (with its default certificate, the
		// Secret cert-manager would issue not being there), on the data path's entrypoint.
		if status, body := c.routed(t, d, d.tlsClient(nil), "https://"+host+"/"); status != http.StatusUnauthorized || body == "app app" {
			t.Errorf("anonymous https://%s/: %d %q, want oauth2-proxy's 401, never the app", host, status, body)
		}

		// Allowed groups: the same bare Ingress allowing /developers gets the group login
		// privgate names for it, which the platform team created; oauth2-proxy then answers
		// 403 to a signed-in user outside the group.
		const devsHost = "k3s-devs.private.example.com"
		s := router.Settings{LoginMiddleware: loginNamespace + "/login-k3s", AuthAddress: authAddress}
		gns, gname, gaddress := s.GroupLogin([]string{"/developers"})
		groupLogin := fmt.Sprintf("apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: %s, namespace: %s}\nspec:\n  forwardAuth: {address: %q}\n", gname, gns, gaddress)
		devs := strings.Replace(strings.Replace(bare, "name: app,", "name: devs,", 1), host, devsHost, 1)
		devs = strings.Replace(devs, "metadata: {", "metadata: {annotations: {privgate.io/allowed-groups: /developers}, ", 1)
		if _, stderr, code := c.run(groupLogin+"---\n"+devs, "apply", "-f", "-"); code != 0 {
			t.Fatalf("%s\n%s", stderr, c.privgateLogs())
		}
		if ann, _, _ := c.ingress(t, ns, "devs"); ann["traefik.ingress.kubernetes.io/router.middlewares"] != s.GroupLoginID([]string{"/developers"}) {
			t.Fatalf("stored router.middlewares %q, want the group login %s", ann["traefik.ingress.kubernetes.io/router.middlewares"], s.GroupLoginID([]string{"/developers"}))
		}
		// A session for each user, signed in through a host with the sign-in chain over http
		// (the session cookie is the zone's: .private.example.com).
		d.idp.AddUser("carol", "/developers")
		d.idp.AddUser("dave", "/sre")
		const signinHost = "k3s-signin.private.example.com"
		if err := c.applyUnjudged(d.authMiddleware("k3s", "") + ingressManifest(ns, "signin", signinHost, "app", loginChain("k3s"))); err != nil {
			t.Fatal(err)
		}
		c.waitRoute(t, d, signinHost)
		for user, want := range map[string]int{"carol": http.StatusOK, "dave": http.StatusForbidden} {
			status, signedIn := d.login(t, user, "http://"+signinHost+"/")
			if status != http.StatusOK {
				t.Fatalf("%s signing in: %d", user, status)
			}
			status, body := c.routed(t, d, d.tlsClient(signedIn.Jar), "https://"+devsHost+"/")
			if status != want || want == http.StatusForbidden && body == "app app" {
				t.Errorf("%s at https://%s/: %d %q, want %d", user, devsHost, status, body, want)
			}
		}
	})

	t.Run("the audit agrees", func(t *testing.T) {
		out, _ := exec.Command(c.privgate, "audit", "--kubeconfig", c.kubeconfig, "--config", config).CombinedOutput()
		for _, want := range []string{"ADMITTED  observability/grafana", "ADMITTED  headlamp/headlamp"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("audit lacks %q:\n%s", want, out)
			}
		}
	})
}
