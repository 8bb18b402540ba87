// Package precompute evaluates, once per policy load, the rules that read neither the input nor
// the known groups, and seeds every decision's evaluation with their values.
package precompute

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Rules that read neither the input nor the known groups (the URLs privgate sets, the
// annotation keys, the rule tables) have the same value for every request. topdown evaluates
// them again on every decision; an engine in the process can do it once. precompute evaluates
// them once per policy load, and every decision starts with their values in topdown's virtual
// cache, as if it had evaluated them first. The Rego is unchanged, and so is every value.

// StaticRules are the rules of the modules whose value depends on neither the input nor the
// known groups, nor on a built-in whose answer changes by itself: complete rules and partial
// sets and objects named by a ground ref, without arguments. Functions are left out (topdown
// caches no function calls), but a rule calling one qualifies when the function does.
func StaticRules(compiler *ast.Compiler) []ast.Ref {
	byRef := map[string][]*ast.Rule{}
	for _, m := range compiler.Modules {
		ast.WalkRules(m, func(r *ast.Rule) bool {
			k := r.Ref().GroundPrefix().String()
			byRef[k] = append(byRef[k], r)
			return false
		})
	}
	static := map[string]bool{} // decided: static or not
	var visit func(key string, path map[string]bool) bool
	visit = func(key string, path map[string]bool) bool {
		if s, ok := static[key]; ok {
			return s
		}
		if path[key] {
			return false // recursion (refused by the compiler anyway): not precomputed
		}
		path[key] = true
		defer delete(path, key)
		ok := true
		for _, r := range byRef[key] {
			ast.WalkRefs(r, func(ref ast.Ref) bool {
				ok = ok && staticRef(ref, byRef, func(k string) bool { return visit(k, path) })
				return !ok
			})
		}
		static[key] = ok
		return ok
	}
	var refs []ast.Ref
	for key, rules := range byRef {
		r := rules[0]
		if len(r.Head.Args) > 0 || !r.Ref().IsGround() || !visit(key, map[string]bool{}) {
			continue
		}
		refs = append(refs, r.Ref())
	}
	return refs
}

var (
	knownGroupsRef = ast.MustParseRef("data.privgate.groups")
	configRef      = ast.MustParseRef("data.privgate.config")
)

// staticRef reports whether a ref found in a rule keeps it static: a local variable, a
// deterministic built-in, the config, or a rule that is static itself.
func staticRef(ref ast.Ref, rules map[string][]*ast.Rule, isStatic func(key string) bool) bool {
	head, ok := ref[0].Value.(ast.Var)
	switch {
	case !ok:
		return true
	case head.Equal(ast.InputRootDocument.Value):
		return false
	case !head.Equal(ast.DefaultRootDocument.Value):
		if b, builtin := ast.BuiltinMap[ref.String()]; builtin {
			return !b.Nondeterministic
		}
		return true // a local variable (or a built-in's namespace, checked by its full name)
	}
	prefix := ref.GroundPrefix()
	switch {
	case prefix.HasPrefix(knownGroupsRef) || len(prefix) < 2:
		return false
	case prefix.HasPrefix(configRef):
		return true
	}
	// The longest prefix naming rules decides (data.privgate.wanted[key] reads wanted).
	for i := len(prefix); i >= 2; i-- {
		k := prefix[:i].String()
		if _, ok := rules[k]; ok {
			return isStatic(k)
		}
	}
	return false // another base document, or a package read whole: not static
}

// Values holds the static rules' values, read by every decision and never written.
type Values struct{ cache topdown.VirtualCache }

// Eval evaluates the static rules of modules once, over store (the config; no input), with
// compiler (new, with the engine's capabilities).
func Eval(ctx context.Context, compiler *ast.Compiler, store storage.Store, modules map[string]*ast.Module) (*Values, error) {
	if compiler.Compile(modules); compiler.Failed() {
		return nil, fmt.Errorf("compile policy: %w", compiler.Errors)
	}
	refs := StaticRules(compiler)
	if len(refs) == 0 {
		return nil, nil
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer store.Abort(ctx, txn)
	cache := topdown.NewVirtualCache()
	for _, ref := range refs {
		x := ast.VarTerm("x")
		body, err := compiler.QueryCompiler().Compile(ast.NewBody(ast.Equality.Expr(x, ast.NewTerm(ref))))
		if err != nil {
			return nil, fmt.Errorf("precompute %s: %w", ref, err)
		}
		// The values stay AST values (a set stays a set), which rego's Go results would not.
		var value *ast.Term
		err = topdown.NewQuery(body).WithCompiler(compiler).WithStore(store).WithTransaction(txn).
			WithStrictBuiltinErrors(false).Iter(ctx, func(qr topdown.QueryResult) error {
			value = qr[x.Value.(ast.Var)]
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("precompute %s: %w", ref, err)
		}
		cache.Put(ref, value) // nil: undefined
	}
	return &Values{cache: cache}, nil
}

// EvalOption starts an evaluation with the precomputed values (none when p is nil).
func (p *Values) EvalOption() rego.EvalOption {
	if p == nil {
		return func(*rego.EvalContext) {}
	}
	return rego.EvalVirtualCache(&seededCache{own: topdown.NewVirtualCache(), seed: p.cache})
}

// seededCache is one evaluation's virtual cache over the shared precomputed values. Those hold
// in the evaluation's outermost frame only: inside a `with`, which may replace the config, the
// rules are evaluated again.
type seededCache struct {
	own    topdown.VirtualCache
	seed   topdown.VirtualCache // shared: only read
	frames int                  // frames pushed by `with`
}

func (c *seededCache) Push() { c.frames++; c.own.Push() }

func (c *seededCache) Pop() { c.frames--; c.own.Pop() }

func (c *seededCache) Get(ref ast.Ref) (*ast.Term, bool) {
	if v, undefined := c.own.Get(ref); v != nil || undefined || c.frames > 0 {
		return v, undefined
	}
	return c.seed.Get(ref)
}

func (c *seededCache) Put(ref ast.Ref, value *ast.Term) { c.own.Put(ref, value) }

func (c *seededCache) Keys() []ast.Ref { return c.own.Keys() }
