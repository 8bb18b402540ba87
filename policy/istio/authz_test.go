package istio

import (
	"encoding/json"
	"reflect"
	"testing"

	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
)

// TestRead: what the policy reads of an AuthorizationPolicy (input.policy) is what coverage
// reads, as Istio reads it: the dry-run annotation by strconv.ParseBool, the provider against
// istio.extensionProviders, a selector beside targetRef or targetRefs.
func TestRead(t *testing.T) {
	cfg := config{Settings: &Settings{ExtensionProviders: []string{"oauth2-proxy"}}}
	custom := `"action": "CUSTOM", "provider": {"name": "oauth2-proxy"}`
	cases := map[string]struct {
		annotations string // JSON
		spec        string // JSON, inside the braces
		want        PolicyFacts
	}{
		"enforced":              {spec: custom, want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true}},
		"unknown provider":      {spec: `"action": "CUSTOM", "provider": {"name": "ext-authz"}`, want: PolicyFacts{Custom: true, Provider: "ext-authz"}},
		"no provider":           {spec: `"action": "CUSTOM"`, want: PolicyFacts{Custom: true}},
		"not CUSTOM":            {spec: `"action": "DENY"`, want: PolicyFacts{}},
		"dry-run true":          {annotations: `{"istio.io/dry-run": "true"}`, spec: custom, want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true, DryRun: true}},
		"dry-run 1":             {annotations: `{"istio.io/dry-run": "1"}`, spec: custom, want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true, DryRun: true}},
		"dry-run t":             {annotations: `{"istio.io/dry-run": "t"}`, spec: custom, want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true, DryRun: true}},
		"dry-run TRUE":          {annotations: `{"istio.io/dry-run": "TRUE"}`, spec: custom, want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true, DryRun: true}},
		"dry-run false":         {annotations: `{"istio.io/dry-run": "false"}`, spec: custom, want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true}},
		"dry-run yes: enforced": {annotations: `{"istio.io/dry-run": "yes"}`, spec: custom, want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true}},
		"selector and targetRefs": {
			spec: custom + `, "selector": {"matchLabels": {"a": "b"}}, "targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "x"}]`,
			want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true, SelectorAndTargetRefs: true, TargetRefFields: []string{"targetRefs"}},
		},
		"selector and both targetRef fields": {
			spec: custom + `, "selector": {"matchLabels": {"a": "b"}}, "targetRef": {"kind": "Gateway", "name": "x"}, "targetRefs": [{"kind": "Gateway", "name": "y"}]`,
			want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true, SelectorAndTargetRefs: true, TargetRefFields: []string{"targetRef", "targetRefs"}},
		},
		"targetRefs alone": {
			spec: custom + `, "targetRefs": [{"kind": "Gateway", "name": "x"}]`,
			want: PolicyFacts{Custom: true, Provider: "oauth2-proxy", ProviderKnown: true},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			annotations := c.annotations
			if annotations == "" {
				annotations = "{}"
			}
			var ap istiosecurity.AuthorizationPolicy
			doc := `{"metadata": {"name": "login", "namespace": "istio-system", "annotations": ` + annotations + `}, "spec": {` + c.spec + `}}`
			if err := json.Unmarshal([]byte(doc), &ap); err != nil {
				t.Fatal(err)
			}
			got := cfg.read(&ap)
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("read = %+v, want %+v", *got, c.want)
			}
			// Coverage reads the same: dry-run is not enforced, and both fields apply nowhere.
			if enforced(&ap) == got.DryRun {
				t.Errorf("enforced = %v, yet dryRun = %v", enforced(&ap), got.DryRun)
			}
		})
	}
}
