package istio

import (
	"strings"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

// matches reports whether an AuthorizationPolicy host value matches a Host header, as Istio
// matches them: case-insensitively, "*" alone matching anything, one "*" at the start (suffix
// match) or at the end (prefix match). A "*" at both ends, or inside, is a literal: "*.zone:*"
// matches nothing a client sends. The value is compared as written, only its case folded: a
// trailing dot or a space makes it match nothing.
func matches(value, host string) bool {
	v, h := strings.ToLower(value), policy.NormalizeHost(host)
	switch {
	case v == "*":
		return true
	case strings.HasPrefix(v, "*") && !strings.HasSuffix(v, "*"):
		return strings.HasSuffix(h, v[1:])
	case strings.HasSuffix(v, "*") && !strings.HasPrefix(v, "*"):
		return strings.HasPrefix(h, v[:len(v)-1])
	}
	return v == h
}

// coversName reports whether value matches every Host header naming a published host without a
// port. A published wildcard ("*.zone") needs a value matching every name under it.
func coversName(value, host string) bool {
	host = policy.NormalizeHost(host)
	if base, ok := strings.CutPrefix(host, "*"); ok {
		v := strings.ToLower(value)
		if v == "*" {
			return true
		}
		suffix, ok := strings.CutPrefix(v, "*")
		return ok && !strings.HasSuffix(v, "*") && strings.HasSuffix(base, suffix)
	}
	return matches(value, host)
}

// coversPorts reports whether value matches the host with every port a client may add
// ("grafana.zone:443"): only "*" and a prefix match ending at or before the colon do.
func coversPorts(value, host string) bool {
	v, host := strings.ToLower(value), policy.NormalizeHost(host)
	if v == "*" {
		return true
	}
	if strings.HasPrefix(host, "*") || strings.HasPrefix(v, "*") || !strings.HasSuffix(v, "*") {
		return false
	}
	return strings.HasPrefix(host+":", v[:len(v)-1])
}

// excludes reports whether a notHosts value takes some request to host away: it matches the
// Host header with or without a port ("grafana.zone", "grafana.zone:8443"). Any notHosts value
// narrows a published wildcard.
func excludes(value, host string) bool {
	v, host := strings.ToLower(value), policy.NormalizeHost(host)
	if strings.HasPrefix(host, "*") || matches(v, host) {
		return true
	}
	withPort := host + ":"
	switch {
	case strings.HasPrefix(v, "*") && strings.HasSuffix(v, "*"):
		return false // a literal: no client sends it
	case strings.HasPrefix(v, "*"):
		// A suffix ends "host:port" for some port when what follows its last colon is digits
		// and what precedes it ends the host ("*:8443", "*.zone:443"), or it is all digits.
		suffix := v[1:]
		i := strings.LastIndex(suffix, ":")
		if i < 0 {
			return digits(suffix)
		}
		return digits(suffix[i+1:]) && strings.HasSuffix(host, suffix[:i])
	case strings.HasSuffix(v, "*"):
		prefix := v[:len(v)-1]
		return strings.HasPrefix(withPort, prefix) || (strings.HasPrefix(prefix, withPort) && digits(prefix[len(withPort):]))
	}
	return strings.HasPrefix(v, withPort) && digits(v[len(withPort):]) && len(v) > len(withPort)
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// hostsIntersect reports whether two host patterns can name the same host, and which is the
// narrower: Istio binds a VirtualService's hosts to a Gateway server's as Gateway API binds a
// route's hostnames to a listener's.
func hostsIntersect(a, b string) (string, bool) { return gatewayapi.Intersect(a, b) }
