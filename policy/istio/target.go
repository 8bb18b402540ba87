// Package istio is the target for hosts published through shared gateways: Istio's
// VirtualServices and Gateways and Gateway API's Gateways and routes on Istio. A private host
// served that way is behind login only when a CUSTOM AuthorizationPolicy naming a login provider
// applies to the gateway's pods and matches every request to the host; the target finds, for
// each published host, whether one does, and judges changes to those policies too
// (docs/istio.md).
package istio

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"maps"

	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/allowedgroups"
	"github.com/privgate/privgate/policy/gatewayapi"
)

//go:embed rego/*.rego
var rego embed.FS

// The kinds, by group.
var (
	VirtualService      = schema.GroupKind{Group: "networking.istio.io", Kind: "VirtualService"}
	IstioGateway        = schema.GroupKind{Group: "networking.istio.io", Kind: "Gateway"}
	AuthorizationPolicy = schema.GroupKind{Group: "security.istio.io", Kind: "AuthorizationPolicy"}
	Gateway             = gatewayapi.Gateway
	GatewayClass        = gatewayapi.GatewayClass
	HTTPRoute           = gatewayapi.HTTPRoute
	GRPCRoute           = gatewayapi.GRPCRoute
	TLSRoute            = gatewayapi.TLSRoute
	Service             = schema.GroupKind{Kind: "Service"}
)

// versions are the served versions of each judged kind; every one decodes into the same Go type
// (Istio's versions share one schema, as do Gateway API's v1 and v1beta1).
var versions = map[schema.GroupKind][]string{
	VirtualService:      {"v1", "v1beta1", "v1alpha3"},
	IstioGateway:        {"v1", "v1beta1", "v1alpha3"},
	AuthorizationPolicy: {"v1", "v1beta1"},
	Gateway:             {"v1", "v1beta1"},
	HTTPRoute:           {"v1", "v1beta1"},
	GRPCRoute:           {"v1"},
	TLSRoute:            {"v1"},
}

// judged are the kinds in a fixed order, for Kinds.
var judged = []schema.GroupKind{VirtualService, IstioGateway, AuthorizationPolicy, Gateway, HTTPRoute, GRPCRoute, TLSRoute}

var kinds = func() []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for _, gk := range judged {
		for _, v := range versions[gk] {
			out = append(out, gk.WithVersion(v))
		}
	}
	return out
}()

// Target judges routes, gateways and AuthorizationPolicies. It is always on: without
// istio.extensionProviders nothing covers a published private host, so each is refused.
type Target struct{ cfg config }

// New is the istio target over cfg.
func New(cfg *policy.Config) *Target { return &Target{cfg: configOf(cfg)} }

// Name is "istio": privgate.yaml's istio.rules set its rules' modes.
func (*Target) Name() string { return name }

// Kinds are every served version of the judged kinds.
func (*Target) Kinds() []schema.GroupVersionKind { return kinds }

// Retired: none; other versions of these kinds are refused by the core as unjudged.
func (*Target) Retired() []schema.GroupVersionKind { return nil }

// Package is privgate.istio.
func (*Target) Package() string { return "privgate.istio" }

// Modules are rego/istio.rego, its tests, privgate.gatewayapi's wording of other
// implementations' gaps and privgate.allowedgroups, the group checks routes share with Ingresses.
func (*Target) Modules() policy.Modules { return modules() }

func modules() policy.Modules {
	m := policy.ModulesIn(rego)
	maps.Copy(m, gatewayapi.Modules())
	maps.Copy(m, allowedgroups.Modules())
	return m
}

// Quiet is why an object needs nothing.
func (*Target) Quiet() string { return "publishes no private host through a gateway" }

// SurelyPublic is never sure: a route's hosts may come from its gateway, and a policy change
// may uncover another object's host.
func (*Target) SurelyPublic([]byte) bool { return false }

// JudgesDelete: deleting an AuthorizationPolicy can uncover hosts.
func (*Target) JudgesDelete() bool { return true }

// Reads are the kinds a judgement reads, each in the version cached: the judged ones, GatewayClasses
// (which controller runs a Gateway) and Services (the pods of a Gateway deployed by hand,
// cached only once Gateway API is installed). All but Services exist only with their CRDs. The
// Gateway API implementations' own kinds follow (their login policies).
func (*Target) Reads() []policy.Kind {
	out := make([]policy.Kind, 0, len(judged)+2)
	for _, gk := range judged {
		out = append(out, policy.Kind{GVK: gk.WithVersion("v1"), Judged: true, CRD: true})
	}
	out = append(out,
		policy.Kind{GVK: GatewayClass.WithVersion("v1"), CRD: true, ClusterScoped: true},
		policy.Kind{GVK: corev1.SchemeGroupVersion.WithKind("Service"), With: Gateway})
	for _, r := range implementations.Readers() {
		out = append(out, r.Reads()...)
	}
	return out
}

// AddToScheme registers the Go types of Istio's networking and security APIs, Gateway API's,
// core/v1 (Services) and the Gateway API implementations' own.
func (*Target) AddToScheme(s *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{istionetworking.AddToScheme, istiosecurity.AddToScheme, gatewayv1.Install, corev1.AddToScheme} {
		if err := add(s); err != nil {
			return err
		}
	}
	for _, r := range implementations.Readers() {
		if err := r.AddToScheme(s); err != nil {
			return err
		}
	}
	return nil
}

// Typed decodes an object of a related kind into its Go type.
func (*Target) Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	var obj runtime.Object
	switch gvk.GroupKind() {
	case VirtualService:
		obj = &istionetworking.VirtualService{}
	case IstioGateway:
		obj = &istionetworking.Gateway{}
	case AuthorizationPolicy:
		obj = &istiosecurity.AuthorizationPolicy{}
	case Gateway:
		obj = &gatewayv1.Gateway{}
	case GatewayClass:
		obj = &gatewayv1.GatewayClass{}
	case HTTPRoute:
		obj = &gatewayv1.HTTPRoute{}
	case GRPCRoute:
		obj = &gatewayv1.GRPCRoute{}
	case TLSRoute:
		obj = &gatewayv1.TLSRoute{}
	case Service:
		obj = &corev1.Service{}
	default:
		if r := implementations.Reading(gvk.GroupKind()); r != nil {
			return r.Typed(gvk, raw)
		}
		return nil, fmt.Errorf("kind %s is not one the istio target reads", gvk.GroupKind())
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(obj); err != nil {
		return nil, fmt.Errorf("object is not a valid %s: %w", gvk.Kind, err)
	}
	return obj, nil
}

// Decode parses a judged object.
func (t *Target) Decode(raw []byte) (policy.Object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("object is not valid JSON: %w", err)
	}
	gvk := schema.FromAPIVersionAndKind(head.APIVersion, head.Kind)
	typed, err := t.Typed(gvk, raw)
	if err != nil {
		return nil, err
	}
	doc, err := policy.WithoutManagedFields(raw)
	if err != nil {
		return nil, err
	}
	return &object{t: t, kind: gvk.GroupKind(), typed: typed, doc: doc}, nil
}

// resources are the judged kinds' resource names.
var resources = map[schema.GroupKind]string{
	VirtualService: "virtualservices", IstioGateway: "gateways", AuthorizationPolicy: "authorizationpolicies",
	Gateway: "gateways", HTTPRoute: "httproutes", GRPCRoute: "grpcroutes", TLSRoute: "tlsroutes",
}

// Webhooks: routes and gateways, every served version, to the validating webhook that fails
// closed; AuthorizationPolicies, deletions included, to one of their own that fails open, so
// that Istio's own repairs and upgrades go through with privgate down (docs/istio.md).
func (*Target) Webhooks() []policy.Webhook {
	published := policy.Webhook{Name: "validate.privgate.io", FailurePolicy: "Fail", Operations: []string{"CREATE", "UPDATE"}}
	login := policy.Webhook{Name: "validate-istio-policy.privgate.io", FailurePolicy: "Ignore", Operations: []string{"CREATE", "UPDATE", "DELETE"}}
	for _, gvk := range kinds {
		gvr := gvk.GroupVersion().WithResource(resources[gvk.GroupKind()])
		if gvk.GroupKind() == AuthorizationPolicy {
			login.Resources = append(login.Resources, gvr)
		} else {
			published.Resources = append(published.Resources, gvr)
		}
	}
	return []policy.Webhook{published, login}
}
