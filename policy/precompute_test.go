package policy

import (
	"context"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/privgate/privgate/policy/internal/precompute"
)

const staticPolicy = `package privgate

prefix := concat("", [data.privgate.config.prefix, "/"])

key(name) := concat("", [prefix, name])

auth_key := key("auth-url")

table := {"a": true, "b": bool_true}

bool_true := {"1", "true"}

from_input := input.object.name

from_groups := data.privgate.groups["/sre"]

uses_input := concat("", [auth_key, from_input])

now := time.now_ns()

named contains n if some n in ["x", "y"]

# A with replaces the config: the precomputed prefix must not hold there.
other_prefix := p if {
	p := prefix with data.privgate.config as {"prefix": "other"}
}

deny contains {"id": "x", "message": m} if {
	w := prefix with data.privgate.config as {"prefix": input.object.name}
	m := concat(",", [auth_key, uses_input, other_prefix, w])
}
`

// TestStaticRules: a rule is precomputed when nothing it reads, through other rules and
// functions, is the input, the known groups or a built-in whose answer changes by itself.
func TestStaticRules(t *testing.T) {
	mods, err := parse(Modules{"p.rego": staticPolicy}, false)
	if err != nil {
		t.Fatal(err)
	}
	c := ast.NewCompiler().WithCapabilities(capabilities())
	if c.Compile(mods); c.Failed() {
		t.Fatal(c.Errors)
	}
	var got []string
	for _, r := range precompute.StaticRules(c) {
		got = append(got, r.String())
	}
	slices.Sort(got)
	want := []string{"data.privgate.auth_key", "data.privgate.bool_true", "data.privgate.named", "data.privgate.other_prefix", "data.privgate.prefix", "data.privgate.table"}
	if !slices.Equal(got, want) {
		t.Errorf("static rules %v, want %v", got, want)
	}
}

// TestPrecomputedEval: an evaluation starting from the precomputed values decides as one that
// computes everything, with behind a with as well.
func TestPrecomputedEval(t *testing.T) {
	mods, err := parse(Modules{"p.rego": staticPolicy}, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store := inmem.NewFromObject(map[string]any{"privgate": map[string]any{"config": map[string]any{"prefix": "nginx"}, "groups": map[string]any{}}})
	static, err := precompute.Eval(ctx, ast.NewCompiler().WithCapabilities(capabilities()), store, mods)
	if err != nil || static == nil {
		t.Fatalf("precompute: %v, %v", static, err)
	}
	input := ast.MustParseTerm(`{"object": {"name": "grafana"}}`).Value
	var verdicts []Verdict
	for _, s := range []*precompute.Values{nil, static} {
		opts := []func(*rego.Rego){rego.Query("deny := {v | some v in data.privgate.deny}; warn := {v | some v in data.privgate.warn}"), rego.Store(store)}
		for _, m := range mods {
			opts = append(opts, rego.ParsedModule(m))
		}
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := &compiled{queries: map[string]rego.PreparedEvalQuery{"privgate": pq}, static: s}
		v, err := c.eval(ctx, "privgate", input)
		if err != nil {
			t.Fatal(err)
		}
		verdicts = append(verdicts, v)
	}
	want := "nginx/auth-url,nginx/auth-urlgrafana,other/,grafana/"
	for i, v := range verdicts {
		if len(v.Deny) != 1 || v.Deny[0].Message != want {
			t.Errorf("evaluation %d (precomputed: %v): %+v, want the message %q", i, i == 1, v.Deny, want)
		}
	}
}
