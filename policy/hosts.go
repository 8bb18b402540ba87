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

// PrivateSuffix reports whether some private name ends with suffix after at least one more
// character: whether a wildcard standing for any characters before a fixed suffix can answer a
// private name. That is how Istio and Envoy read a leading "*" ("*e.com" matches
// grafana.private.example.com), and how nginx reads "*.example.com" (suffix ".example.com", at
// any depth). It holds when a zone ends with suffix (then the zone's apex, or a name one label
// under it, ends with it too), or suffix ends with "." + a zone (every name ending so is in it).
// Case folds; nothing else is trimmed: the suffix is compared as written.
func (z Zones) PrivateSuffix(suffix string) bool {
	s := asciiLower(suffix)
	for i, zone := range z.zones {
		if strings.HasSuffix(zone, s) || strings.HasSuffix(s, z.dots[i]) {
			return true // "" too: every zone ends with it
		}
	}
	return false
}

// PrivateServerName reports whether an nginx server_name (an ingress-nginx server-alias) can
// answer a private name, read as nginx 1.27.1 (the one ingress-nginx v1.15.1 ships) reads it:
// "~" starts a regular expression, which is taken to match anything (privgate does not prove a
// regex misses every private name); "*.example.com" answers every name under example.com, at any
// depth; ".example.com" answers example.com and every name under it; "www.example.*" every name
// starting with "www.example.", which includes www.example.private.example.com, so always a
// private name; any other "*" is a name nginx refuses (ngx_hash_add_key), judged as if it could
// match anything. Else the name exactly, case-insensitively (ngx_http_core_server_name lowers it).
func (z Zones) PrivateServerName(name string) bool {
	n := asciiLower(strings.TrimSpace(name))
	switch {
	case n == "":
		return false
	case strings.HasPrefix(n, "~"):
		return true
	case strings.Count(n, "*") > 1:
		return true
	case strings.HasPrefix(n, "*."):
		return z.PrivateSuffix(n[1:])
	case strings.Contains(n, "*"):
		return true // "www.example.*", or a name nginx refuses
	case strings.HasPrefix(n, "."):
		return z.inZone(n[1:]) || z.PrivateSuffix(n)
	}
	return z.inZone(NormalizeHost(n))
}

// PrivateEnvoyHost reports whether a host pattern can answer a private name as Istio and Envoy
// match it: "*" anything; a leading "*" any characters before a raw suffix, no label boundary
// ("*private.example.com" also matches evilprivate.example.com; istio pkg/config/host
// Name.Matches, Envoy's virtual host domains); a trailing "*" any characters after a prefix
// (Envoy's prefix wildcard: some private name starts with any prefix). Else the name exactly.
func (z Zones) PrivateEnvoyHost(host string) bool {
	h := NormalizeHost(host)
	if suffix, ok := strings.CutPrefix(h, "*"); ok {
		return z.PrivateSuffix(suffix)
	}
	if strings.HasSuffix(h, "*") {
		return len(z.zones) > 0
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
