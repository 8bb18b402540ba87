package istio

import (
	"fmt"
	"slices"
	"strings"

	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
)

// object is one judged object, typed, with the document the policy reads.
type object struct {
	t     *Target
	kind  schema.GroupKind
	typed runtime.Object
	doc   []byte
}

func (o *object) Namespace() string { m, _ := meta.Accessor(o.typed); return m.GetNamespace() }
func (o *object) Name() string      { m, _ := meta.Accessor(o.typed); return m.GetName() }

// JSON is the object as written, without managedFields.
func (o *object) JSON() ([]byte, error) { return o.doc, nil }

// Mutate: privgate never changes these objects (the fix is a policy, printed in the message).
func (o *object) Mutate(policy.Facts) (policy.Object, bool) { return nil, false }

// Facts are the private hosts the object names itself (for the zone view), and the mark that it
// is judged against other objects whatever it names.
func (o *object) Facts(string) policy.Facts {
	f := policy.Facts{Always: true, Input: &input{}}
	zones := o.t.cfg.Zones()
	for _, h := range namedHosts(o.typed) {
		if h.host != "*" && zones.PrivateEnvoyHost(h.host) {
			f.Hosts = append(f.Hosts, policy.HostFact{Host: h.host, Field: h.field, Private: true, TLS: true, Exempt: slices.Contains(o.t.cfg.ExemptHosts, h.host)})
		}
	}
	return f
}

// namedHost is a host an object names, normalized, and where.
type namedHost struct{ host, field string }

// namedHosts are the hosts an object names: a VirtualService's hosts, a route's hostnames, an
// Istio Gateway's server hosts (without their namespace part), a Gateway's listener hostnames.
func namedHosts(obj runtime.Object) []namedHost {
	var out []namedHost
	switch o := obj.(type) {
	case *istionetworking.VirtualService:
		for i, h := range o.Spec.GetHosts() {
			out = append(out, namedHost{policy.NormalizeHost(h), fmt.Sprintf("spec.hosts[%d]", i)})
		}
	case *istionetworking.Gateway:
		for i, s := range o.Spec.GetServers() {
			for j, h := range s.GetHosts() {
				out = append(out, namedHost{serverHost(h), fmt.Sprintf("spec.servers[%d].hosts[%d]", i, j)})
			}
		}
	case *gatewayv1.Gateway:
		for i, l := range o.Spec.Listeners {
			if l.Hostname != nil {
				out = append(out, namedHost{policy.NormalizeHost(string(*l.Hostname)), fmt.Sprintf("spec.listeners[%d].hostname", i)})
			}
		}
	case *gatewayv1.HTTPRoute:
		out = routeHostnames(o.Spec.Hostnames)
	case *gatewayv1.GRPCRoute:
		out = routeHostnames(o.Spec.Hostnames)
	case *gatewayv1.TLSRoute:
		out = routeHostnames(o.Spec.Hostnames)
	}
	return out
}

func routeHostnames(hs []gatewayv1.Hostname) []namedHost {
	out := make([]namedHost, 0, len(hs))
	for i, h := range hs {
		out = append(out, namedHost{policy.NormalizeHost(string(h)), fmt.Sprintf("spec.hostnames[%d]", i)})
	}
	return out
}

// serverHost is an Istio Gateway server host without its namespace part ("ns/host", "./host",
// "*/host"): the part a VirtualService's host binds to.
func serverHost(h string) string {
	if _, host, ok := strings.Cut(h, "/"); ok {
		return policy.NormalizeHost(host)
	}
	return policy.NormalizeHost(h)
}

// Relate fills in the exposures of what the object publishes, or, for an AuthorizationPolicy,
// what its change uncovers. A gateway's change is judged on the routes bound to it too: moving
// its pods, or creating it under routes that name it, publishes their hosts there.
func (o *object) Relate(c policy.Cluster, in *policy.Input) {
	mine, ok := in.Target.(*input)
	if !ok {
		return
	}
	m := load(o.t.cfg, c)
	switch {
	case o.kind == AuthorizationPolicy:
		mine.Uncovered, mine.Conflicts, mine.Gateways = m.change(o, in.Request.Operation)
		return
	case in.Request.Operation == "DELETE":
		return // removing a route or gateway publishes nothing
	case o.kind == IstioGateway || o.kind == Gateway:
		mine.Uncovered = m.with(o.typed).boundTo("Gateway " + key(o.typed))
	}
	for _, p := range m.publications(o.typed) {
		if p.private {
			mine.Exposures = append(mine.Exposures, m.judge(p))
		}
	}
}
