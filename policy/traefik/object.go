package traefik

import (
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
	"github.com/privgate/privgate/policy/traefik/router"
)

// object is one judged object, typed, with the document the policy reads.
type object struct {
	t     *Target
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
	// Groups are those its login must narrow to (an Ingress's groups annotation), sorted.
	Groups []string `json:"groups,omitempty"`
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
	x := router.Stored(c)
	for i := range in.Routes {
		r := &in.Routes[i]
		paths, skipped := t.paths(c, ir, r.index, r.Field, 0)
		r.Skipped = skipped
		r.EntryPoints = nil
		for _, p := range paths {
			r.EntryPoints = append(r.EntryPoints, t.traefik.Serve(x, p.entries, "spec.entryPoints", p.refs)...)
		}
	}
}

// path is one way a request reaches a route: the entrypoints of the root router it comes
// through, and the middlewares it runs on the way (the root's, then each child's).
type path struct {
	entries []string
	refs    []router.Ref
}

// maxDepth bounds the parents followed (Traefik refuses a cycle; privgate stops early and skips).
const maxDepth = 8

// paths are the ways a request reaches route n of ir, and why Traefik builds none ("" when it
// does). A root route is reached on its entrypoints through its own middlewares. A child route
// (spec.parentRefs) is no root router: entrypoints are refused on it, and it is reached through
// every route of each parent, whose middlewares run first (resolveParentRouterNames,
// pkg/provider/kubernetes/crd/kubernetes_http.go; pkg/server/router/router.go). A parent not
// stored (or not in view) makes Traefik skip the child: nothing is served through it.
func (t *Target) paths(c policy.Cluster, ir *router.IngressRoute, n int, field string, depth int) ([]path, string) {
	refs, skipped := t.traefik.RouteMiddlewares(ir.Namespace, ir.Spec.Routes[n].Middlewares, field)
	if skipped != "" {
		return nil, skipped
	}
	if len(ir.Spec.ParentRefs) == 0 {
		return []path{{entries: ir.Spec.EntryPoints, refs: refs}}, ""
	}
	if len(ir.Spec.EntryPoints) > 0 {
		return nil, "spec.entryPoints: a child IngressRoute (spec.parentRefs) cannot name entrypoints, so Traefik disables its routers"
	}
	if depth >= maxDepth || c == nil {
		return nil, "spec.parentRefs: its parents are not in view"
	}
	var out []path
	for _, ref := range ir.Spec.ParentRefs {
		ns := ref.Namespace
		if ns == "" {
			ns = ir.Namespace
		}
		if ns != ir.Namespace && !t.traefik.AllowCrossNamespace {
			return nil, "spec.parentRefs: IngressRoute " + ns + "/" + ref.Name + " is in another namespace, which allowCrossNamespace false refuses"
		}
		parent, ok := c.Get(router.IngressRouteKind.GroupKind(), ns, ref.Name).(*router.IngressRoute)
		if !ok {
			return nil, "spec.parentRefs: IngressRoute " + ns + "/" + ref.Name + " does not exist"
		}
		for i := range parent.Spec.Routes {
			via, skipped := t.paths(c, parent, i, field, depth+1)
			if skipped != "" {
				continue // that parent route is not built: nothing reaches the child through it
			}
			for _, p := range via {
				out = append(out, path{entries: p.entries, refs: append(slices.Clip(p.refs), refs...)})
			}
		}
	}
	return out, ""
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
		u := Uncovered{Object: r.object, Hosts: r.hosts, Groups: r.groups}
		now := t.traefik.Serve(after, r.entries, "", r.refs)
		for i, ep := range t.traefik.Serve(before, r.entries, "", r.refs) {
			if covered(ep.Chain, r.groups) && !covered(now[i].Chain, r.groups) {
				u.EntryPoints = append(u.EntryPoints, ep.Name)
			}
		}
		if len(u.EntryPoints) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// covered: the chain reaches the login for groups (router.Chain.LoginFor), nothing before it
// but another login can answer on its own, and Traefik builds it (every middleware exists: a
// missing one disables the router, and the host falls to whatever router comes next).
func covered(c router.Chain, groups []string) bool {
	at := c.LoginFor(groups)
	if at < 0 {
		return false
	}
	for i, l := range c.Links {
		if l.State != "ok" || i < at && !l.Safe && !l.Login {
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
	groups  []string // those an Ingress allows (its groups annotation), sorted
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
			if len(hosts) == 0 {
				continue
			}
			paths, _ := t.paths(c, ir, i, "", 0)
			for _, p := range paths {
				out = append(out, storedRouter{fmt.Sprintf("IngressRoute %s/%s spec.routes[%d]", ir.Namespace, ir.Name, i), hosts, p.entries, p.refs, nil})
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
		entries := router.IngressEntryPoints(ing.Annotations[router.AnnotationEntryPoints])
		refs := router.IngressMiddlewares(ing.Annotations[router.AnnotationMiddlewares], "")
		allowed := slices.Sorted(slices.Values(groups.Split(ing.Annotations[t.cfg.Groups.Annotation])))
		out = append(out, storedRouter{"Ingress " + ing.Namespace + "/" + ing.Name, hosts, entries, refs, allowed})
	}
	return append(out, t.routeRouters(c)...)
}

// registry knows Traefik's Gateway API provider alone: a Middleware change matters only to
// routes on Traefik's Gateways.
var registry = gatewayapi.Registry{Implementations: map[string]gatewayapi.Implementation{GatewayController: Gateways{}}}

// routeRouters are the stored HTTPRoutes' rules publishing private hosts through Traefik's
// Gateways: one router per rule, on the default entrypoints, running the Middlewares its
// ExtensionRef filters name (as gatewayLogin.Coverage judges them).
func (t *Target) routeRouters(c policy.Cluster) []storedRouter {
	routes := c.Stored(gatewayapi.HTTPRoute)
	if len(routes) == 0 {
		return nil
	}
	view := gatewayapi.Load(registry, t.cfg, c, gatewayapi.ServicesOf(c))
	l := gatewayLogin{settings: t.traefik}
	var out []storedRouter
	for _, o := range routes {
		route, ok := o.(*gatewayv1.HTTPRoute)
		if !ok {
			continue
		}
		var hosts, allowed []string
		for _, p := range view.Routed(route) {
			if _, ok := p.Workload.Impl.(Gateways); ok && p.Unsupported == nil && gatewayapi.Private(t.cfg, p.Host) &&
				!slices.Contains(t.cfg.ExemptHosts, p.Host) && !slices.Contains(hosts, p.Host) {
				hosts, allowed = append(hosts, p.Host), p.Groups
			}
		}
		if len(hosts) == 0 {
			continue
		}
		allowed = slices.Sorted(slices.Values(allowed))
		for i, rule := range route.Spec.Rules {
			where := fmt.Sprintf("spec.rules[%d]", i)
			refs, _ := l.filters(route.Namespace, rule.Filters, where)
			out = append(out, storedRouter{fmt.Sprintf("HTTPRoute %s/%s %s", route.Namespace, route.Name, where), hosts, nil, refs, allowed})
		}
	}
	return out
}
