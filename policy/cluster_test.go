package policy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

// TestCrossObject: rules no single object decides, against an Index of what is stored.
func TestCrossObject(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ingress := func(ns, name, created, class, host string) []byte {
		meta := `"name":"` + name + `","namespace":"` + ns + `"`
		if created != "" {
			meta += `,"creationTimestamp":"` + created + `"`
		}
		return []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{` + meta + `},
		"spec":{"ingressClassName":"` + class + `","rules":[{"host":"` + host + `"}]}}`)
	}
	stored := func(r *policy.Reviewer) *policy.Index {
		x := policy.NewIndex()
		store(t, r, x,
			storedIngress("monitoring", "grafana", t0, "grafana.private.example.com"),
			storedIngress("tenant", "grafana", t0.Add(time.Hour), "grafana.private.example.com"),
			storedIngress("oauth2-proxy", "oauth2-proxy", t0, "oauth2.private.example.com"),
			storedIngress("evil", "old", t0.Add(-24*time.Hour), "old.private.example.com"),
			storedClass("nginx", "k8s.io/ingress-nginx"),
			storedClass("internal", "example.com/not-nginx"))
		return x
	}
	const grafana = "grafana.private.example.com"
	cases := map[string]struct {
		namespace, name, created, class string
		host                            string // grafana's when empty
		config                          string // appended to testdata/privgate.yaml
		want                            string // violation ids
		owner                           string // the owner a host-owned violation names
	}{
		"the owner, updated":                   {"monitoring", "grafana", "2026-11-01T00:00:00Z", "nginx", "", "", "", ""},
		"a newcomer in another namespace":      {"web", "grafana", "", "nginx", "", "", "host-owned", "monitoring/grafana"},
		"the younger claim, stored":            {"tenant", "grafana", "2026-11-01T01:00:00Z", "nginx", "", "", "host-owned", "monitoring/grafana"},
		"an old Ingress adding the host":       {"evil", "old", "2026-10-31T00:00:00Z", "nginx", "", "", "host-owned", "monitoring/grafana"},
		"oauth2-proxy's own (exempt) host":     {"evil", "auth", "", "nginx", "oauth2.private.example.com", "", "host-owned", "oauth2-proxy/oauth2-proxy"},
		"another Ingress, same namespace":      {"monitoring", "grafana-2", "", "nginx", "", "", "", ""},
		"a shared namespace":                   {"web", "grafana", "", "nginx", "", "hostOwnership: {sharedNamespaces: [web]}", "", ""},
		"the owner's namespace is shared":      {"web", "grafana", "", "nginx", "", "hostOwnership: {sharedNamespaces: [monitoring]}", "host-owned", "tenant/grafana"},
		"ownership off":                        {"web", "grafana", "", "nginx", "", "hostOwnership: {enabled: false}", "", ""},
		"a class served by another controller": {"monitoring", "grafana", "2026-11-01T00:00:00Z", "internal", "", "", "class-controller", ""},
		"an accepted controller":               {"monitoring", "grafana", "2026-11-01T00:00:00Z", "internal", "", "ingressControllers: [k8s.io/ingress-nginx, example.com/not-nginx]", "", ""},
		"a class not in the cluster":           {"monitoring", "grafana", "2026-11-01T00:00:00Z", "absent", "", "", "", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := reviewerWith(t, strings.NewReplacer("ingressClasses: [nginx]", "ingressClasses: [nginx, internal, absent]\n"+c.config))
			r.Cluster = stored(r)
			host := c.host
			if host == "" {
				host = grafana
			}
			d, err := r.Review(context.Background(), create(c.namespace, ingress(c.namespace, c.name, c.created, c.class, host)))
			if err != nil {
				t.Fatal(err)
			}
			if got := testutil.IDs(d.Violations); got != c.want {
				t.Fatalf("violations %v, want %q", d.Violations, c.want)
			}
			if c.owner != "" && !strings.Contains(d.Violations[0].Message, "Ingress "+c.owner+",") {
				t.Errorf("the owner is not named: %s", d.Violations[0].Message)
			}
		})
	}
}

// reviewerWith is testReviewer over testdata/privgate.yaml edited by edit.
func reviewerWith(t *testing.T, edit *strings.Replacer) *policy.Reviewer {
	t.Helper()
	return testutil.ReviewerEdited(t, "testdata", edit)
}

// store records stored objects (JSON) in x as the doors do.
func store(t *testing.T, r *policy.Reviewer, x *policy.Index, docs ...string) {
	t.Helper()
	for _, doc := range docs {
		testutil.Store(t, r, x, []byte(doc))
	}
}

// storedIngress is a stored Ingress answering host, created at created.
func storedIngress(ns, name string, created time.Time, host string) string {
	return fmt.Sprintf(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":%q,"namespace":%q,"creationTimestamp":%q},"spec":{"rules":[{"host":%q}]}}`,
		name, ns, created.Format(time.RFC3339), host)
}

// storedClass is a stored IngressClass of controller.
func storedClass(name, controller string) string {
	return fmt.Sprintf(`{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":%q},"spec":{"controller":%q}}`, name, controller)
}

// TestCrossObjectCache: a verdict that used the cluster is not served once the cluster changed.
func TestCrossObjectCache(t *testing.T) {
	r := testReviewer(t)
	x := policy.NewIndex()
	r.Cluster, r.Cache = x, policy.NewDecisionCache(1<<20)
	req := create("web", []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"grafana","namespace":"web"},
	"spec":{"ingressClassName":"nginx","rules":[{"host":"grafana.private.example.com"}]}}`))
	req.Object, _ = policy.ApplyPatch(req.Object, must(r.Mutate(req)).Patch)
	ctx := context.Background()
	if d := must(r.Validate(ctx, req)); !d.Allowed {
		t.Fatalf("alone, it is admitted: %v", d.Violations)
	}
	store(t, r, x, storedIngress("monitoring", "grafana", time.Now(), "grafana.private.example.com"))
	if d := must(r.Validate(ctx, req)); d.Allowed {
		t.Fatal("the cached allow outlived a new owner of its host")
	}
}
