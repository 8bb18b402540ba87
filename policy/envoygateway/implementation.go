package envoygateway

import (
	"bytes"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

// Controller is the GatewayClass controllerName of Envoy Gateway; GatewayClass is the class its
// quickstart installs (what the Gateways privgate migrate writes for it name).
const (
	Controller   = "gateway.envoyproxy.io/gatewayclass-controller"
	GatewayClass = "eg"
)

// The kinds of Envoy Gateway's login, and what else it reads.
var (
	SecurityPolicyKind = schema.GroupKind{Group: GroupVersion.Group, Kind: "SecurityPolicy"}
	ReferenceGrant     = schema.GroupKind{Group: gatewayv1.GroupName, Kind: "ReferenceGrant"}
	Service            = schema.GroupKind{Kind: "Service"}
)

// Implementation is Envoy Gateway as a Gateway API implementation: the pods it deploys for a
// Gateway carry the owning-gateway labels (in its own namespace), and what covers a host on them
// is the SecurityPolicy in force on each route rule and listener publishing it (login.go).
type Implementation struct{}

// Pods are the Envoy proxies Envoy Gateway deploys for Gateway ns/name.
func (Implementation) Pods(ns, name string, gw *gatewayv1.Gateway, class string, _ gatewayapi.Services) (gatewayapi.Workload, *gatewayapi.Unsupported) {
	return gatewayapi.Workload{
		Labels:  map[string]string{"gateway.envoyproxy.io/owning-gateway-name": name, "gateway.envoyproxy.io/owning-gateway-namespace": ns},
		Gateway: gw, Class: class,
	}, nil
}

// Login reads the SecurityPolicies, ReferenceGrants and Services of a snapshot.
func (Implementation) Login(cfg *policy.Config, c policy.Cluster) gatewayapi.Login {
	s := load(configOf(cfg), c)
	return s.login(s.policies)
}

// Reads are SecurityPolicies and ReferenceGrants (cross-namespace targetSelectors and extAuth
// backends need one), each only with its CRD.
func (Implementation) Reads() []policy.Kind {
	return []policy.Kind{
		{GVK: SecurityPolicyKind.WithVersion(GroupVersion.Version), CRD: true},
		{GVK: ReferenceGrant.WithVersion("v1"), CRD: true},
	}
}

// AddToScheme registers SecurityPolicy's small types and Gateway API's (ReferenceGrant).
func (Implementation) AddToScheme(s *runtime.Scheme) error {
	if err := AddToScheme(s); err != nil {
		return err
	}
	return gatewayv1.Install(s)
}

// Typed decodes a SecurityPolicy or a ReferenceGrant.
func (Implementation) Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	var obj runtime.Object
	switch gvk.GroupKind() {
	case SecurityPolicyKind:
		obj = &SecurityPolicy{}
	case ReferenceGrant:
		obj = &gatewayv1.ReferenceGrant{}
	default:
		return nil, fmt.Errorf("kind %s is not one Envoy Gateway's login reads", gvk.GroupKind())
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(obj); err != nil {
		return nil, fmt.Errorf("object is not a valid %s: %w", gvk.Kind, err)
	}
	return obj, nil
}

// registry knows Envoy Gateway alone: the target judging SecurityPolicies looks at its
// Gateways only.
var registry = gatewayapi.Registry{Implementations: map[string]gatewayapi.Implementation{Controller: Implementation{}}}

// snapshot is what the stored objects say of Envoy Gateway's Gateways and their login.
type snapshot struct {
	cfg      config
	c        policy.Cluster
	view     *gatewayapi.View // built on first use (published): judging a host needs none
	policies []*SecurityPolicy
	grants   []*gatewayv1.ReferenceGrant
	service  gatewayapi.Services
}

func load(cfg config, c policy.Cluster) *snapshot {
	s := &snapshot{cfg: cfg, c: c, service: gatewayapi.ServicesOf(c)}
	if c == nil {
		return s
	}
	for _, o := range c.Stored(SecurityPolicyKind) {
		if p, ok := o.(*SecurityPolicy); ok {
			s.policies = append(s.policies, p)
		}
	}
	for _, o := range c.Stored(ReferenceGrant) {
		if g, ok := o.(*gatewayv1.ReferenceGrant); ok {
			s.grants = append(s.grants, g)
		}
	}
	return s
}

// login is Envoy Gateway's login with policies in place of the stored ones.
func (s *snapshot) login(policies []*SecurityPolicy) *login {
	return newLogin(s.cfg, policies, s.grants, s.service)
}

// gateways is the snapshot's Gateway API view, built once, when first asked for: the
// implementation's Login (every judgement of a host on Envoy Gateway) never needs it.
func (s *snapshot) gateways() gatewayapi.View {
	if s.view == nil {
		v := gatewayapi.Load(registry, s.cfg.Config, s.c, s.service)
		s.view = &v
	}
	return *s.view
}

// published are the private hosts stored Gateways (their own, wholly private) and routes publish
// on Envoy Gateway's Gateways, where a login can be checked, exempt ones too.
func (s *snapshot) published() []gatewayapi.Publication {
	var out []gatewayapi.Publication
	keep := func(p gatewayapi.Publication, by string, private bool) {
		if _, ok := p.Workload.Impl.(Implementation); ok && p.Unsupported == nil && private {
			p.By, p.Private = by, true
			out = append(out, p)
		}
	}
	if s.c == nil {
		return nil
	}
	gateways := s.c.Stored(gatewayapi.Gateway)
	for _, o := range gateways {
		gw, ok := o.(*gatewayv1.Gateway)
		if !ok {
			continue
		}
		for _, p := range s.gateways().Served(gw) {
			keep(p, "Gateway "+gw.Namespace+"/"+gw.Name, gatewayapi.Inside(s.cfg.Config, p.Host))
		}
	}
	for _, gk := range []schema.GroupKind{gatewayapi.HTTPRoute, gatewayapi.GRPCRoute} {
		for _, o := range s.c.Stored(gk) {
			for _, p := range s.gateways().Routed(o) {
				keep(p, gk.Kind+" "+key(o), gatewayapi.Private(s.cfg.Config, p.Host))
			}
		}
	}
	return out
}

func key(o runtime.Object) string {
	m := metaOf(o)
	return m.GetNamespace() + "/" + m.GetName()
}
