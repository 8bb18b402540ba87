//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/privgate/privgate/groups/keycloakfake"
	"github.com/privgate/privgate/test/testutil"
)

// report is what the tests read of an OpenReports Report.
type report struct {
	Scope   struct{ Kind, Name string }
	Summary struct{ Pass, Fail, Warn int }
	Results []struct {
		Rule, Result, Message string
	}
}

// reports are privgate's Reports in ns, by the name of the object they judge.
func (c *cluster) reports(t *testing.T, ns string) map[string]report {
	t.Helper()
	out, stderr, code := c.run("", "-n", ns, "get", "reports.openreports.io", "-l", "app.kubernetes.io/managed-by=privgate", "-o", "json")
	if code != 0 {
		t.Fatalf("get reports: %s", stderr)
	}
	var list struct{ Items []report }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]report{}
	for _, r := range list.Items {
		if _, dup := byName[r.Scope.Name]; dup {
			t.Errorf("two Reports for %s/%s", ns, r.Scope.Name)
		}
		byName[r.Scope.Name] = r
	}
	return byName
}

func (r report) rules() string {
	var ids []string
	for _, x := range r.Results {
		ids = append(ids, x.Result+":"+x.Rule)
	}
	return strings.Join(ids, ",")
}

func get(url string, client *http.Client) (int, string) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// unprotected is an Ingress stored before privgate watched: a private host, no auth at all.
const unprotected = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: grafana, namespace: zone-a}
spec:
  ingressClassName: nginx
  rules: [{host: grafana-zone.private.example.com}]
`

// exposedSystem is an unprotected private Ingress in kube-system, which admission never blocks.
var exposedSystem = strings.NewReplacer("name: grafana, namespace: zone-a", "name: dashboard, namespace: kube-system",
	"grafana-zone.", "dashboard-system.").Replace(unprotected)

// TestZone: the whole zone, all the time. What is stored is judged (Reports, metrics,
// privgate audit), rollout can start in warn mode, and a second namespace cannot take a host.
// It runs after the others (file order) and puts the shared privgate back as it found it.
func TestZone(t *testing.T) {
	metricsPort := testutil.FreePort(t)
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	https := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	restart := func(config string, extra ...string) {
		t.Helper()
		c.restart(t, config, append([]string{"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort)}, extra...)...)
	}
	defer c.restoreDefault(t)
	ar := c.client.AdmissionregistrationV1()
	for _, ns := range []string{"zone-a", "zone-b", "zone-warn"} {
		if _, stderr, code := c.run("", "create", "namespace", ns); code != 0 {
			t.Fatal(stderr)
		}
	}

	t.Run("an Ingress stored while privgate was not watching is found", func(t *testing.T) {
		// No Report CRD (TestInstall removed the one it used) and no webhook yet, as on a cluster
		// before privgate is installed.
		if err := c.eventually(20*time.Second, func() error {
			if _, _, code := c.run("", "get", "crd", "reports.openreports.io"); code == 0 {
				return fmt.Errorf("the Report CRD is still there")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		_ = ar.MutatingWebhookConfigurations().Delete(t.Context(), "privgate", deleteOpts)
		_ = ar.ValidatingWebhookConfigurations().Delete(t.Context(), "privgate", deleteOpts)
		if _, stderr, code := c.run(unprotected, "apply", "-f", "-"); code != 0 {
			t.Fatal(stderr)
		}
		// Never intercepted is never blocked, not never seen: kube-system's exposure is reported.
		if _, stderr, code := c.run(exposedSystem, "apply", "-f", "-"); code != 0 {
			t.Fatal(stderr)
		}

		// Without the Report CRD: ready, audit runs, says so once, privgate audit still works.
		restart(c.example("privgate.yaml"), "--discovery-interval", "2s")
		err := c.eventually(15*time.Second, func() error {
			_, body := get(metrics, http.DefaultClient)
			if !strings.Contains(body, "privgate_audit_reports_enabled 0") || !strings.Contains(body, `privgate_audit_violations{namespace="zone-a",rule="auth-missing"} 2`) ||
				!strings.Contains(body, `privgate_audit_violations{namespace="kube-system",rule="auth-missing"} `) {
				return fmt.Errorf("metrics not there yet")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
		if n := strings.Count(c.privgateLogs(), "the OpenReports Report CRD is not installed"); n != 1 {
			t.Errorf("the missing CRD is said %d times, want once", n)
		}
		cmd := exec.Command(c.privgate, "audit", "--kubeconfig", c.kubeconfig, "--config", c.example("privgate.yaml"))
		out, err := cmd.Output()
		if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "DENIED    zone-a/grafana") ||
			!strings.Contains(string(out), "grafana-zone.private.example.com") || !strings.Contains(string(out), "unprotected  served by zone-a/grafana") ||
			!strings.Contains(string(out), "DENIED    kube-system/dashboard") || !strings.Contains(string(out), "unprotected  served by kube-system/dashboard") {
			t.Errorf("privgate audit: exit %d (%v)\n%s", code, err, out)
		}

		// The CRD installed while privgate runs: a Report per Ingress within the discovery
		// interval (2 s here), not at the next full pass (a minute here), and no restart.
		if _, stderr, code := c.run("", "apply", "-k", filepath.Join(c.root, "deploy/crds")); code != 0 {
			t.Fatal(stderr)
		}
		err = c.eventually(30*time.Second, func() error {
			if _, stderr, code := c.run("", "-n", "zone-a", "get", "reports.openreports.io"); code != 0 {
				return fmt.Errorf("the Report CRD is not served yet: %s", stderr) // kubectl's discovery lags the CRD
			}
			r, ok := c.reports(t, "zone-a")["grafana"]
			if !ok || r.rules() != "fail:auth-missing,fail:auth-missing,fail:tls-missing" {
				return fmt.Errorf("report %+v", r)
			}
			if r, ok := c.reports(t, "kube-system")["dashboard"]; !ok || r.Summary.Fail != 3 {
				return fmt.Errorf("kube-system report %+v", r)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
		out2, _, _ := c.run("", "get", "reports", "-A")
		t.Logf("kubectl get reports -A:\n%s", out2)
		if _, body := get(metrics, http.DefaultClient); !strings.Contains(body, "privgate_audit_reports_enabled 1") {
			t.Errorf("Reports written, yet privgate_audit_reports_enabled is not 1")
		}
	})

	t.Run("a fix, a policy edit and a deletion change the Reports", func(t *testing.T) {
		if err := c.registerWebhooks(); err != nil {
			t.Fatal(err)
		}
		// Any write goes through the webhooks now, and mutation protects what it writes.
		fixed := strings.Replace(unprotected, "metadata: {name: grafana, namespace: zone-a}", "metadata: {name: grafana, namespace: zone-a, labels: {fixed: \"true\"}}", 1)
		err := c.eventually(15*time.Second, func() error {
			_, stderr, code := c.run(fixed, "apply", "-f", "-")
			if code != 0 {
				return fmt.Errorf("%s", stderr)
			}
			if r := c.reports(t, "zone-a")["grafana"]; r.Summary.Pass != 1 {
				return fmt.Errorf("report %+v", r)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		writePolicy(t, "team.rego", manifest(t, "team.rego"))
		defer os.Remove(filepath.Join(c.policyDir, "team.rego"))
		if err := c.eventually(20*time.Second, func() error {
			if r := c.reports(t, "zone-a")["grafana"]; r.rules() != "fail:team-label" {
				return fmt.Errorf("report %+v", r)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
		os.Remove(filepath.Join(c.policyDir, "team.rego"))
		if err := c.eventually(20*time.Second, func() error {
			if r := c.reports(t, "zone-a")["grafana"]; r.Summary.Pass != 1 {
				return fmt.Errorf("report %+v", r)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a second namespace claiming a private host is denied, the owner named", func(t *testing.T) {
		_, stderr, code := c.run(strings.ReplaceAll(unprotected, "zone-a", "zone-b"), "apply", "-f", "-")
		if code == 0 || !strings.Contains(stderr, "[host-owned] zone-b/grafana grafana-zone.private.example.com") || !strings.Contains(stderr, "Ingress zone-a/grafana") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})

	t.Run("warn mode admits with kubectl warnings, and the Report keeps the violation", func(t *testing.T) {
		dir := t.TempDir()
		config, _ := os.ReadFile(c.example("privgate.yaml"))
		groups, _ := os.ReadFile(c.example("groups.txt"))
		_ = os.WriteFile(filepath.Join(dir, "groups.txt"), groups, 0o600)
		_ = os.WriteFile(filepath.Join(dir, "privgate.yaml"), append(config, "\nenforcement: {namespaces: {zone-warn: warn}}\n"...), 0o600)
		restart(filepath.Join(dir, "privgate.yaml"))
		snippet := strings.ReplaceAll(strings.ReplaceAll(unprotected, "zone-a", "zone-warn"), "grafana-zone.", "warned.")
		snippet = strings.Replace(snippet, "metadata: {name: grafana, namespace: zone-warn}", "metadata:\n  name: grafana\n  namespace: zone-warn\n  annotations: {nginx.ingress.kubernetes.io/server-snippet: \"location /x { }\"}", 1)
		_, stderr, code := c.run(snippet, "apply", "-f", "-")
		if code != 0 || !strings.Contains(stderr, "Warning: [annotation-risky] zone-warn/grafana") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if _, _, found := c.ingress(t, "zone-warn", "grafana"); !found {
			t.Error("warn mode did not store the Ingress")
		}
		if err := c.eventually(20*time.Second, func() error {
			if r := c.reports(t, "zone-warn")["grafana"]; r.rules() != "warn:annotation-risky" {
				return fmt.Errorf("report %+v", r)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("two replicas write one set of Reports", func(t *testing.T) {
		port := testutil.FreePort(t)
		logs := &testutil.LockedBuffer{}
		second := exec.Command(c.privgate, "serve", "--config", c.example("privgate.yaml"), "--cert-dir", filepath.Join(c.work, "certs"),
			"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--metrics-bind-address", "0", "--namespace", "privgate", "--audit-interval", "1m")
		second.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
		second.Stdout, second.Stderr = logs, logs
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = second.Wait(); close(done) }()
		defer func() { _ = second.Process.Kill(); <-done }()
		if err := c.eventually(20*time.Second, func() error {
			if code, _ := get(fmt.Sprintf("https://127.0.0.1:%d/readyz", port), https); code != 200 {
				return fmt.Errorf("second replica not ready")
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, logs.String())
		}
		// One leader: the first replica holds the Lease, the second only serves webhooks.
		holder, _, _ := c.run("", "-n", "privgate", "get", "lease", "privgate-audit", "-o", "jsonpath={.spec.holderIdentity}")
		if holder == "" || strings.Contains(logs.String(), "audit pass") {
			t.Errorf("lease holder %q; second replica's log:\n%s", holder, logs.String())
		}
		// The leader steps down: the second takes over and finds the same Reports to keep.
		c.stopPrivgate()
		if err := c.eventually(30*time.Second, func() error {
			if !strings.Contains(logs.String(), "audit pass") {
				return fmt.Errorf("second replica never audited")
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, logs.String())
		}
		for _, ns := range []string{"zone-a", "zone-warn"} {
			if n := len(c.reports(t, ns)); n != 1 { // reports() also fails on two Reports for one Ingress
				t.Errorf("%s: %d Reports, want 1", ns, n)
			}
		}
	})

	t.Run("RBAC bindings: groups checked against Keycloak, a rename found without any write, fail open", func(t *testing.T) {
		// The Keycloak stand-in (the real admin API's paths, status codes and JSON; see
		// groups/keycloakfake): tokens carry full paths, prefixed "oidc:" by the API server.
		kc := keycloakfake.New(keycloakfake.Since23, "/developers", "/sre")
		defer kc.Close()
		dir := t.TempDir()
		_ = os.WriteFile(filepath.Join(dir, "client-secret"), []byte(kc.ClientSecret), 0o600)
		config, _ := os.ReadFile(c.example("privgate.yaml"))
		cfg := strings.Replace(string(config), "  source: file\n  file: groups.txt\n", fmt.Sprintf(
			"  source: keycloak\n  keycloak:\n    url: %s\n    realm: %s\n    clientID: %s\n    clientSecretFile: client-secret\n    refreshInterval: 1s\n    maxStaleness: 1m\n",
			kc.URL, kc.Realm, kc.ClientID), 1) + "\nrbac:\n  groupsPrefix: \"oidc:\"\n"
		_ = os.WriteFile(filepath.Join(dir, "privgate.yaml"), []byte(cfg), 0o600)
		restart(filepath.Join(dir, "privgate.yaml"))

		rb := func(name, group string) string {
			return fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: %s, namespace: zone-a}\n"+
				"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n"+
				"subjects: [{kind: Group, name: %q, apiGroup: rbac.authorization.k8s.io}]\n", name, group)
		}
		_, stderr, code := c.run(rb("sre-viewers", "oidc:/SRE"), "apply", "-f", "-")
		if code == 0 || !strings.Contains(stderr, `[group-unknown] zone-a/sre-viewers subjects[0].name: subject "oidc:/SRE" names group "/SRE"`) || !strings.Contains(stderr, "did you mean oidc:/sre?") {
			t.Errorf("a binding to /SRE: exit %d %s", code, stderr)
		}
		if _, stderr, code := c.run(rb("sre-viewers", "oidc:/sre"), "apply", "-f", "-"); code != 0 {
			t.Fatalf("a binding to /sre: %s", stderr)
		}
		if _, stderr, code := c.run(strings.Replace(rb("masters", "system:masters"), "zone-a", "zone-b", 1), "apply", "-f", "-"); code != 0 {
			t.Errorf("system: groups are never judged: %s", stderr)
		}
		crb := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: privgate-e2e-devs}\n" +
			"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n" +
			"subjects: [{kind: Group, name: \"oidc:/developers\", apiGroup: rbac.authorization.k8s.io}]\n"
		if _, stderr, code := c.run(crb, "apply", "-f", "-"); code != 0 {
			t.Fatalf("a ClusterRoleBinding to /developers: %s", stderr)
		}
		defer c.run("", "delete", "clusterrolebinding", "privgate-e2e-devs")
		passing := func() error {
			if r := c.reports(t, "zone-a")["sre-viewers"]; r.Summary.Pass != 1 {
				return fmt.Errorf("report %+v", r)
			}
			return nil
		}
		if err := c.eventually(20*time.Second, passing); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}

		// Renamed in Keycloak: no object changes, yet the bindings to the old name are found.
		kc.RenameGroup("/sre", "site-reliability")
		kc.RenameGroup("/developers", "engineering")
		if err := c.eventually(30*time.Second, func() error {
			if r := c.reports(t, "zone-a")["sre-viewers"]; r.rules() != "fail:group-unknown" {
				return fmt.Errorf("report %+v", r)
			}
			out, _, _ := c.run("", "get", "clusterreports.openreports.io", "privgate-clusterrolebinding-privgate-e2e-devs", "-o", "jsonpath={.summary.fail}")
			if out != "1" {
				return fmt.Errorf("ClusterReport fail = %q", out)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
		cmd := exec.Command(c.privgate, "audit", "--kubeconfig", c.kubeconfig, "--config", filepath.Join(dir, "privgate.yaml"))
		var errOut strings.Builder
		cmd.Stderr = &errOut
		out, _ := cmd.Output()
		if !strings.Contains(string(out), `[group-unknown] zone-a/sre-viewers subjects[0].name: subject "oidc:/sre" names group "/sre", which does not exist`) ||
			strings.Contains(string(out), "system:controller:") {
			t.Errorf("privgate audit does not list the broken binding, or lists the system's:\n%s%s", out, errOut.String())
		}

		// Fail open: with privgate down, RBAC can still be repaired (Ingresses stay fail closed).
		c.stopPrivgate()
		if _, stderr, code := c.run(rb("sre-viewers", "oidc:/whatever"), "apply", "-f", "-"); code != 0 {
			t.Errorf("a binding with privgate down: %s", stderr)
		}
	})

	t.Run("a deleted Ingress takes its Report with it", func(t *testing.T) {
		restart(c.example("privgate.yaml"))
		if _, stderr, code := c.run("", "-n", "zone-warn", "delete", "ingress", "grafana"); code != 0 {
			t.Fatal(stderr)
		}
		if err := c.eventually(20*time.Second, func() error {
			if n := len(c.reports(t, "zone-warn")); n != 0 {
				return fmt.Errorf("%d Reports left", n)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}
