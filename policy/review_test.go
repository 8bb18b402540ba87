package policy

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privgate/privgate/groups"
)

// verdictText renders a decision as the golden files hold it.
func verdictText(name string, d Decision) string {
	var b strings.Builder
	if d.Allowed {
		fmt.Fprintf(&b, "allowed (%d patch ops)\n", len(d.Patch))
	} else {
		b.WriteString("denied\n")
	}
	for _, m := range Messages(name, d.Violations) {
		b.WriteString("deny: " + m + "\n")
	}
	for _, m := range Messages(name, d.Warnings) {
		b.WriteString("warn: " + m + "\n")
	}
	return b.String()
}

// TestReviewGolden runs manifests through mutation and validation (privgate check's path) and
// compares the verdict and every message with testdata/review/NAME.verdict.
func TestReviewGolden(t *testing.T) {
	r := testReviewer(t)
	inputs, _ := filepath.Glob("testdata/review/*.yaml")
	inputs = append(inputs, must(filepath.Glob("testdata/mutate/*.in.yaml"))...)
	for _, in := range inputs {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(in), ".yaml"), ".in")
		t.Run(filepath.Base(filepath.Dir(in))+"/"+name, func(t *testing.T) {
			raw := readYAMLObject(t, in)
			ing, err := DecodeIngress(raw)
			if err != nil {
				t.Fatal(err)
			}
			d, err := r.Review(context.Background(), Request{Operation: "CREATE", Namespace: ing.Namespace, Name: ing.Name, Object: raw})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(strings.TrimSuffix(in, ".yaml"), ".in")+".verdict", []byte(verdictText(ing.Namespace+"/"+ing.Name, d)))
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestReviewRequester covers what depends on the request rather than the object: who sends it
// and where.
func TestReviewRequester(t *testing.T) {
	r := testReviewer(t)
	solver := readYAMLObject(t, "testdata/mutate/acme-solver.in.yaml")
	bare := readYAMLObject(t, "testdata/mutate/bare.in.yaml")
	cases := map[string]struct {
		object    []byte
		namespace string
		username  string
		patched   bool
		note      string
	}{
		"solver created by cert-manager":       {solver, "monitoring", "system:serviceaccount:cert-manager:cert-manager", false, "cert-manager HTTP-01 solver"},
		"solver shape from check (no user)":    {solver, "monitoring", "", false, "cert-manager HTTP-01 solver"},
		"solver shape created by someone else": {solver, "monitoring", "alice", true, ""},
		"kube-system is never intercepted":     {bare, "kube-system", "alice", false, "namespace kube-system is never intercepted"},
		"privgate's namespace either":          {bare, "privgate", "alice", false, "namespace privgate is never intercepted"},
		"any other namespace":                  {bare, "argocd", "alice", true, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := r.Review(context.Background(), Request{Operation: "CREATE", Namespace: c.namespace, Username: c.username, Object: c.object})
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed {
				t.Errorf("denied: %v", d.Violations)
			}
			if got := len(d.Patch) > 0; got != c.patched {
				t.Errorf("patched = %v, want %v (%v)", got, c.patched, d.Patch)
			}
			if d.Note != c.note {
				t.Errorf("note = %q, want %q", d.Note, c.note)
			}
		})
	}
}

// switchableSource is a group source whose snapshot tests change, and that can be refreshed.
type switchableSource struct {
	snap      atomic.Pointer[groups.Snapshot]
	onRefresh func() *groups.Snapshot
	refreshes atomic.Int32
}

func (s *switchableSource) Snapshot() *groups.Snapshot { return s.snap.Load() }

func (s *switchableSource) Refresh(context.Context) bool {
	s.refreshes.Add(1)
	if s.onRefresh == nil {
		return false
	}
	s.snap.Store(s.onRefresh())
	return true
}

func grafanaWithGroups(g string) []byte {
	return []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"grafana","namespace":"monitoring",
	"annotations":{"privgate.io/allowed-groups":"` + g + `"}},"spec":{"ingressClassName":"nginx","rules":[{"host":"grafana.private.example.com"}]}}`)
}

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
			d, err := r.Review(context.Background(), Request{Operation: "CREATE", Namespace: "monitoring", Object: grafanaWithGroups(c.group)})
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

func TestReviewMalformedObject(t *testing.T) {
	r := testReviewer(t)
	for name, obj := range map[string]string{
		"not json":       `{"kind":`,
		"rules a string": `{"metadata":{"name":"x"},"spec":{"rules":"grafana.private.example.com"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Review(context.Background(), Request{Namespace: "default", Object: []byte(obj)})
			if err == nil || !strings.Contains(err.Error(), "not a valid Ingress") {
				t.Fatalf("got %v", err)
			}
		})
	}
}
