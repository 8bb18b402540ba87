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
	})
}
