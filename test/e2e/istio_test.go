//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Istio and Gateway API objects, as users write them (docs/istio.md).
const (
	istioGateway = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*/*.example.com"]
    tls: {mode: SIMPLE, credentialName: wildcard-example-com}
`
	grafanaVS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grafana, namespace: dashboards}
spec:
  hosts: [grafana.private.example.com]
  gateways: [istio-system/public]
  http:
  - route:
    - destination: {host: grafana.monitoring.svc.cluster.local}
`
	// loginNoPort lists the host but not host:*: clients sending grafana.private.example.com:443
	// would skip login.
	loginNoPort = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: login, namespace: istio-system}
spec:
  selector:
    matchLabels: {istio: ingressgateway}
  action: CUSTOM
  provider: {name: oauth2-proxy}
  rules:
  - to:
    - operation:
        hosts: [grafana.private.example.com]
`
	gatewayClasses = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: istio}
spec:
  controllerName: istio.io/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: eg}
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
`
	privateGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: private, namespace: gateways}
spec:
  gatewayClassName: %s
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: "*.private.example.com"
    allowedRoutes: {namespaces: {from: All}}
    tls:
      certificateRefs:
      - name: private-wildcard
`
	gatewayLogin = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: login, namespace: gateways}
spec:
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: Gateway, name: private}
  action: CUSTOM
  provider: {name: oauth2-proxy}
  rules:
  - {}
`
	headlampRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: headlamp, namespace: headlamp}
spec:
  parentRefs:
  - {name: %s, namespace: gateways}
  hostnames: [headlamp.private.example.com]
  rules:
  - backendRefs:
    - {name: headlamp, port: 80}
`
)

// TestIstio: hosts published through Istio's ingress gateway and through Gateway API Gateways are
// judged against the CUSTOM AuthorizationPolicies in front of the gateways' pods, through kubectl
// on the real API server with the CRDs the Go modules ship; policy changes that would uncover a
// host are refused; with privgate down they go through (fail open) and the audit finds what they
// uncovered. No istiod or Envoy runs here: the gateways' pods are the config's labels.
func TestIstio(t *testing.T) {
	// privgate starts before Istio and Gateway API are installed, as on a cluster that adopts
	// them later: it finds their CRDs without a restart.
	config := istioConfig(t)
	c.restart(t, config, "--metrics-bind-address", "0", "--discovery-interval", "1s")
	defer c.restoreDefault(t)
	if err := c.registerWebhooks(); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := c.run("", "create", "-f", filepath.Join(c.root, "policy/crdschema/crds")); code != 0 && !strings.Contains(stderr, "AlreadyExists") {
		t.Fatal(stderr)
	}
	if _, stderr, code := c.run("", "wait", "--for", "condition=established", "--timeout", "60s",
		"crd/virtualservices.networking.istio.io", "crd/gateways.networking.istio.io", "crd/authorizationpolicies.security.istio.io",
		"crd/gateways.gateway.networking.k8s.io", "crd/httproutes.gateway.networking.k8s.io", "crd/gatewayclasses.gateway.networking.k8s.io"); code != 0 {
		t.Fatal(stderr)
	}
	c.namespaces(t, "istio-system", "gateways", "dashboards")
	// The audit's Reports, as the zone view keeps them.
	if _, stderr, code := c.run("", "apply", "-k", filepath.Join(c.root, "deploy/crds")); code != 0 {
		t.Fatal(stderr)
	}
	// TestZone starts from a cluster without them.
	defer c.run("", "delete", "-k", filepath.Join(c.root, "deploy/crds"), "--wait=false")
	apply := c.apply
	// Until privgate's view holds the new kinds, the route is judged without its Gateway
	// ("not in view"); then against it.
	var refused string
	if err := c.eventually(20*time.Second, func() error {
		if stderr, code := apply(istioGateway); code != 0 {
			return fmt.Errorf("gateway: %s", stderr)
		}
		stderr, code := apply(grafanaVS, "--dry-run=server")
		// Until kubectl's discovery knows the kind, it fails before privgate sees anything.
		if code == 0 || !strings.Contains(stderr, "[gateway-login]") || strings.Contains(stderr, "not in view") {
			return fmt.Errorf("not judged against the stored Gateway yet: %s", stderr)
		}
		refused = stderr
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, c.privgateLogs())
	}
	// It says so once every new kind's informer has synced, which may be after the first of them
	// (the Gateway) already answers.
	if err := c.eventually(15*time.Second, func() error {
		if !strings.Contains(c.privgateLogs(), "newly installed kinds now judged") {
			return fmt.Errorf("privgate did not say it found the new kinds")
		}
		return nil
	}); err != nil {
		t.Errorf("%v:\n%s", err, c.privgateLogs())
	}

	t.Run("a VirtualService without login in front of it is refused, with the policy to apply", func(t *testing.T) {
		for _, want := range []string{"[gateway-login]", "dashboards/grafana grafana.private.example.com spec.hosts[0]",
			"no CUSTOM AuthorizationPolicy applies to those pods", `Apply: {"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy"`} {
			if !strings.Contains(refused, want) {
				t.Errorf("refusal lacks %q:\n%s", want, refused)
			}
		}
	})

	t.Run("a policy missing the host:port form does not cover the host", func(t *testing.T) {
		if stderr, code := apply(loginNoPort); code != 0 {
			t.Fatal(stderr)
		}
		stderr, code := apply(grafanaVS)
		if code == 0 || !strings.Contains(stderr, `hosts match grafana.private.example.com but not grafana.private.example.com:<port>`) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})

	t.Run("the policy privgate prints covers it", func(t *testing.T) {
		suggested, err := exec.Command(c.privgate, "istio", "policy", "--config", config, "--kubeconfig", c.kubeconfig).Output()
		if err != nil {
			t.Fatal(err)
		}
		// privgate reads the cluster: the VirtualService is not stored yet, so it suggests nothing.
		if strings.TrimSpace(string(suggested)) != "" {
			t.Errorf("suggested with no route stored:\n%s", suggested)
		}
		fixed := strings.Replace(loginNoPort, "hosts: [grafana.private.example.com]", `hosts: [grafana.private.example.com, "grafana.private.example.com:*"]`, 1)
		if stderr, code := apply(fixed); code != 0 {
			t.Fatal(stderr)
		}
		if stderr, code := apply(grafanaVS); code != 0 {
			t.Fatalf("covered VirtualService refused: %s", stderr)
		}
	})

	t.Run("a change that uncovers a published host is refused: delete, narrow, dry-run", func(t *testing.T) {
		_, stderr, code := c.run("", "delete", "authorizationpolicy", "-n", "istio-system", "login")
		if code == 0 || !strings.Contains(stderr, "[authz-uncovers]") || !strings.Contains(stderr, "published by VirtualService dashboards/grafana") {
			t.Fatalf("delete: exit %d: %s", code, stderr)
		}
		narrowed := strings.Replace(loginNoPort, "hosts: [grafana.private.example.com]", `hosts: [grafana.private.example.com, "grafana.private.example.com:*"]`+"\n        paths: [/api/*]", 1)
		if stderr, code := apply(narrowed); code == 0 || !strings.Contains(stderr, "narrows by paths") {
			t.Fatalf("narrowing: exit %d: %s", code, stderr)
		}
		dryRun := strings.Replace(loginNoPort, "namespace: istio-system}", `namespace: istio-system, annotations: {"istio.io/dry-run": "true"}}`, 1)
		if stderr, code := apply(dryRun); code == 0 || !strings.Contains(stderr, "[authz-uncovers]") {
			t.Fatalf("dry-run: exit %d: %s", code, stderr)
		}
		unknown := strings.Replace(loginNoPort, "name: oauth2-proxy}", "name: ext-authz}", 1)
		if stderr, code := apply(strings.Replace(unknown, "name: login,", "name: other,", 1)); code == 0 || !strings.Contains(stderr, "[authz-provider-unknown]") {
			t.Fatalf("unknown provider: exit %d: %s", code, stderr)
		}
	})

	t.Run("Gateway API: a Gateway on Istio needs its policy, one on Envoy Gateway a SecurityPolicy", func(t *testing.T) {
		if stderr, code := apply(gatewayClasses); code != 0 {
			t.Fatal(stderr)
		}
		if stderr, code := apply(fmt.Sprintf(privateGateway, "istio")); code == 0 || !strings.Contains(stderr, "[gateway-login] gateways/private *.private.example.com spec.listeners[0].hostname") {
			t.Fatalf("gateway without login: exit %d: %s", code, stderr)
		}
		if stderr, code := apply(gatewayLogin); code != 0 {
			t.Fatal(stderr)
		}
		if stderr, code := apply(fmt.Sprintf(privateGateway, "istio")); code != 0 {
			t.Fatalf("covered gateway refused: %s", stderr)
		}
		if stderr, code := apply(fmt.Sprintf(headlampRoute, "private")); code != 0 {
			t.Fatalf("covered route refused: %s", stderr)
		}
		// A Gateway Envoy Gateway runs: no AuthorizationPolicy covers it, a SecurityPolicy would
		// (TestEnvoyGateway).
		eg := strings.Replace(fmt.Sprintf(privateGateway, "eg"), "name: private,", "name: eg,", 1)
		if stderr, code := apply(eg); code == 0 || !strings.Contains(stderr, "[gateway-login]") || !strings.Contains(stderr, `"kind":"SecurityPolicy"`) {
			t.Fatalf("gateway of Envoy Gateway: exit %d: %s", code, stderr)
		}
	})

	t.Run("with privgate down a policy delete goes through, and the audit reports what it uncovered", func(t *testing.T) {
		c.stopPrivgate()
		// failurePolicy Ignore: Istio's repairs are never blocked by privgate's outage.
		if _, stderr, code := c.run("", "delete", "authorizationpolicy", "-n", "istio-system", "login", "--timeout", "30s"); code != 0 {
			t.Fatalf("delete with privgate down refused: %s", stderr)
		}
		out, err := exec.Command(c.privgate, "audit", "--kubeconfig", c.kubeconfig, "--config", config).Output()
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err == nil {
			code = 0
		}
		if code != 1 || !strings.Contains(string(out), "DENIED    dashboards/grafana") || !strings.Contains(string(out), "[gateway-login]") ||
			!strings.Contains(string(out), "ADMITTED  headlamp/headlamp") {
			t.Errorf("privgate audit: exit %d\n%s", code, out)
		}
		c.restart(t, config, "--metrics-bind-address", "0")
		// The leader's audit, on its first pass, files the uncovered host in the route's Report.
		c.awaitReport(t, "dashboards", "grafana", "VirtualService", "fail:gateway-login")
		suggested, err := exec.Command(c.privgate, "istio", "policy", "--config", config, "--kubeconfig", c.kubeconfig).Output()
		if err != nil || !strings.Contains(string(suggested), "grafana.private.example.com:*") || !strings.Contains(string(suggested), "app: istio-ingressgateway") {
			t.Fatalf("privgate istio policy: %v\n%s", err, suggested)
		}
		// What it prints is what kubectl applies, and it covers the host again.
		if stderr, code := apply(string(suggested)); code != 0 {
			t.Fatalf("suggested policy refused: %s", stderr)
		}
		if stderr, code := apply(grafanaVS); code != 0 {
			t.Fatalf("covered again, yet refused: %s", stderr)
		}
		// A policy change re-judges every route: the Report passes again.
		c.awaitReport(t, "dashboards", "grafana", "VirtualService", "")
	})

	t.Run("privgate migrate's output applies with the webhook on, login first", func(t *testing.T) {
		c.namespaces(t, "argocd", "headlamp", "monitoring")
		// Grafana allows /developers and /sre: its route goes to a Gateway of its own whose
		// policy names their login (istio.groupLogins in the examples' config).
		out := c.migrate(t, "istio", config, true)
		if msg, code := apply(out); code != 0 {
			t.Fatalf("kubectl apply of the migration: %s\n%s", msg, out)
		}
		defer c.run(out, "delete", "-f", "-", "--wait=false")
		// The routes were judged against the stored login: dropping it now is refused.
		if msg, code := apply(out, "--dry-run=server"); code != 0 {
			t.Errorf("re-applying the migration: %s", msg)
		}
		if _, msg, code := c.run("", "delete", "authorizationpolicy", "-n", "argocd", "privgate-login-privgate-migrated", "--dry-run=server"); code == 0 || !strings.Contains(msg, "argocd.private.example.com") {
			t.Errorf("deleting the migrated login: exit %d: %s", code, msg)
		}
		// The group's login is held the same way: without it Grafana's groups are lost.
		if !strings.Contains(out, "name: oauth2-proxy-developers-sre") || !strings.Contains(out, "privgate.io/allowed-groups: /developers,/sre") {
			t.Errorf("Grafana's groups did not travel:\n%s", out)
		}
		if _, msg, code := c.run("", "delete", "authorizationpolicy", "-n", "monitoring", "privgate-login-privgate-migrated-a559a3f4", "--dry-run=server"); code == 0 || !strings.Contains(msg, "grafana.private.example.com") {
			t.Errorf("deleting the migrated group login: exit %d: %s", code, msg)
		}
	})

	t.Run("check names a field at the wrong level, as the API server would", func(t *testing.T) {
		bad := strings.Replace(loginNoPort, "    matchLabels: {istio: ingressgateway}\n  action: CUSTOM\n  provider: {name: oauth2-proxy}", "    matchLabels: {istio: ingressgateway}\n    action: CUSTOM\n    provider: {name: oauth2-proxy}", 1)
		c.schemaRefuses(t, config, bad, "spec.selector.action")
	})
}

// istioConfig is the examples' config with Istio's login provider named.
func istioConfig(t *testing.T) string {
	return exampleConfigWith(t, "privgate-istio.yaml", "istio", "istio:\n  extensionProviders: [oauth2-proxy]\n")
}

// exampleConfigWith is the examples' config, written as file in the work directory, with section
// appended unless the examples set key already.
func exampleConfigWith(t *testing.T, file, key, section string) string {
	t.Helper()
	raw, err := os.ReadFile(c.example("privgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "file: groups.txt", "file: "+c.example("groups.txt"), 1)
	if !strings.Contains(cfg, "\n"+key+":") {
		cfg += section
	}
	path := filepath.Join(c.work, file)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// awaitReport waits until the leader's audit files the Report of kind ns/name with results want
// (as report.rules says them), or, want "", one that passes.
func (c *cluster) awaitReport(t *testing.T, ns, name, kind, want string) {
	t.Helper()
	if err := c.eventually(20*time.Second, func() error {
		r, ok := c.reports(t, ns)[name]
		passes := want == "" && r.Summary.Pass > 0 && r.Summary.Fail == 0
		if !ok || r.Scope.Kind != kind || (!passes && (want == "" || r.rules() != want)) {
			return fmt.Errorf("report %+v", r)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, c.privgateLogs())
	}
}

// schemaRefuses: privgate check refuses doc for field, a field its CRD does not declare there, and
// the API server says the same with kubectl's strict validation.
func (c *cluster) schemaRefuses(t *testing.T, config, doc, field string) {
	t.Helper()
	cmd := exec.Command(c.privgate, "check", "--config", config, "-f", "-")
	cmd.Stdin = strings.NewReader(doc)
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), field+": Forbidden: field not declared in schema") {
		t.Errorf("check: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
	if _, stderr, code := c.run(doc, "apply", "-f", "-", "--dry-run=server"); code == 0 || !strings.Contains(stderr, field) {
		t.Errorf("kubectl: exit %d: %s", code, stderr)
	}
}

// restart runs the shared privgate with another config and flags, and waits until it is ready.
func (c *cluster) restart(t *testing.T, config string, flags ...string) {
	t.Helper()
	c.stopPrivgate()
	if err := c.startPrivgateWith(config, flags...); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	https := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if err := c.eventually(20*time.Second, func() error {
		if code, body := get(fmt.Sprintf("https://127.0.0.1:%d/readyz", c.port), https); code != 200 {
			return fmt.Errorf("not ready: %d %s", code, body)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, c.privgateLogs())
	}
}

// restoreDefault gives the tests that follow the shared privgate and webhooks setup made.
func (c *cluster) restoreDefault(t *testing.T) {
	t.Helper()
	c.stopPrivgate()
	if err := c.startPrivgate(); err != nil {
		t.Fatal(err)
	}
	if err := c.registerWebhooks(); err != nil {
		t.Fatal(err)
	}
}
