package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
)

// diff is the JSON patch from one object to its mutated copy. Both sides are marshalled the
// same way, so the patch holds only what mutation changed; ops are sorted so equal inputs give
// equal bytes (Argo CD compares).
func diff(from, to Object) ([]jsonpatch.Operation, error) {
	a, err := from.JSON()
	if err != nil {
		return nil, err
	}
	b, err := to.JSON()
	if err != nil {
		return nil, err
	}
	ops, err := jsonpatch.CreatePatch(a, b)
	if err != nil {
		return nil, err
	}
	sortPatch(ops)
	return ops, nil
}

// sortPatch orders ops deterministically (jsonpatch walks maps in random order) while keeping
// the patch valid: array removals come first, highest index first, as jsonpatch emits them for
// a shrinking array; everything else follows in path order.
func sortPatch(ops []jsonpatch.Operation) {
	slices.SortStableFunc(ops, func(a, b jsonpatch.Operation) int {
		ar, br := a.Operation == "remove", b.Operation == "remove"
		switch {
		case ar && !br:
			return -1
		case !ar && br:
			return 1
		case ar && br:
			return -comparePaths(a.Path, b.Path)
		}
		return comparePaths(a.Path, b.Path)
	})
}

// comparePaths compares JSON pointers segment by segment, numerically where both are indices.
func comparePaths(a, b string) int {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return ai - bi
		}
		return strings.Compare(as[i], bs[i])
	}
	return len(as) - len(bs)
}

// ApplyPatch applies a decision's patch to the object it was computed for, as the API server
// does: how privgate check shows the mutated object, and how tests check a patch.
func ApplyPatch(doc []byte, ops []jsonpatch.Operation) ([]byte, error) {
	if len(ops) == 0 {
		return doc, nil
	}
	b, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatchapply.DecodePatch(b)
	if err != nil {
		return nil, err
	}
	out, err := p.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("apply privgate's patch: %w", err)
	}
	return out, nil
}
