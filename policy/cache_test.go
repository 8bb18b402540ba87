package policy_test

import (
	"bytes"
	"context"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	pgtest "github.com/privgate/privgate/test/testutil"
)

func lookups(webhook, result string) float64 {
	return testutil.ToFloat64(policy.CacheLookups.WithLabelValues(webhook, result))
}

// TestCacheAnswersAsComputed judges every golden input twice through a cached reviewer: the second
// answer must come from the cache and equal the first, and both must equal an uncached reviewer's.
func TestCacheAnswersAsComputed(t *testing.T) {
	plain := testReviewer(t)
	cached := *plain
	cached.Cache = policy.NewDecisionCache(1 << 20)
	inputs := append(must(filepath.Glob("ingress/testdata/review/*.yaml")), must(filepath.Glob("ingress/testdata/mutate/*.in.yaml"))...)
	ctx := context.Background()
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw := pgtest.ReadYAML(t, in)
			req := create("monitoring", raw)
			req.Name = "x"
			want, err := plain.Mutate(req)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				hits := lookups("mutate", "hit")
				got, err := cached.Mutate(req)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("mutate call %d: cached decision differs:\n got %+v\nwant %+v", i, got, want)
				}
				if hit := lookups("mutate", "hit") - hits; hit != float64(i) {
					t.Fatalf("mutate call %d: %v hits, want %d", i, hit, i)
				}
			}
			if req.Object, err = policy.ApplyPatch(raw, want.Patch); err != nil {
				t.Fatal(err)
			}
			wantV, err := plain.Validate(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				got, err := cached.Validate(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got.Violations, wantV.Violations) || got.Allowed != wantV.Allowed || !reflect.DeepEqual(got.Warnings, wantV.Warnings) {
					t.Fatalf("validate call %d: cached verdict differs:\n got %v\nwant %v", i, got.Violations, wantV.Violations)
				}
			}
		})
	}
}

// TestCacheKey covers what must never meet an old answer: every input of the decision changes
// the key, and what cannot be kept is not kept.
func TestCacheKey(t *testing.T) {
	ctx := context.Background()
	known := groups.NewSet([]string{"/developers", "/sre"})
	good := create("monitoring", grafanaWithGroups("/sre"))
	good.Name, good.Username = "grafana", "alice"
	cases := map[string]struct {
		second func(r *policy.Reviewer, src *switchableSource, req *policy.Request)
		hit    bool
	}{
		"same request again": {func(*policy.Reviewer, *switchableSource, *policy.Request) {}, true},
		"another requester":  {func(_ *policy.Reviewer, _ *switchableSource, q *policy.Request) { q.Username = "bob" }, false},
		"dry run":            {func(_ *policy.Reviewer, _ *switchableSource, q *policy.Request) { q.DryRun = true }, false},
		"update":             {func(_ *policy.Reviewer, _ *switchableSource, q *policy.Request) { q.Operation = "UPDATE" }, false},
		"another namespace":  {func(_ *policy.Reviewer, _ *switchableSource, q *policy.Request) { q.Namespace = "argocd" }, false},
		"another name":       {func(_ *policy.Reviewer, _ *switchableSource, q *policy.Request) { q.Name = "grafana2" }, false},
		"one byte of the object": {func(_ *policy.Reviewer, _ *switchableSource, q *policy.Request) {
			q.Object = bytes.Replace(q.Object, []byte("grafana.private"), []byte("grafanb.private"), 1)
		}, false},
		"a new group set": {func(_ *policy.Reviewer, s *switchableSource, _ *policy.Request) {
			s.snap.Store(&groups.Snapshot{Set: groups.NewSet([]string{"/developers", "/sre"}), Synced: time.Now()})
		}, false},
		"the group source turns stale": {func(_ *policy.Reviewer, s *switchableSource, _ *policy.Request) {
			s.snap.Store(&groups.Snapshot{Set: known, Synced: time.Now(), Stale: true})
		}, false},
		"a policy reload": {func(r *policy.Reviewer, _ *switchableSource, _ *policy.Request) {
			if err := r.Engine.Load(ctx, r.Engine.Modules()); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := testReviewer(t)
			r.Cache = policy.NewDecisionCache(1 << 20)
			src := &switchableSource{}
			src.snap.Store(&groups.Snapshot{Set: known, Synced: time.Now()})
			r.Groups = src
			if _, err := r.Validate(ctx, good); err != nil {
				t.Fatal(err)
			}
			req := good
			c.second(r, src, &req)
			hits := lookups("validate", "hit")
			if _, err := r.Validate(ctx, req); err != nil {
				t.Fatal(err)
			}
			if hit := lookups("validate", "hit") > hits; hit != c.hit {
				t.Errorf("hit = %v, want %v", hit, c.hit)
			}
		})
	}
}

func TestCacheKeepsOnlyWhatMayBeKept(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		req  policy.Request
		kept bool
	}{
		"allowed":            {create("monitoring", grafanaWithGroups("/sre")), true},
		"denied":             {create("monitoring", grafanaWithGroups("sre")), true},
		"unknown group":      {create("monitoring", grafanaWithGroups("/ops")), false},
		"never-blocked":      {create("kube-system", grafanaWithGroups("/sre")), false},
		"malformed":          {create("monitoring", []byte(`{"spec":{"rules":"x"}}`)), false},
		"over 64 KiB object": {create("monitoring", grafanaWithGroups("/sre"+strings.Repeat(",/sre", 14000))), false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := testReviewer(t)
			r.Cache = policy.NewDecisionCache(1 << 20)
			_, _ = r.Validate(ctx, c.req)
			if kept := policy.CacheLen(r.Cache) == 1; kept != c.kept {
				t.Errorf("kept = %v, want %v", kept, c.kept)
			}
		})
	}
}

func TestCacheDisabled(t *testing.T) {
	if c := policy.NewDecisionCache(0); c != nil {
		t.Fatalf("size 0 gave a cache: %v", c)
	}
	r := testReviewer(t)
	misses := lookups("validate", "miss")
	for range 2 {
		if _, err := r.Validate(context.Background(), create("monitoring", grafanaWithGroups("/sre"))); err != nil {
			t.Fatal(err)
		}
	}
	if lookups("validate", "miss") != misses {
		t.Error("a reviewer without a cache counted lookups")
	}
}

// TestCacheNotKeptUnderAnotherSet: a verdict judged with another group set than the one its
// key names is not kept, even when the set is back by the time the verdict is filed (a request
// holding an older snapshot wrote its set between another's lookup and evaluation).
func TestCacheNotKeptUnderAnotherSet(t *testing.T) {
	ctx := context.Background()
	a, b := groups.NewSet([]string{"/developers", "/sre"}), groups.NewSet([]string{"/developers", "/sre"})
	cases := map[string]struct {
		sets []*groups.Set // the snapshots the source answers in turn: key, evaluation, after
		kept int
	}{
		"one set throughout":        {[]*groups.Set{a}, 1},
		"another set while judging": {[]*groups.Set{a, b, a}, 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := testReviewer(t)
			r.Cache = policy.NewDecisionCache(1 << 20)
			r.Groups = &scriptedSource{sets: c.sets}
			d, err := r.Validate(ctx, create("monitoring", grafanaWithGroups("/sre")))
			if err != nil || policy.HasUnknownGroup(d.Violations) {
				t.Fatalf("want a verdict that may be kept: %v %v", err, d.Violations)
			}
			if n := policy.CacheLen(r.Cache); n != c.kept {
				t.Errorf("%d kept, want %d", n, c.kept)
			}
		})
	}
}

// scriptedSource answers its sets in turn, then the last one again.
type scriptedSource struct {
	mu   sync.Mutex
	sets []*groups.Set
}

func (s *scriptedSource) Snapshot() *groups.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.sets[0]
	if len(s.sets) > 1 {
		s.sets = s.sets[1:]
	}
	return &groups.Snapshot{Set: set, Synced: time.Now()}
}

// TestCacheNondeterministicPolicy: a policy that reads the clock or draws random numbers is
// judged every time; the default one is cached.
func TestCacheNondeterministicPolicy(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		extra string
		kept  bool
	}{
		"default policy":          {"", true},
		"time.now_ns in a rule":   {"package privgate\n\nnow := time.now_ns()\n", false},
		"rand.intn in a function": {"package privgate\n\npick(n) := rand.intn(\"x\", n)\n\nwarn contains {\"id\": \"x\", \"message\": \"m\"} if pick(10) > 100\n", false},
		"deterministic extension": {"package privgate\n\nwarn contains {\"id\": \"x\", \"message\": \"m\"} if upper(\"a\") == \"b\"\n", true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := testReviewer(t)
			mods := maps.Clone(r.Engine.Modules())
			if c.extra != "" {
				mods["extra.rego"] = c.extra
			}
			if err := r.Engine.Load(ctx, mods); err != nil {
				t.Fatal(err)
			}
			r.Cache = policy.NewDecisionCache(1 << 20)
			if _, err := r.Validate(ctx, create("monitoring", grafanaWithGroups("/sre"))); err != nil {
				t.Fatal(err)
			}
			if kept := policy.CacheLen(r.Cache) == 1; kept != c.kept {
				t.Errorf("kept = %v, want %v", kept, c.kept)
			}
		})
	}
}
