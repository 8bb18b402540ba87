package policy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

// TestWatchSwaps: the policy directory changes the ways deployments change it, and each new
// policy is served without a restart: a ConfigMap volume's ..data symlink swapped, a symlink to
// the directory swapped to another one (git-sync), the directory removed (the watch is lost,
// said in a metric; the serving policy stays) and created again.
func TestWatchSwaps(t *testing.T) {
	defer policy.SetResync(50 * time.Millisecond)()
	site := func(version string) string { return "package privgate.site\n\nversion := \"" + version + "\"\n" }
	write := func(dir, version string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "site.rego"), []byte(site(version)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// swap points link at target atomically, as kubelet and git-sync do (a new link renamed over).
	swap := func(link, target string) {
		t.Helper()
		if err := os.Symlink(target, link+".tmp"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(link+".tmp", link); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]struct {
		setup  func(root string) string // lays out v1, returns the policy directory
		change func(root string)        // moves to v2
		lost   bool                     // the watch is lost on the way
	}{
		"ConfigMap volume (..data swapped)": {
			setup: func(root string) string {
				write(filepath.Join(root, "policy", "..v1"), "v1")
				swap(filepath.Join(root, "policy", "..data"), "..v1")
				swap(filepath.Join(root, "policy", "site.rego"), "..data/site.rego")
				return filepath.Join(root, "policy")
			},
			change: func(root string) {
				write(filepath.Join(root, "policy", "..v2"), "v2")
				swap(filepath.Join(root, "policy", "..data"), "..v2")
			},
		},
		"symlink to the directory swapped (git-sync)": {
			setup: func(root string) string {
				write(filepath.Join(root, "worktrees", "v1"), "v1")
				swap(filepath.Join(root, "policy"), filepath.Join(root, "worktrees", "v1"))
				return filepath.Join(root, "policy")
			},
			change: func(root string) {
				write(filepath.Join(root, "worktrees", "v2"), "v2")
				swap(filepath.Join(root, "policy"), filepath.Join(root, "worktrees", "v2"))
				_ = os.RemoveAll(filepath.Join(root, "worktrees", "v1"))
			},
		},
		"directory removed and created again": {
			setup: func(root string) string {
				write(filepath.Join(root, "policy"), "v1")
				return filepath.Join(root, "policy")
			},
			change: func(root string) {
				_ = os.RemoveAll(filepath.Join(root, "policy"))
			},
			lost: true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			dir := c.setup(root)
			r, err := testutil.NewReviewer("testdata/privgate.yaml", dir)
			if err != nil {
				t.Fatal(err)
			}
			serving := func() string { return r.Engine.Modules()["site.rego"] }
			if serving() != site("v1") {
				t.Fatalf("serving %q at start", serving())
			}
			policy.Watching.Set(0) // Watch sets it once it has read the directory
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- policy.Watch(ctx, dir, r.Engine, testr.New(t)) }()
			defer func() { cancel(); <-done }()
			eventually := func(what string, ok func() bool) {
				t.Helper()
				for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("never %s (serving %q)", what, serving())
					}
				}
			}
			eventually("watching", func() bool { return promtest.ToFloat64(policy.Watching) == 1 })
			lostBefore := promtest.ToFloat64(policy.WatchLost)
			c.change(root)
			if c.lost {
				eventually("reported the lost watch", func() bool {
					return promtest.ToFloat64(policy.Watching) == 0 && promtest.ToFloat64(policy.WatchLost) == lostBefore+1
				})
				if serving() != site("v1") {
					t.Errorf("serving %q with the directory gone, want the last policy", serving())
				}
				write(dir, "v2")
			}
			eventually("served v2", func() bool { return serving() == site("v2") })
			eventually("watching again", func() bool { return promtest.ToFloat64(policy.Watching) == 1 })
		})
	}
}
