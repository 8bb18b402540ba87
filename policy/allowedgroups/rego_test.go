package allowedgroups_test

import (
	"testing"

	"github.com/privgate/privgate/policy/allowedgroups"
	"github.com/privgate/privgate/test/testutil"
)

// TestRego runs the shared group checks' Rego tests.
func TestRego(t *testing.T) {
	testutil.RegoTests(t, allowedgroups.Modules(), 6)
}
