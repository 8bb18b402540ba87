package envoygateway

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

// name names the target in the registry and its command (privgate envoygateway policy); key
// is its section in privgate.yaml.
const (
	name       = "envoygateway"
	sectionKey = "envoyGateway"
)

// Settings are privgate.yaml's envoyGateway section.
type Settings struct {
	// ExtAuthServices are the Services, namespace/name, that answer Envoy Gateway's HTTP
	// external authorization with login (oauth2-proxy). None by default: then only OIDC to the
	// configured Keycloak issuer covers a host.
	ExtAuthServices []string `json:"extAuthServices"`
	// GroupLogins are Services, namespace/name, of oauth2-proxies that let in only some groups
	// (run with --allowed-group), answering HTTP external authorization: the login of routes
	// that allow only those groups (their groups annotation). Each is a login too, narrower,
	// for a route allowing everyone who logs in.
	GroupLogins []GroupLogin `json:"groupLogins"`
	// RuleModes set the modes of this target's rules.
	RuleModes map[string]policy.Mode `json:"rules,omitempty"`
}

// GroupLogin is the Service of an oauth2-proxy that lets in only Groups.
type GroupLogin struct {
	Groups  []string `json:"groups"`
	Service string   `json:"service"`
}

// AllowedGroups are the groups its oauth2-proxy lets in.
func (g GroupLogin) AllowedGroups() []string { return g.Groups }

// GroupLoginsKey is where group logins are configured, for messages.
const GroupLoginsKey = sectionKey + ".groupLogins"

// GroupLogins says, under cfg, why routes allowing a set of groups have no login (none of its
// group logins lets in exactly those), nil when they have one: for privgate migrate.
func GroupLogins(cfg *policy.Config) func(groups []string) error {
	return gatewayapi.MissingGroupLogin(configOf(cfg).GroupLogins, GroupLoginsKey)
}

// Key is envoyGateway.
func (*Settings) Key() string { return sectionKey }

// Rules are envoyGateway.rules.
func (s *Settings) Rules() map[string]policy.Mode { return s.RuleModes }

// Default: no login service.
func (s *Settings) Default(*policy.Config) {
	if s.ExtAuthServices == nil {
		s.ExtAuthServices = []string{}
	}
	if s.GroupLogins == nil {
		s.GroupLogins = []GroupLogin{}
	}
}

// Validate reports every problem of the section.
func (s *Settings) Validate(_ *policy.Config, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, svc := range s.ExtAuthServices {
		errs = append(errs, serviceProblems(fld.Child("extAuthServices").Index(i), svc)...)
	}
	errs = append(errs, gatewayapi.ValidateGroupLogins(s.GroupLogins, fld.Child("groupLogins"))...)
	for i, g := range s.GroupLogins {
		f := fld.Child("groupLogins").Index(i).Child("service")
		switch {
		case slices.Contains(s.ExtAuthServices, g.Service):
			errs = append(errs, policy.Problem(f, "%q is in envoyGateway.extAuthServices, a login for everyone who logs in: a group login needs a Service of its own (an oauth2-proxy run with --allowed-group)", g.Service))
		case slices.ContainsFunc(s.GroupLogins[:i], func(o GroupLogin) bool { return o.Service == g.Service }):
			errs = append(errs, policy.Problem(f, "%q is the Service of another group login: one Service lets in one set of groups", g.Service))
		default:
			errs = append(errs, serviceProblems(f, g.Service)...)
		}
	}
	return errs
}

// serviceProblems says what keeps svc from naming a Service, namespace/name.
func serviceProblems(f *field.Path, svc string) field.ErrorList {
	ns, n, ok := strings.Cut(svc, "/")
	if !ok {
		return field.ErrorList{policy.Problem(f, "%q is not namespace/name of a Service (oauth2-proxy/oauth2-proxy)", svc)}
	}
	var errs field.ErrorList
	if e := validation.IsDNS1123Label(ns); len(e) > 0 {
		errs = append(errs, policy.Problem(f, "%q: %q is not a namespace: %s", svc, ns, e[0]))
	}
	if e := validation.IsDNS1035Label(n); len(e) > 0 {
		errs = append(errs, policy.Problem(f, "%q: %q is not a Service name: %s", svc, n, e[0]))
	}
	return errs
}

// knows reports whether svc (namespace/name) is a login service: one of extAuthServices, or
// a group login's.
func (c config) knows(svc string) bool {
	return slices.Contains(c.ExtAuthServices, svc) || slices.ContainsFunc(c.GroupLogins, func(g GroupLogin) bool { return g.Service == svc })
}

// allowedBy are the groups the login service svc lets in; none for everyone who logs in.
func (c config) allowedBy(svc string) []string {
	return gatewayapi.AllowedBy(c.GroupLogins, func(g GroupLogin) string { return g.Service }, svc)
}

// config is what the implementation and the target read: the shared keys and their own.
type config struct {
	*policy.Config
	*Settings
}

func configOf(cfg *policy.Config) config {
	s, ok := policy.Settings[*Settings](cfg, name)
	if !ok {
		s = &Settings{}
		s.Default(cfg)
	}
	return config{cfg, s}
}

// issuer is the OIDC issuer that is login: the Keycloak realm the groups come from ("" when
// groups come from a file: then no OIDC policy covers a host).
func (c config) issuer() string {
	k := c.Groups.Keycloak
	if k == nil || k.URL == "" || k.Realm == "" {
		return ""
	}
	return strings.TrimSuffix(k.URL, "/") + "/realms/" + k.Realm
}
