package istio_test

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"

	"github.com/privgate/privgate/policy/istio"
	"github.com/privgate/privgate/test/testutil"
)

var update = flag.Bool("update", false, "rewrite the .golden files from what the policy says")

// TestCases judges each testdata/cases/*.yaml (testutil.Cases says how).
func TestCases(t *testing.T) {
	testutil.Cases(t, testutil.Reviewer(t, "testdata/privgate.yaml"), "testdata/cases/*.yaml", *update)
}

// TestRego runs the istio policy's Rego tests.
func TestRego(t *testing.T) {
	testutil.RegoTests(t, (&istio.Target{}).Modules(), 10)
}

// TestSuggest: privgate istio policy's policies, for the stored objects of a case (every
// document: they are all in the cluster).
func TestSuggest(t *testing.T) {
	r := testutil.Reviewer(t, "testdata/privgate.yaml")
	cases := map[string]string{
		// A gateway that also serves public names: the hosts and their port forms.
		"vs-no-policy": `[{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"privgate-login","namespace":"istio-system"},"spec":{"action":"CUSTOM","provider":{"name":"oauth2-proxy"},"rules":[{"to":[{"operation":{"hosts":["grafana.private.example.com","grafana.private.example.com:*"]}}]}],"selector":{"matchLabels":{"app":"istio-ingressgateway","istio":"ingressgateway"}}}}]`,
		// A Gateway that publishes only private names: every request, by targetRefs.
		"httproute-no-policy": `[{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"privgate-login-private","namespace":"gateways"},"spec":{"action":"CUSTOM","provider":{"name":"oauth2-proxy"},"rules":[{}],"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"private"}]}}]`,
		// A route allowing only /developers behind the login for everyone: the group's provider.
		"httproute-groups-generic-login": `[{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"privgate-login-developers","namespace":"gateways"},"spec":{"action":"CUSTOM","provider":{"name":"oauth2-proxy-developers"},"rules":[{}],"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"developers"}]}}]`,
		"httproute-groups-login":         `null`,
		// Two sets of groups on one workload: the first set's provider, for its host and the
		// Gateway's own wildcard (every request); the other set's route must move (its comment).
		"httproute-groups-two-sets":      `[{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"privgate-login-developers","namespace":"gateways"},"spec":{"action":"CUSTOM","provider":{"name":"oauth2-proxy-developers"},"rules":[{}],"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"developers"}]}}]`,
		"vs-covered":                     `null`,
		"httproute-other-implementation": `null`, // nothing privgate can write covers it
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			index := testutil.StoredCase(t, r, "testdata/cases/"+name+".yaml")
			var policies []map[string]any
			for _, s := range istio.New(r.Config).Fixes(index) {
				policies = append(policies, s.Object)
			}
			got, _ := json.Marshal(policies)
			if string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestSuggestNamesOtherGroups: a workload whose routes ask for two providers gets the first;
// the comment names the host whose groups need a Gateway of their own.
func TestSuggestNamesOtherGroups(t *testing.T) {
	r := testutil.Reviewer(t, "testdata/privgate.yaml")
	fixes := istio.New(r.Config).Fixes(testutil.StoredCase(t, r, "testdata/cases/httproute-groups-two-sets.yaml"))
	if len(fixes) != 1 {
		t.Fatalf("%d fixes, want 1: %v", len(fixes), fixes)
	}
	want := "(allowed groups /developers); prometheus.private.example.com allow other groups, whose provider Istio cannot run on the same pods: publish them through a Gateway of their own"
	if !strings.Contains(fixes[0].Comment, want) {
		t.Errorf("comment %q\nlacks %q", fixes[0].Comment, want)
	}
}

// TestRuleTableMatchesPolicy: the README's table of this target's rules and its policy's rule
// ids are the same set.
func TestRuleTableMatchesPolicy(t *testing.T) {
	testutil.RuleTableMatchesPolicy(t, "### Hosts published through Istio and Gateway API gateways", (&istio.Target{}).Modules()["istio.rego"], 7)
}
