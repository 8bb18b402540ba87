//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	createOpts = metav1.CreateOptions{}
	deleteOpts = metav1.DeleteOptions{}
)

// ingress reads a stored Ingress as JSON.
func (c *cluster) ingress(t *testing.T, ns, name string) (annotations map[string]string, spec map[string]any, found bool) {
	t.Helper()
	out, stderr, code := c.run("", "-n", ns, "get", "ingress", name, "-o", "json")
	if code != 0 {
		if strings.Contains(stderr, "NotFound") {
			return nil, nil, false
		}
		t.Fatalf("get ingress %s/%s: %s", ns, name, stderr)
	}
	var obj struct {
		Metadata struct{ Annotations map[string]string }
		Spec     map[string]any
	}
	if err := json.Unmarshal([]byte(out), &obj); err != nil {
		t.Fatal(err)
	}
	return obj.Metadata.Annotations, obj.Spec, true
}

const (
	authURL    = "nginx.ingress.kubernetes.io/auth-url"
	authSignin = "nginx.ingress.kubernetes.io/auth-signin"
	issuer     = "cert-manager.io/cluster-issuer"
)

func manifest(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPrivgate runs in order: the steps that stop privgate come last.
func TestPrivgate(t *testing.T) {
	t.Run("create stores the Ingress protected", func(t *testing.T) {
		if _, stderr, code := c.run("", "apply", "-f", c.example("admitted/argocd-server.yaml")); code != 0 {
			t.Fatal(stderr)
		}
		ann, spec, _ := c.ingress(t, "argocd", "argocd-server")
		want := map[string]string{
			authURL:    "https://oauth2.private.example.com/oauth2/auth",
			authSignin: "https://oauth2.private.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri",
			issuer:     "letsencrypt-production",
		}
		for k, v := range want {
			if ann[k] != v {
				t.Errorf("%s = %q, want %q", k, ann[k], v)
			}
		}
		tls, _ := json.Marshal(spec["tls"])
		if spec["ingressClassName"] != "nginx" || string(tls) != `[{"hosts":["argocd.private.example.com"],"secretName":"argocd-server-privgate-tls"}]` {
			t.Errorf("class %v, tls %s", spec["ingressClassName"], tls)
		}
	})

	t.Run("update removing auth-url is re-injected, never stored unprotected", func(t *testing.T) {
		if _, stderr, code := c.run("", "-n", "argocd", "annotate", "ingress", "argocd-server", authURL+"-"); code != 0 {
			t.Fatal(stderr)
		}
		ann, _, _ := c.ingress(t, "argocd", "argocd-server")
		if ann[authURL] != "https://oauth2.private.example.com/oauth2/auth" {
			t.Errorf("auth-url after removal: %q", ann[authURL])
		}
		_, stderr, code := c.run("", "-n", "argocd", "annotate", "--overwrite", "ingress", "argocd-server", authURL+"=https://evil.example.net/auth")
		if code == 0 || !strings.Contains(stderr, "[auth-url-endpoint]") {
			t.Errorf("pointing auth-url elsewhere: exit %d %s", code, stderr)
		}
	})

	t.Run("server dry-run gives the same verdict and stores nothing", func(t *testing.T) {
		out, stderr, code := c.run("", "apply", "--dry-run=server", "-o", "yaml", "-f", c.example("admitted/grafana.yaml"))
		if code != 0 || !strings.Contains(out, "allowed_groups=/developers,/sre") {
			t.Fatalf("dry-run of an admitted Ingress: exit %d %s", code, stderr)
		}
		if _, _, found := c.ingress(t, "monitoring", "grafana"); found {
			t.Error("dry-run stored the Ingress")
		}
		_, stderr, code = c.run("", "apply", "--dry-run=server", "-f", c.example("denied/grafana-snippet.yaml"))
		if code == 0 || !strings.Contains(stderr, "[annotation-risky]") {
			t.Errorf("dry-run of a denied Ingress: exit %d %s", code, stderr)
		}
	})

	t.Run("a denied Ingress is not stored and every violation is named", func(t *testing.T) {
		_, stderr, code := c.run(manifest(t, "many-problems.yaml"), "apply", "-f", "-")
		if code == 0 {
			t.Fatal("admitted")
		}
		for _, id := range []string{"[annotation-risky]", "[class-foreign]", "[group-unknown]", "[group-form]", "[hosts-mixed]", "[issuer-foreign]", "did you mean /developers?"} {
			if !strings.Contains(stderr, id) {
				t.Errorf("message lacks %s:\n%s", id, stderr)
			}
		}
		if !strings.Contains(stderr, `admission webhook "validate.privgate.io" denied the request`) {
			t.Errorf("not privgate's denial: %s", stderr)
		}
		if _, _, found := c.ingress(t, "monitoring", "grafana-many"); found {
			t.Error("denied Ingress stored")
		}
	})

	t.Run("Argo CD: server-side apply then server-side diff shows no difference", func(t *testing.T) {
		m := c.example("admitted/grafana.yaml")
		args := []string{"--server-side", "--field-manager=argocd-controller", "-f", m}
		if _, stderr, code := c.run("", append([]string{"apply"}, args...)...); code != 0 {
			t.Fatal(stderr)
		}
		out, stderr, code := c.run("", append([]string{"diff"}, args...)...)
		if code != 0 || out != "" {
			t.Errorf("kubectl diff --server-side: exit %d, a mutating webhook that causes a permanent diff makes Argo CD loop OutOfSync:\n%s%s", code, out, stderr)
		}
		// Re-applying the same manifest is a no-op too.
		if _, stderr, code := c.run("", append([]string{"apply"}, args...)...); code != 0 {
			t.Fatal(stderr)
		}
		out, _, code = c.run("", append([]string{"diff"}, args...)...)
		if code != 0 || out != "" {
			t.Errorf("diff after a second apply: exit %d\n%s", code, out)
		}
	})

	t.Run("kube-system and privgate's namespace are never intercepted", func(t *testing.T) {
		for _, ns := range []string{"kube-system", "privgate"} {
			// A host of their own: a stored Ingress owns its host (host-owned), wherever it is.
			body := strings.ReplaceAll(strings.ReplaceAll(manifest(t, "bare.yaml"), "NAMESPACE", ns), "bare.private", ns+".private")
			if _, stderr, code := c.run(body, "apply", "-f", "-"); code != 0 {
				t.Fatalf("%s: %s", ns, stderr)
			}
			if ann, _, _ := c.ingress(t, ns, "bare"); ann[authURL] != "" {
				t.Errorf("%s: Ingress was mutated: %v", ns, ann)
			}
		}
	})

	t.Run("a policy edit takes effect without restart; a broken one is refused", func(t *testing.T) {
		writePolicy(t, "team.rego", manifest(t, "team.rego"))
		err := c.eventually(10*time.Second, func() error {
			_, stderr, code := c.run("", "apply", "--dry-run=server", "-f", c.example("admitted/grafana.yaml"))
			if code == 0 || !strings.Contains(stderr, "[team-label]") {
				return fmt.Errorf("extra rule not in force: exit %d %s", code, stderr)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		writePolicy(t, "broken.rego", "package privgate\n\ndeny contains x if {\n")
		err = c.eventually(10*time.Second, func() error {
			if !strings.Contains(c.privgateLogs(), "policy edit refused") {
				return fmt.Errorf("no refusal logged")
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v:\n%s", err, c.privgateLogs())
		}
		_, stderr, code := c.run("", "apply", "--dry-run=server", "-f", c.example("admitted/grafana.yaml"))
		if code == 0 || !strings.Contains(stderr, "[team-label]") {
			t.Errorf("last good policy not serving: exit %d %s", code, stderr)
		}
		labelled := strings.Replace(manifest(t, "bare.yaml"), "metadata:", "metadata:\n  labels: {team: sre}", 1)
		if _, stderr, code := c.run(strings.ReplaceAll(labelled, "NAMESPACE", "web"), "apply", "--dry-run=server", "-f", "-"); code != 0 {
			t.Errorf("a good Ingress is refused after a broken edit: %s", stderr)
		}
		for _, f := range []string{"team.rego", "broken.rego"} {
			_ = os.Remove(filepath.Join(c.policyDir, f))
		}
	})

	t.Run("with privgate down, private Ingresses fail closed and nothing else is affected", func(t *testing.T) {
		c.stopPrivgate()
		defer func() {
			if err := c.startPrivgate(); err != nil {
				t.Fatal(err)
			}
		}()
		_, stderr, code := c.run(strings.ReplaceAll(manifest(t, "bare.yaml"), "NAMESPACE", "web"), "apply", "-f", "-")
		if code == 0 || !strings.Contains(stderr, `failed calling webhook "mutate.privgate.io"`) {
			t.Errorf("private Ingress with privgate down: exit %d %s", code, stderr)
		}
		if _, stderr, code := c.run("", "-n", "web", "create", "configmap", "unaffected", "--from-literal=a=b"); code != 0 {
			t.Errorf("a ConfigMap is affected: %s", stderr)
		}
		if _, stderr, code := c.run(strings.Replace(strings.ReplaceAll(manifest(t, "bare.yaml"), "NAMESPACE", "kube-system"), "name: bare", "name: repair", 1), "apply", "-f", "-"); code != 0 { // kube-system may even claim a host owned elsewhere
			t.Errorf("kube-system is affected: %s", stderr)
		}
	})
}

func writePolicy(t *testing.T, name, body string) {
	t.Helper()
	// Write then rename, as a ConfigMap volume swaps its files in one step.
	tmp := filepath.Join(c.policyDir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.policyDir, name)); err != nil {
		t.Fatal(err)
	}
}
