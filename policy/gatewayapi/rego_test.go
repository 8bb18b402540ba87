package gatewayapi_test

import (
	"testing"

	"github.com/privgate/privgate/policy/gatewayapi"
	"github.com/privgate/privgate/test/testutil"
)

// TestRego runs the wording's Rego tests.
func TestRego(t *testing.T) {
	testutil.RegoTests(t, gatewayapi.Modules(), 5)
}
