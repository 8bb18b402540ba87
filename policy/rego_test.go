package policy

import (
	"context"
	"testing"
)

// TestRego runs the default policy's Rego unit tests (rego/*_test.rego) through OPA's tester, so
// `go test ./...` covers them.
func TestRego(t *testing.T) {
	n := 0
	err := TestModules(context.Background(), DefaultModules(), func(r TestResult) {
		n++
		if !r.Passed {
			t.Errorf("%s: %s", r.Name, r.Detail)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("ran %d Rego tests, want the whole suite", n)
	}
}
