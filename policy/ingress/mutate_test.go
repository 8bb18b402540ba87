package ingress_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"gomodules.xyz/jsonpatch/v2"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/test/testutil"
)

// TestMutateGolden runs every testdata/mutate/*.in.yaml through the mutating path and compares
// the exact patch (NAME.patch.json) and the object after applying it (NAME.out.yaml). Running the
// output through again must give an empty patch: Argo CD compares, so mutation must be a fixpoint.
func TestMutateGolden(t *testing.T) {
	r := testReviewer(t)
	inputs, _ := filepath.Glob("testdata/mutate/*.in.yaml")
	if len(inputs) < 10 {
		t.Fatalf("found %d cases", len(inputs))
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			raw := testutil.ReadYAML(t, in)
			d, err := r.Mutate(create("default", raw))
			if err != nil {
				t.Fatal(err)
			}
			if d.Patch == nil {
				d.Patch = []jsonpatch.Operation{}
			}
			patch, _ := json.MarshalIndent(d.Patch, "", "  ")
			golden(t, strings.Replace(in, ".in.yaml", ".patch.json", 1), append(patch, '\n'))
			out := applyPatch(t, raw, d)
			outYAML, err := yaml.JSONToYAML(out)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.Replace(in, ".in.yaml", ".out.yaml", 1), outYAML)

			update := create("default", out)
			update.Operation = "UPDATE"
			again, err := r.Mutate(update)
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Patch) != 0 {
				t.Errorf("mutation is not idempotent: second pass patches %+v", again.Patch)
			}
			// Same input, same bytes: jsonpatch walks maps randomly, the sorted patch must not.
			for range 5 {
				d2, _ := r.Mutate(create("default", raw))
				if d2.Patch == nil {
					d2.Patch = []jsonpatch.Operation{}
				}
				p2, _ := json.MarshalIndent(d2.Patch, "", "  ")
				if string(p2) != string(patch) {
					t.Fatalf("patch order is not stable:\n%s\nvs\n%s", patch, p2)
				}
			}
		})
	}
}
