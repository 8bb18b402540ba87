//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNGINXProvider: on a class that Traefik's ingress-nginx provider serves (privgate.yaml
// servedBy), privgate refuses what the real provider serves without login, and only that. Two
// Ingresses differ in one annotation: both name oauth2-proxy in auth-url, one also has
// auth-type. Stored without privgate, the real Traefik v3.6.12 sends the first to the login
// and serves the second's app to anyone (its basic auth fails, which skips the ForwardAuth);
// privgate check, and the webhook, refuse the second for exactly that (auth-dropped).
func TestNGINXProvider(t *testing.T) {
	d := c.dataPath(t)
	const ns = "nginx-provider"
	c.namespaces(t, ns)
	t.Cleanup(func() { c.run("", "delete", "namespace", ns, "--wait=false") })
	config := providerConfig(t)
	authURL := fmt.Sprintf("http://%s:%d/oauth2/auth", d.ip, d.oauth2)
	ingress := func(name, host, extra string) string {
		return fmt.Sprintf(`---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: %[1]s
  namespace: %[3]s
  annotations:
    nginx.ingress.kubernetes.io/auth-url: %[4]q%[5]s
spec:
  ingressClassName: nginx
  rules:
    - host: %[2]s
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}
`, name, host, ns, authURL, extra)
	}
	const (
		guarded = "guarded.private.example.com"
		bypass  = "bypass.private.example.com"
	)
	guardedIngress := ingress("guarded", guarded, "")
	bypassIngress := ingress("bypass", bypass, "\n    nginx.ingress.kubernetes.io/auth-type: none")
	// The class the provider serves: its controller is ingress-nginx's name.
	class := "---\napiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n"
	if err := c.applyUnjudged(class + d.backend(t, ns, "app") + guardedIngress + bypassIngress); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{guarded, bypass} {
		c.waitRoute(t, d, h)
	}

	t.Run("the real provider: one annotation apart, the login or the app", func(t *testing.T) {
		if status, body, err := d.get(nil, "http://"+guarded+"/"); err != nil || status != http.StatusUnauthorized {
			t.Errorf("%s: %d %q %v, want oauth2-proxy's 401 (the provider has no sign-in redirect)", guarded, status, body, err)
		}
		if status, body, err := d.get(nil, "http://"+bypass+"/"); err != nil || status != http.StatusOK || body != "app app" {
			t.Errorf("%s: %d %q %v, want the app itself: auth-type makes the provider skip the ForwardAuth", bypass, status, body, err)
		}
	})

	t.Run("privgate check refuses the one the provider serves open, for that", func(t *testing.T) {
		verdict := func(doc string) string {
			cmd := exec.Command(c.privgate, "check", "--config", config, "-f", "-")
			cmd.Stdin = strings.NewReader(doc)
			out, _ := cmd.CombinedOutput()
			return string(out)
		}
		if out := verdict(bypassIngress); !strings.Contains(out, "[auth-dropped] nginx-provider/bypass bypass.private.example.com metadata.annotations[nginx.ingress.kubernetes.io/auth-type]") {
			t.Errorf("check of the open one:\n%s", out)
		}
		if out := verdict(guardedIngress); strings.Contains(out, "[auth-dropped]") {
			t.Errorf("check of the guarded one:\n%s", out)
		}
	})

	t.Run("the webhook too", func(t *testing.T) {
		c.restart(t, config)
		defer c.restoreDefault(t)
		// A new object (the stored one is judged as an update that adds nothing new).
		created := strings.Replace(bypassIngress, "name: bypass\n", "name: bypass-again\n", 1)
		_, stderr, code := c.run(created, "apply", "--dry-run=server", "-f", "-")
		if code == 0 || !strings.Contains(stderr, "[auth-dropped]") {
			t.Errorf("kubectl: exit %d: %s", code, stderr)
		}
	})
}

// providerConfig is the examples' config with class nginx served by Traefik's NGINX provider.
func providerConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(c.example("privgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "file: groups.txt", "file: "+c.example("groups.txt"), 1)
	cfg = strings.Replace(cfg, "ingressClasses: [nginx]\n", "ingressClasses: [nginx]\nservedBy: {nginx: traefik-nginx-provider}\n", 1)
	path := filepath.Join(c.work, "privgate-nginx-provider.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
