package ingress_test

import (
	"testing"

	"github.com/privgate/privgate/policy/ingress"
	"github.com/privgate/privgate/policy/targets"
	"github.com/privgate/privgate/test/testutil"
)

// TestTraefikRuleTable: the README's table of the rules for Ingresses of Traefik's classes and
// privgate_traefik.rego's rule ids are the same set. (Their cases, judged against stored
// Middlewares, are policy/traefik's testdata/cases/ingress-*.)
func TestTraefikRuleTable(t *testing.T) {
	modules := ingress.New(must(targets.LoadConfig("testdata/privgate.yaml"))).Modules()
	testutil.RuleTableMatchesPolicy(t, "### Ingresses of Traefik's classes", modules["privgate_traefik.rego"], 8)
}
