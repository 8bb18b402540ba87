// Package migrate moves Ingresses to Gateway API without losing their login. For each Ingress
// (as stored: after privgate's mutation) it writes the HTTPRoutes serving its hosts and paths,
// and the Gateway and listeners they need. What keeps the login on the chosen implementation is
// not written here: it is that implementation's own suggestion (its target's policy.Fixer, the
// same that `privgate <target> policy` prints), and the whole output is judged with privgate's
// rules before it is printed (cmd/privgate/migrate.go). What cannot be carried over is said per
// object: an annotation left behind is a Note, an Ingress that cannot move without losing part
// of its login (or its meaning) is Refused.
package migrate

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/groups"
)

// Implementation is a Gateway API implementation migrate writes for.
type Implementation struct {
	// Name is what --to takes.
	Name string
	// GatewayClass is the class the implementation installs, and Controller its controllerName:
	// a generated Gateway names the class, and the output is judged as if it exists.
	GatewayClass, Controller string
	// Groups says why a set of allowed groups cannot travel there under the config (nil when
	// it can). Istio's CUSTOM provider and Envoy Gateway's extAuth send every request of a route
	// to one fixed login: a set travels only to the login configured for exactly it (an
	// oauth2-proxy run with --allowed-group: istio.groupLogins, envoyGateway.groupLogins). A
	// Traefik login Middleware's address carries the query (one Middleware per set).
	Groups func(groups []string) error
	// GatewayPerGroups: the implementation runs one login per gateway workload and one
	// workload per Gateway (Istio), so the routes of each set of allowed groups attach to a
	// generated Gateway of their own (GatewayName and the set's hash).
	GatewayPerGroups bool
	// RouteLogin, where each rule of a protected route names the login (Traefik: an
	// ExtensionRef filter to a forwardAuth Middleware of the route's namespace), is that
	// reference for a set of allowed groups (none: everyone who logs in) and the object it
	// names, which migrate writes too. nil where the login is a policy of its own, which the
	// implementation's target suggests (policy.Fixer).
	RouteLogin func(namespace string, groups []string) (gatewayv1.LocalObjectReference, map[string]any)
	// Unavailable says why migrate cannot write for it under this config; nil when it can.
	Unavailable error
}

// Lookup is the implementation of impls --to names (the registry's, policy/targets).
func Lookup(impls []Implementation, name string) (Implementation, error) {
	var names []string
	for _, i := range impls {
		if i.Name == name {
			return i, i.Unavailable
		}
		names = append(names, i.Name)
	}
	return Implementation{}, fmt.Errorf("not an implementation migrate writes for (%s)", strings.Join(names, ", "))
}

// Options are what a migration needs to know beyond the Ingresses.
type Options struct {
	To Implementation
	// Gateway is an existing Gateway to attach every route to; nil generates one per namespace
	// (GatewayName), with an HTTPS listener per host.
	Gateway *types.NamespacedName
	// GatewayClass overrides To.GatewayClass for generated Gateways.
	GatewayClass string
	// AnnotationPrefix is ingress-nginx's (privgate.yaml's annotationPrefix).
	AnnotationPrefix string
	// GroupsAnnotation is privgate.yaml's groups.annotation.
	GroupsAnnotation string
	// Private says whether a host is in the private zone (privgate.yaml's privateDomains). A
	// route answering one gets the login where it is the route's (RouteLogin), whatever
	// protected the Ingress: ingress-nginx's auth-url, or, on a class Traefik serves, the login
	// Middleware privgate's mutation names in router.middlewares. nil: only auth-url says so.
	Private func(host string) bool
	// PortNumber finds the number of a Service's named port, where the Service is in view.
	PortNumber func(namespace, service, port string) (int32, bool)
}

// GatewayName names the Gateway generated in each namespace.
const GatewayName = "privgate-migrated"

// Note is something about one Ingress the migration says: an annotation left behind (Notes)
// or why it was not migrated (Refused).
type Note struct {
	Ingress string // namespace/name
	Field   string
	Message string
}

func (n Note) String() string { return fmt.Sprintf("%s %s: %s", n.Ingress, n.Field, n.Message) }

// Result is a migration's output.
type Result struct {
	Gateways []*gatewayv1.Gateway
	Routes   []Route
	// Logins are the login objects migrate writes itself (RouteLogin's), by namespace and name.
	Logins  []map[string]any
	Notes   []Note
	Refused []Note
}

// Route is one HTTPRoute written, with the Ingress it comes from (namespace/name).
type Route struct {
	Route *gatewayv1.HTTPRoute
	From  string
}

// Ingresses migrates each Ingress; one that cannot move whole is refused, and the others still
// move.
func Ingresses(ings []*networkingv1.Ingress, o Options) Result {
	m := &migration{o: o, gateways: map[string]*gatewayv1.Gateway{}, logins: map[string]map[string]any{}}
	for _, ing := range ings {
		m.ingress(ing)
	}
	for _, key := range slices.Sorted(maps.Keys(m.gateways)) {
		m.res.Gateways = append(m.res.Gateways, m.gateways[key])
	}
	for _, key := range slices.Sorted(maps.Keys(m.logins)) {
		m.res.Logins = append(m.res.Logins, m.logins[key])
	}
	return m.res
}

type migration struct {
	o        Options
	res      Result
	gateways map[string]*gatewayv1.Gateway // generated, by namespace/name
	logins   map[string]map[string]any     // the login objects routes name, by namespace/name
}

// ingress migrates one Ingress: every problem is found before anything is written, so that a
// refused Ingress leaves nothing half-migrated.
func (m *migration) ingress(ing *networkingv1.Ingress) {
	id := ing.Namespace + "/" + ing.Name
	notes, refused := m.annotations(ing)
	routes, more := m.routes(ing)
	refused = append(refused, more...)
	if len(refused) > 0 {
		m.res.Refused = append(m.res.Refused, refused...)
		return
	}
	m.res.Notes = append(m.res.Notes, notes...)
	allowed := m.groups(ing)
	for _, r := range routes {
		r.Spec.ParentRefs = []gatewayv1.ParentReference{m.parent(ing)}
		if len(allowed) > 0 {
			// The route's promise, which privgate judges its login against.
			metav1.SetMetaDataAnnotation(&r.ObjectMeta, m.o.GroupsAnnotation, strings.Join(allowed, ","))
		}
		if m.o.To.RouteLogin != nil && m.protected(ing, r) {
			login, obj := m.o.To.RouteLogin(ing.Namespace, allowed)
			m.logins[ing.Namespace+"/"+string(login.Name)] = obj
			// The login first in every rule: a rule's filters run in order.
			for i := range r.Spec.Rules {
				r.Spec.Rules[i].Filters = append([]gatewayv1.HTTPRouteFilter{{
					Type: gatewayv1.HTTPRouteFilterExtensionRef, ExtensionRef: &login,
				}}, r.Spec.Rules[i].Filters...)
			}
		}
		m.res.Routes = append(m.res.Routes, Route{r, id})
	}
	if m.o.Gateway == nil {
		m.listen(ing)
	} else {
		m.res.Notes = append(m.res.Notes, Note{id, "spec.tls", fmt.Sprintf("attached to Gateway %s: its listeners must admit routes from namespace %s and hold certificates for %s", m.o.Gateway, ing.Namespace, strings.Join(hostsOf(ing), ", "))})
	}
}

// protected: the route carries the Ingress's login, which auth-url names, or which any private
// host needs (privgate's mutation put it there, in router.middlewares on Traefik's classes; a
// legacy Ingress without it gets it rather than an open route).
func (m *migration) protected(ing *networkingv1.Ingress, r *gatewayv1.HTTPRoute) bool {
	if ing.Annotations[m.o.AnnotationPrefix+"/auth-url"] != "" {
		return true
	}
	if m.o.Private == nil {
		return false
	}
	if len(r.Spec.Hostnames) == 0 {
		return m.o.Private("*") // a route without hostnames answers every name
	}
	return slices.ContainsFunc(r.Spec.Hostnames, func(h gatewayv1.Hostname) bool { return m.o.Private(string(h)) })
}

// groups are the groups an Ingress allows: auth-url's allowed_groups (which privgate's
// mutation sets from the groups annotation), else the annotation's; none for everyone who logs
// in.
func (m *migration) groups(ing *networkingv1.Ingress) []string {
	if gs := groups.Split(allowedGroups(ing.Annotations[m.o.AnnotationPrefix+"/auth-url"])); len(gs) > 0 {
		return gs
	}
	return groups.Split(ing.Annotations[m.o.GroupsAnnotation])
}

// parent is the Gateway an Ingress's routes attach to.
func (m *migration) parent(ing *networkingv1.Ingress) gatewayv1.ParentReference {
	if g := m.o.Gateway; g != nil {
		ref := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(g.Name)}
		if g.Namespace != ing.Namespace {
			ref.Namespace = ptr.To(gatewayv1.Namespace(g.Namespace))
		}
		return ref
	}
	return gatewayv1.ParentReference{Name: gatewayv1.ObjectName(m.gatewayName(ing))}
}

// gatewayName is the generated Gateway an Ingress's routes attach to in its namespace:
// GatewayName, or, where each set of allowed groups needs a Gateway of its own, GatewayName and
// a short hash of the set (the same for the same groups in any order).
func (m *migration) gatewayName(ing *networkingv1.Ingress) string {
	gs := m.groups(ing)
	if !m.o.To.GatewayPerGroups || len(gs) == 0 {
		return GatewayName
	}
	gs = slices.Sorted(slices.Values(gs))
	sum := sha256.Sum256([]byte(strings.Join(gs, ",")))
	return fmt.Sprintf("%s-%x", GatewayName, sum[:4])
}

// routes are an Ingress's HTTPRoutes: one per host (the rules naming it merged, in order), and
// one without hostnames for rules without a host or a defaultBackend alone.
func (m *migration) routes(ing *networkingv1.Ingress) ([]*gatewayv1.HTTPRoute, []Note) {
	id := ing.Namespace + "/" + ing.Name
	var refused []Note
	byHost := map[string]*gatewayv1.HTTPRoute{}
	var order []string
	route := func(host string) *gatewayv1.HTTPRoute {
		if r := byHost[host]; r != nil {
			return r
		}
		r := &gatewayv1.HTTPRoute{
			TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "HTTPRoute"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ing.Namespace, Labels: ing.Labels},
		}
		if host != "" {
			r.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(host)}
		}
		byHost[host] = r
		order = append(order, host)
		return r
	}
	var defaultRef *gatewayv1.HTTPBackendRef
	if b := ing.Spec.DefaultBackend; b != nil {
		ref, err := m.backendRef(ing.Namespace, b)
		if err != nil {
			refused = append(refused, Note{id, "spec.defaultBackend", err.Error()})
		}
		defaultRef = ref
	}
	for i, rule := range ing.Spec.Rules {
		r := route(rule.Host)
		if rule.HTTP == nil {
			continue
		}
		for j, p := range rule.HTTP.Paths {
			fld := fmt.Sprintf("spec.rules[%d].http.paths[%d]", i, j)
			match, err := m.pathMatch(ing, p)
			if err != nil {
				refused = append(refused, Note{id, fld + ".pathType", err.Error()})
				continue
			}
			ref, err := m.backendRef(ing.Namespace, &p.Backend)
			if err != nil {
				refused = append(refused, Note{id, fld + ".backend", err.Error()})
				continue
			}
			r.Spec.Rules = append(r.Spec.Rules, gatewayv1.HTTPRouteRule{
				Matches:     []gatewayv1.HTTPRouteMatch{{Path: match}},
				BackendRefs: []gatewayv1.HTTPBackendRef{*ref},
			})
		}
	}
	if defaultRef != nil {
		// ingress-nginx serves the defaultBackend for what no path matches on the Ingress's hosts,
		// and, with no rules, for every host (the catch-all): a rule without matches, last.
		if len(ing.Spec.Rules) == 0 {
			route("")
		}
		for _, h := range order {
			byHost[h].Spec.Rules = append(byHost[h].Spec.Rules, gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{*defaultRef}})
		}
	}
	var out []*gatewayv1.HTTPRoute
	for i, h := range order {
		r := byHost[h]
		r.Name = ing.Name
		if len(order) > 1 {
			r.Name = fmt.Sprintf("%s-%d", ing.Name, i)
		}
		if len(r.Spec.Rules) == 0 {
			continue // a host without paths or defaultBackend: ingress-nginx serves it nothing either
		}
		out = append(out, r)
	}
	return out, refused
}

// pathMatch is a path as ingress-nginx matches it: Exact and Prefix as Gateway API's Exact and
// PathPrefix (both element-wise); ImplementationSpecific as a prefix, which ingress-nginx makes
// of it unless the Ingress's paths are regular expressions (use-regex, rewrite-target), whose
// meaning Gateway API's RegularExpression does not promise to keep: refused.
func (m *migration) pathMatch(ing *networkingv1.Ingress, p networkingv1.HTTPIngressPath) (*gatewayv1.HTTPPathMatch, error) {
	value := p.Path
	if value == "" {
		value = "/"
	}
	if m.regexPaths(ing) {
		return nil, fmt.Errorf("paths are regular expressions here (use-regex or rewrite-target), which Gateway API implementations read differently: rewrite this Ingress's paths as prefixes first")
	}
	typ := gatewayv1.PathMatchPathPrefix
	if p.PathType != nil && *p.PathType == networkingv1.PathTypeExact {
		typ = gatewayv1.PathMatchExact
	}
	return &gatewayv1.HTTPPathMatch{Type: &typ, Value: &value}, nil
}

func (m *migration) regexPaths(ing *networkingv1.Ingress) bool {
	v, ok := ing.Annotations[m.o.AnnotationPrefix+"/use-regex"]
	return ok && v == "true" || strings.TrimSpace(ing.Annotations[m.o.AnnotationPrefix+"/rewrite-target"]) != ""
}

// backendRef is an Ingress backend as a Gateway API one: a Service and its port number (a
// named port is looked up in the Service, which must then be in view).
func (m *migration) backendRef(namespace string, b *networkingv1.IngressBackend) (*gatewayv1.HTTPBackendRef, error) {
	if b.Service == nil {
		return nil, fmt.Errorf("a resource backend, which Gateway API routes cannot name: serve it from a Service")
	}
	port := b.Service.Port.Number
	if name := b.Service.Port.Name; name != "" {
		n, ok := int32(0), false
		if m.o.PortNumber != nil {
			n, ok = m.o.PortNumber(namespace, b.Service.Name, name)
		}
		if !ok {
			return nil, fmt.Errorf("the port of Service %s is named (%q) and Gateway API takes port numbers: give the Service with the Ingresses (-f), or write the number in the Ingress", b.Service.Name, name)
		}
		port = n
	}
	return &gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: gatewayv1.ObjectName(b.Service.Name),
		Port: ptr.To(gatewayv1.PortNumber(port)),
	}}}, nil
}

// listen adds a listener per host of the Ingress to its namespace's generated Gateway: HTTPS
// with the certificate the Ingress names for the host (every private one has one: privgate's
// mutation adds it), plain HTTP for a public host the Ingress serves without TLS. It carries
// cert-manager's issuer over (cert-manager's gateway-shim reads the same annotation on a
// Gateway).
func (m *migration) listen(ing *networkingv1.Ingress) {
	name := m.gatewayName(ing)
	gw := m.gateways[ing.Namespace+"/"+name]
	if gw == nil {
		class := m.o.GatewayClass
		if class == "" {
			class = m.o.To.GatewayClass
		}
		gw = &gatewayv1.Gateway{
			TypeMeta:   metav1.TypeMeta{APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ing.Namespace},
			Spec:       gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(class)},
		}
		m.gateways[ing.Namespace+"/"+name] = gw
	}
	if issuer := ing.Annotations["cert-manager.io/cluster-issuer"]; issuer != "" {
		metav1.SetMetaDataAnnotation(&gw.ObjectMeta, "cert-manager.io/cluster-issuer", issuer)
	}
	for _, h := range hostsOf(ing) {
		if slices.ContainsFunc(gw.Spec.Listeners, func(l gatewayv1.Listener) bool { return l.Hostname != nil && string(*l.Hostname) == h }) {
			continue
		}
		l := gatewayv1.Listener{
			Name:     gatewayv1.SectionName(fmt.Sprintf("http-%d", len(gw.Spec.Listeners))),
			Hostname: ptr.To(gatewayv1.Hostname(h)),
			Port:     80,
			Protocol: gatewayv1.HTTPProtocolType,
		}
		if secret := secretFor(ing, h); secret != "" {
			l.Name = gatewayv1.SectionName(fmt.Sprintf("https-%d", len(gw.Spec.Listeners)))
			l.Port, l.Protocol = 443, gatewayv1.HTTPSProtocolType
			l.TLS = &gatewayv1.ListenerTLSConfig{
				Mode:            ptr.To(gatewayv1.TLSModeTerminate),
				CertificateRefs: []gatewayv1.SecretObjectReference{{Name: gatewayv1.ObjectName(secret)}},
			}
		}
		gw.Spec.Listeners = append(gw.Spec.Listeners, l)
	}
}

// secretFor is the Secret of the spec.tls entry naming host.
func secretFor(ing *networkingv1.Ingress, host string) string {
	for _, t := range ing.Spec.TLS {
		if slices.Contains(t.Hosts, host) {
			return t.SecretName
		}
	}
	return ""
}

func hostsOf(ing *networkingv1.Ingress) []string {
	var out []string
	for _, r := range ing.Spec.Rules {
		if r.Host != "" && !slices.Contains(out, r.Host) {
			out = append(out, r.Host)
		}
	}
	return out
}
