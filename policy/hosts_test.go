package policy

import (
	"strings"
	"testing"
)

func TestZonesPrivate(t *testing.T) {
	z := NewZones([]string{"private.example.com", "Internal.Example.ORG."})
	cases := []struct {
		host string
		want bool
	}{
		{"private.example.com", true},
		{"grafana.private.example.com", true},
		{"a.b.private.example.com", true},
		{"GRAFANA.Private.Example.Com", true},
		{"grafana.private.example.com.", true},
		{"x.internal.example.org", true},
		{"evilprivate.example.com", false}, // label boundary
		{"private.example.com.evil.io", false},
		{"example.com", false},
		{"", false},
		{"*.private.example.com", true},
		{"*.apps.private.example.com", true},
		{"*.example.com", true}, // answers private.example.com itself
		{"*.com", false},
		{"*.evilprivate.example.com", false},
		{"*", false},
		{"private.example.co", false},
		{"pr\u0130vate.example.com", false}, // only ASCII folds, as in DNS
	}
	for _, c := range cases {
		if got := z.Private(c.host); got != c.want {
			t.Errorf("Private(%q) = %v, want %v", c.host, got, c.want)
		}
	}
}

func TestTLSCovers(t *testing.T) {
	cases := []struct {
		tls, host string
		want      bool
	}{
		{"a.private.example.com", "a.private.example.com", true},
		{"A.Private.Example.com", "a.private.example.com", true},
		{"*.private.example.com", "a.private.example.com", true},
		{"*.private.example.com", "b.a.private.example.com", false}, // one label only
		{"*.private.example.com", "private.example.com", false},
		{"*.private.example.com", "*.private.example.com", true},
		{"a.private.example.com", "*.private.example.com", false},
		{"*.private.example.com", "*.a.private.example.com", false},
		{"", "a.private.example.com", false},
		{"b.private.example.com", "a.private.example.com", false},
	}
	for _, c := range cases {
		if got := TLSCovers(c.tls, c.host); got != c.want {
			t.Errorf("TLSCovers(%q, %q) = %v, want %v", c.tls, c.host, got, c.want)
		}
	}
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// FuzzZonesPrivate checks the matcher's invariants on arbitrary hosts: it never panics, ignores
// case and one trailing dot, and a host is private only if it ends on a label boundary of a zone.
func FuzzZonesPrivate(f *testing.F) {
	for _, s := range []string{"grafana.private.example.com", "evilprivate.example.com", "*.example.com", "", ".", "*.", "PRIVATE.EXAMPLE.COM.", "a..private.example.com"} {
		f.Add(s)
	}
	z := NewZones([]string{"private.example.com"})
	f.Fuzz(func(t *testing.T, host string) {
		got := z.Private(host)
		if got != z.Private(asciiUpper(host)) {
			t.Fatalf("case changes the answer for %q", host)
		}
		h := NormalizeHost(host)
		if got && !strings.HasPrefix(h, "*.") && h != "private.example.com" && !strings.HasSuffix(h, ".private.example.com") {
			t.Fatalf("%q judged private off a label boundary", host)
		}
		if !got && (h == "private.example.com" || strings.HasSuffix(h, ".private.example.com")) {
			t.Fatalf("%q is in the zone but judged public", host)
		}
		// The wildcard matchers are complete: every suffix of a private name is one a raw-suffix
		// wildcard can end a private name with, so is every ".suffix" for nginx's "*.", and every
		// name's leading labels for nginx's trailing "www.*".
		if got && !strings.HasPrefix(h, "*") {
			for k := 1; k <= len(h); k++ {
				s := h[k:]
				if !z.PrivateSuffix(s) || !z.PrivateEnvoyHost("*"+s) {
					t.Fatalf("private %q ends with %q, yet a wildcard ending so is judged public", h, s)
				}
				if strings.HasPrefix(s, ".") && (!z.PrivateServerName("*"+s) || !z.PrivateServerName(h[:k]+".*")) {
					t.Fatalf("private %q: nginx wildcard *%s or %s.* judged public", h, s, h[:k])
				}
			}
		}
		// ... and sound: what PrivateSuffix accepts ends some private name.
		if s := asciiLower(host); z.PrivateSuffix(s) {
			if !z.Private("a"+s) && !z.Private("a."+s) && !(strings.HasSuffix("private.example.com", s) && s != "private.example.com") {
				t.Fatalf("PrivateSuffix(%q), but no private name ends with it", host)
			}
		}
	})
}

// TestZonesWildcards: each matcher reads a name as its component does and says whether it can
// match a private name. PrivateSuffix: a leading "*" standing for any characters (at least one)
// before a raw suffix, as Istio and Envoy read it. PrivateServerName: an nginx server_name (a
// server-alias). PrivateEnvoyHost: an Istio or Envoy host pattern ("*" alone, a leading "*"
// before a raw suffix, a trailing "*" after a raw prefix, else the name).
func TestZonesWildcards(t *testing.T) {
	z := NewZones([]string{"private.example.com"})
	type cases []struct {
		in   string
		want bool
	}
	matchers := []struct {
		name  string
		match func(string) bool
		cases cases
	}{
		{"PrivateSuffix", z.PrivateSuffix, cases{
			{"", true},                       // "*": every name
			{"e.com", true},                  // private.example.com ends with it
			{".com", true},                   // so does every name under .com
			{"private.example.com", true},    // x.private.example.com
			{"rivate.example.com", true},     // private.example.com itself
			{".private.example.com", true},   // every name in the zone
			{"-x.private.example.com", true}, // a-x.private.example.com
			{"E.COM", true},                  // case folds
			{"evilprivate.example.com", false},
			{"example.org", false},
			{"x.example.com", false},
			{"private.example.com.evil.io", false},
		}},
		{"PrivateServerName", z.PrivateServerName, cases{
			{"grafana.private.example.com", true},
			{"Grafana.Private.Example.com", true},
			{"www.example.com", false},
			{"evilprivate.example.com", false},
			{"*.com", true},                   // any depth: grafana.private.example.com
			{"*.example.com", true},           // private.example.com, a.private.example.com
			{"*.private.example.com", true},   // every name under the zone
			{"*.blog.example.com", false},     // only names under blog.example.com
			{".example.com", true},            // example.com and every name under it
			{".private.example.com", true},    // the zone and every name under it
			{".example.org", false},           // example.org and below
			{".blog.example.com", false},      // blog.example.com and below
			{"grafana.*", true},               // grafana.private.example.com
			{"www.example.*", true},           // www.example.private.example.com
			{"~^.*$", true},                   // a regular expression may match anything
			{"~^blog\\.example\\.com$", true}, // not proven otherwise
			{"w*.example.com", true},          // a name nginx refuses, judged as one that could match
			{"*", true},                       // likewise
			{".", false},                      // no name
			{"", false},
			{"$hostname", false}, // the controller pod's own name
		}},
		{"PrivateEnvoyHost", z.PrivateEnvoyHost, cases{
			{"*", true},
			{"*.com", true},
			{"*e.com", true},
			{"*private.example.com", true},
			{"*.private.example.com", true},
			{"*-x.private.example.com", true},
			{"*.example.org", false},
			{"*evilprivate.example.com", false},
			{"grafana.*", true},
			{"grafana.private.example.com", true},
			{"blog.example.com", false},
		}},
	}
	for _, m := range matchers {
		for _, c := range m.cases {
			if got := m.match(c.in); got != c.want {
				t.Errorf("%s(%q) = %v, want %v", m.name, c.in, got, c.want)
			}
		}
	}
}
