package envoygateway_test

import (
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/envoygateway"
	"github.com/privgate/privgate/test/testutil"
)

var update = flag.Bool("update", false, "rewrite the .golden files from what the policy says")

// TestCases judges each testdata/cases/*.yaml (testutil.Cases says how; testdata/gen.py writes
// them): routes on Envoy Gateway, judged by the gateway target through this implementation, and
// SecurityPolicy writes and deletions, judged by this target.
func TestCases(t *testing.T) {
	testutil.Cases(t, testutil.Reviewer(t, "testdata/privgate.yaml"), "testdata/cases/*.yaml", *update)
}

// TestRego runs the target's Rego tests and privgate.gatewayapi's.
func TestRego(t *testing.T) {
	testutil.RegoTests(t, (&envoygateway.Target{}).Modules(), 8)
}

// TestFixes: privgate envoygateway policy's objects for the stored objects of a case (every
// document: they are all in the cluster).
func TestFixes(t *testing.T) {
	r := testutil.Reviewer(t, "testdata/privgate.yaml")
	cases := map[string]string{
		// None in force: one on the whole Gateway (the ReferenceGrant exists).
		"httproute-no-policy": `[{"apiVersion":"gateway.envoyproxy.io/v1alpha1","kind":"SecurityPolicy","metadata":{"name":"privgate-login-eg","namespace":"gateways"},"spec":{"extAuth":{"headersToExtAuth":["cookie"],"http":{"backendRefs":[{"name":"oauth2-proxy","namespace":"oauth2-proxy","port":4180}]}},"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"eg"}]}}]`,
		// The route's CORS policy in force: the same, its CORS kept, with the login added.
		"httproute-route-policy-replaces": `[{"apiVersion":"gateway.envoyproxy.io/v1alpha1","kind":"SecurityPolicy","metadata":{"name":"cors","namespace":"monitoring"},"spec":{"cors":{"allowOrigins":["https://grafana.private.example.com"]},"extAuth":{"headersToExtAuth":["cookie"],"http":{"backendRefs":[{"name":"oauth2-proxy","namespace":"oauth2-proxy","port":4180}]}},"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"grafana"}]}}]`,
		"httproute-gateway-login":         `null`,
		"httproute-oidc":                  `null`, // Keycloak OIDC in force
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile("testdata/cases/" + name + ".yaml")
			if err != nil {
				t.Fatal(err)
			}
			index := policy.NewIndex()
			for _, d := range testutil.Documents(t, data) {
				testutil.StoreDoc(t, r, index, d)
			}
			var objects []map[string]any
			for _, f := range envoygateway.New(r.Config).Fixes(index) {
				objects = append(objects, f.Object)
			}
			got, _ := json.Marshal(objects)
			if string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
