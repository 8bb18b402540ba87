package envoygateway_test

import (
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privgate/privgate/policy/envoygateway"
	"github.com/privgate/privgate/policy/targets"
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
		// A route allowing only /developers behind the Gateway's login for everyone: a policy on
		// the route to the group login, and the grant it needs to reach the Service.
		"httproute-groups-gateway-login": `[{"apiVersion":"gateway.networking.k8s.io/v1","kind":"ReferenceGrant","metadata":{"name":"privgate-login-monitoring-oauth2-proxy-developers","namespace":"oauth2-proxy"},"spec":{"from":[{"group":"gateway.envoyproxy.io","kind":"SecurityPolicy","namespace":"monitoring"}],"to":[{"group":"","kind":"Service","name":"oauth2-proxy-developers"}]}},{"apiVersion":"gateway.envoyproxy.io/v1alpha1","kind":"SecurityPolicy","metadata":{"name":"privgate-login-grafana","namespace":"monitoring"},"spec":{"extAuth":{"headersToExtAuth":["cookie"],"http":{"backendRefs":[{"name":"oauth2-proxy-developers","namespace":"oauth2-proxy","port":4180}]}},"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"grafana"}]}}]`,
		"httproute-groups-route-policy":  `null`,
		"httproute-gateway-login":        `null`,
		"httproute-oidc":                 `null`, // Keycloak OIDC in force
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			index := testutil.StoredCase(t, r, "testdata/cases/"+name+".yaml")
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

// TestRuleTableMatchesPolicy: the README's table of this target's rules and its policy's rule
// ids are the same set.
func TestRuleTableMatchesPolicy(t *testing.T) {
	testutil.RuleTableMatchesPolicy(t, "### Hosts published on Envoy Gateway", (&envoygateway.Target{}).Modules()["envoygateway.rego"], 2)
}

// TestSettings: envoyGateway's problems, each with its path, as privgate reports them at start.
func TestSettings(t *testing.T) {
	cases := map[string]struct {
		services string
		want     []string
	}{
		"oauth2-proxy": {"[oauth2-proxy/oauth2-proxy]", nil},
		"every problem at once": {"[oauth2-proxy, Auth/oauth2-proxy, auth/oauth2.proxy]", []string{
			`envoyGateway.extAuthServices[0]: "oauth2-proxy" is not namespace/name of a Service (oauth2-proxy/oauth2-proxy)`,
			`envoyGateway.extAuthServices[1]: "Auth/oauth2-proxy": "Auth" is not a namespace`,
			`envoyGateway.extAuthServices[2]: "auth/oauth2.proxy": "oauth2.proxy" is not a Service name`,
		}},
	}
	base, err := os.ReadFile("testdata/privgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			data := strings.Replace(string(base), "[oauth2-proxy/oauth2-proxy]", c.services, 1)
			_, err := targets.ParseConfig("testdata/privgate.yaml", []byte(data))
			if len(c.want) == 0 {
				if err != nil {
					t.Errorf("unexpected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v\ndoes not say %q", err, w)
				}
			}
		})
	}
}

// TestFixesAgreeWithMessages: for every golden case, each policy a denial says to apply is one
// privgate envoygateway policy prints for the same stored objects: the command and the message
// compute one fix.
func TestFixesAgreeWithMessages(t *testing.T) {
	r := testutil.Reviewer(t, "testdata/privgate.yaml")
	goldens, err := filepath.Glob("testdata/cases/*.golden")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, golden := range goldens {
		b, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		var applies []string
		for _, line := range strings.Split(string(b), "\n") {
			if _, fix, ok := strings.Cut(line, "Apply: "); ok {
				applies = append(applies, fix)
			}
		}
		if len(applies) == 0 {
			continue
		}
		index := testutil.StoredCase(t, r, strings.TrimSuffix(golden, ".golden")+".yaml")
		printed := map[string]bool{}
		for _, f := range envoygateway.New(r.Config).Fixes(index) {
			b, _ := json.Marshal(f.Object)
			printed[string(b)] = true
		}
		for _, fix := range applies {
			checked++
			if !printed[fix] {
				t.Errorf("%s: the message says to apply %s, which privgate envoygateway policy does not print (it prints %v)", golden, fix, slices.Sorted(maps.Keys(printed)))
			}
		}
	}
	if checked == 0 {
		t.Fatal("no golden case says what to apply")
	}
	t.Logf("%d fixes checked", checked)
}
