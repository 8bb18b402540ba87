package istio_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/istio"
	"github.com/privgate/privgate/test/testutil"
)

var update = flag.Bool("update", false, "rewrite the .golden files from what the policy says")

// TestCases judges the last object of each testdata/cases/*.yaml against the objects before it,
// as the webhook does against what is stored (an UPDATE's earlier version is the document of
// the same name before it; a DELETE removes the last document). The file's first lines say what is expected:
// "# want: id, id" (none: admitted) and, optionally, "# operation: DELETE". The messages are
// compared with NAME.golden (go test -update rewrites them).
func TestCases(t *testing.T) {
	r := testutil.Reviewer(t, "testdata/privgate.yaml")
	files, _ := filepath.Glob("testdata/cases/*.yaml")
	if len(files) == 0 {
		t.Fatal("no cases")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			want, req := testutil.Case(t, r, file)
			d, err := r.Validate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			testutil.CaseVerdict(t, file, req, d, want, nil, *update)
		})
	}
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
		"httproute-no-policy":            `[{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"privgate-login-private","namespace":"gateways"},"spec":{"action":"CUSTOM","provider":{"name":"oauth2-proxy"},"rules":[{}],"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"private"}]}}]`,
		"vs-covered":                     `null`,
		"httproute-other-implementation": `null`, // nothing privgate can write covers it
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/cases/" + name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			index := policy.NewIndex()
			for _, d := range testutil.CaseDocuments(t, data) {
				testutil.StoreCase(t, r, index, d)
			}
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

// TestRuleTableMatchesPolicy: the README's table of this target's rules and its policy's rule
// ids are the same set.
func TestRuleTableMatchesPolicy(t *testing.T) {
	testutil.RuleTableMatchesPolicy(t, "### Hosts published through Istio and Gateway API gateways", (&istio.Target{}).Modules()["istio.rego"], 7)
}
