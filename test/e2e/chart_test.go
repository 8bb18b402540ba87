//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// helmBin is Helm built from the Go module proxy (hack/build-helm.sh; the Makefile passes HELM).
func helmBin(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	out, err := exec.Command("bash", filepath.Join(c.root, "hack/build-helm.sh")).Output()
	if err != nil {
		t.Fatalf("hack/build-helm.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func (c *cluster) helm(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return execute(helmBin(t), c.root, "", append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
}

// helmLabels are the labels Helm adds that kustomize does not: the only difference allowed.
var helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"}

// objects parses rendered YAML into objects by kind/namespace/name, Helm's labels removed.
func objects(t *testing.T, rendered string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	// Documents end with their line break: a block scalar's last newline belongs to it.
	for _, doc := range strings.Split(strings.TrimPrefix(rendered, "---\n")+"\n", "\n---\n") {
		doc += "\n"
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("%v in:\n%s", err, doc)
		}
		if obj == nil {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		stripLabels(meta)
		if spec, ok := obj["spec"].(map[string]any); ok {
			if tmpl, ok := spec["template"].(map[string]any); ok {
				tmeta, _ := tmpl["metadata"].(map[string]any)
				stripLabels(tmeta)
			}
		}
		key := fmt.Sprintf("%s %v/%v", obj["kind"], meta["namespace"], meta["name"])
		out[key] = obj
	}
	return out
}

func stripLabels(meta map[string]any) {
	labels, _ := meta["labels"].(map[string]any)
	for _, l := range helmLabels {
		delete(labels, l)
	}
	if len(labels) == 0 {
		delete(meta, "labels")
	}
}

// TestChart: the Helm chart and the kustomize overlays install the same cluster, so they never
// drift; and the chart installs into a real API server and serves an admission, in both modes.
// It runs first (file order) and leaves the cluster as the other tests expect it.
func TestChart(t *testing.T) {
	modes := map[string]string{"self-managed": "deploy/overlays/self-signed", "cert-manager": "deploy/overlays/cert-manager"}
	if _, stderr, code := c.helm(t, "lint", "charts/privgate", "--strict"); code != 0 {
		t.Fatalf("helm lint: %s", stderr)
	}
	for mode, overlay := range modes {
		t.Run("chart equals "+overlay, func(t *testing.T) {
			chart, stderr, code := c.helm(t, "template", "privgate", "charts/privgate", "--namespace", "privgate", "--set", "certificates.mode="+mode)
			if code != 0 {
				t.Fatalf("helm template: %s", stderr)
			}
			kust, stderr, code := c.run("", "kustomize", filepath.Join(c.root, overlay))
			if code != 0 {
				t.Fatalf("kubectl kustomize: %s", stderr)
			}
			got, want := objects(t, chart), objects(t, kust)
			var keys []string
			for k := range want {
				keys = append(keys, k)
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				g, ok1 := got[k]
				w, ok2 := want[k]
				switch {
				case !ok1:
					t.Errorf("%s: rendered by the overlay, not by the chart", k)
				case !ok2:
					t.Errorf("%s: rendered by the chart, not by the overlay", k)
				case !reflect.DeepEqual(g, w):
					gj, _ := json.MarshalIndent(g, "", "  ")
					wj, _ := json.MarshalIndent(w, "", "  ")
					t.Errorf("%s differs:\n--- chart\n%s\n--- overlay\n%s", k, gj, wj)
				}
			}
		})
	}
	t.Run("the chart's CRDs are deploy/crds'", func(t *testing.T) {
		for _, f := range []string{"openreports.io_reports.yaml", "openreports.io_clusterreports.yaml"} {
			a, err1 := os.ReadFile(filepath.Join(c.root, "deploy/crds", f))
			b, err2 := os.ReadFile(filepath.Join(c.root, "charts/privgate/files/crds", f))
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: charts/privgate/files/crds differs from deploy/crds (hack/crds.sh refreshes both): %v %v", f, err1, err2)
			}
		}
	})
	t.Run("a wrong value fails at install, with a message", func(t *testing.T) {
		_, stderr, code := c.helm(t, "template", "privgate", "charts/privgate", "--set", "certificates.mode=letsencrypt")
		if code == 0 || !strings.Contains(stderr, "/certificates/mode") {
			t.Errorf("exit %d: %s", code, stderr)
		}
	})

	// Installed for real, in each mode, with the webhooks pointed at the local privgate: one
	// admission through the chart's configurations.
	ar := c.client.AdmissionregistrationV1()
	defer func() {
		if err := c.registerWebhooks(); err != nil {
			t.Fatal(err)
		}
	}()
	if _, stderr, code := c.run(manifest(t, "cert-manager-crds.yaml"), "apply", "-f", "-"); code != 0 {
		t.Fatal(stderr)
	}
	for _, mode := range []string{"self-managed", "cert-manager"} {
		t.Run("installs in "+mode+" mode and serves an admission", func(t *testing.T) {
			_ = ar.MutatingWebhookConfigurations().Delete(t.Context(), "privgate", deleteOpts)
			_ = ar.ValidatingWebhookConfigurations().Delete(t.Context(), "privgate", deleteOpts)
			set := []string{"--namespace", "privgate", "--set", "certificates.mode=" + mode, "--set", "createNamespace=false"}
			rendered, stderr, code := c.helm(t, append([]string{"template", "privgate", "charts/privgate"}, set...)...)
			if code != 0 {
				t.Fatal(stderr)
			}
			if _, stderr, code := c.run(rendered, "apply", "--dry-run=server", "-f", "-"); code != 0 {
				t.Fatalf("server dry-run: %s", stderr)
			}
			if _, stderr, code := c.helm(t, append([]string{"install", "privgate", "charts/privgate", "--wait=false"}, set...)...); code != 0 {
				t.Fatalf("helm install: %s", stderr)
			}
			defer c.helm(t, "uninstall", "privgate", "--namespace", "privgate")
			for _, kind := range []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration"} {
				path := "/mutate"
				if strings.HasPrefix(kind, "validating") {
					path = "/validate"
				}
				patch := fmt.Sprintf(`[{"op":"replace","path":"/webhooks/0/clientConfig","value":{"url":"https://127.0.0.1:%d%s","caBundle":%q}}]`, c.port, path, c.caPEMBase64())
				if _, stderr, code := c.run("", "patch", kind, "privgate", "--type=json", "-p", patch); code != 0 {
					t.Fatal(stderr)
				}
			}
			err := c.eventually(10*time.Second, func() error {
				out, stderr, code := c.run("", "apply", "--dry-run=server", "-o", "yaml", "-f", c.example("admitted/argocd-server.yaml"))
				if code != 0 || !strings.Contains(out, "auth-url") {
					return fmt.Errorf("not mutated through the chart's webhook: %s", stderr)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
