package groups

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agnivade/levenshtein"
)

// Set is an immutable set of group names, as oauth2-proxy sees them in the groups claim: full
// paths ("/developers/frontend") or bare names ("SRE"). Lookups are exact, as oauth2-proxy's are.
type Set struct {
	id     uint64
	names  map[string]struct{}
	sorted []string
	folded map[string][]string // lower-cased name -> names, for case-mismatch hints
}

// NewSet builds a Set; empty names are dropped.
func NewSet(names []string) *Set {
	s := &Set{id: setIDs.Add(1), names: make(map[string]struct{}, len(names)), folded: make(map[string][]string, len(names))}
	for _, n := range names {
		if n == "" {
			continue
		}
		if _, dup := s.names[n]; dup {
			continue
		}
		s.names[n] = struct{}{}
		s.sorted = append(s.sorted, n)
		low := strings.ToLower(n)
		s.folded[low] = append(s.folded[low], n)
	}
	slices.Sort(s.sorted)
	return s
}

// setIDs numbers sets as they are built, so that a cache can tell sets apart without holding on
// to them.
var setIDs atomic.Uint64

// ID identifies this set among all sets built by this process; no two sets share one.
func (s *Set) ID() uint64 { return s.id }

// Has reports whether name is known, exactly.
func (s *Set) Has(name string) bool {
	_, ok := s.names[name]
	return ok
}

// Len is the number of groups.
func (s *Set) Len() int { return len(s.names) }

// Names returns the groups, sorted. The slice must not be modified.
func (s *Set) Names() []string { return s.sorted }

// Suggest returns the known groups closest to an unknown name, best first: the same name in
// another case (oauth2-proxy compares exactly, so "/Developers" never matches "/developers"),
// else the names within a small edit distance. It scans the set, so it is meant for the denial
// path only, never for every request.
func (s *Set) Suggest(name string) []string {
	if same := s.folded[strings.ToLower(name)]; len(same) > 0 {
		return slices.Sorted(slices.Values(same))
	}
	limit := max(2, len([]rune(name))/4)
	best, bestDist := []string(nil), limit+1
	low := strings.ToLower(name)
	for _, cand := range s.sorted {
		d := levenshtein.ComputeDistance(low, strings.ToLower(cand))
		switch {
		case d < bestDist:
			best, bestDist = []string{cand}, d
		case d == bestDist && len(best) < 3:
			best = append(best, cand)
		}
	}
	return best
}

// Snapshot is the set of groups known at one moment and where it stands.
type Snapshot struct {
	Set *Set
	// Synced is when the set was last read from its source; zero before the first success.
	Synced time.Time
	// Stale means the source has not answered for longer than allowed: unknown groups then warn
	// instead of deny, so that an outage of the source never blocks the cluster.
	Stale bool
}

// Static is a Snapshot that never changes (the file source, tests).
type Static struct{ snap *Snapshot }

// NewStatic returns a source that always answers the given names.
func NewStatic(names []string) *Static {
	return &Static{snap: &Snapshot{Set: NewSet(names), Synced: time.Now()}}
}

// Snapshot returns the fixed snapshot.
func (s *Static) Snapshot() *Snapshot { return s.snap }

// Split splits a comma-separated group list (the groups annotation of an object), trimming
// spaces and dropping empty and repeated entries; order is kept so the result is stable.
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
