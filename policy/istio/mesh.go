package istio

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

// GatewayController is the GatewayClass controllerName of Istio's Gateway API implementation;
// Class is the class Istio installs for it, assumed when the GatewayClass is not in view (and
// named by the Gateways privgate migrate writes for Istio).
const (
	GatewayController = "istio.io/gateway-controller"
	Class             = "istio"
)

// mesh is what the stored objects say of gateways and their login: a snapshot of the Cluster.
type mesh struct {
	cfg           config
	policies      []*istiosecurity.AuthorizationPolicy
	istioGateways map[string]*istionetworking.Gateway // by namespace/name
	gateways      map[string]*gatewayv1.Gateway
	classes       map[string]string   // GatewayClass name -> controllerName
	services      gatewayapi.Services // listed on first use: most judgements need none
	gatewayObjs   []runtime.Object    // the stored gateways, Istio's and Gateway API's
	// routes are the stored routes, read on first use: a route's own judgement needs none,
	// a policy change or a gateway write all of them.
	routes       []runtime.Object
	routesLoaded bool
	cluster      policy.Cluster
	// logins are other implementations' logins over the same snapshot, read on first use.
	logins map[gatewayapi.Implementation]gatewayapi.Login
}

func load(cfg config, c policy.Cluster) *mesh {
	m := &mesh{cfg: cfg, istioGateways: map[string]*istionetworking.Gateway{}, gateways: map[string]*gatewayv1.Gateway{},
		classes: map[string]string{}, cluster: c, services: gatewayapi.ServicesOf(c)}
	if c == nil {
		return m
	}
	for _, o := range c.Stored(AuthorizationPolicy) {
		if p, ok := o.(*istiosecurity.AuthorizationPolicy); ok {
			m.policies = append(m.policies, p)
		}
	}
	for _, o := range c.Stored(IstioGateway) {
		if g, ok := o.(*istionetworking.Gateway); ok {
			m.istioGateways[key(g)] = g
			m.gatewayObjs = append(m.gatewayObjs, g)
		}
	}
	for _, o := range c.Stored(Gateway) {
		if g, ok := o.(*gatewayv1.Gateway); ok {
			m.gateways[key(g)] = g
			m.gatewayObjs = append(m.gatewayObjs, g)
		}
	}
	for _, o := range c.Stored(GatewayClass) {
		if gc, ok := o.(*gatewayv1.GatewayClass); ok {
			m.classes[gc.Name] = string(gc.Spec.ControllerName)
		}
	}
	return m
}

// storedRoutes are the stored VirtualServices and Gateway API routes.
func (m *mesh) storedRoutes() []runtime.Object {
	if !m.routesLoaded && m.cluster != nil {
		for _, gk := range []schema.GroupKind{VirtualService, HTTPRoute, GRPCRoute, TLSRoute} {
			m.routes = append(m.routes, m.cluster.Stored(gk)...)
		}
	}
	m.routesLoaded = true
	return m.routes
}

// publishers are every stored object that can publish a host: gateways, then routes.
func (m *mesh) publishers() []runtime.Object {
	return append(slices.Clone(m.gatewayObjs), m.storedRoutes()...)
}

// with is the mesh with gw (an Istio or a Gateway API Gateway) stored as written.
func (m *mesh) with(gw runtime.Object) *mesh {
	c := *m
	c.istioGateways, c.gateways = maps.Clone(m.istioGateways), maps.Clone(m.gateways)
	c.gatewayObjs = slices.DeleteFunc(slices.Clone(m.gatewayObjs), func(o runtime.Object) bool { return describe(o) == describe(gw) })
	c.gatewayObjs = append(c.gatewayObjs, gw)
	switch g := gw.(type) {
	case *istionetworking.Gateway:
		c.istioGateways[key(g)] = g
	case *gatewayv1.Gateway:
		c.gateways[key(g)] = g
	}
	return &c
}

// boundTo are the private hosts that stored routes publish through gateway ("Gateway ns/name")
// and no login covers.
func (m *mesh) boundTo(gateway string) []Exposure {
	var out []Exposure
	for _, obj := range m.storedRoutes() { // the gateway itself is judged by its own exposures
		for _, p := range m.publications(obj) {
			if p.Gateway != gateway || !p.Private || slices.Contains(m.cfg.ExemptHosts, p.Host) {
				continue
			}
			if e := m.judge(p); !e.Covered {
				out = append(out, e)
			}
		}
	}
	return out
}

// service is Service ns/name when in view: only a Gateway deployed by hand needs one.
func (m *mesh) service(ns, name string) *corev1.Service { return m.services(ns, name) }

func key(o runtime.Object) string {
	a, err := meta.Accessor(o)
	if err != nil {
		return ""
	}
	return a.GetNamespace() + "/" + a.GetName()
}

// describe names an object in messages: VirtualService apps/grafana.
func describe(o runtime.Object) string {
	kind := ""
	switch o.(type) {
	case *istionetworking.VirtualService:
		kind = "VirtualService"
	case *istionetworking.Gateway, *gatewayv1.Gateway:
		kind = "Gateway"
	case *gatewayv1.HTTPRoute:
		kind = "HTTPRoute"
	case *gatewayv1.GRPCRoute:
		kind = "GRPCRoute"
	case *gatewayv1.TLSRoute:
		kind = "TLSRoute"
	case *istiosecurity.AuthorizationPolicy:
		kind = "AuthorizationPolicy"
	}
	return kind + " " + key(o)
}

// workload is a set of gateway pods; publication one host an object publishes on one;
// unsupported why no login can be checked there.
type (
	workload    = gatewayapi.Workload
	publication = gatewayapi.Publication
	unsupported = gatewayapi.Unsupported
)

// publications are the hosts obj publishes through gateways, one per host and workload, each
// marked private or not (a host for every name, "*", is private when hostlessRules is).
func (m *mesh) publications(obj runtime.Object) []publication {
	var out []publication
	add := func(p publication) {
		p.Private, p.By = m.private(p.Host), describe(obj)
		out = append(out, p)
	}
	// A Gateway API gateway's own hosts count as private only when wholly inside a private zone:
	// a wider one ("*.example.com") publishes what its routes bind, and those are judged.
	addServed := func(p publication) {
		p.Private, p.By = m.inside(p.Host), describe(obj)
		out = append(out, p)
	}
	switch o := obj.(type) {
	case *istionetworking.VirtualService:
		m.virtualService(o, add)
	case *istionetworking.Gateway:
		// Its servers' hosts make its pods a gateway, but publish nothing by themselves: Istio
		// answers a name no VirtualService binds with its default 404 virtual host (HTTP), or
		// no filter chain (TLS). What its routes bind is judged through them (and, on a Gateway
		// write, boundTo), so none of its own hosts is a private publication.
		for i, s := range o.Spec.GetServers() {
			for j, h := range s.GetHosts() {
				for _, w := range m.selected(o.Spec.GetSelector()) {
					out = append(out, publication{Host: serverHost(h), Field: fmt.Sprintf("spec.servers[%d].hosts[%d]", i, j), Gateway: describe(o), Workload: w,
						Unsupported: notHTTP(s), By: describe(o)})
				}
			}
		}
	case *gatewayv1.Gateway:
		for _, p := range m.view().Served(o) {
			addServed(p)
		}
	default:
		for _, p := range m.view().Routed(o) {
			add(p)
		}
	}
	return out
}

// inside reports whether every name host answers is private (gatewayapi.Inside).
func (m *mesh) inside(host string) bool { return gatewayapi.Inside(m.cfg.Config, host) }

// judge is what covers a publication, as the implementation running its pods says; none when
// no implementation privgate knows runs them.
func (m *mesh) judge(p publication) Exposure {
	if p.Workload.Impl == nil || p.Unsupported != nil {
		return m.exposeTo(p, nil)
	}
	return m.login(p.Workload.Impl).Coverage(p)
}

// login is impl's login over the mesh's snapshot, read once per judgement. Istio's is the mesh
// itself: it holds the AuthorizationPolicies already.
func (m *mesh) login(impl gatewayapi.Implementation) gatewayapi.Login {
	if _, ok := impl.(istioGateways); ok {
		return m
	}
	if m.logins == nil {
		m.logins = map[gatewayapi.Implementation]gatewayapi.Login{}
	}
	if m.logins[impl] == nil {
		m.logins[impl] = impl.Login(m.cfg.Config, m.cluster)
	}
	return m.logins[impl]
}

// onIstio reports whether Istio runs the pods of p: AuthorizationPolicies cover it.
func onIstio(p publication) bool {
	_, ok := p.Workload.Impl.(istioGateways)
	return ok && p.Unsupported == nil
}

// private reports whether host can serve a private name (gatewayapi.Private).
func (m *mesh) private(host string) bool { return gatewayapi.Private(m.cfg.Config, host) }

// virtualService publishes each host on each gateway the VirtualService names (not "mesh")
// whose servers bind it. A gateway not in view could select any pods once it exists: only a
// mesh-wide policy is known to cover them.
func (m *mesh) virtualService(vs *istionetworking.VirtualService, add func(publication)) {
	for _, ref := range vs.Spec.GetGateways() {
		if ref == "mesh" {
			continue
		}
		ns, name := gatewayName(ref, vs.Namespace)
		gw := m.istioGateways[ns+"/"+name]
		for _, h := range namedHosts(vs) {
			if gw == nil {
				add(publication{Host: h.Host, Field: h.Field, Gateway: "Gateway " + ns + "/" + name + " (not in view)",
					Workload: workload{Labels: map[string]string{}, Impl: istioGateways{}}})
				continue
			}
			for _, s := range bound(gw, vs.Namespace, h.Host) {
				why := notHTTP(s)
				if why == nil && len(vs.Spec.GetHttp()) == 0 {
					continue // an HTTP server routes only a VirtualService's http routes
				}
				if why != nil && len(vs.Spec.GetTls())+len(vs.Spec.GetTcp()) == 0 {
					continue // nor does a TLS or TCP server route http ones
				}
				for _, w := range m.selected(gw.Spec.GetSelector()) {
					if !exportedTo(vs, w.Namespace) {
						continue
					}
					add(publication{Host: h.Host, Field: h.Field, Gateway: describe(gw), Workload: w, Unsupported: why})
				}
			}
		}
	}
}

// exportedTo reports whether gateway pods in namespace load vs: Istio gives a gateway the
// VirtualServices visible in its proxy's namespace (PushContext.VirtualServicesForGateway):
// exportTo "*", "." for the VirtualService's own namespace, or the namespace's name. No exportTo
// is the mesh's default (defaultVirtualServiceExportTo, "*" unless changed: taken as "*"), and a
// namespace privgate does not know (a selector no configured workload matches) may be any.
func exportedTo(vs *istionetworking.VirtualService, namespace string) bool {
	to := vs.Spec.GetExportTo()
	if len(to) == 0 || namespace == "" {
		return true
	}
	return slices.Contains(to, "*") || slices.Contains(to, namespace) || namespace == vs.Namespace && slices.Contains(to, ".")
}

// gatewayName is the namespace and name of a VirtualService's gateway reference, as Istio
// resolves them: "ns/name", "./name" or "name" (the VirtualService's namespace), or the
// legacy "name.ns.svc.cluster.local".
func gatewayName(ref, vsNamespace string) (string, string) {
	if ns, name, ok := strings.Cut(ref, "/"); ok {
		if ns == "." {
			ns = vsNamespace
		}
		return ns, name
	}
	if name, rest, ok := strings.Cut(ref, "."); ok {
		ns, _, _ := strings.Cut(rest, ".")
		return ns, name
	}
	return vsNamespace, ref
}

// bound are the servers of gw that accept host from a VirtualService in namespace ns.
func bound(gw *istionetworking.Gateway, ns, host string) []*networkingv1alpha3.Server {
	var out []*networkingv1alpha3.Server
	for _, s := range gw.Spec.GetServers() {
		for _, h := range s.GetHosts() {
			where, name, ok := strings.Cut(h, "/")
			if !ok {
				where, name = "*", h
			}
			if where == "." {
				where = gw.Namespace
			}
			if where != "*" && where != ns {
				continue
			}
			if _, ok := hostsIntersect(name, host); ok {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// notHTTP says why a server's requests never reach an HTTP login provider (TLS passed through,
// TCP): Istio skips a CUSTOM policy with an HTTP provider on such filter chains. nil for HTTP.
func notHTTP(s *networkingv1alpha3.Server) *unsupported {
	// PASSTHROUGH is the mode's zero value: it counts only when the server has tls settings
	// (a plain HTTP server has none).
	tls, mode := s.GetTls(), s.GetTls().GetMode()
	switch p := strings.ToUpper(s.GetPort().GetProtocol()); {
	case tls != nil && (mode == networkingv1alpha3.ServerTLSSettings_PASSTHROUGH || mode == networkingv1alpha3.ServerTLSSettings_AUTO_PASSTHROUGH):
		return &unsupported{Reason: "passthrough", Server: s.GetPort().GetName()}
	case p != "HTTP" && p != "HTTPS" && p != "HTTP2" && p != "GRPC" && p != "GRPC-WEB":
		return &unsupported{Reason: "server-protocol", Server: s.GetPort().GetName(), Protocol: s.GetPort().GetProtocol()}
	}
	return nil
}

// selected are the configured gateway workloads an Istio Gateway's selector picks (Istio looks
// for them in every namespace). None configured matching: the selector itself, in a namespace
// privgate does not know.
func (m *mesh) selected(selector map[string]string) []workload {
	var out []workload
	for _, w := range m.cfg.GatewayWorkloads {
		if subset(selector, w.Labels) {
			out = append(out, workload{Namespace: w.Namespace, Labels: w.Labels, Impl: istioGateways{}})
		}
	}
	if len(out) == 0 {
		out = append(out, workload{Labels: selector, Impl: istioGateways{}})
	}
	return out
}

// subset reports whether every label of sel is in labels.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// gatewayNameLabel is the label Istio puts on the pods it deploys for a Gateway.
const gatewayNameLabel = "gateway.networking.k8s.io/gateway-name"

// view is the mesh's Gateway API objects, for what routes and gateways publish on them.
func (m *mesh) view() gatewayapi.View {
	return gatewayapi.View{Registry: implementations, Gateways: m.gateways, Classes: m.classes, Services: m.service,
		GroupsAnnotation: m.cfg.Groups.Annotation}
}
