package gatewayapi

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
)

// Host is a host an object names, normalized, and where.
type Host struct{ Host, Field string }

// Hostnames are a route's spec.hostnames.
func Hostnames(hs []gatewayv1.Hostname) []Host {
	out := make([]Host, 0, len(hs))
	for i, h := range hs {
		out = append(out, Host{policy.NormalizeHost(string(h)), fmt.Sprintf("spec.hostnames[%d]", i)})
	}
	return out
}

// Names are the hosts a Gateway API object names itself: a Gateway's listener hostnames, a
// route's hostnames. What it publishes depends on the other side too (Attach, Served).
func Names(obj runtime.Object) []Host {
	var out []Host
	switch o := obj.(type) {
	case *gatewayv1.Gateway:
		for i, l := range o.Spec.Listeners {
			if l.Hostname != nil {
				out = append(out, Host{policy.NormalizeHost(string(*l.Hostname)), fmt.Sprintf("spec.listeners[%d].hostname", i)})
			}
		}
	case *gatewayv1.HTTPRoute:
		out = Hostnames(o.Spec.Hostnames)
	case *gatewayv1.GRPCRoute:
		out = Hostnames(o.Spec.Hostnames)
	case *gatewayv1.TLSRoute:
		out = Hostnames(o.Spec.Hostnames)
	}
	return out
}

// Intersect reports whether two host patterns (exact names or "*." wildcards, "*" for all) can
// name the same host, and which is the narrower: what a route hostname and a listener hostname
// publish together. Istio binds a VirtualService's hosts to a server's the same way.
func Intersect(a, b string) (string, bool) {
	a, b = policy.NormalizeHost(a), policy.NormalizeHost(b)
	switch {
	case a == "*" || a == "":
		return b, true
	case b == "*" || b == "":
		return a, true
	case a == b:
		return a, true
	}
	if within(a, b) {
		return a, true
	}
	if within(b, a) {
		return b, true
	}
	return "", false
}

// within reports whether every name h answers is one pattern answers: pattern is a wildcard
// whose suffix ends h (Gateway API and Istio wildcards match any number of labels).
func within(h, pattern string) bool {
	base, ok := strings.CutPrefix(pattern, "*")
	if !ok {
		return false
	}
	name := strings.TrimPrefix(h, "*")
	return strings.HasSuffix(name, base) && len(name) > len(base)
}

// Paths are the literal paths an HTTPRoute's rules match (Exact and PathPrefix values; a rule
// with no path match is "/"), for the network probe; none for other objects. Regular
// expressions are left out: there is no one path to ask.
func Paths(route runtime.Object) []string {
	r, ok := route.(*gatewayv1.HTTPRoute)
	if !ok {
		return nil
	}
	var out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, rule := range r.Spec.Rules {
		if len(rule.Matches) == 0 {
			add("/")
		}
		for _, m := range rule.Matches {
			switch {
			case m.Path == nil || m.Path.Value == nil:
				add("/")
			case m.Path.Type == nil || *m.Path.Type != gatewayv1.PathMatchRegularExpression:
				add(*m.Path.Value)
			}
		}
	}
	return out
}
