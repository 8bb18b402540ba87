package targets_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/targets"
)

// sent is one (webhook, group, version, resource, operation) the API server sends privgate.
type sent struct{ webhook, group, version, resource, op string }

// TestWebhooksMatchTargets: deploy/webhooks registers exactly what the targets declare they
// need (policy.Registered): every declared resource, version and operation reaches the declared
// webhook with its failure policy, and no rule sends what no target judges. The chart renders the
// same objects (TestChart compares it with kustomize), so a new target's kinds cannot be
// forgotten in either.
func TestWebhooksMatchTargets(t *testing.T) {
	cfg, err := targets.LoadConfig("../rbac/testdata/privgate.yaml") // every target on
	if err != nil {
		t.Fatal(err)
	}
	want, policies := map[sent]bool{}, map[string]string{}
	for _, tg := range targets.For(cfg) {
		r, ok := tg.(policy.Registered)
		if !ok {
			t.Errorf("target %s does not say which webhooks receive its objects", tg.Name())
			continue
		}
		for _, w := range r.Webhooks() {
			policies[w.Name] = w.FailurePolicy
			for _, gvr := range w.Resources {
				for _, op := range w.Operations {
					want[sent{w.Name, gvr.Group, gvr.Version, gvr.Resource, op}] = true
				}
			}
		}
	}
	got, gotPolicies := registered(t, "../../deploy/webhooks/webhooks.yaml")
	for s := range want {
		if !got[s] {
			t.Errorf("deploy/webhooks does not send %s %s/%s %s to %s", s.op, s.group, s.version, s.resource, s.webhook)
		}
	}
	for s := range got {
		if !want[s] {
			t.Errorf("deploy/webhooks sends %s %s/%s %s to %s, which no target declares", s.op, s.group, s.version, s.resource, s.webhook)
		}
	}
	for name, p := range policies {
		if gotPolicies[name] != p {
			t.Errorf("webhook %s: failurePolicy %q in deploy/webhooks, the targets declare %q", name, gotPolicies[name], p)
		}
	}
}

// registered reads the webhook configurations of a manifest into what they send, and each
// webhook's failure policy.
func registered(t *testing.T, path string) (map[sent]bool, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, policies := map[sent]bool{}, map[string]string{}
	add := func(name string, fp *admissionregistrationv1.FailurePolicyType, rules []admissionregistrationv1.RuleWithOperations) {
		if fp != nil {
			policies[name] = string(*fp)
		}
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, v := range r.APIVersions {
					for _, res := range r.Resources {
						for _, op := range r.Operations {
							out[sent{name, g, v, res, string(op)}] = true
						}
					}
				}
			}
		}
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var doc struct {
			Kind     string
			Webhooks []struct {
				Name          string
				FailurePolicy *admissionregistrationv1.FailurePolicyType
				Rules         []admissionregistrationv1.RuleWithOperations
			}
		}
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains([]string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}, doc.Kind) {
			continue
		}
		for _, w := range doc.Webhooks {
			add(w.Name, w.FailurePolicy, w.Rules)
		}
	}
	return out, policies
}
