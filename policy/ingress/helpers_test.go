package ingress_test

import (
	"flag"
	"os"
	"testing"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata from the current output")

// testReviewer is the decision core over testdata/privgate.yaml and its groups file, with the
// embedded default policy.
func testReviewer(t testing.TB) *policy.Reviewer {
	t.Helper()
	return testutil.Reviewer(t, "testdata/privgate.yaml")
}

// create is a CREATE of an Ingress in namespace.
func create(namespace string, obj []byte) policy.Request {
	return policy.Request{Kind: testutil.IngressKind, Operation: "CREATE", Namespace: namespace, Object: obj}
}

func applyPatch(t testing.TB, doc []byte, d policy.Decision) []byte {
	t.Helper()
	out, err := policy.ApplyPatch(doc, d.Patch)
	if err != nil {
		t.Fatal(err)
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
		t.Fatalf("%v (run go test ./policy/ingress/ -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (run with -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
