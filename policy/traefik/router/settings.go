package router

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/policy"
)

// Key is the section's key in privgate.yaml and the traefik target's name.
const Key = "traefik"

// Settings are privgate.yaml's traefik section: what privgate must know of the cluster's Traefik
// (its static configuration) to judge the routers it builds (docs/traefik.md).
type Settings struct {
	// IngressClasses are the classes Traefik serves: Ingresses of these are judged as Traefik
	// builds their routers, not as ingress-nginx would (default [traefik]).
	IngressClasses []string `json:"ingressClasses"`
	// LoginMiddleware is the ForwardAuth Middleware (namespace/name) in front of oauth2-proxy
	// that privgate adds to Ingresses (default traefik/oauth2-proxy).
	LoginMiddleware string `json:"loginMiddleware"`
	// AuthAddress is the login's forwardAuth.address: a ForwardAuth Middleware forwarding there
	// is the login.
	AuthAddress string `json:"authAddress"`
	// AllowCrossNamespace is the kubernetesCRD provider's allowCrossNamespace (Traefik's default
	// false): whether an IngressRoute may name a Middleware of another namespace.
	AllowCrossNamespace bool `json:"allowCrossNamespace"`
	// EntryPoints are Traefik's entrypoints by name, each with its entryPoints.<name>.http.middlewares
	// (qualified names, name@provider), which run before every root router's own.
	EntryPoints map[string][]string `json:"entryPoints"`
	// TLSEntryPoints are the entrypoints with entryPoints.<name>.http.tls set: every router on
	// them is served over TLS only (default [websecure], as k3s's chart sets it).
	TLSEntryPoints []string `json:"tlsEntryPoints"`
	// RuleModes set the modes of the traefik target's rules.
	RuleModes map[string]policy.Mode `json:"rules,omitempty"`
}

// Key is traefik.
func (*Settings) Key() string { return Key }

// Rules are traefik.rules.
func (s *Settings) Rules() map[string]policy.Mode { return s.RuleModes }

// Default fills in Traefik's and k3s's defaults.
func (s *Settings) Default(*policy.Config) {
	if s.IngressClasses == nil {
		s.IngressClasses = []string{"traefik"}
	}
	if s.LoginMiddleware == "" {
		s.LoginMiddleware = "traefik/oauth2-proxy"
	}
	if s.EntryPoints == nil {
		s.EntryPoints = map[string][]string{"web": {}, "websecure": {}}
	}
	for k, v := range s.EntryPoints {
		if v == nil {
			s.EntryPoints[k] = []string{}
		}
	}
	if s.TLSEntryPoints == nil {
		s.TLSEntryPoints = []string{"websecure"}
	}
}

// Validate reports every problem of the section, each with its path.
func (s *Settings) Validate(_ *policy.Config, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	fail := func(fld *field.Path, format string, args ...any) {
		errs = append(errs, policy.Problem(fld, format, args...))
	}
	for i, c := range s.IngressClasses {
		if e := validation.IsDNS1123Subdomain(c); len(e) > 0 {
			fail(fld.Child("ingressClasses").Index(i), "%q is not an IngressClass name: %s", c, e[0])
		}
	}
	if ns, name, ok := strings.Cut(s.LoginMiddleware, "/"); !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		fail(fld.Child("loginMiddleware"), "%q is not a Middleware as namespace/name", s.LoginMiddleware)
	}
	if u, err := url.Parse(s.AuthAddress); s.AuthAddress == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail(fld.Child("authAddress"), "%q is not the login's forwardAuth.address (an http or https URL, such as http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth)", s.AuthAddress)
	}
	if len(s.EntryPoints) == 0 {
		fail(fld.Child("entryPoints"), "must name Traefik's entrypoints, such as {websecure: [], web: []}")
	}
	for _, ep := range slices.Sorted(maps.Keys(s.EntryPoints)) {
		for i, m := range s.EntryPoints[ep] {
			if _, p, ok := strings.Cut(m, "@"); !ok || p == "" {
				fail(fld.Child("entryPoints").Key(ep).Index(i), "%q is not a qualified middleware name (name@provider), as entrypoint middlewares must be", m)
			}
		}
	}
	for i, ep := range s.TLSEntryPoints {
		if _, ok := s.EntryPoints[ep]; !ok {
			fail(fld.Child("tlsEntryPoints").Index(i), "%q is not one of entryPoints", ep)
		}
	}
	return errs
}

// LoginID is the login Middleware's ID as a router names it: <namespace>-<name>@kubernetescrd.
func (s *Settings) LoginID() string {
	ns, name, _ := strings.Cut(s.LoginMiddleware, "/")
	return CRDID(ns, name) + "@" + ProviderCRD
}

// Optional: Traefik is judged only with the section. Without it the traefik target is off and
// Ingresses of class traefik are foreign to the Ingress target, as before the section existed.
func (*Settings) Optional() bool { return true }

// Of is the section of a parsed config; without it, settings naming no class, so that nothing
// is judged as Traefik serves it.
func Of(cfg *policy.Config) (*Settings, bool) {
	if s, ok := policy.Settings[*Settings](cfg, Key); ok {
		return s, true
	}
	return &Settings{EntryPoints: map[string][]string{}}, false
}
