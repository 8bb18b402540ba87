package istio_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
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
			want, op, docs := testutil.Case(t, file)
			// As the webhook sees it: what is stored, the judged object not yet (unless deleted).
			index := policy.NewIndex()
			stored := docs[:len(docs)-1]
			if op == "DELETE" {
				stored = docs
			}
			for _, d := range stored {
				testutil.StoreCase(t, r, index, d)
			}
			r.Cluster = index
			last := docs[len(docs)-1]
			req := policy.Request{Kind: last.GVK, Operation: op, Namespace: last.Namespace, Name: last.Name, Object: last.Raw}
			if op == "DELETE" {
				req.Object, req.OldObject = nil, last.Raw
			}
			d, err := r.Validate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range append(d.Violations, d.Warnings...) {
				got = append(got, v.ID)
			}
			slices.Sort(got)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("violations %v, want %v\n%s", got, want, strings.Join(policy.Messages(last.Name, append(d.Violations, d.Warnings...)), "\n"))
			}
			testutil.GoldenLines(t, strings.TrimSuffix(file, ".yaml")+".golden", policy.Messages(policy.ObjectName(last.Namespace, last.Name), append(d.Violations, d.Warnings...)), *update)
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
