package envoygateway

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy/gatewayapi"
)

// login is what SecurityPolicies say of hosts on Envoy Gateway's Gateways, over one snapshot:
// which policy is in force on each route rule and listener, as Envoy Gateway's translator picks
// it (internal/gatewayapi/securitypolicy.go, docs/gateway-api.md), and whether it is login.
type login struct {
	cfg      config
	policies []*SecurityPolicy // oldest first, then by namespace/name: the order Envoy Gateway processes them in
	grants   []*gatewayv1.ReferenceGrant
	services gatewayapi.Services
}

// newLogin sorts policies as Envoy Gateway's provider does (resource.Resources.Sort: creation
// timestamp, then namespace, then name). An object not yet created (check's files, a CREATE
// judged before the API server stamps it) is taken as the newest.
func newLogin(cfg config, policies []*SecurityPolicy, grants []*gatewayv1.ReferenceGrant, services gatewayapi.Services) *login {
	policies = slices.Clone(policies)
	slices.SortStableFunc(policies, func(a, b *SecurityPolicy) int {
		if c := compareTimes(a.CreationTimestamp, b.CreationTimestamp); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return &login{cfg: cfg, policies: policies, grants: grants, services: services}
}

func compareTimes(a, b metav1.Time) int {
	switch {
	case a.Equal(&b):
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	case a.Before(&b):
		return -1
	}
	return 1
}

// routeRule is one rule of a route: its index and name (a policy's sectionName names it).
type routeRule struct {
	index int
	name  string
}

// rulesOf are a route's rules (one unnamed for a Gateway's own host: route nil).
func rulesOf(route runtime.Object) []routeRule {
	var names []*gatewayv1.SectionName
	switch r := route.(type) {
	case *gatewayv1.HTTPRoute:
		for _, rule := range r.Spec.Rules {
			names = append(names, rule.Name)
		}
	case *gatewayv1.GRPCRoute:
		for _, rule := range r.Spec.Rules {
			names = append(names, rule.Name)
		}
	}
	if len(names) == 0 {
		return []routeRule{{index: -1}}
	}
	out := make([]routeRule, len(names))
	for i, n := range names {
		out[i] = routeRule{index: i}
		if n != nil {
			out[i].name = string(*n)
		}
	}
	return out
}

// Coverage: the policy in force on every rule of the route, on every listener publishing the
// host, is login.
func (l *login) Coverage(p gatewayapi.Publication) gatewayapi.Exposure {
	e, _ := l.coverage(p)
	return e
}

// coverage is Coverage and, when the host is not covered, the policy as written that its fix
// changes (nil: a new one on the Gateway), the one the first uncovered rule and listener has in
// force: Fixes writes the same fix as the denial's message.
func (l *login) coverage(p gatewayapi.Publication) (gatewayapi.Exposure, *SecurityPolicy) {
	e := gatewayapi.Exposure{Host: p.Host, Field: p.Field, By: p.By, Gateway: p.Gateway, Workload: p.Workload.String(),
		Exempt: slices.Contains(l.cfg.ExemptHosts, p.Host), Uncheckable: p.Unsupported != nil, Unsupported: p.Unsupported}
	gw := p.Workload.Gateway
	if e.Uncheckable || gw == nil {
		e.Uncheckable = true
		return e, nil
	}
	var covering []string
	var first *inForce
	var gaps []gatewayapi.Gap
	rules := rulesOf(p.Route)
	for _, listener := range p.Listeners {
		for _, rule := range rules {
			f := l.inForce(p.Route, rule, gw, listener)
			g, ok := l.covers(f.policy)
			if ok && len(p.Groups) > 0 {
				g, ok = l.keepsGroups(f.policy, p.Groups)
			}
			if ok {
				if name := describe(f.policy); !slices.Contains(covering, name) {
					covering = append(covering, name)
				}
				continue
			}
			if first == nil {
				first = &f
			}
			if rule.index >= 0 {
				g.RouteRule = fmt.Sprintf("spec.rules[%d]", rule.index)
			}
			g.Listener = listener
			if f.policy != nil {
				g.Policy = describe(f.policy)
				if g.Reason == "no-login" && f.replaces != nil {
					if _, ok := l.covers(f.replaces); ok {
						g.Replaces = describe(f.replaces)
					}
				}
			}
			gaps = append(gaps, g)
		}
	}
	if len(gaps) == 0 && len(covering) > 0 {
		e.Covered, e.Policy = true, strings.Join(covering, ", ")
		return e, nil
	}
	e.Gaps = summarize(gaps, len(p.Listeners)*len(rules))
	if first == nil {
		return e, nil
	}
	e.Fix = l.fixJSON(gw, p, first.written)
	return e, first.written
}

// keepsGroups reports whether a login policy in force keeps a route's allowed groups: its
// extAuth goes to the group login for exactly those groups (OIDC, or another login service,
// lets in everyone who logs in, or other groups), and when not, why.
func (l *login) keepsGroups(p *SecurityPolicy, groups []string) (gatewayapi.Gap, bool) {
	want, ok := gatewayapi.FindGroupLogin(l.cfg.GroupLogins, groups)
	if !ok {
		return gatewayapi.Gap{Reason: "groups-no-login", Groups: groups, Setting: GroupLoginsKey}, false
	}
	var to []string
	if a := p.Spec.ExtAuth; a != nil && a.HTTP != nil {
		for _, r := range backendRefs(a.HTTP) {
			to = append(to, backendKey(p, r))
		}
	}
	if len(to) > 0 && !slices.ContainsFunc(to, func(svc string) bool { return svc != want.Service }) {
		return gatewayapi.Gap{}, true
	}
	g := gatewayapi.Gap{Reason: "groups-login", Groups: groups, Want: want.Service}
	switch {
	case len(to) > 0:
		g.Provider = "Service " + to[0]
		g.Allows = l.cfg.allowedBy(to[0])
	case p.Spec.OIDC != nil:
		g.Provider = "OIDC issuer " + p.Spec.OIDC.Provider.Issuer
	}
	return g, false
}

// backendRefs are an external authorization's backends (backendRefs, else backendRef).
func backendRefs(svc *ExtAuthService) []BackendRef {
	if len(svc.BackendRefs) == 0 && svc.BackendRef != nil {
		return []BackendRef{*svc.BackendRef}
	}
	return svc.BackendRefs
}

// backendKey is a policy's backend as namespace/name (the policy's namespace by default).
func backendKey(p *SecurityPolicy, r BackendRef) string {
	ns := p.Namespace
	if r.Namespace != nil {
		ns = *r.Namespace
	}
	return ns + "/" + r.Name
}

// summarize says a reason once where it holds on every rule and listener (where the rule and
// listener would only repeat it), and where it holds otherwise.
func summarize(gaps []gatewayapi.Gap, pairs int) []gatewayapi.Gap {
	var out []gatewayapi.Gap
	for _, g := range gaps {
		n := 0
		for _, o := range gaps {
			if same(o, g) {
				n++
			}
		}
		if n == pairs {
			g.RouteRule, g.Listener = "", ""
		}
		if !slices.ContainsFunc(out, func(o gatewayapi.Gap) bool {
			return same(o, g) && o.RouteRule == g.RouteRule && o.Listener == g.Listener
		}) {
			out = append(out, g)
		}
	}
	return out
}

// same: two gaps say the same but for the rule and listener.
func same(a, b gatewayapi.Gap) bool {
	return a.Reason == b.Reason && a.Policy == b.Policy && a.Provider == b.Provider && a.Detail == b.Detail && a.Replaces == b.Replaces
}

// inForce is the policy in force on a rule and listener, and the less specific one it replaces
// (none when it is the Gateway's own).
type inForce struct {
	policy, replaces *SecurityPolicy
	// written is the policy as written that a fix changes (the route's, when merged).
	written *SecurityPolicy
}

// inForce is the policy Envoy Gateway applies to rule of route (nil: a Gateway's own host) on
// listener of gw. Its translator (ProcessSecurityPolicies) applies policies from the most
// specific target to the least: route rules (targetRefs with sectionName), routes (targetRefs
// without, targetSelectors), Gateway listeners (targetRefs with sectionName), Gateways; each
// level sets a rule's security only where no more specific policy has (`r.Security != nil`:
// skip). Within a level the first policy in order attaches and the later ones are Conflicted. A
// route or rule policy that fails validation (validateSecurityPolicy) takes its place but sets
// nothing, so the less specific policy applies. A route or rule policy with mergeType is merged
// into the closest parent policy on the listener (the listener's, else the Gateway's).
func (l *login) inForce(route runtime.Object, rule routeRule, gw *gatewayv1.Gateway, listener string) inForce {
	parent := l.first(func(p *SecurityPolicy) bool { return l.targetsGateway(p, gw, listener) })
	if parent == nil {
		parent = l.first(func(p *SecurityPolicy) bool { return l.targetsGateway(p, gw, "") })
	}
	if route != nil {
		k := kindOf(route)
		m := metaOf(route)
		var specific *SecurityPolicy
		if rule.name != "" {
			specific = l.first(func(p *SecurityPolicy) bool { return targetsRule(p, k, m, rule.name) })
		}
		if specific == nil || !valid(specific) {
			specific = l.first(func(p *SecurityPolicy) bool { return l.targetsRoute(p, k, m) })
		}
		if specific != nil && valid(specific) {
			if specific.Spec.MergeType != nil && parent != nil {
				return inForce{policy: merge(specific, parent), written: specific}
			}
			return inForce{policy: specific, replaces: parent, written: specific}
		}
	}
	if p := l.first(func(p *SecurityPolicy) bool { return l.targetsGateway(p, gw, listener) }); p != nil {
		return inForce{policy: p, replaces: l.first(func(p *SecurityPolicy) bool { return l.targetsGateway(p, gw, "") }), written: p}
	}
	return inForce{policy: parent, written: parent}
}

// first is the oldest policy attaching to a target: the one Envoy Gateway keeps when several
// do (resolveSecurityPolicy*TargetRef: "another SecurityPolicy has already attached to it").
func (l *login) first(attaches func(*SecurityPolicy) bool) *SecurityPolicy {
	for _, p := range l.policies {
		if attaches(p) {
			return p
		}
	}
	return nil
}

// targetsRule: a targetRef, from the route's namespace (targetRefs carry none), to the rule by
// sectionName. targetSelectors cannot name a section.
func targetsRule(p *SecurityPolicy, kind string, route metav1.Object, rule string) bool {
	if p.Namespace != route.GetNamespace() {
		return false
	}
	return slices.ContainsFunc(p.Spec.refs(), func(r TargetRef) bool {
		return string(r.Kind) == kind && string(r.Name) == route.GetName() && r.SectionName != nil && string(*r.SectionName) == rule
	})
}

// targetsRoute: a targetRef without sectionName from the route's namespace, or a targetSelector
// selecting it.
func (l *login) targetsRoute(p *SecurityPolicy, kind string, route metav1.Object) bool {
	if p.Namespace == route.GetNamespace() && slices.ContainsFunc(p.Spec.refs(), func(r TargetRef) bool {
		return string(r.Kind) == kind && string(r.Name) == route.GetName() && r.SectionName == nil
	}) {
		return true
	}
	return l.selects(p, kind, route)
}

// targetsGateway: a targetRef to the Gateway from its namespace, with sectionName listener (""
// for the whole Gateway: none), or, for the whole Gateway, a targetSelector selecting it.
func (l *login) targetsGateway(p *SecurityPolicy, gw *gatewayv1.Gateway, listener string) bool {
	if p.Namespace == gw.Namespace && slices.ContainsFunc(p.Spec.refs(), func(r TargetRef) bool {
		if string(r.Kind) != "Gateway" || string(r.Name) != gw.Name {
			return false
		}
		if r.SectionName == nil {
			return listener == ""
		}
		return string(*r.SectionName) == listener && hasListener(gw, listener)
	}) {
		return true
	}
	return listener == "" && l.selects(p, "Gateway", gw)
}

func hasListener(gw *gatewayv1.Gateway, name string) bool {
	return slices.ContainsFunc(gw.Spec.Listeners, func(l gatewayv1.Listener) bool { return string(l.Name) == name })
}

// selects: a targetSelector of the object's kind whose labels match it, in the policy's
// namespace unless namespaces.from says All or Selector (taken as All: privgate reads no
// Namespaces), and then only with a ReferenceGrant in the object's namespace from
// SecurityPolicies of the policy's (helpers.go: resolvePolicyTargetsFromSelectors,
// targetSelectorNamespacesMatch, isCrossNamespaceReferencePermitted). An empty selector
// selects every object of the kind there.
func (l *login) selects(p *SecurityPolicy, kind string, obj metav1.Object) bool {
	for _, s := range p.Spec.TargetSelectors {
		if s.Kind != kind || (s.Group != nil && *s.Group != gatewayv1.GroupName) {
			continue
		}
		from := "Same"
		if s.Namespaces != nil {
			from = s.Namespaces.From
		}
		if obj.GetNamespace() != p.Namespace && (from == "Same" || !l.granted(p.Namespace, "gateway.envoyproxy.io", "SecurityPolicy", obj.GetNamespace(), gatewayv1.GroupName, kind, obj.GetName())) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&metav1.LabelSelector{MatchLabels: s.MatchLabels, MatchExpressions: s.MatchExpressions})
		if err == nil && sel.Matches(labels.Set(obj.GetLabels())) {
			return true
		}
	}
	return false
}

// granted: a ReferenceGrant in namespace to lets objects of fromKind in namespace from refer to
// name of toKind.
func (l *login) granted(from, fromGroup, fromKind, to, toGroup, toKind, name string) bool {
	if from == to {
		return true
	}
	for _, g := range l.grants {
		if g.Namespace != to {
			continue
		}
		if !slices.ContainsFunc(g.Spec.From, func(f gatewayv1.ReferenceGrantFrom) bool {
			return string(f.Namespace) == from && string(f.Group) == fromGroup && string(f.Kind) == fromKind
		}) {
			continue
		}
		if slices.ContainsFunc(g.Spec.To, func(t gatewayv1.ReferenceGrantTo) bool {
			return string(t.Group) == toGroup && string(t.Kind) == toKind && (t.Name == nil || *t.Name == "" || string(*t.Name) == name)
		}) {
			return true
		}
	}
	return false
}

// valid is Envoy Gateway's validateSecurityPolicy, as far as login goes: passThroughAuthHeader
// needs a JWT provider reading a header (none set: the Authorization header).
func valid(p *SecurityPolicy) bool {
	o := p.Spec.OIDC
	if o == nil || o.PassThroughAuthHeader == nil || !*o.PassThroughAuthHeader {
		return true
	}
	if p.Spec.JWT == nil {
		return false
	}
	for _, j := range p.Spec.JWT.Providers {
		if j.ExtractFrom == nil || len(j.ExtractFrom.Headers) > 0 {
			return true
		}
	}
	return false
}

// merge is a route policy with mergeType merged into its parent's (mergeSecurityPolicy): what
// the route policy sets wins, field by field of the login, the rest comes from the parent.
// Lists are replaced, not merged, under both merge types.
func merge(route, parent *SecurityPolicy) *SecurityPolicy {
	out := route.DeepCopyObject().(*SecurityPolicy)
	out.Spec.doc = nil
	if out.Spec.OIDC == nil {
		out.Spec.OIDC = parent.Spec.OIDC
	}
	if out.Spec.JWT == nil {
		out.Spec.JWT = parent.Spec.JWT
	}
	switch r, p := out.Spec.ExtAuth, parent.Spec.ExtAuth; {
	case r == nil:
		out.Spec.ExtAuth = p
	case p != nil:
		m := *p
		if r.HTTP != nil || r.GRPC != nil {
			m.HTTP, m.GRPC = r.HTTP, r.GRPC
		}
		if r.HeadersToExtAuth != nil {
			m.HeadersToExtAuth = r.HeadersToExtAuth
		}
		if r.FailOpen != nil {
			m.FailOpen = r.FailOpen
		}
		out.Spec.ExtAuth = &m
	}
	out.Name = route.Name + " (merged into " + parent.Namespace + "/" + parent.Name + ")"
	return out
}

// covers reports whether a policy in force is login, and when not, why (a gap without Policy,
// the caller's).
func (l *login) covers(p *SecurityPolicy) (gatewayapi.Gap, bool) {
	if p == nil {
		return gatewayapi.Gap{Reason: "no-policy"}, false
	}
	var gaps []gatewayapi.Gap
	if a := p.Spec.ExtAuth; a != nil {
		g, ok := l.extAuthCovers(p, a)
		if ok {
			return gatewayapi.Gap{}, true
		}
		gaps = append(gaps, g)
	}
	if o := p.Spec.OIDC; o != nil {
		issuer := strings.TrimSuffix(o.Provider.Issuer, "/")
		switch {
		case l.cfg.issuer() == "" || issuer != l.cfg.issuer():
			gaps = append(gaps, gatewayapi.Gap{Reason: "oidc-issuer", Provider: o.Provider.Issuer, Detail: l.cfg.issuer()})
		case o.PassThroughAuthHeader != nil && *o.PassThroughAuthHeader:
			gaps = append(gaps, gatewayapi.Gap{Reason: "pass-through-auth"})
		default:
			return gatewayapi.Gap{}, true
		}
	}
	if len(gaps) == 0 {
		return gatewayapi.Gap{Reason: "no-login"}, false
	}
	return gaps[0], false
}

// extAuthCovers: HTTP external authorization to configured login services, never skipped. A
// failOpen policy lets requests through when the service fails (ext_authz failure_mode_allow),
// and, when the extAuth itself is invalid (a backend not found, a cross-namespace Service
// without ReferenceGrant), Envoy Gateway leaves it out instead of answering 500
// (translateSecurityPolicyForRoute: shouldFailOpen).
func (l *login) extAuthCovers(p *SecurityPolicy, a *ExtAuth) (gatewayapi.Gap, bool) {
	svc := a.HTTP
	if svc == nil {
		svc = a.GRPC
	}
	var refs []BackendRef
	if svc != nil {
		refs = backendRefs(svc)
	}
	failOpen := a.FailOpen != nil && *a.FailOpen
	for _, r := range refs {
		ns := p.Namespace
		if r.Namespace != nil {
			ns = *r.Namespace
		}
		if failOpen {
			if why := l.invalid(p, r, ns); why != "" {
				return gatewayapi.Gap{Reason: "fail-open-invalid", Detail: why}, false
			}
		}
		if !serviceKind(r) || !l.cfg.knows(ns+"/"+r.Name) {
			return gatewayapi.Gap{Reason: "ext-auth-service", Provider: ns + "/" + r.Name}, false
		}
	}
	switch {
	case len(refs) == 0:
		return gatewayapi.Gap{Reason: "ext-auth-service"}, false
	case a.HTTP == nil:
		return gatewayapi.Gap{Reason: "ext-auth-grpc"}, false
	case failOpen:
		return gatewayapi.Gap{Reason: "fail-open"}, false
	}
	return gatewayapi.Gap{}, true
}

func serviceKind(r BackendRef) bool {
	return (r.Group == nil || *r.Group == "" || *r.Group == "core") && (r.Kind == nil || *r.Kind == "Service")
}

// invalid says why Envoy Gateway cannot resolve an extAuth backend: a Service not in view, or in
// another namespace without a ReferenceGrant from the policy's.
func (l *login) invalid(p *SecurityPolicy, r BackendRef, ns string) string {
	switch {
	case !serviceKind(r):
		return ""
	case !l.granted(p.Namespace, "gateway.envoyproxy.io", "SecurityPolicy", ns, "", "Service", r.Name):
		return fmt.Sprintf("no ReferenceGrant in %s lets SecurityPolicies of %s use Service %s", ns, p.Namespace, r.Name)
	case l.services != nil && l.services(ns, r.Name) == nil:
		return fmt.Sprintf("Service %s/%s is not found", ns, r.Name)
	}
	return ""
}

func describe(p *SecurityPolicy) string {
	if p == nil {
		return ""
	}
	return "SecurityPolicy " + p.Namespace + "/" + p.Name
}

func kindOf(o runtime.Object) string {
	switch o.(type) {
	case *gatewayv1.HTTPRoute:
		return "HTTPRoute"
	case *gatewayv1.GRPCRoute:
		return "GRPCRoute"
	case *gatewayv1.TLSRoute:
		return "TLSRoute"
	case *gatewayv1.Gateway:
		return "Gateway"
	}
	return ""
}

func metaOf(o runtime.Object) metav1.Object {
	switch r := o.(type) {
	case *gatewayv1.HTTPRoute:
		return r
	case *gatewayv1.GRPCRoute:
		return r
	case *gatewayv1.TLSRoute:
		return r
	}
	return &metav1.ObjectMeta{}
}
