package router

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// A login narrowed to groups: Traefik's forwardAuth sends every request to one fixed address,
// so the groups an Ingress allows travel in that address, as oauth2-proxy's allowed_groups query
// (its /oauth2/auth answers 403 to a user in none of them), one Middleware per set of groups.
// The address is the Middleware's own and Traefik appends nothing to it (the original URL goes
// in X-Forwarded-Uri), so no client can add groups of its own, unlike Envoy's ext_authz
// path_prefix, which the original path follows.

// LoginGroups are the groups a login's forwardAuth address narrows to: allowed_groups split on
// "," as oauth2-proxy splits it (nothing trimmed: it compares names exactly), sorted; nil when
// the address admits everyone who logs in (or is no login address at all).
func LoginGroups(address string) []string {
	u, err := url.Parse(address)
	if err != nil {
		return nil
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil
	}
	var out []string
	for _, v := range q["allowed_groups"] {
		for g := range strings.SplitSeq(v, ",") {
			if g != "" && !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	slices.Sort(out)
	return out
}

// LoginFor is the position of the first login in the chain that enforces groups: any login
// when there are none (one narrowed to groups lets fewer in), else one narrowed to exactly
// those groups (sorted, as LoginGroups gives them; oauth2-proxy compares names exactly). -1:
// none does.
func (c Chain) LoginFor(groups []string) int {
	if len(groups) == 0 {
		return c.Login
	}
	for i, l := range c.Links {
		if l.Login && slices.Equal(l.Groups, groups) {
			return i
		}
	}
	return -1
}

// GroupLogin is the login Middleware for a set of groups (none: the login itself) in the
// login's namespace: <loginMiddleware>-<hash of the sorted groups>, a forwardAuth to
// authAddress?allowed_groups=<groups>. The platform team creates it; the Ingresses of Traefik's
// classes that allow those groups name it.
func (s *Settings) GroupLogin(groups []string) (namespace, name, address string) {
	namespace, name, _ = strings.Cut(s.LoginMiddleware, "/")
	if len(groups) == 0 {
		return namespace, name, s.AuthAddress
	}
	suffix, query := GroupQuery(groups)
	return namespace, name + "-" + suffix, s.AuthAddress + "?" + query
}

// GroupLoginID is GroupLogin's Middleware as a router names it.
func (s *Settings) GroupLoginID(groups []string) string {
	ns, name, _ := s.GroupLogin(groups)
	return CRDID(ns, name) + "@" + ProviderCRD
}

// IsGroupLoginID reports whether id is the login's or one of its group logins' (the IDs
// privgate's mutation owns in router.middlewares, and keeps in step with the groups annotation).
func (s *Settings) IsGroupLoginID(id string) bool {
	login := strings.TrimSuffix(s.LoginID(), "@"+ProviderCRD)
	name, ok := strings.CutSuffix(strings.TrimSpace(id), "@"+ProviderCRD)
	if !ok {
		return false
	}
	if name == login {
		return true
	}
	hash, ok := strings.CutPrefix(name, login+"-")
	return ok && groupHash.MatchString(hash)
}

var groupHash = regexp.MustCompile(`^[0-9a-f]{8}$`)

// GroupQuery is a set of groups as a login's name suffix (8 hex digits of their sorted list's
// SHA-256: the same groups, the same Middleware, in any order) and as its allowed_groups query.
func GroupQuery(groups []string) (suffix, query string) {
	sorted := slices.Sorted(slices.Values(groups))
	list := strings.Join(sorted, ",")
	sum := sha256.Sum256([]byte(list))
	query = url.Values{"allowed_groups": {list}}.Encode()
	if queryPlain.MatchString(list) {
		query = "allowed_groups=" + list // as written, when nothing in it needs escaping
	}
	return fmt.Sprintf("%x", sum[:4]), query
}

// queryPlain are group lists that travel in a query as they are (the characters privgate's
// group-chars rule admits, and the list's commas).
var queryPlain = regexp.MustCompile(`^[-._~a-zA-Z0-9/:,]+$`)
