package router

import (
	"net/url"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/privgate/privgate/policy"
)

// Index finds the stored Middlewares by the ID Traefik gives them (CRDID). Two Middlewares
// whose names normalize alike share an ID; Traefik keeps whichever it reads last, so privgate
// trusts such an ID only as far as every one of them deserves.
type Index interface {
	Middlewares(id string) []*Middleware
}

// Set is an Index of Middlewares held in memory: a change judged as the cluster would be
// before and after it.
type Set map[string][]*Middleware

// NewIndex indexes Middlewares (objects of MiddlewareKind).
func NewIndex(objs []runtime.Object) Set {
	x := Set{}
	for _, o := range objs {
		if m, ok := o.(*Middleware); ok {
			id := CRDID(m.Namespace, m.Name)
			x[id] = append(x[id], m)
		}
	}
	return x
}

// Middlewares are those of ID id.
func (x Set) Middlewares(id string) []*Middleware { return x[id] }

// IDIndex is the Cluster index of stored Middlewares by ID (MiddlewareIndexes): a judgement
// looks up the few its router names instead of indexing them all.
const IDIndex = "traefik.io/middleware-id"

// MiddlewareIndexes are the lookups the targets reading Middlewares declare (policy.Kind).
var MiddlewareIndexes = map[string]policy.IndexFunc{
	IDIndex: func(o runtime.Object) []string {
		if m, ok := o.(*Middleware); ok {
			return []string{CRDID(m.Namespace, m.Name)}
		}
		return nil
	},
}

// Stored is the Index of c's Middlewares, through IDIndex (an empty one when c is nil).
func Stored(c policy.Cluster) Index {
	if c == nil {
		return Set(nil)
	}
	return stored{c}
}

type stored struct{ c policy.Cluster }

func (x stored) Middlewares(id string) []*Middleware {
	var out []*Middleware
	for _, o := range x.c.Indexed(MiddlewareKind.GroupKind(), IDIndex, id) {
		if m, ok := o.(*Middleware); ok {
			out = append(out, m)
		}
	}
	return out
}

// Ref is a middleware a router names, qualified (name@provider), and where it is written.
type Ref struct {
	Name  string
	Field string
}

// Link is one middleware of a router's chain, resolved to the stored Middlewares, as the policy
// reads it. A chain middleware is replaced by its members (Via names it).
type Link struct {
	// ID is the qualified name the router runs.
	ID    string `json:"id"`
	Field string `json:"field"`
	// Via is the chain Middleware that brought it in ("" for the router's own).
	Via string `json:"via,omitempty"`
	// State: ok; missing (no such Middleware: Traefik disables the router); ambiguous (several
	// Middlewares share the ID and disagree); invalid (not exactly one middleware type, or a
	// chain naming itself: Traefik disables the router too); foreign (another provider's
	// middleware, which privgate does not see).
	State string `json:"state"`
	// Type is the middleware type (forwardAuth, errors, ...), when resolved.
	Type string `json:"type,omitempty"`
	// Objects are the Middlewares (namespace/name) the ID resolves to.
	Objects []string `json:"objects,omitempty"`
	// Login: a forwardAuth to traefik.authAddress (the login, whatever its name).
	Login bool `json:"login"`
	// Safe: it cannot answer a request on its own with anything a login protects (a header
	// rewrite, an allow list, a redirect, an errors page served by the login's own Service);
	// before the login it is harmless.
	Safe bool `json:"safe"`
	// Address is a forwardAuth's address, for messages.
	Address string `json:"address,omitempty"`
	// Groups are those a login narrows to (LoginGroups: allowed_groups in its address), sorted;
	// none when it admits everyone who logs in.
	Groups []string `json:"groups,omitempty"`
}

// Chain is the middlewares a router runs on one entrypoint, in order, and the first login's
// position (-1: none).
type Chain struct {
	Links []Link `json:"links"`
	Login int    `json:"login"`
}

// safeTypes answer on their own only to refuse, redirect or throttle, never with a backend's
// content: before the login they expose nothing (docs/traefik.md lists each).
var safeTypes = map[string]bool{
	"addPrefix": true, "basicAuth": true, "buffering": true, "circuitBreaker": true, "compress": true,
	"contentType": true, "digestAuth": true, "grpcWeb": true, "headers": true, "inFlightReq": true,
	"ipAllowList": true, "ipWhiteList": true, "passTLSClientCert": true, "rateLimit": true,
	"redirectRegex": true, "redirectScheme": true, "replacePath": true, "replacePathRegex": true,
	"retry": true, "stripPrefix": true, "stripPrefixRegex": true,
}

// Resolve is the chain a router runs from the middlewares it names, in order, against the
// stored Middlewares.
func (s *Settings) Resolve(x Index, refs []Ref) Chain {
	c := Chain{Login: -1}
	for _, r := range refs {
		c.Links = append(c.Links, s.expand(x, r.Name, r.Field, "", nil)...)
	}
	for i, l := range c.Links {
		if l.Login {
			c.Login = i
			break
		}
	}
	return c
}

// expand resolves one qualified name; a chain Middleware becomes its members. seen guards
// against a chain naming itself, which Traefik refuses (recursion.CheckRecursion).
func (s *Settings) expand(x Index, id, field, via string, seen []string) []Link {
	l := Link{ID: id, Field: field, Via: via}
	name, provider, _ := strings.Cut(id, "@")
	if provider != ProviderCRD {
		l.State = "foreign"
		if provider == ProviderIngress {
			l.State = "missing" // the Ingress provider defines no middlewares
		}
		return []Link{l}
	}
	var ms []*Middleware
	if x != nil {
		ms = x.Middlewares(name)
	}
	if len(ms) == 0 {
		l.State = "missing"
		return []Link{l}
	}
	if slices.Contains(seen, id) {
		l.State = "invalid"
		return []Link{l}
	}
	types := map[string]bool{}
	groups := map[string]bool{} // the group sets the logins among ms narrow to
	l.Login, l.Safe = true, true
	for _, m := range ms {
		l.Objects = append(l.Objects, m.Namespace+"/"+m.Name)
		if len(m.Spec.Types) != 1 {
			l.State = "invalid"
			l.Login, l.Safe = false, false
			return []Link{l}
		}
		types[m.Spec.Types[0]] = true
		login, safe := s.judge(m)
		l.Login = l.Login && login
		l.Safe = l.Safe && safe
		if m.Spec.ForwardAuth != nil {
			l.Address = m.Spec.ForwardAuth.Address
			if login {
				l.Groups = LoginGroups(l.Address)
				groups[strings.Join(l.Groups, ",")] = true
			}
		}
	}
	slices.Sort(l.Objects)
	// Logins sharing the ID but narrowing to different groups: which groups get in depends on
	// the one Traefik reads last.
	if len(types) > 1 || len(ms) > 1 && !(l.Login || l.Safe) || l.Login && len(groups) > 1 {
		l.State, l.Login, l.Safe, l.Groups = "ambiguous", false, false, nil
		return []Link{l}
	}
	m := ms[0]
	l.State, l.Type = "ok", m.Spec.Types[0]
	if m.Spec.Chain != nil && len(ms) == 1 {
		var out []Link
		for _, ref := range m.Spec.Chain.Middlewares {
			out = append(out, s.expand(x, chainMember(m.Namespace, ref), field, m.Namespace+"/"+m.Name, append(seen, id))...)
		}
		return out
	}
	return []Link{l}
}

// chainMember is the qualified name of a chain's member: as written when it names a provider,
// else makeID(namespace, name) of the chain's namespace by default, not normalized
// (createChainMiddleware, pkg/provider/kubernetes/crd/kubernetes.go), in the CRD provider.
func chainMember(namespace string, ref MiddlewareRef) string {
	if strings.Contains(ref.Name, "@") {
		return ref.Name
	}
	if ref.Namespace != "" {
		namespace = ref.Namespace
	}
	return namespace + "-" + ref.Name + "@" + ProviderCRD
}

// judge says whether one Middleware is the login, and whether it is harmless before it.
func (s *Settings) judge(m *Middleware) (login, safe bool) {
	t := m.Spec.Types[0]
	switch {
	case m.Spec.ForwardAuth != nil:
		return s.IsLogin(m.Spec.ForwardAuth.Address), false
	case m.Spec.Errors != nil:
		// The errors page answers the login's refusals: harmless from the login's own Service
		// (oauth2-proxy's documented Traefik setup), exposing from an app.
		svc := m.Spec.Errors.Service
		ns := svc.Namespace
		if ns == "" {
			ns = m.Namespace
		}
		lns, lname, ok := s.authService()
		return false, ok && ns == lns && svc.Name == lname && (svc.Kind == "" || svc.Kind == "Service")
	}
	return false, safeTypes[t]
}

// IsLogin reports whether a forwardAuth address is the login: traefik.authAddress itself, or
// it with a query of oauth2-proxy's own narrowing parameters only (allowed_groups,
// allowed_emails, each at most once), which lets fewer people in, never more. URLs are
// compared by their parts, not as prefixes: another scheme, host, port, path, a userinfo or a
// fragment is another endpoint.
func (s *Settings) IsLogin(address string) bool {
	if address == s.AuthAddress {
		return true
	}
	u, err := url.Parse(address)
	want, werr := url.Parse(s.AuthAddress)
	if err != nil || werr != nil || u.User != nil || u.Fragment != "" || want.RawQuery != "" ||
		!strings.EqualFold(u.Scheme, want.Scheme) || !strings.EqualFold(u.Host, want.Host) || u.Path != want.Path || u.RawPath != want.RawPath {
		return false
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q) == 0 {
		return false
	}
	for k, vs := range q {
		if (k != "allowed_groups" && k != "allowed_emails") || len(vs) != 1 {
			return false
		}
	}
	return true
}

// authService is the Service (namespace, name) authAddress names through cluster DNS
// (<name>.<namespace>.svc[.<cluster domain>]).
func (s *Settings) authService() (namespace, name string, ok bool) {
	u, err := url.Parse(s.AuthAddress)
	if err != nil {
		return "", "", false
	}
	labels := strings.Split(policy.NormalizeHost(u.Hostname()), ".")
	if len(labels) < 3 || labels[2] != "svc" {
		return "", "", false
	}
	return labels[1], labels[0], true
}

// EntryPoint is one entrypoint a router is served on, and the chain it runs there.
type EntryPoint struct {
	Name string `json:"name"`
	// Known: one of traefik.entryPoints. TLS: one of traefik.tlsEntryPoints.
	Known bool  `json:"known"`
	TLS   bool  `json:"tls"`
	Chain Chain `json:"chain"`
}

// Serve are the entrypoints a root router is served on, each with its chain: the entrypoint's
// middlewares, then the router's (pkg/server/router/router.go). A router naming no entrypoint
// is on every one (none is marked asDefault in the configs privgate models).
func (s *Settings) Serve(x Index, named []string, field string, refs []Ref) []EntryPoint {
	if len(named) == 0 {
		for ep := range s.EntryPoints {
			named = append(named, ep)
		}
		slices.Sort(named)
	}
	var out []EntryPoint
	for _, ep := range named {
		mws, known := s.EntryPoints[ep]
		var all []Ref
		for _, m := range mws {
			all = append(all, Ref{Name: m, Field: "traefik.entryPoints." + ep})
		}
		all = append(all, refs...)
		out = append(out, EntryPoint{Name: ep, Known: known, TLS: slices.Contains(s.TLSEntryPoints, ep), Chain: s.Resolve(x, all)})
	}
	return out
}
