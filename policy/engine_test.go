package policy_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privgate/privgate/policy"
)

// extraRule is the README's example of an admin's extra rule.
const extraRule = `package privgate

deny contains {"id": "owner-label", "host": concat(",", protected_hosts), "field": "metadata.labels[team]",
	"message": "private Ingresses carry a team label; add metadata.labels.team"} if {
	protected
	not input.object.metadata.labels.team
}
`

func bareGrafana() policy.Request {
	return create("monitoring", []byte(`{"metadata":{"name":"grafana","namespace":"monitoring"},
	"spec":{"rules":[{"host":"grafana.private.example.com"}]}}`))
}

func denyIDs(t *testing.T, r *policy.Reviewer) []string {
	t.Helper()
	d, err := r.Review(context.Background(), bareGrafana())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range d.Violations {
		ids = append(ids, v.ID)
	}
	return ids
}

func TestPolicyOverrides(t *testing.T) {
	r := testReviewer(t)
	ctx := context.Background()
	if got := denyIDs(t, r); len(got) != 0 {
		t.Fatalf("default policy denies a bare private Ingress after mutation: %v", got)
	}
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() error {
		_, err := r.Engine.Reload(ctx, dir)
		return err
	}

	write("extra.rego", extraRule)
	if err := load(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(denyIDs(t, r), ","); got != "owner-label" {
		t.Fatalf("extension not in force: %v", got)
	}

	cases := map[string]struct {
		files map[string]string
		want  string
	}{
		"does not parse":     {map[string]string{"broken.rego": "package privgate\n\ndeny contains x if {"}, "parse policy"},
		"does not compile":   {map[string]string{"broken.rego": "package privgate\n\ndeny contains x if { x := undefined_function(1) }"}, "compile policy"},
		"fails its own test": {map[string]string{"broken_test.rego": "package privgate_test\n\ntest_no if { false }"}, "policy tests failed"},
		"defines no deny": {map[string]string{
			"privgate.rego":      "package privgate\n\nprotected := false\n\nprotected_hosts := []\n\nwarn contains 1 if { true }",
			"privgate_test.rego": "package privgate_test\n\ntest_nothing if { true }",
			"extra.rego":         "package privgate\n\nteam := 1",
		}, "no module defines data.privgate.deny"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for f, body := range c.files {
				path := filepath.Join(dir, f)
				if old, err := os.ReadFile(path); err == nil {
					defer write(f, string(old))
				} else {
					defer os.Remove(path)
				}
				write(f, body)
			}
			err := load()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if name == "fails its own test" {
				var tf *policy.TestFailure
				if !errors.As(err, &tf) || len(tf.Failed) != 1 {
					t.Errorf("want one failed test, got %v", err)
				}
			}
			// The last good policy keeps serving.
			if got := strings.Join(denyIDs(t, r), ","); got != "owner-label" {
				t.Fatalf("after a refused edit the policy changed: %v", got)
			}
		})
	}
}

func TestReadModulesSkipsConfigMapInternals(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "..2026_11_25_03_00_00.000000001")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(data, "extra.rego"), []byte(extraRule), 0o600)
	_ = os.Symlink(filepath.Base(data), filepath.Join(dir, "..data"))
	_ = os.Symlink(filepath.Join("..data", "extra.rego"), filepath.Join(dir, "extra.rego"))
	_ = os.WriteFile(filepath.Join(dir, "README.md"), []byte("not rego"), 0o600)
	mods, err := policy.ReadModules(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 || mods["extra.rego"] != extraRule {
		t.Fatalf("read %v", mods)
	}
}

// Network built-ins are not available to policies: a decision never waits on the network.
func TestNoNetworkBuiltins(t *testing.T) {
	r := testReviewer(t)
	mods := maps.Clone(r.Engine.Modules())
	mods["net.rego"] = "package privgate\n\ndeny contains x if { x := http.send({\"method\": \"get\", \"url\": \"https://example.com\"}) }"
	err := r.Engine.Load(context.Background(), mods)
	if err == nil || !strings.Contains(err.Error(), "http.send") {
		t.Fatalf("http.send accepted: %v", err)
	}
}
