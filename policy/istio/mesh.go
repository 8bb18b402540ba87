package istio

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
)

// istioController is the GatewayClass controllerName of Istio's Gateway API implementation;
// istioClass is the class Istio installs for it, assumed when the GatewayClass is not in view.
const (
	istioController = "istio.io/gateway-controller"
	istioClass      = "istio"
)

// mesh is what the stored objects say of gateways and their login: a snapshot of the Cluster.
type mesh struct {
	cfg           *policy.Config
	policies      []*istiosecurity.AuthorizationPolicy
	istioGateways map[string]*istionetworking.Gateway // by namespace/name
	gateways      map[string]*gatewayv1.Gateway
	classes       map[string]string          // GatewayClass name -> controllerName
	services      map[string]*corev1.Service // read on first use: most judgements need none
	publishers    []runtime.Object           // every stored object that can publish a host
	cluster       policy.Cluster
}

func load(cfg *policy.Config, c policy.Cluster) *mesh {
	m := &mesh{cfg: cfg, istioGateways: map[string]*istionetworking.Gateway{}, gateways: map[string]*gatewayv1.Gateway{},
		classes: map[string]string{}, cluster: c}
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
			m.publishers = append(m.publishers, g)
		}
	}
	for _, o := range c.Stored(Gateway) {
		if g, ok := o.(*gatewayv1.Gateway); ok {
			m.gateways[key(g)] = g
			m.publishers = append(m.publishers, g)
		}
	}
	for _, o := range c.Stored(GatewayClass) {
		if gc, ok := o.(*gatewayv1.GatewayClass); ok {
			m.classes[gc.Name] = string(gc.Spec.ControllerName)
		}
	}
	for _, gk := range []schema.GroupKind{VirtualService, HTTPRoute, GRPCRoute} {
		m.publishers = append(m.publishers, c.Stored(gk)...)
	}
	return m
}

// service is Service ns/name when in view. Services are listed once, on first use: only a
// Gateway deployed by hand needs one.
func (m *mesh) service(ns, name string) *corev1.Service {
	if m.services == nil {
		m.services = map[string]*corev1.Service{}
		if m.cluster != nil {
			for _, o := range m.cluster.Stored(Service) {
				if s, ok := o.(*corev1.Service); ok {
					m.services[key(s)] = s
				}
			}
		}
	}
	return m.services[ns+"/"+name]
}

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
	case *istiosecurity.AuthorizationPolicy:
		kind = "AuthorizationPolicy"
	}
	return kind + " " + key(o)
}

// workload is a set of gateway pods.
type workload struct {
	namespace string            // "" when unknown
	labels    map[string]string // the pods' labels (or the selector that picks them)
	// gateway is the Gateway API Gateway these pods serve, for targetRefs; nil for an Istio
	// Gateway's pods.
	gateway *gatewayv1.Gateway
	// class is that Gateway's class.
	class string
	// impl is the implementation running the pods, which says what covers a host on them
	// (nil when none privgate knows does).
	impl implementation
}

func (w workload) String() string {
	ns := w.namespace
	if ns == "" {
		ns = "*"
	}
	keys := slices.Sorted(maps.Keys(w.labels))
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, k+"="+w.labels[k])
	}
	return ns + "/{" + strings.Join(pairs, ",") + "}"
}

// publication is one host an object publishes on one gateway workload.
type publication struct {
	host        string // normalized; "*" for every host
	field       string
	by          string
	gateway     string
	workload    workload
	unsupported string // why no login can be checked here
	private     bool
}

// publications are the hosts obj publishes through gateways, one per host and workload, each
// marked private or not (a host for every name, "*", is private when hostlessRules is).
func (m *mesh) publications(obj runtime.Object) []publication {
	var out []publication
	add := func(p publication) {
		p.private, p.by = m.private(p.host), describe(obj)
		out = append(out, p)
	}
	// A gateway's own hosts count as private only when wholly inside a private zone: a wider
	// one ("*.example.com") publishes what its routes bind, and those are judged.
	addServed := func(p publication) {
		p.private, p.by = m.inside(p.host), describe(obj)
		out = append(out, p)
	}
	switch o := obj.(type) {
	case *istionetworking.VirtualService:
		m.virtualService(o, add)
	case *istionetworking.Gateway:
		for _, h := range namedHosts(o) {
			for _, w := range m.selected(o.Spec.GetSelector()) {
				addServed(publication{host: h.host, field: h.field, gateway: describe(o), workload: w})
			}
		}
	case *gatewayv1.Gateway:
		w, unsupported := m.gatewayWorkload(o.Namespace, o.Name, o)
		for i, l := range o.Spec.Listeners {
			h := namedHost{"*", fmt.Sprintf("spec.listeners[%d]", i)}
			if l.Hostname != nil {
				h = namedHost{policy.NormalizeHost(string(*l.Hostname)), fmt.Sprintf("spec.listeners[%d].hostname", i)}
			}
			addServed(publication{host: h.host, field: h.field, gateway: describe(o), workload: w, unsupported: unsupported})
		}
	case *gatewayv1.HTTPRoute:
		m.route(o.Namespace, o.Spec.ParentRefs, o.Spec.Hostnames, add)
	case *gatewayv1.GRPCRoute:
		m.route(o.Namespace, o.Spec.ParentRefs, o.Spec.Hostnames, add)
	}
	return out
}

// inside reports whether every name host answers is private: a gateway's own hosts are judged
// only then ("*.private.example.com", not "*.example.com", whose private names are bound, and
// judged, by routes).
func (m *mesh) inside(host string) bool {
	base, wild := strings.CutPrefix(host, "*.")
	return host != "*" && m.cfg.Zones().Private(base) && (wild || m.cfg.Zones().Private(host))
}

// judge is what covers a publication, as the implementation running its pods says; none when
// no implementation privgate knows runs them.
func (m *mesh) judge(p publication) policy.Exposure {
	if p.workload.impl == nil || p.unsupported != "" {
		return m.exposeTo(p, nil)
	}
	return p.workload.impl.expose(m, p)
}

// istio reports whether Istio runs the pods of p: AuthorizationPolicies cover it.
func (p publication) istio() bool {
	_, ok := p.workload.impl.(istioGateways)
	return ok && p.unsupported == ""
}

func (m *mesh) private(host string) bool {
	if host == "*" {
		return m.cfg.HostlessRules == "private"
	}
	return m.cfg.Zones().Private(host)
}

// virtualService publishes each host on each gateway the VirtualService names (not "mesh")
// whose servers bind it. A gateway not in view is assumed to be any configured gateway workload,
// binding every host: nothing can be known to protect it.
func (m *mesh) virtualService(vs *istionetworking.VirtualService, add func(publication)) {
	for _, ref := range vs.Spec.GetGateways() {
		if ref == "mesh" {
			continue
		}
		ns, name, ok := strings.Cut(ref, "/")
		if !ok {
			ns, name = vs.Namespace, ref
		}
		gw := m.istioGateways[ns+"/"+name]
		for _, h := range namedHosts(vs) {
			if gw == nil {
				for _, w := range m.configured() {
					add(publication{host: h.host, field: h.field, gateway: "Gateway " + ns + "/" + name + " (not in view)", workload: w})
				}
				continue
			}
			if !binds(gw, vs.Namespace, h.host) {
				continue
			}
			for _, w := range m.selected(gw.Spec.GetSelector()) {
				add(publication{host: h.host, field: h.field, gateway: describe(gw), workload: w})
			}
		}
	}
}

// binds reports whether some server of gw accepts host from a VirtualService in namespace ns.
func binds(gw *istionetworking.Gateway, ns, host string) bool {
	for _, s := range gw.Spec.GetServers() {
		for _, h := range s.GetHosts() {
			where, name, ok := strings.Cut(h, "/")
			if !ok {
				where, name = "*", h
			}
			switch where {
			case "*":
			case ".":
				if ns != gw.Namespace {
					continue
				}
			default:
				if ns != where {
					continue
				}
			}
			if _, ok := hostsIntersect(name, host); ok {
				return true
			}
		}
	}
	return false
}

// selected are the configured gateway workloads an Istio Gateway's selector picks (Istio looks
// for them in every namespace). None configured matching: the selector itself, in a namespace
// privgate does not know.
func (m *mesh) selected(selector map[string]string) []workload {
	var out []workload
	for _, w := range m.cfg.Istio.GatewayWorkloads {
		if subset(selector, w.Labels) {
			out = append(out, workload{namespace: w.Namespace, labels: w.Labels, impl: istioGateways{}})
		}
	}
	if len(out) == 0 {
		out = append(out, workload{labels: selector, impl: istioGateways{}})
	}
	return out
}

func (m *mesh) configured() []workload {
	out := make([]workload, 0, len(m.cfg.Istio.GatewayWorkloads))
	for _, w := range m.cfg.Istio.GatewayWorkloads {
		out = append(out, workload{namespace: w.Namespace, labels: w.Labels, impl: istioGateways{}})
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

// gatewayWorkload is the pods serving Gateway ns/name, as the implementation running its class
// deploys them (gw nil when not in view: then assumed to be Istio's, class istio), and why no
// login can be checked there when no implementation privgate knows runs the class.
func (m *mesh) gatewayWorkload(ns, name string, gw *gatewayv1.Gateway) (workload, string) {
	class := istioClass
	if gw != nil {
		class = string(gw.Spec.GatewayClassName)
	}
	controller, ok := m.classes[class]
	if !ok && class == istioClass {
		controller, ok = istioController, true
	}
	impl := implementations[controller]
	switch {
	case !ok:
		return workload{namespace: ns, class: class}, fmt.Sprintf("its GatewayClass %q is not in view, so its controller is unknown", class)
	case impl == nil:
		return workload{namespace: ns, class: class}, fmt.Sprintf("its GatewayClass %q is run by %s, which privgate cannot check for login (it knows %s)", class, controller, known())
	}
	w, why := impl.pods(m, ns, name, gw, class)
	w.impl = impl
	return w, why
}

// route publishes a route's hostnames on the listeners of each Gateway it attaches to
// (parentRefs of kind Gateway; a Service parent is the mesh, not a gateway). A route without
// hostnames takes its listener's, every host when the listener names none.
func (m *mesh) route(ns string, parents []gatewayv1.ParentReference, hostnames []gatewayv1.Hostname, add func(publication)) {
	named := routeHostnames(hostnames)
	for i, p := range parents {
		if (p.Group != nil && string(*p.Group) != gatewayv1.GroupName) || (p.Kind != nil && string(*p.Kind) != "Gateway") {
			continue
		}
		gwNS := ns
		if p.Namespace != nil {
			gwNS = string(*p.Namespace)
		}
		gw := m.gateways[gwNS+"/"+string(p.Name)]
		w, unsupported := m.gatewayWorkload(gwNS, string(p.Name), gw)
		gateway := "Gateway " + gwNS + "/" + string(p.Name)
		if gw == nil {
			gateway += " (not in view)"
		}
		parentField := fmt.Sprintf("spec.parentRefs[%d]", i)
		for _, listener := range listeners(gw, p) {
			if len(named) == 0 {
				add(publication{host: listener, field: parentField, gateway: gateway, workload: w, unsupported: unsupported})
				continue
			}
			for _, h := range named {
				if host, ok := hostsIntersect(h.host, listener); ok {
					add(publication{host: host, field: h.field, gateway: gateway, workload: w, unsupported: unsupported})
				}
			}
		}
	}
}

// listeners are the hostnames of the listeners a parentRef attaches to ("*" for a listener
// without one); every host when the Gateway is not in view.
func listeners(gw *gatewayv1.Gateway, p gatewayv1.ParentReference) []string {
	if gw == nil {
		return []string{"*"}
	}
	var out []string
	for _, l := range gw.Spec.Listeners {
		if (p.SectionName != nil && *p.SectionName != l.Name) || (p.Port != nil && *p.Port != l.Port) {
			continue
		}
		h := "*"
		if l.Hostname != nil {
			h = policy.NormalizeHost(string(*l.Hostname))
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}
