package groups

import (
	"slices"
	"strings"
)

// Split reads a comma-separated group list as privgate writes and reads one (the groups
// annotation on Ingresses and Gateway API routes, oauth2-proxy's allowed_groups): spaces
// trimmed, empty and repeated entries dropped, order kept so the result is stable.
func Split(v string) []string {
	var out []string
	for g := range strings.SplitSeq(v, ",") {
		g = strings.TrimSpace(g)
		if g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// Same reports whether two group lists allow the same groups: compared as sets, exactly (the
// groups claim is case-sensitive, as oauth2-proxy's comparison is: "/SRE" is not "/sre").
func Same(a, b []string) bool {
	return slices.Equal(sortedSet(a), sortedSet(b))
}

func sortedSet(gs []string) []string {
	out := slices.Clone(gs)
	slices.Sort(out)
	return slices.Compact(out)
}
