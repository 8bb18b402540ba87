package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privgate/privgate/groups/keycloakfake"
)

// keycloakConfig writes a privgate.yaml whose groups come from the fake Keycloak.
func keycloakConfig(t *testing.T, kc *keycloakfake.Server) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "client-secret"), kc.ClientSecret)
	base, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(base), "  source: file\n  file: groups.txt\n", fmt.Sprintf(`  source: keycloak
  keycloak:
    url: %s
    realm: %s
    clientID: %s
    clientSecretFile: client-secret
    refreshInterval: 1s
    maxStaleness: 1m
`, kc.URL, kc.Realm, kc.ClientID), 1)
	if cfg == string(base) {
		t.Fatal("example config changed shape")
	}
	path := filepath.Join(dir, "privgate.yaml")
	writeFile(t, path, cfg)
	return path
}

func TestCheckWithKeycloak(t *testing.T) {
	for _, mode := range []keycloakfake.Mode{keycloakfake.Before23, keycloakfake.Since23} {
		kc := keycloakfake.New(mode, "/developers/frontend", "/sre")
		defer kc.Close()
		cfg := keycloakConfig(t, kc)
		code, stdout, stderr := runCmd(t, "check", "--config", cfg, "-f", "../../examples/admitted/grafana.yaml")
		if code != 0 {
			t.Fatalf("mode %d: known groups denied: %s%s", mode, stdout, stderr)
		}
		code, stdout, _ = runCmd(t, "check", "--config", cfg, "-f", "../../examples/denied/prometheus-wrong-group.yaml")
		if code != 1 || !strings.Contains(stdout, "did you mean /developers?") {
			t.Fatalf("mode %d: exit %d\n%s", mode, code, stdout)
		}
	}
	kc := keycloakfake.New(keycloakfake.Since23, "/developers")
	kc.Close()
	code, _, stderr := runCmd(t, "check", "--config", keycloakConfig(t, kc), "-f", "../../examples/admitted/grafana.yaml")
	if code != 2 || !strings.Contains(stderr, "groups from keycloak") {
		t.Fatalf("unreachable keycloak: exit %d %s", code, stderr)
	}
}

// serve starts even when Keycloak does not answer, stays unready until the first sync, then
// judges with the realm's groups.
func TestServeWithKeycloak(t *testing.T) {
	kc := keycloakfake.New(keycloakfake.Since23, "/developers", "/sre")
	defer kc.Close()
	kc.Hang.Store(true)
	base, client, logs := servedPrivgateUnready(t, "--config", keycloakConfig(t, kc))
	resp, err := client.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("ready before the first group sync: %d", resp.StatusCode)
	}
	kc.Hang.Store(false)
	waitReady(t, client, base, logs)
	review := admissionReview(t, "CREATE", "../../examples/admitted/grafana.yaml")
	if m := postReview(t, client, base+"/mutate", review); !m.Allowed || len(m.Patch) == 0 {
		t.Fatalf("mutate: %+v", m)
	}
	if strings.Contains(logs.String(), kc.ClientSecret) {
		t.Error("client secret in the logs")
	}
}
