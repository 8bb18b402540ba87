package gatewayapi

import (
	"fmt"
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
)

// Parent is a gateway a route names in its parentRefs.
type Parent struct {
	Namespace, Name string
	// Route is the namespace of the route naming it, for the listeners' allowedRoutes.
	Route string
	// Gateway names it in messages: "Gateway ns/name", "ListenerSet ns/name".
	Gateway string
	Field   string // spec.parentRefs[i]
	Ref     gatewayv1.ParentReference
	// Unfollowable says why privgate cannot follow the parent to a Gateway (a ListenerSet):
	// the hosts it would publish there are ones no login can be checked for. nil for a Gateway.
	Unfollowable *Unsupported
}

// Parents are the gateways a route in namespace ns names (the route's namespace unless a ref
// says otherwise). A Service parent is mesh traffic to a Service, not through a gateway: left
// out.
func Parents(ns string, refs []gatewayv1.ParentReference) []Parent {
	var out []Parent
	for i, p := range refs {
		group, kind := gatewayv1.GroupName, "Gateway"
		if p.Group != nil {
			group = string(*p.Group)
		}
		if p.Kind != nil {
			kind = string(*p.Kind)
		}
		gwNS := ns
		if p.Namespace != nil {
			gwNS = string(*p.Namespace)
		}
		if (group == "" || group == "core") && kind == "Service" {
			continue
		}
		parent := Parent{Namespace: gwNS, Name: string(p.Name), Route: ns, Gateway: kind + " " + gwNS + "/" + string(p.Name), Field: fmt.Sprintf("spec.parentRefs[%d]", i), Ref: p}
		if group != gatewayv1.GroupName || kind != "Gateway" {
			parent.Unfollowable = &Unsupported{Reason: "parent", Kind: kind, Group: group}
		}
		out = append(out, parent)
	}
	return out
}

// Attached is a host a route publishes through a parent, and the listeners that publish it
// there, by name (an implementation whose login is per listener judges each); none when the
// Gateway is not in view or the parent cannot be followed.
type Attached struct {
	Host
	Listeners []string
}

// Attachments are the hosts a route with hostnames named publishes through parent p, whose
// Gateway is gw (nil when not in view), with the listeners publishing each: on each listener the
// parentRef attaches to (attachedListeners), the narrower of the route's hostname and the
// listener's, or the listener's own when the route names none. http tells an HTTPRoute or
// GRPCRoute (HTTP and HTTPS listeners) from a TLSRoute (TLS ones). A parent privgate cannot
// follow publishes the route's hostnames, every host when it names none.
func Attachments(gw *gatewayv1.Gateway, p Parent, named []Host, http bool) []Attached {
	if p.Unfollowable != nil {
		var out []Attached
		for _, h := range orEvery(named, p.Field) {
			out = append(out, Attached{Host: h})
		}
		return out
	}
	var out []Attached
	for _, l := range attachedListeners(gw, p, http) {
		if len(named) == 0 {
			out = append(out, Attached{Host{l.host, p.Field}, l.names})
			continue
		}
		for _, h := range named {
			if host, ok := Intersect(h.Host, l.host); ok {
				out = append(out, Attached{Host{host, h.Field}, l.names})
			}
		}
	}
	return out
}

// orEvery is a route's hostnames, or every host ("*", at field) when it names none.
func orEvery(named []Host, field string) []Host {
	if len(named) == 0 {
		return []Host{{"*", field}}
	}
	return named
}

// hostListeners is one hostname the listeners a route attaches to serve, and their names.
type hostListeners struct {
	host  string
	names []string
}

// attachedListeners are the hostnames of the listeners parent p attaches its route to ("*" for
// a listener without one), with the names of the listeners serving each: HTTP and HTTPS ones for
// an HTTP route, TLS ones for a TLSRoute, that admit routes from the route's namespace (admits);
// every host when the Gateway is not in view.
func attachedListeners(gw *gatewayv1.Gateway, p Parent, http bool) []hostListeners {
	if gw == nil {
		return []hostListeners{{host: "*"}}
	}
	var out []hostListeners
	for _, l := range gw.Spec.Listeners {
		if (p.Ref.SectionName != nil && *p.Ref.SectionName != l.Name) || (p.Ref.Port != nil && *p.Ref.Port != l.Port) {
			continue
		}
		if !admits(gw, l, p.Route) {
			continue
		}
		if HTTPListener(l) != http || (!http && l.Protocol != gatewayv1.TLSProtocolType) {
			continue
		}
		h := "*"
		if l.Hostname != nil {
			h = policy.NormalizeHost(string(*l.Hostname))
		}
		if i := slices.IndexFunc(out, func(o hostListeners) bool { return o.host == h }); i >= 0 {
			out[i].names = append(out[i].names, string(l.Name))
			continue
		}
		out = append(out, hostListeners{host: h, names: []string{string(l.Name)}})
	}
	return out
}

// admits reports whether listener l of gw accepts routes from namespace ns, as its
// allowedRoutes.namespaces.from says (Gateway API's ListenerNamespaces): Same, the default (the
// CRD's, and the spec's when the field is absent, as in a manifest check reads), only the
// Gateway's namespace; All, any; Selector, namespaces whose labels match, which privgate does
// not read: admitted, so that a route is never wrongly taken for unattached (fail closed).
// A route a listener does not admit is not attached there: the implementation serves nothing
// of it (the Accepted condition says NotAllowedByListeners).
func admits(gw *gatewayv1.Gateway, l gatewayv1.Listener, ns string) bool {
	from := gatewayv1.NamespacesFromSame
	if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil && l.AllowedRoutes.Namespaces.From != nil {
		from = *l.AllowedRoutes.Namespaces.From
	}
	switch from {
	case gatewayv1.NamespacesFromSame:
		return ns == "" || ns == gw.Namespace
	case gatewayv1.NamespacesFromNone:
		return false
	}
	return true // All, Selector, or a value this version does not know
}

// HTTPListener reports whether a listener terminates HTTP.
func HTTPListener(l gatewayv1.Listener) bool {
	return l.Protocol == gatewayv1.HTTPProtocolType || l.Protocol == gatewayv1.HTTPSProtocolType
}

// Listener is a host a Gateway's listener serves itself.
type Listener struct {
	Host
	Name string // the listener's name
	// NotHTTP says why the listener's requests never reach an HTTP login provider (TLS passed
	// through, TCP); nil for HTTP and HTTPS.
	NotHTTP *Unsupported
}

// Served are the hosts a Gateway's listeners serve, one per listener ("*" for one without a
// hostname).
func Served(gw *gatewayv1.Gateway) []Listener {
	out := make([]Listener, 0, len(gw.Spec.Listeners))
	for i, l := range gw.Spec.Listeners {
		s := Listener{Host: Host{"*", fmt.Sprintf("spec.listeners[%d]", i)}, Name: string(l.Name)}
		if l.Hostname != nil {
			s.Host = Host{policy.NormalizeHost(string(*l.Hostname)), fmt.Sprintf("spec.listeners[%d].hostname", i)}
		}
		if !HTTPListener(l) {
			s.NotHTTP = &Unsupported{Reason: "listener-protocol", Listener: string(l.Name), Protocol: string(l.Protocol)}
		}
		out = append(out, s)
	}
	return out
}
