package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

func TestReviewGroupSources(t *testing.T) {
	base := testReviewer(t)
	known := groups.NewSet([]string{"/developers", "/sre"})
	cases := map[string]struct {
		snap      groups.Snapshot
		refreshed *groups.Snapshot
		group     string
		allowed   bool
		warned    bool
		refreshes int32
	}{
		"known group":                     {groups.Snapshot{Set: known}, nil, "/sre", true, false, 0},
		"unknown group, fresh snapshot":   {groups.Snapshot{Set: known}, nil, "/ops", false, false, 1},
		"created since the last sync":     {groups.Snapshot{Set: known}, &groups.Snapshot{Set: groups.NewSet([]string{"/developers", "/sre", "/ops"})}, "/ops", true, false, 1},
		"source unreachable for too long": {groups.Snapshot{Set: known, Stale: true}, nil, "/ops", true, true, 0},
		"stale does not excuse bad form":  {groups.Snapshot{Set: known, Stale: true}, nil, "ops", false, false, 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			src := &switchableSource{}
			snap := c.snap
			snap.Synced = time.Now()
			src.snap.Store(&snap)
			if c.refreshed != nil {
				src.onRefresh = func() *groups.Snapshot { return c.refreshed }
			}
			r := *base
			r.Groups = src
			d, err := r.Review(context.Background(), create("monitoring", grafanaWithGroups(c.group)))
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed || (len(d.Warnings) > 0) != c.warned {
				t.Errorf("allowed=%v warnings=%v, want allowed=%v warned=%v; violations %v", d.Allowed, d.Warnings, c.allowed, c.warned, d.Violations)
			}
			if got := src.refreshes.Load(); got != c.refreshes {
				t.Errorf("refreshes = %d, want %d", got, c.refreshes)
			}
		})
	}
}

// TestRoute: the core, not the door, decides which requests are judged. Every door (webhook,
// check) therefore gives the same answer for the same object.
func TestRoute(t *testing.T) {
	r := testReviewer(t)
	bare := []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"grafana"},"spec":{"rules":[{"host":"grafana.private.example.com"}]}}`)
	v1beta1 := schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1beta1", Kind: "Ingress"}
	cases := map[string]struct {
		kind      schema.GroupVersionKind
		op        string
		namespace string
		skipped   string // the note of a skipped request; "" when judged
		err       string
	}{
		"an Ingress":                {testutil.IngressKind, "CREATE", "monitoring", "", ""},
		"an update":                 {testutil.IngressKind, "UPDATE", "monitoring", "", ""},
		"a delete":                  {testutil.IngressKind, "DELETE", "monitoring", "operation DELETE is not judged", ""},
		"another kind":              {schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "CREATE", "monitoring", "kind ConfigMap is not judged", ""},
		"no kind at all":            {schema.GroupVersionKind{}, "CREATE", "monitoring", "kind  is not judged", ""},
		"kube-system":               {testutil.IngressKind, "CREATE", "kube-system", "namespace kube-system is never intercepted", ""},
		"privgate's own namespace":  {testutil.IngressKind, "CREATE", "privgate", "namespace privgate is never intercepted", ""},
		"an Ingress of an old API":  {v1beta1, "CREATE", "monitoring", "", "apiVersion networking.k8s.io/v1beta1 is not judged for kind Ingress; use networking.k8s.io/v1"},
		"an old API in kube-system": {v1beta1, "CREATE", "kube-system", "namespace kube-system is never intercepted", ""},
		"a retired API group":       {schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Ingress"}, "CREATE", "monitoring", "", "apiVersion extensions/v1beta1 is not judged for kind Ingress; use networking.k8s.io/v1"},
	}
	ctx := context.Background()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			req := policy.Request{Kind: c.kind, Operation: c.op, Namespace: c.namespace, Object: bare}
			for door, decide := range map[string]func() (policy.Decision, error){
				"mutate":   func() (policy.Decision, error) { return r.Mutate(req) },
				"validate": func() (policy.Decision, error) { return r.Validate(ctx, req) },
				"review":   func() (policy.Decision, error) { return r.Review(ctx, req) },
			} {
				d, err := decide()
				if c.err != "" {
					var unsupported *policy.UnsupportedError
					if !errors.As(err, &unsupported) || !strings.Contains(err.Error(), c.err) {
						t.Errorf("%s: got %v, want an UnsupportedError %q", door, err, c.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", door, err)
				}
				if d.Skipped != (c.skipped != "") || c.skipped != "" && d.Note != c.skipped {
					t.Errorf("%s: skipped=%v note %q, want %q", door, d.Skipped, d.Note, c.skipped)
				}
				if c.skipped != "" && (!d.Allowed || len(d.Patch) > 0) {
					t.Errorf("%s: a skipped request must be allowed untouched: %+v", door, d)
				}
				if c.skipped == "" && door != "validate" && len(d.Patch) == 0 && c.kind == testutil.IngressKind {
					t.Errorf("%s: a judged bare private Ingress must be mutated", door)
				}
			}
		})
	}
}

// TestAuditEveryNamespace: admission never judges a never-intercepted namespace, the audit
// judges every namespace: an unprotected private Ingress in kube-system is reported, not skipped.
func TestAuditEveryNamespace(t *testing.T) {
	r := testReviewer(t)
	bare := []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"dashboard"},"spec":{"rules":[{"host":"dashboard.private.example.com"}]}}`)
	ctx := context.Background()
	for _, ns := range []string{"kube-system", "privgate", "monitoring"} {
		t.Run(ns, func(t *testing.T) {
			req := policy.Request{Kind: testutil.IngressKind, Operation: "UPDATE", Namespace: ns, Object: bare}
			admitted, err := r.Validate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if intercepted := r.Intercepts(ns); admitted.Skipped == intercepted {
				t.Errorf("Validate: skipped=%v in a namespace intercepted=%v", admitted.Skipped, intercepted)
			}
			audited, err := r.Audit(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if audited.Skipped || audited.Allowed || !strings.Contains(testutil.IDs(audited.Violations), "auth-missing") {
				t.Errorf("Audit: skipped=%v allowed=%v violations %s, want auth-missing", audited.Skipped, audited.Allowed, testutil.IDs(audited.Violations))
			}
			if state := r.Config.HostState("dashboard.private.example.com", audited); state != policy.HostUnprotected {
				t.Errorf("host state %q, want unprotected", state)
			}
		})
	}
	if r.Intercepts("kube-system") {
		t.Error("Audit changed the reviewer: kube-system is intercepted now")
	}
}

// TestEnforcement: deny | warn | audit | off per rule, per namespace and globally, the most
// specific winning, and never stronger than what the policy says.
func TestEnforcement(t *testing.T) {
	// Denied for class-foreign (and nothing else once mutated); warned by group-unknown, since
	// the group source is stale.
	obj := []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"grafana",
	"annotations":{"privgate.io/allowed-groups":"/ops"}},
	"spec":{"ingressClassName":"traefik","rules":[{"host":"grafana.private.example.com"}]}}`)
	stale := &switchableSource{}
	stale.snap.Store(&groups.Snapshot{Set: groups.NewSet([]string{"/developers"}), Synced: time.Now(), Stale: true})
	type lists struct{ deny, warn, audit string }
	cases := map[string]struct {
		config    string // privgate.yaml's enforcement and rules
		namespace string
		want      lists
	}{
		"defaults":                     {"", "monitoring", lists{"class-foreign", "group-unknown", ""}},
		"global warn":                  {"enforcement: {default: warn}", "monitoring", lists{"", "class-foreign,group-unknown", ""}},
		"global audit":                 {"enforcement: {default: audit}", "monitoring", lists{"", "", "class-foreign,group-unknown"}},
		"global off":                   {"enforcement: {default: off}", "monitoring", lists{"", "", ""}},
		"namespace warn":               {"enforcement: {namespaces: {monitoring: warn}}", "monitoring", lists{"", "class-foreign,group-unknown", ""}},
		"another namespace's warn":     {"enforcement: {namespaces: {legacy: warn}}", "monitoring", lists{"class-foreign", "group-unknown", ""}},
		"namespace beats global":       {"enforcement: {default: warn, namespaces: {monitoring: deny}}", "monitoring", lists{"class-foreign", "group-unknown", ""}},
		"rule beats namespace":         {"enforcement: {namespaces: {monitoring: warn}}\nrules: {class-foreign: deny}", "monitoring", lists{"class-foreign", "group-unknown", ""}},
		"rule off":                     {"rules: {group-unknown: off}", "monitoring", lists{"class-foreign", "", ""}},
		"rule audit":                   {"rules: {class-foreign: audit}", "monitoring", lists{"", "group-unknown", "class-foreign"}},
		"a warning never becomes deny": {"rules: {group-unknown: deny}", "monitoring", lists{"class-foreign", "group-unknown", ""}},
	}
	ctx := context.Background()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := reviewerWith(t, strings.NewReplacer("ingressClasses: [nginx]", "ingressClasses: [nginx]\n"+c.config))
			r.Groups = stale
			d, err := r.Review(ctx, create(c.namespace, obj))
			if err != nil {
				t.Fatal(err)
			}
			got := lists{testutil.IDs(d.Violations), testutil.IDs(d.Warnings), testutil.IDs(d.Audited)}
			if got != c.want {
				t.Errorf("deny/warn/audit = %+v, want %+v", got, c.want)
			}
			if d.Allowed != (c.want.deny == "") {
				t.Errorf("allowed = %v with violations %v", d.Allowed, d.Violations)
			}
			if len(d.Patch) == 0 {
				t.Error("an admitted private Ingress is still mutated, whatever the mode")
			}
		})
	}
}
