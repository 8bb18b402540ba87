package testutil

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// RuleTableMatchesPolicy fails unless the rule ids in the first column of the README tables under
// heading (up to the next heading) and the ids a policy module's violation(id, ...) calls can
// take are the same set, so an admin reading one never meets a rule missing from the other.
// atLeast guards the walk: fewer ids found means it no longer sees them.
func RuleTableMatchesPolicy(t *testing.T, heading, src string, atLeast int) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(Root(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), heading)
	if !ok {
		t.Fatalf("README has no %q section", heading)
	}
	section, _, _ = strings.Cut(section, "\n### ")
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(line), "|") {
			continue
		}
		for _, m := range regexp.MustCompile("`([a-z0-9-]+)`").FindAllStringSubmatch(cells[1], -1) {
			documented = append(documented, m[1])
		}
	}
	ids := ruleIDs(t, src)
	slices.Sort(documented)
	if !slices.Equal(slices.Compact(documented), ids) {
		t.Errorf("README rule table (%s) and policy differ:\nREADME: %v\npolicy: %v", heading, documented, ids)
	}
	if len(ids) < atLeast {
		t.Errorf("found %d rule ids in the policy: the walk no longer sees them", len(ids))
	}
}

// ruleIDs are the ids the policy's violation(id, ...) calls can take: a string literal, or a
// field of an object literal (c.endpoint of the endpoint checks) whose values are literal.
func ruleIDs(t *testing.T, src string) []string {
	t.Helper()
	m, err := ast.ParseModuleWithOpts("policy.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	byField := map[string][]string{} // string values of object literals, by key
	ast.WalkTerms(m, func(term *ast.Term) bool {
		if obj, ok := term.Value.(ast.Object); ok {
			obj.Foreach(func(k, v *ast.Term) {
				key, kok := k.Value.(ast.String)
				val, vok := v.Value.(ast.String)
				if kok && vok {
					byField[string(key)] = append(byField[string(key)], string(val))
				}
			})
		}
		return false
	})
	var ids []string
	ast.WalkTerms(m, func(term *ast.Term) bool {
		call, ok := term.Value.(ast.Call)
		if !ok || len(call) < 2 || call[0].String() != "violation" {
			return false
		}
		switch arg := call[1].Value.(type) {
		case ast.String:
			ids = append(ids, string(arg))
		case ast.Ref:
			field, _ := arg[len(arg)-1].Value.(ast.String)
			if len(byField[string(field)]) == 0 {
				t.Errorf("violation(%v, ...): its id is neither a literal nor a field of literal objects", arg)
			}
			ids = append(ids, byField[string(field)]...)
		default:
			t.Errorf("violation(%v, ...): rule ids are written as literals, so that grep finds them", call[1])
		}
		return false
	})
	slices.Sort(ids)
	return slices.Compact(ids)
}
