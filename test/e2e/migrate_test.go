//go:build e2e

package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// privgate migrate's output, as the Istio, Envoy Gateway and Traefik tests apply it.

// migrate is privgate migrate --to impl of the examples' argocd-server, headlamp and (withGrafana)
// grafana Ingresses, with the Services their ports name: the YAML it prints.
func (c *cluster) migrate(t *testing.T, impl, config string, withGrafana bool) string {
	t.Helper()
	testdata := filepath.Join(c.root, "cmd/privgate/testdata/migrate")
	args := []string{"migrate", "--to", impl, "--config", config,
		"-f", c.example("admitted/argocd-server.yaml"), "-f", filepath.Join(testdata, "services.yaml"), "-f", filepath.Join(testdata, "headlamp.yaml")}
	if withGrafana {
		args = append(args, "-f", c.example("admitted/grafana.yaml"))
	}
	cmd := exec.Command(c.privgate, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("migrate --to %s: %v\n%s", impl, err, stderr.String())
	}
	return string(out)
}

// deleteMigration deletes what migrate printed, but objects of the kinds kept, routes first (a
// login is refused while a route in privgate's view needs it; the view learns of each deletion a
// moment later, hence the retries).
func (c *cluster) deleteMigration(t *testing.T, out string, kept ...string) {
	t.Helper()
	var routes, rest []string
	for _, doc := range strings.Split(out, "\n---\n") {
		switch kind := yamlKind(doc); {
		case slices.Contains(kept, kind):
		case kind == "HTTPRoute":
			routes = append(routes, doc)
		default:
			rest = append(rest, doc)
		}
	}
	c.run(strings.Join(routes, "\n---\n"), "delete", "-f", "-", "--wait=false", "--ignore-not-found")
	if err := c.eventually(20*time.Second, func() error {
		if _, msg, code := c.run(strings.Join(rest, "\n---\n"), "delete", "-f", "-", "--wait=false", "--ignore-not-found"); code != 0 {
			return errors.New(msg)
		}
		return nil
	}); err != nil {
		t.Errorf("cleaning up the migration: %v", err)
	}
}

// yamlKind is the kind a YAML document names.
func yamlKind(doc string) string {
	for _, line := range strings.Split(doc, "\n") {
		if k, ok := strings.CutPrefix(line, "kind: "); ok {
			return strings.TrimSpace(k)
		}
	}
	return ""
}
