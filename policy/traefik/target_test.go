package traefik_test

import (
	"context"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/traefik"
	"github.com/privgate/privgate/test/testutil"
)

var update = flag.Bool("update", false, "rewrite the .golden files from what the policy says")

// TestCases judges the last object of each testdata/cases/*.yaml against the objects before it
// (testutil.Case). Ingresses go through mutation and validation, as privgate check and the two
// webhooks take them; the golden file holds the messages and, for an Ingress, the patch.
func TestCases(t *testing.T) {
	r := testutil.Reviewer(t, "testdata/privgate.yaml")
	files, _ := filepath.Glob("testdata/cases/*.yaml")
	if len(files) < 10 {
		t.Fatalf("found %d cases", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			want, req := testutil.Case(t, r, file)
			req, _ = r.Defaults(req) // as privgate check: what the API server sets first
			review := r.Review
			if req.Operation == "DELETE" {
				review = r.Validate // nothing to mutate
			}
			d, err := review(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var patch []string
			if len(d.Patch) > 0 {
				b, _ := json.Marshal(d.Patch)
				patch = append(patch, "patch: "+string(b))
			}
			testutil.CaseVerdict(t, file, req, d, want, patch, *update)
			if len(d.Patch) > 0 { // mutation is a fixpoint: Argo CD compares
				out, err := policy.ApplyPatch(req.Object, d.Patch)
				if err != nil {
					t.Fatal(err)
				}
				again := req
				again.Operation, again.Object = "UPDATE", out
				if d2, err := r.Mutate(again); err != nil || len(d2.Patch) > 0 {
					t.Errorf("second mutation: %v %v", d2.Patch, err)
				}
			}
		})
	}
}

// TestWithoutCluster: with no cluster to read (a reviewer given objects one by one), an Ingress
// of Traefik's class is still judged on its chain, whose login is then unknown: denied, never
// waved through for lack of entrypoints.
func TestWithoutCluster(t *testing.T) {
	r := testutil.Reviewer(t, "testdata/privgate.yaml")
	_, req := testutil.Case(t, r, "testdata/cases/ingress-login-missing.yaml")
	r.Cluster = nil
	d, err := r.Review(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || len(d.Violations) != 1 || d.Violations[0].ID != "traefik-login-invalid" {
		t.Errorf("allowed %v, violations %v: want traefik-login-invalid (the login Middleware unknown)", d.Allowed, d.Violations)
	}
}

// TestRego runs the traefik policy's Rego tests.
func TestRego(t *testing.T) {
	testutil.RegoTests(t, (&traefik.Target{}).Modules(), 1)
}

// TestRuleTableMatchesPolicy: the README's table of this target's rules and its policy's rule
// ids are the same set.
func TestRuleTableMatchesPolicy(t *testing.T) {
	testutil.RuleTableMatchesPolicy(t, "### Traefik's IngressRoutes, IngressRouteTCPs and Middlewares", (&traefik.Target{}).Modules()["traefik.rego"], 7)
}
