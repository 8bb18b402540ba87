package ingress_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/ingress"
)

// TestRuleTableMatchesPolicy: the README's table of rules and the rule ids the default policy can
// report are the same set, so an admin reading one never meets a rule missing from the other
// (and privgate.yaml's rules: map names what exists).
func TestRuleTableMatchesPolicy(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "### Rules of the default policy")
	if !ok {
		t.Fatal(`README has no "### Rules of the default policy" section`)
	}
	section, _, _ = strings.Cut(section, "\n### ")
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
	cfg := must(policy.LoadConfig("testdata/privgate.yaml"))
	src := ingress.New(cfg).Modules()["privgate.rego"]
	ids := ruleIDs(t, src)
	slices.Sort(documented)
	if !slices.Equal(slices.Compact(documented), ids) {
		t.Errorf("README rule table and policy differ:\nREADME: %v\npolicy: %v", documented, ids)
	}
	if len(ids) < 20 {
		t.Errorf("found %d rule ids in the policy: the walk below no longer sees them", len(ids))
	}
}

// ruleIDs are the ids the policy's violation(id, ...) calls can take: a string literal, or a
// field of an object literal (c.endpoint of the endpoint checks) whose values are literal.
func ruleIDs(t *testing.T, src string) []string {
	m, err := ast.ParseModuleWithOpts("privgate.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV1})
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
