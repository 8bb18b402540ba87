package policy

import "strings"

// NormalizeHost lower-cases a host and drops one trailing dot: DNS names compare
// case-insensitively, and "a.example.com." names the same host as "a.example.com". Only ASCII
// letters fold, as in DNS: Unicode folding would let "prİvate" (U+0130) pass for "private".
func NormalizeHost(h string) string {
	h = strings.TrimSpace(h)
	h = strings.TrimSuffix(h, ".")
	return asciiLower(h)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Zones decides whether a host lies in one of the private zones. Matching is on label
// boundaries: with zone private.example.com, a.private.example.com is private but
// evilprivate.example.com is not.
type Zones struct {
	zones []string // normalized, each also stored with a leading dot for suffix tests
	dots  []string
}

// NewZones builds a matcher over zone names (normalized here).
func NewZones(zones []string) Zones {
	z := Zones{}
	for _, s := range zones {
		s = NormalizeHost(s)
		if s == "" {
			continue
		}
		z.zones = append(z.zones, s)
		z.dots = append(z.dots, "."+s)
	}
	return z
}

// Private reports whether host (any case, optional trailing dot, optional "*." wildcard) can
// serve a name inside a private zone.
func (z Zones) Private(host string) bool {
	h := NormalizeHost(host)
	if base, ok := strings.CutPrefix(h, "*."); ok {
		// "*.B" answers every name one label below B. That includes a zone apex when B is the
		// apex's parent ("*.example.com" answers "private.example.com"), so such a wildcard is
		// private too.
		if z.inZone(base) {
			return true
		}
		for _, zone := range z.zones {
			if _, parent, ok := strings.Cut(zone, "."); ok && parent == base {
				return true
			}
		}
		return false
	}
	return z.inZone(h)
}

func (z Zones) inZone(h string) bool {
	if h == "" {
		return false
	}
	for i, zone := range z.zones {
		if h == zone || strings.HasSuffix(h, z.dots[i]) {
			return true
		}
	}
	return false
}

// TLSCovers reports whether a tls host (from spec.tls[].hosts) covers a rule host. A wildcard tls
// host covers exactly one label, as a certificate does; a wildcard rule host is covered only by
// the same wildcard.
func TLSCovers(tlsHost, ruleHost string) bool {
	t, r := NormalizeHost(tlsHost), NormalizeHost(ruleHost)
	if t == "" || r == "" {
		return false
	}
	if t == r {
		return true
	}
	base, ok := strings.CutPrefix(t, "*.")
	if !ok || strings.HasPrefix(r, "*.") {
		return false
	}
	label, rest, ok := strings.Cut(r, ".")
	return ok && label != "" && rest == base
}
