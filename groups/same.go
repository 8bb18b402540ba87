package groups

import "slices"

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
