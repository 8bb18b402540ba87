package policy

import (
	"context"
	"slices"
	"strings"

	"github.com/privgate/privgate/groups"
)

// GroupSource answers the known groups. Snapshot must never block on I/O: it is called on the
// admission path.
type GroupSource interface {
	Snapshot() *groups.Snapshot
}

// GroupRefresher is implemented by sources that can re-read their groups on demand, so that a
// group created a minute ago is accepted before the next periodic sync. Refresh coalesces
// concurrent calls, is rate-limited, and reports whether the snapshot changed.
type GroupRefresher interface {
	Refresh(ctx context.Context) bool
}

// judge evaluates input with the target's package and the groups now known. A group the policy
// does not know may have been created since the last sync: the source is asked to refresh (it
// coalesces and rate-limits), and the input judged again on fresh groups. Unknown groups get a
// "did you mean" from the known ones.
func (r *Reviewer) judge(ctx context.Context, t Target, input *Input) (Verdict, Evaluated, error) {
	verdict, used, err := r.eval(ctx, t, input)
	if err != nil {
		return Verdict{}, Evaluated{}, err
	}
	if refresher, ok := r.Groups.(GroupRefresher); ok && hasUnknownGroup(verdict.Deny) && refresher.Refresh(ctx) {
		if verdict, used, err = r.eval(ctx, t, input); err != nil {
			return Verdict{}, Evaluated{}, err
		}
	}
	r.suggest(t, verdict.Deny)
	r.suggest(t, verdict.Warn)
	return verdict, used, nil
}

func (r *Reviewer) eval(ctx context.Context, t Target, input *Input) (Verdict, Evaluated, error) {
	snap := r.Groups.Snapshot()
	input.GroupsStale = snap.Stale
	v, err := input.value()
	if err != nil {
		return Verdict{}, Evaluated{}, err
	}
	return r.Engine.EvalWith(ctx, t.Package(), snap.Set, v)
}

func hasUnknownGroup(lists ...[]Violation) bool {
	for _, vs := range lists {
		if slices.ContainsFunc(vs, func(v Violation) bool { return v.ID == "group-unknown" }) {
			return true
		}
	}
	return false
}

// Suggester is implemented by targets whose objects write groups in another form than the
// group source's (an RBAC subject under a prefix, or a bare name): it turns a known group into
// what the object should say.
type Suggester interface {
	Suggestion(group string) string
}

// suggest appends "did you mean" to unknown-group violations. It runs only on the denial path.
func (r *Reviewer) suggest(t Target, vs []Violation) {
	for i, v := range vs {
		if v.ID != "group-unknown" || v.Group == "" {
			continue
		}
		s := r.Groups.Snapshot().Set.Suggest(v.Group)
		if sg, ok := t.(Suggester); ok {
			for j := range s {
				s[j] = sg.Suggestion(s[j])
			}
		}
		if len(s) > 0 {
			vs[i].Message += "; did you mean " + strings.Join(s, " or ") + "?"
		} else {
			vs[i].Message += "; create it in the identity provider first, or name an existing group"
		}
	}
}
