package probe

import (
	"net/url"
	"strings"
)

// Verdicts of one request.
const (
	// Login: the login met the request: a redirect to the sign-in, or the login's own 401/403.
	Login = "login"
	// Open: something past the login answered: 2xx, or a redirect elsewhere than the sign-in.
	Open = "open"
	// Unreachable: neither: no answer (refused, timed out), or a status that is neither the
	// login's nor content (404 no route, 400 refused, 5xx).
	Unreachable = "unreachable"
)

// SignIn recognises the login's redirects.
type SignIn struct {
	// Hosts are the login's hosts (auth.signin's and auth.url's): a redirect to one is the login.
	Hosts []string
	// Prefixes are further URL prefixes that are the login (an identity provider's authorize
	// endpoint, where oauth2-proxy redirects directly with --skip-provider-button).
	Prefixes []string
	// PathPrefix is the login's path on the app's own host (oauth2-proxy's /oauth2/), for a
	// relative redirect.
	PathPrefix string
}

// NewSignIn is the login that the sign-in URL and auth URL of privgate.yaml name, plus prefixes.
func NewSignIn(signin, authURL string, prefixes []string) SignIn {
	s := SignIn{Prefixes: prefixes}
	for _, raw := range []string{signin, authURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			continue
		}
		s.Hosts = append(s.Hosts, strings.ToLower(u.Hostname()))
		if s.PathPrefix == "" && raw == signin {
			if i := strings.LastIndex(u.Path, "/"); i > 0 {
				s.PathPrefix = u.Path[:i+1] // /oauth2/start → /oauth2/
			}
		}
	}
	return s
}

// Verdict judges one answer: its status and Location ("" when none); status 0 when the request
// got no answer.
func (s SignIn) Verdict(status int, location string) string {
	switch {
	case status == 0:
		return Unreachable
	case status == 401 || status == 403:
		return Login
	case status >= 200 && status < 300:
		return Open
	case status >= 300 && status < 400:
		if s.isSignIn(location) {
			return Login
		}
		return Open
	}
	return Unreachable
}

func (s SignIn) isSignIn(location string) bool {
	if location == "" {
		return false
	}
	for _, p := range s.Prefixes {
		if p != "" && strings.HasPrefix(location, p) {
			return true
		}
	}
	u, err := url.Parse(location)
	if err != nil {
		return false
	}
	if u.Host == "" {
		return s.PathPrefix != "" && strings.HasPrefix(u.Path, s.PathPrefix) && !strings.HasPrefix(location, "//")
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range s.Hosts {
		if host == h {
			return true
		}
	}
	return false
}

// upgrade reports whether an answer to a plain-HTTP request for host is the controller's
// redirect to HTTPS on the same host (ingress-nginx's ssl-redirect): it says nothing of the login.
func upgrade(host string, status int, location string) bool {
	if status < 300 || status >= 400 {
		return false
	}
	u, err := url.Parse(location)
	return err == nil && u.Scheme == "https" && strings.EqualFold(strings.TrimSuffix(u.Hostname(), "."), strings.TrimSuffix(host, "."))
}
