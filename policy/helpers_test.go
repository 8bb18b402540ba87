package policy

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/groups"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata from the current output")

// testReviewer is the decision core over testdata/privgate.yaml and its groups file, with the
// embedded default policy.
func testReviewer(t testing.TB) *Reviewer {
	t.Helper()
	cfg, err := LoadConfig("testdata/privgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	names, err := groups.ReadFile(cfg.Path(cfg.Groups.File), true)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := NewEngine(context.Background(), cfg, DefaultModules())
	if err != nil {
		t.Fatal(err)
	}
	return &Reviewer{Config: cfg, Engine: engine, Groups: groups.NewStatic(names), NeverBlock: []string{"kube-system", "privgate"}}
}

// readYAMLObject reads a YAML manifest as JSON.
func readYAMLObject(t testing.TB, path string) []byte {
	t.Helper()
	y, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return j
}

// applyPatch applies JSON patch ops to a document, as the API server does with a webhook's patch.
func applyPatch(t testing.TB, doc []byte, ops any) []byte {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatchapply.DecodePatch(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatalf("apply patch %s: %v", b, err)
	}
	return out
}

// golden compares got with the file's content, or rewrites the file under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./policy/ -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (run with -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
