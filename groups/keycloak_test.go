package groups_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/groups/keycloakfake"
)

// clock is a settable time source.
type clock struct{ now atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) Advance(d time.Duration) { c.now.Add(int64(d)) }

func newSource(t testing.TB, kc *keycloakfake.Server, fullPath bool, log logr.Logger) (*groups.Keycloak, *clock) {
	t.Helper()
	secret := filepath.Join(t.TempDir(), "client-secret")
	if err := os.WriteFile(secret, []byte(kc.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.now.Store(time.Now().UnixNano())
	k, err := groups.NewKeycloak(groups.KeycloakOptions{
		URL: kc.URL, Realm: kc.Realm, ClientID: kc.ClientID, ClientSecretFile: secret, FullPath: fullPath,
		MaxStaleness: 15 * time.Minute, PageSize: 100, RequestTimeout: 2 * time.Second,
		RefreshTimeout: 300 * time.Millisecond, RefreshEvery: 5 * time.Second, Now: clk.Now,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	return k, clk
}

// manyGroups is 1,000+ groups, some nested two levels deep.
func manyGroups() []string {
	var out []string
	for i := range 1100 {
		out = append(out, fmt.Sprintf("/team-%04d", i))
	}
	for i := range 150 {
		out = append(out, fmt.Sprintf("/developers/squad-%03d", i), fmt.Sprintf("/developers/squad-%03d/oncall", i))
	}
	return append(out, "/SRE")
}

func TestKeycloakSync(t *testing.T) {
	cases := []struct {
		name     string
		mode     keycloakfake.Mode
		fullPath bool
		want     []string
		notWant  []string
	}{
		{"before 23, full paths", keycloakfake.Before23, true, []string{"/team-0000", "/team-1099", "/developers", "/developers/squad-149/oncall", "/SRE"}, []string{"oncall"}},
		{"23+, full paths", keycloakfake.Since23, true, []string{"/team-0000", "/team-1099", "/developers", "/developers/squad-149/oncall", "/SRE"}, []string{"oncall"}},
		{"before 23, names", keycloakfake.Before23, false, []string{"team-0000", "developers", "squad-149", "oncall", "SRE"}, []string{"/SRE"}},
		{"23+, names", keycloakfake.Since23, false, []string{"team-1099", "developers", "squad-000", "oncall", "SRE"}, []string{"/developers"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kc := keycloakfake.New(c.mode, manyGroups()...)
			defer kc.Close()
			k, _ := newSource(t, kc, c.fullPath, logr.Discard())
			if !k.Snapshot().Synced.IsZero() {
				t.Fatal("synced before the first sync: /readyz would be ready too early")
			}
			if err := k.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := k.Snapshot()
			wantLen := 1100 + 1 + 150*2 + 1
			if !c.fullPath {
				wantLen = 1100 + 1 + 150 + 1 + 1 // "oncall" repeats as a bare name
			}
			if s.Set.Len() != wantLen || s.Synced.IsZero() {
				t.Errorf("%d groups, want %d", s.Set.Len(), wantLen)
			}
			for _, g := range c.want {
				if !s.Set.Has(g) {
					t.Errorf("missing %q", g)
				}
			}
			for _, g := range c.notWant {
				if s.Set.Has(g) {
					t.Errorf("has %q in the wrong form", g)
				}
			}
			if kc.TokenRequests.Load() != 1 {
				t.Errorf("%d logins for one sync", kc.TokenRequests.Load())
			}
		})
	}
}

func TestKeycloakTokenReuseAndRelogin(t *testing.T) {
	kc := keycloakfake.New(keycloakfake.Since23, "/developers/frontend", "/sre")
	defer kc.Close()
	k, clk := newSource(t, kc, true, logr.Discard())
	ctx := context.Background()
	for range 3 {
		if err := k.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := kc.TokenRequests.Load(); got != 1 {
		t.Errorf("token not reused: %d logins for 3 syncs", got)
	}
	kc.ExpireTokens() // revoked or expired server-side: the next call gets 401
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kc.TokenRequests.Load(); got != 2 {
		t.Errorf("%d logins after a 401, want 2", got)
	}
	clk.Advance(6 * time.Minute) // past expires_in: renewed before use, no 401 round trip
	before := kc.AdminRequests.Load()
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kc.TokenRequests.Load(); got != 3 {
		t.Errorf("%d logins after expiry, want 3", got)
	}
	if got := kc.AdminRequests.Load() - before; got != 2 { // top level + /developers' children
		t.Errorf("%d admin requests, want 2 (no 401 retry)", got)
	}
}

// Keycloak failing or hanging never costs the snapshot; staleness turns denial into warning.
func TestKeycloakOutage(t *testing.T) {
	kc := keycloakfake.New(keycloakfake.Since23, "/developers", "/sre")
	defer kc.Close()
	k, clk := newSource(t, kc, true, logr.Discard())
	ctx := context.Background()
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	good := k.Snapshot()
	kc.Fail500.Store(true)
	if err := k.Sync(ctx); err == nil || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("sync against a 500: %v", err)
	}
	kc.Fail500.Store(false)
	kc.Hang.Store(true)
	start := time.Now()
	if err := k.Sync(ctx); err == nil {
		t.Error("sync against a hanging Keycloak succeeded")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("sync waited %s despite its timeout", waited)
	}
	if s := k.Snapshot(); s.Set != good.Set || s.Stale {
		t.Errorf("snapshot lost or stale after two failures: %+v", s)
	}
	clk.Advance(16 * time.Minute)
	if s := k.Snapshot(); !s.Stale || !s.Set.Has("/developers") {
		t.Errorf("past maxStaleness: stale=%v", s.Stale)
	}
	kc.Hang.Store(false)
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if k.Snapshot().Stale {
		t.Error("still stale after recovery")
	}
}

// synced is a Keycloak stand-in holding paths and a source that has read it once.
func synced(t *testing.T, paths ...string) (*keycloakfake.Server, *groups.Keycloak, *clock) {
	t.Helper()
	kc := keycloakfake.New(keycloakfake.Since23, paths...)
	t.Cleanup(kc.Close)
	k, clk := newSource(t, kc, true, logr.Discard())
	if err := k.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return kc, k, clk
}

// A group created between syncs is found by one coalesced, rate-limited refresh.
func TestKeycloakRefresh(t *testing.T) {
	kc, k, clk := synced(t, "/developers", "/sre")
	ctx := context.Background()
	if k.Refresh(ctx) {
		t.Error("refresh reports a change with nothing new")
	}
	kc.AddGroup("/ops")
	if k.Refresh(ctx) {
		t.Error("a second refresh within RefreshEvery ran")
	}
	clk.Advance(6 * time.Second)
	before := kc.AdminRequests.Load()
	var wg sync.WaitGroup
	var changed atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if k.Refresh(ctx) {
				changed.Add(1)
			}
		}()
	}
	wg.Wait()
	if !k.Snapshot().Set.Has("/ops") {
		t.Fatal("new group not found")
	}
	if got := kc.AdminRequests.Load() - before; got != 1 {
		t.Errorf("20 concurrent refreshes made %d listing requests, want 1", got)
	}
	if changed.Load() == 0 {
		t.Error("no caller learned of the change")
	}
	// A hanging Keycloak costs a refresh at most RefreshTimeout.
	kc.Hang.Store(true)
	clk.Advance(6 * time.Second)
	start := time.Now()
	k.Refresh(ctx)
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("refresh against a hanging Keycloak took %s", waited)
	}
}

func TestKeycloakSecretNeverLogged(t *testing.T) {
	kc := keycloakfake.New(keycloakfake.Since23, "/developers")
	defer kc.Close()
	var mu sync.Mutex
	var logs strings.Builder
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 10})
	k, _ := newSource(t, kc, true, log)
	ctx := context.Background()
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	kc.RotateSecret("rotated") // the file now holds a wrong secret: login fails, loudly
	kc.ExpireTokens()
	err := k.Sync(ctx)
	if err == nil || !strings.Contains(err.Error(), "login as client privgate") {
		t.Fatalf("bad secret: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	out := logs.String() + err.Error()
	if !strings.Contains(out, "keycloak groups synced") || !strings.Contains(out, "failing") {
		t.Errorf("state changes not logged:\n%s", out)
	}
	if strings.Contains(out, "s3cr3t-value") {
		t.Errorf("client secret in logs or errors:\n%s", out)
	}
}

// BenchmarkSnapshotWhileKeycloakHangs shows the admission path's read of the groups unaffected
// by a Keycloak that hangs: syncs run elsewhere, Snapshot never waits on them.
func BenchmarkSnapshotWhileKeycloakHangs(b *testing.B) {
	for _, hang := range []bool{false, true} {
		b.Run(fmt.Sprintf("hanging=%v", hang), func(b *testing.B) {
			kc := keycloakfake.New(keycloakfake.Since23, manyGroups()...)
			defer kc.Close()
			k, _ := newSource(b, kc, true, logr.Discard())
			if err := k.Sync(context.Background()); err != nil {
				b.Fatal(err)
			}
			kc.Hang.Store(hang)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { _ = k.Run(ctx) }() // syncing (or hanging) all along
			b.ReportAllocs()
			for b.Loop() {
				if !k.Snapshot().Set.Has("/developers/squad-042/oncall") {
					b.Fatal("lost a group")
				}
			}
		})
	}
}

// A group renamed in Keycloak (same id, new name and path, subgroups moved with it) is a new
// group set at the next sync: what was bound to the old name is now unknown.
func TestKeycloakRename(t *testing.T) {
	kc, k, _ := synced(t, "/sre/oncall", "/developers")
	ctx := context.Background()
	before := k.Snapshot().Set
	kc.RenameGroup("/sre", "site-reliability")
	if err := k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	after := k.Snapshot().Set
	if after.ID() == before.ID() {
		t.Fatal("a rename kept the group set")
	}
	if got := strings.Join(after.Names(), ","); got != "/developers,/site-reliability,/site-reliability/oncall" {
		t.Errorf("groups after the rename: %s", got)
	}
}
