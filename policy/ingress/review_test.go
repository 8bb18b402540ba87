package ingress_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/ingress"
	"github.com/privgate/privgate/policy/targets"
	"github.com/privgate/privgate/test/testutil"
)

// verdictText renders a decision as the golden files hold it.
func verdictText(name string, d policy.Decision) string {
	var b strings.Builder
	if d.Allowed {
		fmt.Fprintf(&b, "allowed (%d patch ops)\n", len(d.Patch))
	} else {
		b.WriteString("denied\n")
	}
	for _, m := range policy.Messages(name, d.Violations) {
		b.WriteString("deny: " + m + "\n")
	}
	for _, m := range policy.Messages(name, d.Warnings) {
		b.WriteString("warn: " + m + "\n")
	}
	return b.String()
}

// TestReviewGolden runs manifests through mutation and validation (privgate check's path) and
// compares the verdict and every message with testdata/review/NAME.verdict.
func TestReviewGolden(t *testing.T) {
	reviewGolden(t, testReviewer(t), append(must(filepath.Glob("testdata/review/*.yaml")), must(filepath.Glob("testdata/mutate/*.in.yaml"))...))
}

// TestReviewGoldenNGINXProvider: the same for testdata/nginx-provider, on a config whose class
// nginx is served by Traefik's NGINX provider (MicroK8s' shape).
func TestReviewGoldenNGINXProvider(t *testing.T) {
	reviewGolden(t, nginxProviderReviewer(t), must(filepath.Glob("testdata/nginx-provider/*.yaml")))
}

// nginxProviderReviewer judges with testdata/privgate.yaml, its class nginx served by Traefik's
// NGINX provider.
func nginxProviderReviewer(t *testing.T) *policy.Reviewer {
	return testutil.ReviewerEdited(t, "testdata", strings.NewReplacer("ingressClasses: [nginx]", "ingressClasses: [nginx]\nservedBy: {nginx: traefik-nginx-provider}"))
}

func reviewGolden(t *testing.T, r *policy.Reviewer, inputs []string) {
	for _, in := range inputs {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(in), ".yaml"), ".in")
		t.Run(filepath.Base(filepath.Dir(in))+"/"+name, func(t *testing.T) {
			raw := testutil.ReadYAML(t, in)
			var meta struct {
				Metadata struct{ Name, Namespace string }
			}
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Fatal(err)
			}
			req := create(meta.Metadata.Namespace, raw)
			req.Name = meta.Metadata.Name
			d, err := r.Review(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(strings.TrimSuffix(in, ".yaml"), ".in")+".verdict", []byte(verdictText(meta.Metadata.Namespace+"/"+meta.Metadata.Name, d)))
		})
	}
}

// TestReviewRequester covers what depends on the request rather than the object: who sends it
// and where.
func TestReviewRequester(t *testing.T) {
	r := testReviewer(t)
	solver := testutil.ReadYAML(t, "testdata/mutate/acme-solver.in.yaml")
	bare := testutil.ReadYAML(t, "testdata/mutate/bare.in.yaml")
	cases := map[string]struct {
		object    []byte
		namespace string
		username  string
		patched   bool
		skipped   bool
		note      string
		denied    string // the violations' ids
	}{
		"solver created by cert-manager":    {solver, "monitoring", "system:serviceaccount:cert-manager:cert-manager", false, false, "cert-manager HTTP-01 solver", ""},
		"solver shape from check (no user)": {solver, "monitoring", "", false, false, "cert-manager HTTP-01 solver", ""},
		// Anyone else's path under /.well-known/acme-challenge is served without auth.
		"solver shape created by someone else": {solver, "monitoring", "alice", true, false, "", "path-no-auth,path-no-tls-redirect"},
		"kube-system is never intercepted":     {bare, "kube-system", "alice", false, true, "namespace kube-system is never intercepted", ""},
		"privgate's namespace either":          {bare, "privgate", "alice", false, true, "namespace privgate is never intercepted", ""},
		"any other namespace":                  {bare, "argocd", "alice", true, false, "", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req := create(c.namespace, c.object)
			req.Username = c.username
			d, err := r.Review(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var denied []string
			for _, v := range d.Violations {
				denied = append(denied, v.ID)
			}
			if strings.Join(denied, ",") != c.denied || d.Allowed != (c.denied == "") {
				t.Errorf("allowed=%v, denied for %v, want %q", d.Allowed, d.Violations, c.denied)
			}
			if got := len(d.Patch) > 0; got != c.patched {
				t.Errorf("patched = %v, want %v (%v)", got, c.patched, d.Patch)
			}
			if d.Skipped != c.skipped || d.Note != c.note {
				t.Errorf("skipped, note = %v, %q, want %v, %q", d.Skipped, d.Note, c.skipped, c.note)
			}
		})
	}
}

func TestReviewMalformedObject(t *testing.T) {
	r := testReviewer(t)
	for name, obj := range map[string]string{
		"not json":       `{"kind":`,
		"rules a string": `{"metadata":{"name":"x"},"spec":{"rules":"grafana.private.example.com"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Review(context.Background(), create("default", []byte(obj)))
			if err == nil || !strings.Contains(err.Error(), "not a valid Ingress") {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// TestRego runs the default policy's Rego unit tests.
func TestRego(t *testing.T) {
	testutil.RegoTests(t, ingress.New(must(targets.LoadConfig("testdata/privgate.yaml"))).Modules(), 20)
}

// FuzzSurelyPublic guards the public fast path: whenever the partial decode lets an Ingress
// through as public, the full decode must agree that it answers no private host.
func FuzzSurelyPublic(f *testing.F) {
	f.Add("blog.example.com", "GRAFANA.private.example.com.", "", false)
	f.Add("", "*.example.com", "", true)
	f.Add("evilprivate.example.com", "x", "", false)
	f.Add("blog.example.com", "x", "www.example.com, Grafana.Private.Example.com", false)
	f.Add("blog.example.com", "x", "~^.*$", false)
	cfg := must(targets.LoadConfig("testdata/privgate.yaml"))
	target := ingress.New(cfg)
	f.Fuzz(func(t *testing.T, h1, h2, alias string, backend bool) {
		obj := map[string]any{"spec": map[string]any{"rules": []any{map[string]any{"host": h1}, map[string]any{"host": h2}}}}
		if alias != "" {
			obj["metadata"] = map[string]any{"annotations": map[string]any{"nginx.ingress.kubernetes.io/server-alias": alias}}
		}
		if backend {
			obj["spec"].(map[string]any)["defaultBackend"] = map[string]any{"service": map[string]any{"name": "x"}}
		}
		raw, _ := json.Marshal(obj)
		testutil.FastPathAgrees(t, target, raw)
	})
}

// TestRegexAliasWithPublicCatchAll: hostlessRules public makes rules without host public, not
// an nginx regex server-alias, which can take any private name that no exact or wildcard server
// claims (nginx tries regular expressions last, in order).
func TestRegexAliasWithPublicCatchAll(t *testing.T) {
	base, err := os.ReadFile("testdata/privgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	groupsFile, _ := filepath.Abs("testdata/groups.txt")
	cfg := strings.Replace(string(base), "file: groups.txt", "file: "+groupsFile, 1) + "hostlessRules: public\n"
	if err := os.WriteFile(filepath.Join(dir, "privgate.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := testutil.Reviewer(t, filepath.Join(dir, "privgate.yaml"))
	cases := map[string]struct {
		annotations map[string]string
		rules       []any
		denied      string
	}{
		"regex alias": {map[string]string{"nginx.ingress.kubernetes.io/server-alias": `~^(www\.)?grafana\..*$`},
			[]any{map[string]any{"host": "blog.example.com"}}, "annotation-risky,hosts-mixed"},
		"rule without host": {nil, []any{map[string]any{}}, ""},
		"public alias":      {map[string]string{"nginx.ingress.kubernetes.io/server-alias": "www.example.com"}, []any{map[string]any{"host": "blog.example.com"}}, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			obj, _ := json.Marshal(map[string]any{
				"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
				"metadata": map[string]any{"name": "blog", "namespace": "web", "annotations": c.annotations},
				"spec":     map[string]any{"ingressClassName": "nginx", "rules": c.rules},
			})
			d, err := r.Review(context.Background(), create("web", obj))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, v := range d.Violations {
				ids = append(ids, v.ID)
			}
			if got := strings.Join(ids, ","); got != c.denied {
				t.Errorf("denied for %q, want %q: %v", got, c.denied, d.Violations)
			}
		})
	}
}
