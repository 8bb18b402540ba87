package gatewayapi

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
)

// A GroupLogin is a login configured for one set of groups (istio.groupLogins,
// envoyGateway.groupLogins): an oauth2-proxy run with --allowed-group for each, which answers
// 403 to everyone else. It is why a route's groups can be kept on an implementation whose login
// sends every request of a route to one fixed URL: not a query on that URL (Envoy appends the
// client's own path and query to an ext_authz path prefix, so a client could add its own
// allowed_groups), but a login of its own per set.
type GroupLogin interface {
	AllowedGroups() []string
}

// FindGroupLogin is the login of logins configured for exactly the groups want (compared as
// sets), and whether there is one.
func FindGroupLogin[L GroupLogin](logins []L, want []string) (L, bool) {
	for _, l := range logins {
		if groups.Same(l.AllowedGroups(), want) {
			return l, true
		}
	}
	var none L
	return none, false
}

// MissingGroupLogin says, for privgate migrate, why routes allowing a set of groups have no
// login among logins (key: where they are configured, istio.groupLogins), nil when they have one.
func MissingGroupLogin[L GroupLogin](logins []L, key string) func(groups []string) error {
	return func(want []string) error {
		if _, ok := FindGroupLogin(logins, want); ok {
			return nil
		}
		return fmt.Errorf("%s has no login for exactly %s", key, strings.Join(want, ","))
	}
}

// AllowedBy are the groups the login named by key lets in (logins' key), none when it is not a
// group login: it lets in everyone who logs in.
func AllowedBy[L GroupLogin](logins []L, key func(L) string, login string) []string {
	for _, l := range logins {
		if key(l) == login {
			return l.AllowedGroups()
		}
	}
	return nil
}

// ValidateGroupLogins reports what is wrong with each login's groups (fld is the list): none,
// an empty or padded name, or the same set as an earlier entry (which one would apply?).
func ValidateGroupLogins[L GroupLogin](logins []L, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, l := range logins {
		f := fld.Index(i).Child("groups")
		gs := l.AllowedGroups()
		if len(gs) == 0 {
			errs = append(errs, policy.Problem(f, "must name the groups this login lets in"))
		}
		for j, g := range gs {
			if g == "" || strings.TrimSpace(g) != g || strings.Contains(g, ",") {
				errs = append(errs, policy.Problem(f.Index(j), "%q is not a group name (no spaces around it, no commas)", g))
			}
		}
		for k := range i {
			if len(gs) > 0 && groups.Same(logins[k].AllowedGroups(), gs) {
				errs = append(errs, policy.Problem(f, "the same groups as %s: one login per set of groups", fld.Index(k)))
				break
			}
		}
	}
	return errs
}
