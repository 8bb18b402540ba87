package policy

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/probe"
)

// Probe is privgate.yaml's probe section: where the audit's leader sends the network probe
// (privgate probe, in the cluster) after each audit pass and on every change of a private host.
// No address: no probe.
type Probe struct {
	// Address is the controller's HOST:PORT (its Service, such as traefik.traefik.svc:443):
	// every request goes there whatever its host, as curl --resolve does.
	Address string `json:"address,omitempty"`
	// Scheme is https (the default) or http.
	Scheme string `json:"scheme,omitempty"`
	// Insecure skips verifying the controller's certificate (a self-signed default one).
	Insecure bool `json:"insecure,omitempty"`
	// Signin are further URL prefixes that are the login (the identity provider's authorize
	// endpoint); auth.signin's and auth.url's hosts always are.
	Signin []string `json:"signin,omitempty"`
	// NoAuthLocations are the controller's locations served without login, probed for bypasses.
	NoAuthLocations []string `json:"noAuthLocations,omitempty"`
	// Rate is requests per second (probe.DefaultRate when unset, at most 100).
	Rate float64 `json:"rate,omitempty"`
}

// Enabled reports whether the leader probes.
func (p Probe) Enabled() bool { return p.Address != "" }

func (p *Probe) setDefaults() {
	if !p.Enabled() {
		return
	}
	if p.Scheme == "" {
		p.Scheme = "https"
	}
	if p.Rate == 0 {
		p.Rate = probe.DefaultRate
	}
	if p.NoAuthLocations == nil {
		p.NoAuthLocations = slices.Clone(probe.DefaultNoAuthLocations)
	}
}

func (p Probe) validate(fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	fail := func(fld *field.Path, format string, args ...any) {
		errs = append(errs, Problem(fld, format, args...))
	}
	if !p.Enabled() {
		if p.Scheme != "" || p.Insecure || len(p.Signin) > 0 || len(p.NoAuthLocations) > 0 || p.Rate != 0 {
			fail(fld.Child("address"), "required when probe sets anything else: the controller's HOST:PORT")
		}
		return errs
	}
	host, port, err := net.SplitHostPort(p.Address)
	n, perr := strconv.Atoi(port)
	switch {
	case err != nil:
		fail(fld.Child("address"), "%q is not HOST:PORT: %v", p.Address, err)
	case perr != nil || n < 1 || n > 65535:
		fail(fld.Child("address"), "%q: port %q is not 1-65535", p.Address, port)
	case net.ParseIP(host) == nil && len(validation.IsDNS1123Subdomain(host)) > 0:
		fail(fld.Child("address"), "%q: %q is neither an IP address nor a DNS name", p.Address, host)
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		fail(fld.Child("scheme"), "must be http or https, not %q", p.Scheme)
	}
	for i, s := range p.Signin {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail(fld.Child("signin").Index(i), "%q is not an http(s) URL prefix such as https://keycloak.example.com/realms/platform/", s)
		}
	}
	for i, l := range p.NoAuthLocations {
		if !strings.HasPrefix(l, "/") || strings.ContainsAny(l, " ?#") {
			fail(fld.Child("noAuthLocations").Index(i), "%q is not a path", l)
		}
	}
	if p.Rate <= 0 || p.Rate > 100 {
		fail(fld.Child("rate"), "must be more than 0 and at most 100 requests a second, not %v", p.Rate)
	}
	return errs
}
