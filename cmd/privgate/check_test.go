package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// runCmd runs privgate with args as the shell would, returning exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const exampleConfig = "../../examples/privgate.yaml"

func TestCheckExitCodes(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{"admitted folder", []string{"-f", "../../examples/admitted"}, 0,
			[]string{"ADMITTED  argocd/argocd-server", "add /spec/tls", "ADMITTED  web/blog", "no private host, untouched", "exempt host", "4 Ingresses: 4 admitted (2 mutated), 0 denied"}, ""},
		{"denied folder", []string{"-f", "../../examples/denied"}, 1,
			[]string{"DENIED    monitoring/grafana-snippet", "[annotation-risky]", "[class-foreign]", "did you mean /developers?", "3 denied"}, ""},
		{"several -f, recursion", []string{"-f", "../../examples/admitted/grafana.yaml", "-f", "../../examples/denied"}, 1, []string{"4 Ingresses: 1 admitted (1 mutated), 3 denied"}, ""},
		{"kind List and multi-doc", []string{"-f", "testdata/list.yaml"}, 0, []string{"monitoring/grafana (testdata/list.yaml:2), mutated", "default/blog (testdata/list.yaml:14)", "2 Ingresses"}, ""},
		{"json file", []string{"-f", "testdata/ingress.json"}, 0, []string{"headlamp/headlamp", "allowed_groups=/sre"}, ""},
		{"never-intercepted namespace, another kind", []string{"-f", "testdata/kube-system.yaml"}, 0,
			[]string{"SKIPPED   kube-system/dashboard (testdata/kube-system.yaml:3): namespace kube-system is never intercepted", "1 Ingress: 0 admitted (0 mutated), 0 denied, 1 skipped; other objects not judged: 1"}, ""},
		{"privgate's own namespace, as serve's --namespace", []string{"--namespace", "monitoring", "-f", "../../examples/denied/grafana-snippet.yaml"}, 0,
			[]string{"SKIPPED   monitoring/grafana-snippet", "namespace monitoring is never intercepted"}, ""},
		{"bad yaml names file and line", []string{"-f", "testdata/bad-yaml.yaml"}, 2, nil, "testdata/bad-yaml.yaml:10: not valid YAML"},
		{"old apiVersion", []string{"-f", "testdata/old-api.yaml"}, 2, nil, "testdata/old-api.yaml:1: Ingress default/legacy: apiVersion extensions/v1beta1 is not judged for kind Ingress; use networking.k8s.io/v1"},
		{"missing file", []string{"-f", "testdata/nope.yaml"}, 2, nil, "nope.yaml"},
		{"cross-object rules from the files given", []string{"-f", "testdata/shared-host.yaml"}, 1,
			[]string{"[host-owned] tenant/grafana grafana.private.example.com spec.rules[0].host: already served by Ingress monitoring/grafana",
				`[class-controller] monitoring/grafana grafana.private.example.com spec.ingressClassName: IngressClass "nginx" is served by controller "example.com/not-nginx"`}, ""},
		{"every document gets its verdict or its error", []string{"-f", "testdata/mixed.yaml", "-f", "testdata/nope.yaml"}, 2,
			[]string{"ADMITTED  monitoring/grafana (testdata/mixed.yaml:3), mutated", "DENIED    monitoring/snippet (testdata/mixed.yaml:17)", "[annotation-risky]",
				"2 Ingresses: 1 admitted (1 mutated), 1 denied, 3 unreadable"},
			"testdata/mixed.yaml:10: not valid YAML"},
		{"no apiVersion", []string{"-f", "testdata/no-apiversion.yaml"}, 2, []string{"monitoring/prometheus (testdata/no-apiversion.yaml:20), mutated", "1 Ingress: 1 admitted (1 mutated), 0 denied, 4 unreadable"},
			"testdata/no-apiversion.yaml:3: Ingress monitoring/grafana has no apiVersion"},
		{"the API server's default IngressClass, from the files", []string{"-f", "testdata/default-class.yaml"}, 1,
			[]string{"DENIED    monitoring/grafana (testdata/default-class.yaml:18)", `[class-foreign] monitoring/grafana grafana.private.example.com spec.ingressClassName: class "traefik"`,
				"spec.ingressClassName traefik: the cluster's default IngressClass, set by the API server", "ADMITTED  monitoring/prometheus"}, ""},
		{"several default IngressClasses: the newest", []string{"-f", "testdata/default-classes.yaml"}, 0,
			[]string{"ADMITTED  monitoring/grafana", "spec.ingressClassName nginx: the cluster's default IngressClass"}, ""},
		{"no -f", nil, 2, nil, `required flag(s) "filename" not set`},
		{"bad output", []string{"-o", "xml", "-f", "testdata/list.yaml"}, 2, nil, "want text, json or yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"check", "--config", exampleConfig}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			if !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr %q lacks %q", stderr, c.stderr)
			}
		})
	}
}

// Bindings in files (Helm output, GitOps repositories) are judged like Ingresses once the config
// has an rbac section; without one they are other objects, only counted.
func TestCheckBindings(t *testing.T) {
	code, stdout, _ := runCmd(t, "check", "--config", "testdata/rbac.yaml", "-f", "testdata/bindings.yaml")
	for _, want := range []string{
		"ADMITTED  monitoring/grafana-editors (testdata/bindings.yaml:2): as written, untouched",
		"DENIED    sre-admins (testdata/bindings.yaml:9)",
		`[group-unknown] sre-admins subjects[0].name: subject "oidc:/SRE" names group "/SRE", which does not exist`,
		"did you mean oidc:/sre?",
		"2 objects: 1 admitted (0 mutated), 1 denied",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	code, stdout, _ = runCmd(t, "check", "--config", exampleConfig, "-f", "testdata/bindings.yaml")
	if code != 0 || !strings.Contains(stdout, "other objects not judged: 2") {
		t.Errorf("without rbac: exit %d\n%s", code, stdout)
	}
}

func TestCheckBadConfig(t *testing.T) {
	code, _, stderr := runCmd(t, "check", "--config", "testdata/list.yaml", "-f", "testdata/list.yaml")
	if code != 2 || !strings.Contains(stderr, "testdata/list.yaml:2: apiVersion: unknown key") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// -o json is the contract CI pipelines parse: one element per Ingress with the exact patch and
// the object after mutation.
func TestCheckJSON(t *testing.T) {
	// examples/traefik has a config of its own.
	code, stdout, _ := runCmd(t, "check", "--config", exampleConfig, "-o", "json", "-f", "../../examples/admitted", "-f", "../../examples/denied", "-f", "../../examples/istio", "-f", "../../examples/envoy-gateway")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var results []struct {
		Kind, Namespace, Name string
		Allowed               bool
		Violations            []struct{ ID, Host, Field, Message string }
		Warnings              []any
		Patch                 []struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Value any    `json:"value"`
		}
		Mutated map[string]any
	}
	if err := json.Unmarshal([]byte(stdout), &results); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if len(results) != 13 { // 7 Ingresses, examples/istio's 3 objects, examples/envoy-gateway's 3 (its ReferenceGrant is not judged)
		t.Fatalf("%d results", len(results))
	}
	byName := map[string]int{}
	for i, r := range results {
		byName[r.Namespace+"/"+r.Name] = i
		if r.Violations == nil || r.Warnings == nil || r.Patch == nil || r.Mutated == nil {
			t.Errorf("%s: incomplete result %+v", r.Name, r)
		}
	}
	argo := results[byName["argocd/argocd-server"]]
	if !argo.Allowed || len(argo.Patch) != 5 || argo.Patch[2].Path != "/metadata/annotations/nginx.ingress.kubernetes.io~1auth-url" {
		t.Errorf("argocd-server: %+v", argo)
	}
	ann := argo.Mutated["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann["nginx.ingress.kubernetes.io/auth-url"] != "https://oauth2.private.example.com/oauth2/auth" || ann["nginx.ingress.kubernetes.io/backend-protocol"] != "HTTPS" {
		t.Errorf("mutated annotations: %v", ann)
	}
	snippet := results[byName["monitoring/grafana-snippet"]]
	if snippet.Allowed || snippet.Violations[0].ID != "annotation-risky" || snippet.Violations[0].Host != "grafana.private.example.com" {
		t.Errorf("grafana-snippet: %+v", snippet)
	}
}

// -o yaml prints the Ingresses as the cluster would store them, ready to diff or apply.
func TestCheckYAML(t *testing.T) {
	code, stdout, _ := runCmd(t, "check", "--config", exampleConfig, "-o", "yaml", "-f", "../../examples/admitted/grafana.yaml")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var ing struct {
		Metadata struct{ Annotations map[string]string }
		Spec     struct {
			TLS []struct {
				Hosts      []string
				SecretName string `json:"secretName"`
			}
		}
	}
	if err := yaml.Unmarshal([]byte(stdout), &ing); err != nil {
		t.Fatal(err)
	}
	if got := ing.Metadata.Annotations["nginx.ingress.kubernetes.io/auth-url"]; got != "https://oauth2.private.example.com/oauth2/auth?allowed_groups=/developers,/sre" {
		t.Errorf("auth-url %q", got)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "grafana-privgate-tls" {
		t.Errorf("tls %+v", ing.Spec.TLS)
	}
}

func TestPolicyTestCommand(t *testing.T) {
	dir := t.TempDir()
	code, stdout, _ := runCmd(t, "policy", "test", "-v", dir)
	if code != 0 || !strings.Contains(stdout, "PASS privgate_test.rego") || !strings.Contains(stdout, "failed") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	writeFile(t, dir+"/extra_test.rego", "package extra_test\n\ntest_fails if { 1 == 2 }\n")
	code, stdout, _ = runCmd(t, "policy", "test", dir)
	if code != 1 || !strings.Contains(stdout, "FAIL extra_test.rego:extra_test.test_fails") || !strings.Contains(stdout, "1 failed") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	writeFile(t, dir+"/extra_test.rego", "package extra_test\n\ntest_broken if {\n")
	code, _, stderr := runCmd(t, "policy", "test", dir)
	if code != 2 || !strings.Contains(stderr, "extra_test.rego") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// An admin judges real manifests under an edited policy before it ships.
func TestCheckWithPolicyDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/team.rego", `package privgate

deny contains {"id": "team-label", "host": concat(",", protected_hosts), "field": "metadata.labels[team]",
	"message": "private Ingresses carry a team label"} if {
	protected
	not input.object.metadata.labels.team
}
`)
	code, stdout, stderr := runCmd(t, "check", "--config", exampleConfig, "--policy-dir", dir, "-f", "../../examples/admitted/grafana.yaml")
	if code != 1 || !strings.Contains(stdout, "[team-label] monitoring/grafana grafana.private.example.com metadata.labels[team]") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	writeFile(t, dir+"/team.rego", "package privgate\n\ndeny contains x if {")
	code, _, stderr = runCmd(t, "check", "--config", exampleConfig, "--policy-dir", dir, "-f", "../../examples/admitted/grafana.yaml")
	if code != 2 || !strings.Contains(stderr, "team.rego") {
		t.Fatalf("broken policy: exit %d, %s", code, stderr)
	}
}

// TestCheckSchema: an Istio object with a field at the wrong level (as in hand-written
// tutorials) is unreadable, naming the field, as the API server's strict validation would;
// the Go types alone would drop the field and judge another policy than the one written.
func TestCheckSchema(t *testing.T) {
	file := filepath.Join(t.TempDir(), "login.yaml")
	bad := `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: login, namespace: istio-system}
spec:
  selector:
    matchLabels: {istio: ingressgateway}
    action: CUSTOM
    provider: {name: oauth2-proxy}
  rules:
  - {}
`
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, "check", "--config", exampleConfig, "-f", file)
	for _, want := range []string{"login.yaml:1: AuthorizationPolicy istio-system/login: does not match the AuthorizationPolicy CRD's schema",
		"spec.selector.action: Forbidden: field not declared in schema", "spec.selector.provider: Forbidden: field not declared in schema"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

// Every document the API server would refuse is an error naming its file, line and object, not
// another kind silently counted.
func TestCheckDocumentsWithoutType(t *testing.T) {
	code, _, stderr := runCmd(t, "check", "--config", exampleConfig, "-f", "testdata/no-apiversion.yaml")
	want := "testdata/no-apiversion.yaml:3: Ingress monitoring/grafana has no apiVersion\n" +
		"testdata/no-apiversion.yaml:7: web/blog (apiVersion networking.k8s.io/v1) has no kind\n" +
		"testdata/no-apiversion.yaml:11: web/bare has no apiVersion and no kind\n" +
		"testdata/no-apiversion.yaml:14: web/listed has no apiVersion and no kind\n"
	var got strings.Builder
	for line := range strings.Lines(stderr) {
		file, _, _ := strings.Cut(strings.TrimPrefix(line, "privgate check: "), ", which")
		got.WriteString(file + "\n")
	}
	if code != 2 || got.String() != want {
		t.Errorf("exit %d, want 2; errors:\n%s\nwant:\n%s", code, got.String(), want)
	}
}

// The config's defaultIngressClass stands for the cluster's default IngressClass when the files
// hold none; an IngressClass in the files wins.
func TestCheckDefaultIngressClassConfig(t *testing.T) {
	base, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	groupsFile, _ := filepath.Abs("../../examples/groups.txt")
	cfg := strings.Replace(string(base), "file: groups.txt", "file: "+groupsFile, 1) + "defaultIngressClass: traefik\n"
	writeFile(t, filepath.Join(dir, "privgate.yaml"), cfg)
	code, stdout, stderr := runCmd(t, "check", "--config", filepath.Join(dir, "privgate.yaml"), "-f", "../../examples/admitted/argocd-server.yaml")
	if code != 1 || !strings.Contains(stdout, `[class-foreign] argocd/argocd-server argocd.private.example.com spec.ingressClassName: class "traefik"`) ||
		!strings.Contains(stdout, "spec.ingressClassName traefik: the cluster's default IngressClass (defaultIngressClass)") {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCmd(t, "check", "--config", filepath.Join(dir, "privgate.yaml"), "-f", "../../examples/admitted/argocd-server.yaml", "-f", "testdata/default-classes.yaml")
	if code != 0 || !strings.Contains(stdout, "ADMITTED  argocd/argocd-server (../../examples/admitted/argocd-server.yaml") {
		t.Errorf("an IngressClass in the files wins: exit %d\n%s%s", code, stdout, stderr)
	}
}
