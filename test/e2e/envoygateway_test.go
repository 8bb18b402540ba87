//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Envoy Gateway objects, as users write them (docs/gateway-api.md).
const (
	egGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: eg}
spec:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: eg, namespace: eg-edge}
spec:
  gatewayClassName: eg
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
	egLogin = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: login, namespace: eg-edge}
spec:
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: Gateway, name: eg}
  extAuth:
    http:
      backendRefs:
      - {name: oauth2-proxy, namespace: oauth2-proxy, port: 4180}
    headersToExtAuth: [cookie]
`
	egRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: headlamp, namespace: eg-apps}
spec:
  parentRefs:
  - {name: eg, namespace: eg-edge}
  hostnames: [headlamp.private.example.com]
  rules:
  - backendRefs:
    - {name: headlamp, port: 80}
`
	// egCORS is a route-level policy written for CORS only: without mergeType it replaces the
	// Gateway's whole policy, login included.
	egCORS = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: cors, namespace: eg-apps}
spec:
  targetRefs:
  - {group: gateway.networking.k8s.io, kind: HTTPRoute, name: headlamp}
  cors:
    allowOrigins: ["https://dashboard.private.example.com"]
`
)

// TestEnvoyGateway: hosts published on Envoy Gateway are judged against the SecurityPolicy in
// force on their route rules and listeners, through kubectl on the real API server with Envoy
// Gateway's CRD; SecurityPolicy changes that would uncover a host are refused; with privgate down
// they go through, and the audit, privgate audit and check all say the host is uncovered. No
// Envoy Gateway runs here.
func TestEnvoyGateway(t *testing.T) {
	config := envoyGatewayConfig(t)
	c.restart(t, config, "--metrics-bind-address", "0", "--discovery-interval", "1s")
	defer c.restoreDefault(t)
	if err := c.registerWebhooks(); err != nil {
		t.Fatal(err)
	}
	crds := filepath.Join(c.root, "policy/crdschema/crds")
	switch _, stderr, code := c.run("", "create", "-f", crds); {
	case code == 0:
		// TestIstio installs them after privgate starts, to see them found: leave none behind.
		defer c.run("", "delete", "-f", crds, "--timeout", "60s")
	case !strings.Contains(stderr, "AlreadyExists"):
		t.Fatal(stderr)
	}
	if _, stderr, code := c.run("", "wait", "--for", "condition=established", "--timeout", "60s",
		"crd/securitypolicies.gateway.envoyproxy.io", "crd/gateways.gateway.networking.k8s.io", "crd/httproutes.gateway.networking.k8s.io"); code != 0 {
		t.Fatal(stderr)
	}
	c.namespaces(t, "eg-edge", "eg-apps", "oauth2-proxy")
	if _, stderr, code := c.run("", "apply", "-k", filepath.Join(c.root, "deploy/crds")); code != 0 {
		t.Fatal(stderr)
	}
	defer c.run("", "delete", "-k", filepath.Join(c.root, "deploy/crds"), "--wait=false")
	apply := c.apply

	t.Run("a Gateway on Envoy Gateway without a SecurityPolicy is refused, with the policy to apply", func(t *testing.T) {
		// Until privgate's view holds the new kinds, the Gateway's class is not in view.
		if err := c.eventually(20*time.Second, func() error {
			stderr, code := apply(egGateway)
			if code == 0 || !strings.Contains(stderr, "[gateway-login]") || !strings.Contains(stderr, `Apply: {"apiVersion":"gateway.envoyproxy.io/v1alpha1","kind":"SecurityPolicy"`) {
				return fmt.Errorf("exit %d: %s", code, stderr)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
	})

	t.Run("with the Gateway's login the Gateway and its route are admitted", func(t *testing.T) {
		// Each write is judged against privgate's view, which learns of the one before it a
		// moment later (until then the route's Gateway is not in view: refused, fail closed).
		if err := c.eventually(20*time.Second, func() error {
			if stderr, code := apply(egLogin); code != 0 {
				return fmt.Errorf("login policy: %s", stderr)
			}
			if stderr, code := apply(egGateway); code != 0 {
				return fmt.Errorf("gateway: %s", stderr)
			}
			if stderr, code := apply(egRoute); code != 0 {
				return fmt.Errorf("covered route refused: %s", stderr)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
	})

	t.Run("a route-level policy replacing the Gateway's login is refused; with mergeType it is not", func(t *testing.T) {
		stderr, code := apply(egCORS)
		if code == 0 || !strings.Contains(stderr, "[securitypolicy-uncovers]") || !strings.Contains(stderr, "replaces SecurityPolicy eg-edge/login") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		merged := egCORS + "  mergeType: StrategicMerge\n"
		if stderr, code := apply(merged); code != 0 {
			t.Fatalf("merged policy refused: %s", stderr)
		}
	})

	t.Run("deleting the Gateway's login is refused; extAuth without the cookie warns of a lockout", func(t *testing.T) {
		_, stderr, code := c.run("", "delete", "securitypolicy", "-n", "eg-edge", "login")
		if code == 0 || !strings.Contains(stderr, "[securitypolicy-uncovers]") || !strings.Contains(stderr, "published by HTTPRoute eg-apps/headlamp") {
			t.Fatalf("delete: exit %d: %s", code, stderr)
		}
		noCookie := strings.Replace(egLogin, "    headersToExtAuth: [cookie]\n", "", 1)
		stderr, code = apply(noCookie)
		if code != 0 || !strings.Contains(stderr, "[securitypolicy-lockout]") {
			t.Fatalf("lockout: exit %d: %s", code, stderr)
		}
		if stderr, code := apply(egLogin); code != 0 {
			t.Fatal(stderr)
		}
	})

	t.Run("with privgate down a later route-level policy goes through; the audit, privgate audit and check report the route", func(t *testing.T) {
		c.stopPrivgate()
		// failurePolicy Ignore: Envoy Gateway's upgrades are never blocked by privgate's outage.
		if stderr, code := apply(egCORS, "--timeout", "30s"); code != 0 {
			t.Fatalf("write with privgate down refused: %s", stderr)
		}
		out, err := exec.Command(c.privgate, "audit", "--kubeconfig", c.kubeconfig, "--config", config).Output()
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), "DENIED    eg-apps/headlamp") || !strings.Contains(string(out), "replaces SecurityPolicy eg-edge/login") {
			t.Errorf("privgate audit: exit %d\n%s", code, out)
		}
		// check on the same objects as files says the same of the route.
		cmd := exec.Command(c.privgate, "check", "--config", config, "-f", "-")
		cmd.Stdin = strings.NewReader(strings.Join([]string{egGateway, egLogin, egRoute}, "---\n") + "---\n" + egCORS)
		checked, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(checked), "[gateway-login]") || !strings.Contains(string(checked), "replaces SecurityPolicy eg-edge/login") {
			t.Errorf("check: exit %d\n%s", cmd.ProcessState.ExitCode(), checked)
		}
		c.restart(t, config, "--metrics-bind-address", "0")
		// The leader's audit files the uncovered host in the route's Report.
		c.awaitReport(t, "eg-apps", "headlamp", "HTTPRoute", "fail:gateway-login")
		// privgate envoygateway policy prints the route's policy with the login added, which
		// kubectl applies and which covers the route again.
		suggested, err := exec.Command(c.privgate, "envoygateway", "policy", "--config", config, "--kubeconfig", c.kubeconfig).Output()
		if err != nil || !strings.Contains(string(suggested), "name: cors") || !strings.Contains(string(suggested), "extAuth:") || !strings.Contains(string(suggested), "allowOrigins:") {
			t.Fatalf("privgate envoygateway policy: %v\n%s", err, suggested)
		}
		if stderr, code := apply(string(suggested)); code != 0 {
			t.Fatalf("suggested policy refused: %s", stderr)
		}
		c.awaitReport(t, "eg-apps", "headlamp", "HTTPRoute", "")
	})

	t.Run("check holds a SecurityPolicy to Envoy Gateway's CRD, as the API server does", func(t *testing.T) {
		bad := strings.Replace(egLogin, "    headersToExtAuth: [cookie]\n", "      headersToExtAuth: [cookie]\n", 1)
		c.schemaRefuses(t, config, bad, "spec.extAuth.http.headersToExtAuth")
	})

	t.Run("privgate migrate's output applies with the webhook on, login first", func(t *testing.T) {
		c.namespaces(t, "argocd", "headlamp", "monitoring")
		// Grafana allows /developers and /sre: its route gets a SecurityPolicy of its own to the
		// group's login Service (envoyGateway.groupLogins in the examples' config).
		out := c.migrate(t, "envoy-gateway", config, true)
		// Each write is judged against privgate's view, which learns of the one before it a
		// moment later (until then a Gateway's login is not in view: refused, fail closed).
		if err := c.eventually(20*time.Second, func() error {
			if msg, code := apply(out); code != 0 {
				return fmt.Errorf("kubectl apply of the migration: %s", msg)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s\n%s", err, out, c.privgateLogs())
		}
		// GatewayClass eg was there before: it stays.
		defer c.deleteMigration(t, out, "GatewayClass")
		if msg, code := apply(out, "--dry-run=server"); code != 0 {
			t.Errorf("re-applying the migration: %s", msg)
		}
		// The routes were judged against the stored logins: dropping one now is refused.
		for _, l := range []struct{ ns, policy, host string }{
			{"argocd", "privgate-login-privgate-migrated", "argocd.private.example.com"},
			// The group's login, on Grafana's route, is held the same way.
			{"monitoring", "privgate-login-grafana", "grafana.private.example.com"},
		} {
			ns, policy, host := l.ns, l.policy, l.host
			if err := c.eventually(20*time.Second, func() error {
				_, msg, code := c.run("", "delete", "securitypolicy", "-n", ns, policy, "--dry-run=server")
				if code == 0 || !strings.Contains(msg, "[securitypolicy-uncovers]") || !strings.Contains(msg, host) {
					return fmt.Errorf("deleting the migrated login %s/%s: exit %d: %s", ns, policy, code, msg)
				}
				return nil
			}); err != nil {
				t.Error(err)
			}
		}
	})
}

// exitCode is a finished command's exit code (-1 when it did not run).
func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// envoyGatewayConfig is the examples' config with oauth2-proxy's Service as Envoy Gateway's login.
func envoyGatewayConfig(t *testing.T) string {
	return exampleConfigWith(t, "privgate-envoy-gateway.yaml", "envoyGateway", "envoyGateway:\n  extAuthServices: [oauth2-proxy/oauth2-proxy]\n")
}
