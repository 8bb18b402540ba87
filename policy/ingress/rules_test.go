package ingress_test

import (
	"testing"

	"github.com/privgate/privgate/policy/ingress"
	"github.com/privgate/privgate/policy/targets"
	"github.com/privgate/privgate/test/testutil"
)

// TestRuleTableMatchesPolicy: the README's table of rules and the rule ids the default policy can
// report are the same set, so an admin reading one never meets a rule missing from the other
// (and privgate.yaml's rules: map names what exists).
func TestRuleTableMatchesPolicy(t *testing.T) {
	cfg := must(targets.LoadConfig("testdata/privgate.yaml"))
	testutil.RuleTableMatchesPolicy(t, "### Rules of the default policy", ingress.New(cfg).Modules()["privgate.rego"], 20)
}
