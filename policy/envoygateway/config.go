package envoygateway

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/policy"
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
	// RuleModes set the modes of this target's rules.
	RuleModes map[string]policy.Mode `json:"rules,omitempty"`
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
}

// Validate reports every problem of the section.
func (s *Settings) Validate(_ *policy.Config, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, svc := range s.ExtAuthServices {
		f := fld.Child("extAuthServices").Index(i)
		ns, n, ok := strings.Cut(svc, "/")
		if !ok {
			errs = append(errs, policy.Problem(f, "%q is not namespace/name of a Service (oauth2-proxy/oauth2-proxy)", svc))
			continue
		}
		if e := validation.IsDNS1123Label(ns); len(e) > 0 {
			errs = append(errs, policy.Problem(f, "%q: %q is not a namespace: %s", svc, ns, e[0]))
		}
		if e := validation.IsDNS1035Label(n); len(e) > 0 {
			errs = append(errs, policy.Problem(f, "%q: %q is not a Service name: %s", svc, n, e[0]))
		}
	}
	return errs
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
