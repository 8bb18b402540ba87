package gatewayapi

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
)

// View is what the stored Gateway API objects say of gateways, for any target that judges what
// routes publish on them: the gateways, the classes' controllers, the Services in view, and the
// implementations that may run them.
type View struct {
	Registry Registry
	Gateways map[string]*gatewayv1.Gateway // by namespace/name
	Classes  map[string]string             // GatewayClass name -> controllerName
	Services Services
	// GroupsAnnotation is cfg.Groups.Annotation: a route's allowed groups (Publication.Groups).
	GroupsAnnotation string
}

// Load reads the Gateways and GatewayClasses of c (nil: none) into a View; services finds a
// Service in view; cfg names the groups annotation.
func Load(r Registry, cfg *policy.Config, c policy.Cluster, services Services) View {
	v := View{Registry: r, Gateways: map[string]*gatewayv1.Gateway{}, Classes: map[string]string{}, Services: services,
		GroupsAnnotation: cfg.Groups.Annotation}
	if c == nil {
		return v
	}
	for _, o := range c.Stored(Gateway) {
		if g, ok := o.(*gatewayv1.Gateway); ok {
			v.Gateways[g.Namespace+"/"+g.Name] = g
		}
	}
	for _, o := range c.Stored(GatewayClass) {
		if gc, ok := o.(*gatewayv1.GatewayClass); ok {
			v.Classes[gc.Name] = string(gc.Spec.ControllerName)
		}
	}
	return v
}

// ServicesOf finds the Services of c (nil: none), listed on first use: only a Gateway deployed by
// hand, or a login service, needs one.
func ServicesOf(c policy.Cluster) Services {
	var byName map[string]*corev1.Service
	return func(namespace, name string) *corev1.Service {
		if byName == nil {
			byName = map[string]*corev1.Service{}
			if c != nil {
				for _, o := range c.Stored(schema.GroupKind{Kind: "Service"}) {
					if s, ok := o.(*corev1.Service); ok {
						byName[s.Namespace+"/"+s.Name] = s
					}
				}
			}
		}
		return byName[namespace+"/"+name]
	}
}

// Workload is the pods serving Gateway ns/name (gw nil when not in view), as the implementation
// running its class deploys them, and why no login can be checked there when none privgate
// knows does.
func (v View) Workload(ns, name string, gw *gatewayv1.Gateway) (Workload, *Unsupported) {
	return v.Registry.Serving(v.Classes, ns, name, gw, v.Services)
}

// Routed are the hosts a Gateway API route publishes on the listeners of each Gateway it
// attaches to (Attachments), one per host and parent, with the route and the listeners; By and
// Private are the caller's. HTTP routes attach to HTTP and HTTPS listeners; a TLSRoute to TLS
// ones, whose requests no HTTP login provider sees. A parent of another kind (a ListenerSet) is
// one privgate cannot follow: its hosts are unsupported. Other objects publish nothing here.
func (v View) Routed(route runtime.Object) []Publication {
	var (
		parents   []gatewayv1.ParentReference
		hostnames []gatewayv1.Hostname
		http      = true
	)
	switch o := route.(type) {
	case *gatewayv1.HTTPRoute:
		parents, hostnames = o.Spec.ParentRefs, o.Spec.Hostnames
	case *gatewayv1.GRPCRoute:
		parents, hostnames = o.Spec.ParentRefs, o.Spec.Hostnames
	case *gatewayv1.TLSRoute:
		parents, hostnames, http = o.Spec.ParentRefs, o.Spec.Hostnames, false
	default:
		return nil
	}
	m, err := meta.Accessor(route)
	if err != nil {
		return nil
	}
	ns := m.GetNamespace()
	named := Hostnames(hostnames)
	allowed := groups.Split(m.GetAnnotations()[v.GroupsAnnotation])
	var out []Publication
	for _, p := range Parents(ns, parents) {
		if p.Unfollowable != nil {
			for _, a := range Attachments(nil, p, named, http) {
				out = append(out, Publication{Host: a.Host.Host, Field: a.Field, Gateway: p.Gateway, Workload: Workload{Namespace: p.Namespace},
					Unsupported: p.Unfollowable, Route: route, Groups: allowed})
			}
			continue
		}
		gw := v.Gateways[p.Namespace+"/"+p.Name]
		w, unsupported := v.Workload(p.Namespace, p.Name, gw)
		if unsupported == nil && !http {
			unsupported = &Unsupported{Reason: "tls-route"}
		}
		gateway := p.Gateway
		if gw == nil {
			gateway += " (not in view)"
		}
		for _, a := range Attachments(gw, p, named, http) {
			out = append(out, Publication{Host: a.Host.Host, Field: a.Field, Gateway: gateway, Workload: w, Unsupported: unsupported,
				Route: route, Listeners: a.Listeners, Groups: allowed})
		}
	}
	return out
}

// Served are the hosts a Gateway's own listeners serve, one per listener, on its pods; By and
// Private are the caller's (Inside tells which of a Gateway's own hosts are private).
func (v View) Served(gw *gatewayv1.Gateway) []Publication {
	w, unsupported := v.Workload(gw.Namespace, gw.Name, gw)
	var out []Publication
	for _, l := range Served(gw) {
		why := unsupported
		if why == nil {
			why = l.NotHTTP
		}
		out = append(out, Publication{Host: l.Host.Host, Field: l.Field, Gateway: fmt.Sprintf("Gateway %s/%s", gw.Namespace, gw.Name), Workload: w,
			Unsupported: why, Listeners: []string{l.Name}})
	}
	return out
}

// Private reports whether a published host can serve a private name. Istio's and Gateway API's
// wildcards match any number of labels (not one, as a certificate's): "*.com" serves
// grafana.private.example.com too; and Istio's leading "*" is a raw suffix, no label boundary:
// "*e.com" serves it as well (docs/istio.md). A host for every name, "*", is private when
// hostlessRules is.
func Private(cfg *policy.Config, host string) bool {
	if host == "*" {
		return cfg.HostlessRules == "private"
	}
	return cfg.Zones().PrivateEnvoyHost(host)
}

// Inside reports whether every name host answers is private: a Gateway's own hosts are judged
// only then ("*.private.example.com", not "*.example.com", whose private names are bound, and
// judged, by routes).
func Inside(cfg *policy.Config, host string) bool {
	base, wild := strings.CutPrefix(host, "*.")
	return host != "*" && cfg.Zones().Private(base) && (wild || cfg.Zones().Private(host))
}
