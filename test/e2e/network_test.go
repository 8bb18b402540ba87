//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privgate/privgate/probe"
)

// TestNetwork: what privgate predicts, checked on the real data path (Traefik, oauth2-proxy, the
// provider): an anonymous request to a protected private host is redirected to the sign-in; a
// user in the allowed group gets the app, one in another group 403; a group written in the
// wrong case locks everyone out, as privgate says before it happens; and an Ingress privgate
// refuses, stored with its webhooks removed, is open to privgate probe, which exits 1; with a
// probe section, the audit's leader finds the same and says so on the Ingress's Report.
func TestNetwork(t *testing.T) {
	d := c.dataPath(t)
	d.idp.AddUser("alice", "/developers")
	d.idp.AddUser("bob", "/sre")
	const ns = "network"
	c.namespaces(t, ns)
	const (
		metrics = "metrics.private.example.com" // allowed-groups /developers
		alerts  = "alerts.private.example.com"  // allowed-groups /Developers: no such group
		legacy  = "legacy.private.example.com"  // no login: privgate refuses it
	)
	alertsIngress := ingressManifest(ns, "alerts", alerts, "alerts", loginChain("alerts"))
	alertsIngress = strings.Replace(alertsIngress, "annotations: {", "annotations: {privgate.io/allowed-groups: /Developers, ", 1)
	manifests := d.backend(t, ns, "metrics") + d.authMiddleware("metrics", "/developers") +
		strings.Replace(ingressManifest(ns, "metrics", metrics, "metrics", loginChain("metrics")), "annotations: {", "annotations: {privgate.io/allowed-groups: /developers, ", 1) +
		d.backend(t, ns, "alerts") + d.authMiddleware("alerts", "/Developers") + alertsIngress +
		d.backend(t, ns, "legacy") + ingressManifest(ns, "legacy", legacy, "legacy", "")
	if err := c.applyUnjudged(manifests); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.run("", "delete", "namespace", ns, "--wait=false") })
	for _, h := range []string{metrics, alerts, legacy} {
		c.waitRoute(t, d, h)
	}

	t.Run("anonymous: redirected to the sign-in", func(t *testing.T) {
		for _, h := range []string{metrics, alerts} {
			status, loc, err := d.get(nil, "http://"+h+"/dashboards")
			if err != nil || status != http.StatusFound || !strings.HasPrefix(loc, d.idp.Issuer()+"/protocol/openid-connect/auth?") {
				t.Errorf("%s: %d %q %v, want 302 to the provider's authorize endpoint", h, status, loc, err)
			}
		}
		if status, body, err := d.get(nil, "http://"+legacy+"/"); err != nil || status != http.StatusOK || body != "app legacy" {
			t.Errorf("%s: %d %q %v, want the app itself", legacy, status, body, err)
		}
	})
	t.Run("in the allowed group: the app", func(t *testing.T) {
		status, browser := d.login(t, "alice", "http://"+metrics+"/")
		if status != http.StatusOK {
			t.Fatalf("alice: %d", status)
		}
		if _, body, _ := d.get(browser, "http://"+metrics+"/"); body != "app metrics" {
			t.Errorf("alice got %q", body)
		}
	})
	t.Run("in another group: 403", func(t *testing.T) {
		if status, _ := d.login(t, "bob", "http://"+metrics+"/"); status != http.StatusForbidden {
			t.Errorf("bob: %d, want 403", status)
		}
	})
	t.Run("a group in the wrong case locks everyone out, as privgate says", func(t *testing.T) {
		for _, user := range []string{"alice", "bob"} {
			if status, _ := d.login(t, user, "http://"+alerts+"/"); status != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", user, status)
			}
		}
		file := filepath.Join(t.TempDir(), "alerts.yaml")
		if err := os.WriteFile(file, []byte(alertsIngress), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _, code := execute(c.privgate, "", "", "check", "--config", c.example("privgate.yaml"), "-f", file)
		if code != 1 || !strings.Contains(out, `group "/Developers" does not exist, so nobody would get in`) || !strings.Contains(out, "did you mean /developers?") {
			t.Errorf("privgate check: exit %d\n%s", code, out)
		}
	})
	t.Run("privgate probe: the refused Ingress is open, exit 1", func(t *testing.T) {
		out, stderr, code := execute(c.privgate, "", "", "probe", "--kubeconfig", c.kubeconfig, "--config", c.example("privgate.yaml"),
			"--address", d.traefik, "--scheme", "http", "--signin", d.idp.Issuer()+"/", "--rate", "50", "-o", "json")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, stderr, out)
		}
		var results []probe.Result
		if err := json.Unmarshal([]byte(out), &results); err != nil {
			t.Fatal(err)
		}
		verdicts := map[string][]string{}
		for _, r := range results {
			if r.Host == metrics || r.Host == alerts || r.Host == legacy {
				if !slices.Contains(verdicts[r.Host], r.Verdict) {
					verdicts[r.Host] = append(verdicts[r.Host], r.Verdict)
				}
				if r.Host == legacy && r.Variant == probe.Plain && (r.Verdict != probe.Open || r.Status != 200) {
					t.Errorf("%s plain: %+v, want open 200", legacy, r)
				}
			}
		}
		// Every request to a protected host meets the login, bypass variants included; Traefik
		// answers no variant with anything else (a 404 for a name it does not route would be
		// unreachable, and is not seen here).
		for _, h := range []string{metrics, alerts} {
			if !slices.Equal(verdicts[h], []string{probe.Login}) {
				t.Errorf("%s: verdicts %v, want login only", h, verdicts[h])
			}
		}
		if !slices.Contains(verdicts[legacy], probe.Open) {
			t.Errorf("%s: verdicts %v, want open", legacy, verdicts[legacy])
		}
		if t.Failed() {
			for _, r := range results {
				t.Log(r.Line())
			}
		}
	})
	t.Run("in the cluster: the audit's leader probes, the Reports say what the network does", func(t *testing.T) {
		raw, err := os.ReadFile(c.example("privgate.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		cfg := strings.Replace(string(raw), "file: groups.txt", "file: "+c.example("groups.txt"), 1) +
			fmt.Sprintf("probe: {address: %q, scheme: http, signin: [%q], rate: 100}\n", d.traefik, d.idp.Issuer()+"/")
		path := filepath.Join(t.TempDir(), "privgate.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, stderr, code := c.run("", "apply", "-k", filepath.Join(c.root, "deploy/crds")); code != 0 {
			t.Fatal(stderr)
		}
		defer c.run("", "delete", "-k", filepath.Join(c.root, "deploy/crds"), "--wait=false")
		c.restart(t, path, "--metrics-bind-address", "0")
		defer c.restoreDefault(t)
		var got map[string]report
		if err := c.eventually(60*time.Second, func() error {
			got = c.reports(t, ns)
			if !strings.HasSuffix(got["legacy"].rules(), "fail:network-open") || !strings.HasSuffix(got["metrics"].rules(), "pass:network-login") {
				return fmt.Errorf("legacy: %s; metrics: %s", got["legacy"].rules(), got["metrics"].rules())
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, c.privgateLogs())
		}
		last := got["legacy"].Results[len(got["legacy"].Results)-1]
		if !strings.Contains(last.Message, legacy+" answers without the login on the network") {
			t.Errorf("legacy's probe result: %+v", last)
		}
	})
}
