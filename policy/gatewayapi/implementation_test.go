package gatewayapi_test

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

// fake is an implementation deploying a Gateway's pods labelled with its name, in a Service's
// namespace when the Gateway's class is "by-hand".
type fake struct{}

func (fake) Pods(ns, name string, _ *gatewayv1.Gateway, class string, services gatewayapi.Services) (gatewayapi.Workload, *gatewayapi.Unsupported) {
	if class == "by-hand" {
		if s := services("edge", "gateway"); s != nil {
			return gatewayapi.Workload{Namespace: s.Namespace, Labels: s.Spec.Selector}, nil
		}
		return gatewayapi.Workload{Namespace: "edge"}, &gatewayapi.Unsupported{Reason: "service-not-in-view", Address: "gateway.edge"}
	}
	return gatewayapi.Workload{Namespace: ns, Labels: map[string]string{"gateway": name}}, nil
}

func (fake) Login(*policy.Config, policy.Cluster) gatewayapi.Login { return nil }

// TestServing: the GatewayClass decides the implementation, by its controllerName; the assumed
// class stands for a Gateway not in view, its controller for a class not in view.
func TestServing(t *testing.T) {
	registry := gatewayapi.Registry{
		Implementations:   map[string]gatewayapi.Implementation{"example.com/fake": fake{}, "example.com/other": fake{}},
		AssumedClass:      "fake",
		AssumedController: "example.com/fake",
	}
	classes := map[string]string{"cilium": "io.cilium/gateway-controller", "public": "example.com/fake", "by-hand": "example.com/fake"}
	edge := &corev1.Service{Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "edge"}}}
	edge.Namespace = "edge"
	cases := map[string]struct {
		gw       *gatewayv1.Gateway
		services gatewayapi.Services
		want     string // the workload
		why      *gatewayapi.Unsupported
		known    bool // an implementation runs it
	}{
		"class in view":                    {gw: gateway("public"), want: "gateways/{gateway=shared}", known: true},
		"gateway not in view: assumed":     {want: "gateways/{gateway=shared}", known: true},
		"assumed class not in view":        {gw: gateway("fake"), want: "gateways/{gateway=shared}", known: true},
		"another controller":               {gw: gateway("cilium"), want: "gateways/{}", why: &gatewayapi.Unsupported{Reason: "controller", Class: "cilium", Controller: "io.cilium/gateway-controller", Known: []string{"example.com/fake", "example.com/other"}}},
		"class not in view":                {gw: gateway("missing"), want: "gateways/{}", why: &gatewayapi.Unsupported{Reason: "class-not-in-view", Class: "missing"}},
		"implementation reads a Service":   {gw: gateway("by-hand"), services: func(ns, name string) *corev1.Service { return edge }, want: "edge/{app=edge}", known: true},
		"implementation says why it can't": {gw: gateway("by-hand"), services: func(string, string) *corev1.Service { return nil }, want: "edge/{}", why: &gatewayapi.Unsupported{Reason: "service-not-in-view", Address: "gateway.edge"}, known: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w, why := registry.Serving(classes, "gateways", "shared", c.gw, c.services)
			if w.String() != c.want || !reflect.DeepEqual(why, c.why) || (w.Impl != nil) != c.known {
				t.Errorf("got %s, %+v, implementation %v; want %s, %+v, %v", w, why, w.Impl, c.want, c.why, c.known)
			}
		})
	}
}

// TestWorkloadString: workloads as messages name them.
func TestWorkloadString(t *testing.T) {
	cases := map[string]struct {
		w    gatewayapi.Workload
		want string
	}{
		"labels sorted":        {gatewayapi.Workload{Namespace: "istio-system", Labels: map[string]string{"istio": "ingressgateway", "app": "istio-ingressgateway"}}, "istio-system/{app=istio-ingressgateway,istio=ingressgateway}"},
		"namespace unknown":    {gatewayapi.Workload{Labels: map[string]string{"istio": "ingressgateway"}}, "*/{istio=ingressgateway}"},
		"nothing known":        {gatewayapi.Workload{}, "(any: the Gateway is not in view)"},
		"namespace, no labels": {gatewayapi.Workload{Namespace: "gateways"}, "gateways/{}"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := c.w.String(); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

// reading is an implementation with a policy kind of its own.
type reading struct{ fake }

var securityPolicy = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "SecurityPolicy"}

func (reading) Reads() []policy.Kind                                          { return []policy.Kind{{GVK: securityPolicy, CRD: true}} }
func (reading) AddToScheme(*runtime.Scheme) error                             { return nil }
func (reading) Typed(schema.GroupVersionKind, []byte) (runtime.Object, error) { return nil, nil }

// TestReaders: the kinds implementations read of their own reach the target through the
// registry.
func TestReaders(t *testing.T) {
	registry := gatewayapi.Registry{Implementations: map[string]gatewayapi.Implementation{"example.com/fake": fake{}, "example.com/envoy": reading{}}}
	cases := map[string]struct {
		gk   schema.GroupKind
		want bool
	}{
		"its policy kind":  {securityPolicy.GroupKind(), true},
		"a kind none read": {gatewayapi.HTTPRoute, false},
	}
	if got := len(registry.Readers()); got != 1 {
		t.Fatalf("%d readers, want 1", got)
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := registry.Reading(c.gk) != nil; got != c.want {
				t.Errorf("Reading(%s) = %v, want %v", c.gk, got, c.want)
			}
		})
	}
}
