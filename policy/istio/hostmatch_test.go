package istio

import (
	"strconv"
	"testing"

	"github.com/privgate/privgate/policy"
)

// TestMatches: AuthorizationPolicy host values as Istio matches them against a Host header.
func TestMatches(t *testing.T) {
	cases := []struct {
		value, host string
		want        bool
	}{
		{"grafana.private.example.com", "grafana.private.example.com", true},
		{"Grafana.Private.Example.com", "grafana.private.example.com", true}, // case-insensitive
		{"grafana.private.example.com", "grafana.private.example.com:443", false},
		{"grafana.private.example.com:*", "grafana.private.example.com:443", true},
		{"*.private.example.com", "grafana.private.example.com", true},
		{"*.private.example.com", "grafana.private.example.com:443", false},
		{"*.private.example.com:*", "grafana.private.example.com:443", false}, // both ends: a literal
		{"*.private.example.com:*", "*.private.example.com:*", true},
		{"*", "anything:8080", true},
		{"grafana.*", "grafana.private.example.com:443", true},
		{"graf*na.private.example.com", "grafana.private.example.com", false}, // inside: a literal
	}
	for _, c := range cases {
		if got := matches(c.value, c.host); got != c.want {
			t.Errorf("matches(%q, %q) = %v, want %v", c.value, c.host, got, c.want)
		}
	}
}

// TestCovers: whether one hosts value covers every Host header of a published host, with and
// without a port, and whether a notHosts value takes some of them away.
func TestCovers(t *testing.T) {
	cases := []struct {
		value, host       string
		name, ports, excl bool
	}{
		{"grafana.private.example.com", "grafana.private.example.com", true, false, true},
		{"grafana.private.example.com:*", "grafana.private.example.com", false, true, true},
		{"grafana.private.example.com*", "grafana.private.example.com", true, true, true},
		{"grafana.private.example.com:443", "grafana.private.example.com", false, false, true},
		{"*:8443", "grafana.private.example.com", false, false, true},
		{"*.example.com:443", "grafana.private.example.com", false, false, true},
		{"*", "grafana.private.example.com", true, true, true},
		{"*.private.example.com", "grafana.private.example.com", true, false, true},
		{"*.private.example.com", "*.private.example.com", true, false, true},
		{"*.example.com", "*.private.example.com", true, false, true},
		{"*.other.example.com", "*.private.example.com", false, false, true}, // any notHosts narrows a wildcard
		{"grafana.private.example.com", "*.private.example.com", false, false, true},
		{"prometheus.private.example.com", "grafana.private.example.com", false, false, false},
		{"*.zone:*", "grafana.zone", false, false, false},
		{"grafana.private.example.com:44x", "grafana.private.example.com", false, false, false},
	}
	for _, c := range cases {
		if got := coversName(c.value, c.host); got != c.name {
			t.Errorf("coversName(%q, %q) = %v, want %v", c.value, c.host, got, c.name)
		}
		if got := coversPorts(c.value, c.host); got != c.ports {
			t.Errorf("coversPorts(%q, %q) = %v, want %v", c.value, c.host, got, c.ports)
		}
		if got := excludes(c.value, c.host); got != c.excl {
			t.Errorf("excludes(%q, %q) = %v, want %v", c.value, c.host, got, c.excl)
		}
	}
}

// FuzzHostCoverage: the coverage helpers agree with Istio's matching itself. A value said to
// cover the name matches it; one said to cover every port matches the host on any port; a value
// that matches the host with or without a port is a notHosts value that takes it away.
func FuzzHostCoverage(f *testing.F) {
	for _, s := range []string{"grafana.private.example.com", "*", "*:8443", "grafana.*", "grafana.private.example.com:*", "*.example.com:443", "*.zone:*", ""} {
		f.Add(s, "grafana.private.example.com", uint16(443))
	}
	f.Add("*e.com", "grafana.private.example.com", uint16(443))
	zones := policy.NewZones([]string{"private.example.com"})
	f.Fuzz(func(t *testing.T, value, host string, port uint16) {
		if host == "" || host[0] == '*' || policy.NormalizeHost(host) != host {
			// Published hosts are normalized; published wildcards are covered by name only
			// (no request names a wildcard).
			return
		}
		withPort := host + ":" + strconv.Itoa(int(port))
		if coversName(value, host) && !matches(value, host) {
			t.Errorf("coversName(%q, %q) but it does not match", value, host)
		}
		if coversPorts(value, host) && !matches(value, withPort) {
			t.Errorf("coversPorts(%q, %q) but it does not match %q", value, host, withPort)
		}
		if (matches(value, host) || matches(value, withPort)) && !excludes(value, host) {
			t.Errorf("notHosts %q matches %q or %q, yet excludes says no", value, host, withPort)
		}
		// Read as a published host, a pattern that matches a private name is a private host.
		if zones.Private(host) && matches(value, host) && !zones.PrivateEnvoyHost(value) {
			t.Errorf("%q matches private %q, yet is judged public", value, host)
		}
	})
}
