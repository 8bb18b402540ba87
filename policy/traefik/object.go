package traefik

import (
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/traefik/router"
)

// object is one judged object, typed, with the document the policy reads.
type object struct {
	t     *Target
	kind  schema.GroupKind
	typed runtime.Object
	doc   []byte
}

func (o *object) Namespace() string                         { m, _ := meta.Accessor(o.typed); return m.GetNamespace() }
func (o *object) Name() string                              { m, _ := meta.Accessor(o.typed); return m.GetName() }
func (o *object) JSON() ([]byte, error)                     { return o.doc, nil }
func (o *object) Mutate(policy.Facts) (policy.Object, bool) { return nil, false }

// input is the traefik target's part of the policy input.
type input struct {
	// Login is the login Middleware's ID, for messages.
	Login string `json:"login"`
	// Routes are an IngressRoute's routes that answer a private host.
	Routes []Route `json:"routes,omitempty"`
	// TCP are an IngressRouteTCP's routes that answer a private name.
	TCP []TCPRoute `json:"tcp,omitempty"`
	// Uncovered are the routers behind login before a Middleware's change and not after it.
	Uncovered []Uncovered `json:"uncovered,omitempty"`
}

// Route is one HTTP router answering private hosts.
type Route struct {
	Field    string   `json:"field"`
	Hosts    []string `json:"hosts"`
	Priority int      `json:"priority"`
	// Skipped says why Traefik does not build the router at all ("" when it does).
	Skipped string `json:"skipped,omitempty"`
	// TLS: the IngressRoute has spec.tls, so its routers are served over TLS only.
	TLS         bool                `json:"tls"`
	EntryPoints []router.EntryPoint `json:"entryPoints"`

	index int // in spec.routes
}

// TCPRoute is one TCP router answering private names by SNI.
type TCPRoute struct {
	Field       string   `json:"field"`
	Hosts       []string `json:"hosts"`
	Passthrough bool     `json:"passthrough"`
}

// Uncovered is a router of a stored object whose login a Middleware change removes.
type Uncovered struct {
	Object      string   `json:"object"`
	Hosts       []string `json:"hosts"`
	EntryPoints []string `json:"entryPoints"`
}

// private classifies a rule's names as Traefik matches them (lower case, one trailing dot
// ignored: pkg/muxer/http/matcher.go): a HostRegexp may take any name, so it counts as private.
func (t *Target) private(m router.Match) []string {
	var out []string
	for _, h := range m.Hosts {
		if n := policy.NormalizeHost(h); t.zones.Private(n) {
			out = append(out, n)
		}
	}
	out = append(out, m.Regexp...)
	if m.Any && t.cfg.HostlessRules == "private" {
		out = append(out, "*")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Facts are the private hosts the routes answer; every object is judged (a Middleware against
// the routes using it).
func (o *object) Facts(string) policy.Facts {
	f := policy.Facts{Always: true}
	in := &input{Login: o.t.traefik.LoginID()}
	add := func(field string, hosts []string) {
		for _, h := range hosts {
			f.Hosts = append(f.Hosts, policy.HostFact{Host: h, Field: field, Private: true, TLS: true, Any: h == "*",
				Exempt: slices.Contains(o.t.cfg.ExemptHosts, h)})
		}
	}
	switch obj := o.typed.(type) {
	case *router.IngressRoute:
		for i, r := range obj.Spec.Routes {
			field := fmt.Sprintf("spec.routes[%d]", i)
			if hosts := o.t.private(router.ParseMatch(r.Match)); len(hosts) > 0 {
				add(field+".match", hosts)
				in.Routes = append(in.Routes, Route{Field: field, Hosts: hosts, Priority: router.Priority(r.Match, r.Priority), TLS: obj.Spec.TLS != nil, index: i})
			}
		}
		o.t.relateRoutes(obj, in, nil)
	case *router.IngressRouteTCP:
		for i, r := range obj.Spec.Routes {
			field := fmt.Sprintf("spec.routes[%d]", i)
			if hosts := o.t.private(router.ParseMatch(r.Match)); len(hosts) > 0 {
				add(field+".match", hosts)
				in.TCP = append(in.TCP, TCPRoute{Field: field, Hosts: hosts, Passthrough: obj.Spec.TLS != nil && obj.Spec.TLS.Passthrough})
			}
		}
	}
	f.Input = in
	return f
}

// relateRoutes resolves each private route's chain on its entrypoints (c nil: no Middleware is
// known, so none is reached).
func (t *Target) relateRoutes(ir *router.IngressRoute, in *input, c policy.Cluster) {
	x := index(c)
	for i := range in.Routes {
		r := &in.Routes[i]
		refs, skipped := t.traefik.RouteMiddlewares(ir.Namespace, ir.Spec.Routes[r.index].Middlewares, r.Field)
		r.Skipped = skipped
		r.EntryPoints = nil
		if skipped == "" {
			r.EntryPoints = t.traefik.Serve(x, ir.Spec.EntryPoints, "spec.entryPoints", refs)
		}
	}
}

func index(c policy.Cluster) router.Index {
	if c == nil {
		return nil
	}
	return router.NewIndex(c.Stored(router.MiddlewareKind.GroupKind()))
}

// Relate resolves a route's chains against the stored Middlewares, or, for a Middleware, finds
// the routers its change (or deletion) leaves without login.
func (o *object) Relate(c policy.Cluster, in *policy.Input) {
	mine, ok := in.Target.(*input)
	if !ok || c == nil {
		return
	}
	switch obj := o.typed.(type) {
	case *router.IngressRoute:
		o.t.relateRoutes(obj, mine, c)
	case *router.Middleware:
		mine.Uncovered = o.t.uncovered(c, obj, in.Request.Operation == "DELETE")
	}
}

// uncovered are the stored routers answering private hosts that reach the login before the
// Middleware's change and not after it: the change, or deletion, as Traefik would run it.
func (t *Target) uncovered(c policy.Cluster, m *router.Middleware, deleted bool) []Uncovered {
	stored := c.Stored(router.MiddlewareKind.GroupKind())
	before := router.NewIndex(stored)
	var rest []runtime.Object
	for _, s := range stored {
		if sm, ok := s.(*router.Middleware); !ok || sm.Namespace != m.Namespace || sm.Name != m.Name {
			rest = append(rest, s)
		}
	}
	if !deleted {
		rest = append(rest, m)
	}
	after := router.NewIndex(rest)
	var out []Uncovered
	for _, r := range t.routers(c) {
		u := Uncovered{Object: r.object, Hosts: r.hosts}
		now := t.traefik.Serve(after, r.entries, "", r.refs)
		for i, ep := range t.traefik.Serve(before, r.entries, "", r.refs) {
			if covered(ep.Chain) && !covered(now[i].Chain) {
				u.EntryPoints = append(u.EntryPoints, ep.Name)
			}
		}
		if len(u.EntryPoints) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// covered: the chain reaches the login, nothing before it can answer on its own, and Traefik
// builds it (every middleware exists: a missing one disables the router, and the host falls to
// whatever router comes next).
func covered(c router.Chain) bool {
	if c.Login < 0 {
		return false
	}
	for i, l := range c.Links {
		if l.State != "ok" || i < c.Login && !l.Safe {
			return false
		}
	}
	return true
}

// storedRouter is a stored router answering private hosts, with what its chain is made of.
type storedRouter struct {
	object  string
	hosts   []string
	entries []string
	refs    []router.Ref
}

// routers are the stored IngressRoutes' private routes and the stored Ingresses of Traefik's
// classes answering private hosts.
func (t *Target) routers(c policy.Cluster) []storedRouter {
	var out []storedRouter
	for _, obj := range c.Stored(router.IngressRouteKind.GroupKind()) {
		ir, ok := obj.(*router.IngressRoute)
		if !ok {
			continue
		}
		for i, r := range ir.Spec.Routes {
			hosts := t.private(router.ParseMatch(r.Match))
			refs, skipped := t.traefik.RouteMiddlewares(ir.Namespace, r.Middlewares, "")
			if len(hosts) > 0 && skipped == "" {
				out = append(out, storedRouter{fmt.Sprintf("IngressRoute %s/%s spec.routes[%d]", ir.Namespace, ir.Name, i), hosts, ir.Spec.EntryPoints, refs})
			}
		}
	}
	for _, obj := range c.Stored(ingressKind.GroupKind()) {
		ing, ok := obj.(*networkingv1.Ingress)
		if !ok || ing.Spec.IngressClassName == nil || !slices.Contains(t.traefik.IngressClasses, *ing.Spec.IngressClassName) {
			continue
		}
		var hosts []string
		for _, r := range ing.Spec.Rules {
			if h := policy.NormalizeHost(r.Host); t.zones.Private(h) {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) == 0 {
			continue
		}
		entries := router.IngressEntryPoints(ing.Annotations["traefik.ingress.kubernetes.io/router.entrypoints"])
		refs := router.IngressMiddlewares(ing.Annotations["traefik.ingress.kubernetes.io/router.middlewares"], "")
		out = append(out, storedRouter{"Ingress " + ing.Namespace + "/" + ing.Name, hosts, entries, refs})
	}
	return out
}
