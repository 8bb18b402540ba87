package rbac_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/rbac"
	"github.com/privgate/privgate/policy/targets"
	"github.com/privgate/privgate/test/testutil"
)

var (
	roleBinding        = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}
	clusterRoleBinding = schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}
)

func binding(kind schema.GroupVersionKind, ns string, subjects ...string) policy.Request {
	var subs []map[string]string
	for _, s := range subjects {
		k, name, _ := strings.Cut(s, "=")
		subs = append(subs, map[string]string{"kind": k, "name": name, "apiGroup": "rbac.authorization.k8s.io"})
	}
	obj, _ := json.Marshal(map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind.Kind,
		"metadata": map[string]any{"name": "grafana-editors", "namespace": ns},
		"roleRef":  map[string]string{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
		"subjects": subs,
	})
	return policy.Request{Kind: kind, Operation: "CREATE", Namespace: ns, Name: "grafana-editors", Object: obj}
}

// TestBindings: every group a binding grants must exist, as the token carries it; everything else
// a binding names is left alone.
func TestBindings(t *testing.T) {
	r := testutil.Reviewer(t, "testdata/privgate.yaml")
	cases := map[string]struct {
		req     policy.Request
		denied  string // violation ids
		message string // in the first violation
		note    string
	}{
		"a known group":                       {binding(roleBinding, "monitoring", "Group=oidc:/sre"), "", "", ""},
		"a group with the wrong case":         {binding(roleBinding, "monitoring", "Group=oidc:/SRE"), "group-unknown", `subject "oidc:/SRE" names group "/SRE", which does not exist, so the binding grants nothing (users get 403; the API server compares group names exactly); did you mean oidc:/sre?`, ""},
		"a bare name where paths are used":    {binding(roleBinding, "monitoring", "Group=oidc:sre"), "group-form", `write "oidc:/sre"`, ""},
		"every subject named":                 {binding(clusterRoleBinding, "", "Group=oidc:/sre", "Group=oidc:/ops", "Group=oidc:dev"), "group-form,group-unknown", "", ""},
		"system: groups are the API server's": {binding(clusterRoleBinding, "", "Group=system:masters", "Group=system:authenticated"), "", "", "no group subject under rbac.groupsPrefix"},
		"groups of another prefix":            {binding(roleBinding, "web", "Group=ldap:/whatever"), "", "", "no group subject under rbac.groupsPrefix"},
		"users and service accounts":          {binding(roleBinding, "web", "User=oidc:/alice", "ServiceAccount=oidc:/x"), "", "", "no group subject under rbac.groupsPrefix"},
		"kube-system is never intercepted":    {binding(roleBinding, "kube-system", "Group=oidc:/nobody"), "", "", "namespace kube-system is never intercepted"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := r.Review(context.Background(), c.req)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, v := range d.Violations {
				ids = append(ids, v.ID)
			}
			if strings.Join(ids, ",") != c.denied || d.Allowed != (c.denied == "") {
				t.Fatalf("violations %v, want %q", d.Violations, c.denied)
			}
			if c.message != "" && !strings.Contains(d.Violations[0].Message, c.message) {
				t.Errorf("message %q lacks %q", d.Violations[0].Message, c.message)
			}
			if d.Note != c.note {
				t.Errorf("note %q, want %q", d.Note, c.note)
			}
			if len(d.Patch) > 0 {
				t.Errorf("a binding was mutated: %v", d.Patch)
			}
		})
	}
}

// TestRBACRules: rbac.rules sets the modes of this target's rules apart from the Ingress
// target's, which share their ids.
func TestRBACRules(t *testing.T) {
	r := testutil.ReviewerEdited(t, "testdata", strings.NewReplacer("rbac:\n", "rules: {group-unknown: off}\nrbac:\n  rules: {group-unknown: warn}\n"))
	d, err := r.Review(context.Background(), binding(roleBinding, "web", "Group=oidc:/ops"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed || len(d.Warnings) != 1 || d.Warnings[0].ID != "group-unknown" {
		t.Fatalf("want a warning under rbac.rules, got %+v", d)
	}
}

// "did you mean" names the group as the subject should: prefixed, and a bare name when tokens
// carry names.
func TestSuggestionForm(t *testing.T) {
	cases := map[string]struct{ config, group, want string }{
		"paths": {"testdata/privgate.yaml", "oidc:/SRE", "did you mean oidc:/sre?"},
		"names": {"testdata/names.yaml", "oidc:SRE", "did you mean oidc:sre?"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := testutil.Reviewer(t, c.config)
			d, err := r.Review(context.Background(), binding(roleBinding, "web", "Group="+c.group))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Violations) != 1 || !strings.HasSuffix(d.Violations[0].Message, c.want) {
				t.Errorf("violations %v, want one ending %q", d.Violations, c.want)
			}
		})
	}
}

// TestRego runs the RBAC policy's Rego tests.
func TestRego(t *testing.T) {
	testutil.RegoTests(t, (&rbac.Target{}).Modules(), 5)
}

// FuzzSurelyPublic: whenever the partial read lets a binding through, the full decode finds no
// judged group either.
func FuzzSurelyPublic(f *testing.F) {
	f.Add("Group", "oidc:/sre", "User", "x")
	f.Add("Group", "system:masters", "Group", "oidc:")
	cfg, err := targets.LoadConfig("testdata/privgate.yaml")
	if err != nil {
		f.Fatal(err)
	}
	target := rbac.New(cfg)
	f.Fuzz(func(t *testing.T, k1, n1, k2, n2 string) {
		raw, _ := json.Marshal(map[string]any{"subjects": []any{map[string]string{"kind": k1, "name": n1}, map[string]string{"kind": k2, "name": n2}}})
		testutil.FastPathAgrees(t, target, raw)
	})
}
