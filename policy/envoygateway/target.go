package envoygateway

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

//go:embed rego/*.rego
var rego embed.FS

// modules are the target's Rego and the shared wording of login gaps (privgate.gatewayapi).
func modules() policy.Modules {
	m := policy.ModulesIn(rego)
	maps.Copy(m, gatewayapi.Modules())
	return m
}

// Target judges SecurityPolicy writes and deletions: one that leaves a private host published on
// Envoy Gateway without login is refused (docs/gateway-api.md). What routes and Gateways publish
// on Envoy Gateway is judged by the gateway target, through Implementation.
type Target struct{ cfg config }

// New is the target over cfg.
func New(cfg *policy.Config) *Target { return &Target{cfg: configOf(cfg)} }

var kinds = []schema.GroupVersionKind{SecurityPolicyKind.WithVersion(GroupVersion.Version)}

// Name is envoygateway: privgate.yaml's envoyGateway.rules set its rules' modes.
func (*Target) Name() string { return name }

// Kinds: SecurityPolicy, gateway.envoyproxy.io/v1alpha1 (its only version).
func (*Target) Kinds() []schema.GroupVersionKind { return kinds }

// Retired: none.
func (*Target) Retired() []schema.GroupVersionKind { return nil }

// Package is privgate.envoygateway.
func (*Target) Package() string { return "privgate.envoygateway" }

// Modules are rego/envoygateway.rego, its tests and privgate.gatewayapi's wording.
func (*Target) Modules() policy.Modules { return modules() }

// Quiet is why a policy needs nothing.
func (*Target) Quiet() string { return "uncovers no private host published on Envoy Gateway" }

// SurelyPublic is never sure: any policy change may uncover another object's host.
func (*Target) SurelyPublic([]byte) bool { return false }

// JudgesDelete: deleting a SecurityPolicy can uncover hosts.
func (*Target) JudgesDelete() bool { return true }

// Reads are SecurityPolicies (judged: the audit reports those in effect that say something),
// ReferenceGrants, and the Gateway API kinds and Services that say what is published where.
func (*Target) Reads() []policy.Kind {
	out := Implementation{}.Reads()
	out[0].Judged = true
	for _, gk := range []schema.GroupKind{gatewayapi.Gateway, gatewayapi.HTTPRoute, gatewayapi.GRPCRoute} {
		out = append(out, policy.Kind{GVK: gk.WithVersion("v1"), CRD: true})
	}
	return append(out,
		policy.Kind{GVK: gatewayapi.GatewayClass.WithVersion("v1"), CRD: true, ClusterScoped: true},
		policy.Kind{GVK: corev1.SchemeGroupVersion.WithKind("Service"), With: gatewayapi.Gateway})
}

// AddToScheme registers SecurityPolicy's types, Gateway API's and core/v1.
func (*Target) AddToScheme(s *runtime.Scheme) error {
	if err := (Implementation{}).AddToScheme(s); err != nil {
		return err
	}
	return corev1.AddToScheme(s)
}

// Typed decodes an object of a kind the target reads.
func (*Target) Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	var obj runtime.Object
	switch gvk.GroupKind() {
	case SecurityPolicyKind, ReferenceGrant:
		return Implementation{}.Typed(gvk, raw)
	case gatewayapi.Gateway:
		obj = &gatewayv1.Gateway{}
	case gatewayapi.GatewayClass:
		obj = &gatewayv1.GatewayClass{}
	case gatewayapi.HTTPRoute:
		obj = &gatewayv1.HTTPRoute{}
	case gatewayapi.GRPCRoute:
		obj = &gatewayv1.GRPCRoute{}
	case Service:
		obj = &corev1.Service{}
	default:
		return nil, fmt.Errorf("kind %s is not one the envoygateway target reads", gvk.GroupKind())
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("object is not a valid %s: %w", gvk.Kind, err)
	}
	return obj, nil
}

// Decode parses a SecurityPolicy.
func (t *Target) Decode(raw []byte) (policy.Object, error) {
	obj, err := Implementation{}.Typed(kinds[0], raw)
	if err != nil {
		return nil, err
	}
	doc, err := policy.WithoutManagedFields(raw)
	if err != nil {
		return nil, err
	}
	return &object{t: t, p: obj.(*SecurityPolicy), doc: doc}, nil
}

// Webhooks: SecurityPolicies, deletions included, to a webhook of their own that fails open, as
// Istio's AuthorizationPolicies do: Envoy Gateway's own upgrades go through with privgate
// down, and the audit reports what they uncover.
func (*Target) Webhooks() []policy.Webhook {
	return []policy.Webhook{{
		Name: "validate-envoy-gateway-policy.privgate.io", FailurePolicy: "Ignore",
		Operations: []string{"CREATE", "UPDATE", "DELETE"},
		Resources:  []schema.GroupVersionResource{GroupVersion.WithResource("securitypolicies")},
	}}
}

// Plugin is the target as the registry lists it.
var Plugin = policy.Plugin{
	Name:    name,
	Section: func() policy.Section { return &Settings{} },
	Modules: modules,
	New:     func(cfg *policy.Config) policy.Target { return New(cfg) },
	Fixes: &policy.Help{
		Short: "Print the SecurityPolicies that would put login in front of every uncovered private host on Envoy Gateway",
		Long: "Read the Gateways, routes and SecurityPolicies of manifests (-f) or of a cluster (--kubeconfig), and\n" +
			"print, for each private host published on Envoy Gateway that no login covers, the SecurityPolicy that\n" +
			"would: the policy in force with extAuth to envoyGateway.extAuthServices added, or one on the whole\n" +
			"Gateway where none is in force; and the ReferenceGrant it needs to reach the login Service. Pipe it\n" +
			"to kubectl apply -f -. Prints nothing when every private host is covered.",
	},
}

// input is the target's part of the policy input.
type input struct {
	// Uncovered are published private hosts that were behind login before the change and are
	// not after it.
	Uncovered []gatewayapi.Exposure `json:"uncovered,omitempty"`
	// Policy is what privgate read of the SecurityPolicy.
	Policy *PolicyFacts `json:"policy"`
}

// PolicyFacts are a SecurityPolicy's login settings as Envoy Gateway reads them.
type PolicyFacts struct {
	// HTTPExtAuth: extAuth over HTTP to a configured login service; CookieForwarded: its
	// headersToExtAuth lists cookie (an HTTP service gets only Host, Method, Path,
	// Content-Length and Authorization otherwise: no session, everyone sent to sign in).
	HTTPExtAuth     bool `json:"httpExtAuth"`
	CookieForwarded bool `json:"cookieForwarded"`
	// Service is that login service, namespace/name.
	Service string `json:"service,omitempty"`
}

// object is one judged SecurityPolicy.
type object struct {
	t   *Target
	p   *SecurityPolicy
	doc []byte
}

func (o *object) Namespace() string                         { return o.p.Namespace }
func (o *object) Name() string                              { return o.p.Name }
func (o *object) JSON() ([]byte, error)                     { return o.doc, nil }
func (o *object) Mutate(policy.Facts) (policy.Object, bool) { return nil, false }

// Facts: judged against the stored objects whatever it names; names no host itself.
func (o *object) Facts(string) policy.Facts {
	return policy.Facts{Always: true, Input: &input{Policy: o.t.cfg.read(o.p)}}
}

// read is what the policy reads of a SecurityPolicy's extAuth.
func (c config) read(p *SecurityPolicy) *PolicyFacts {
	f := &PolicyFacts{}
	a := p.Spec.ExtAuth
	if a == nil || a.HTTP == nil {
		return f
	}
	for _, r := range backendRefs(a.HTTP) {
		if svc := backendKey(p, r); serviceKind(r) && c.knows(svc) {
			f.HTTPExtAuth, f.Service = true, svc
		}
	}
	f.CookieForwarded = slices.ContainsFunc(a.HeadersToExtAuth, func(h string) bool { return equalFold(h, "cookie") })
	return f
}

// Relate fills in the hosts the change uncovers: each published private host on Envoy Gateway
// covered with the stored policies and not with the change.
func (o *object) Relate(c policy.Cluster, in *policy.Input) {
	mine, ok := in.Target.(*input)
	if !ok {
		return
	}
	s := load(o.t.cfg, c)
	after := slices.DeleteFunc(slices.Clone(s.policies), func(p *SecurityPolicy) bool {
		return p.Namespace == o.p.Namespace && p.Name == o.p.Name
	})
	if in.Request.Operation != "DELETE" {
		after = append(after, o.p)
	}
	before, changed := s.login(s.policies), s.login(after)
	for _, p := range s.published() {
		if slices.Contains(o.t.cfg.ExemptHosts, p.Host) || !before.Coverage(p).Covered {
			continue
		}
		if e := changed.Coverage(p); !e.Covered {
			mine.Uncovered = append(mine.Uncovered, e)
		}
	}
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }
