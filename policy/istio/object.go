package istio

import (
	"fmt"
	"slices"
	"strings"

	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
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
	in := &input{}
	if ap, ok := o.typed.(*istiosecurity.AuthorizationPolicy); ok {
		in.Policy = o.t.cfg.read(ap)
	}
	f := policy.Facts{Always: true, Input: in}
	zones := o.t.cfg.Zones()
	for _, h := range namedHosts(o.typed) {
		if h.Host != "*" && zones.PrivateEnvoyHost(h.Host) {
			f.Hosts = append(f.Hosts, policy.HostFact{Host: h.Host, Field: h.Field, Private: true, TLS: true, Exempt: slices.Contains(o.t.cfg.ExemptHosts, h.Host)})
		}
	}
	return f
}

// Paths are the literal paths a route matches, on every host it names (the network probe;
// policy.Router).
func (o *object) Paths(string) []string { return gatewayapi.Paths(o.typed) }

// namedHost is a host an object names, normalized, and where.
type namedHost = gatewayapi.Host

// namedHosts are the hosts an object names: a VirtualService's hosts, a route's hostnames, an
// Istio Gateway's server hosts (without their namespace part), a Gateway's listener hostnames.
func namedHosts(obj runtime.Object) []namedHost {
	var out []namedHost
	switch o := obj.(type) {
	case *istionetworking.VirtualService:
		for i, h := range o.Spec.GetHosts() {
			out = append(out, namedHost{Host: policy.NormalizeHost(h), Field: fmt.Sprintf("spec.hosts[%d]", i)})
		}
	case *istionetworking.Gateway:
		for i, s := range o.Spec.GetServers() {
			for j, h := range s.GetHosts() {
				out = append(out, namedHost{Host: serverHost(h), Field: fmt.Sprintf("spec.servers[%d].hosts[%d]", i, j)})
			}
		}
	default:
		out = gatewayapi.Names(obj)
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
		if p.Private {
			mine.Exposures = append(mine.Exposures, m.judge(p))
			mine.Groups = p.Groups // the route's, the same on each of its publications
		}
	}
}
