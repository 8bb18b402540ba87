package policy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy/internal/precompute"
)

// Modules are Rego source files by file name.
type Modules map[string]string

// DefaultModules is the default policy of the targets: each target's Rego files and their tests.
func DefaultModules(targets ...Target) Modules {
	m := Modules{}
	for _, t := range targets {
		maps.Copy(m, t.Modules())
	}
	return m
}

// ModulesIn are the .rego files of directory rego in a target's embedded files: its default
// policy and tests.
func ModulesIn(files fs.FS) Modules {
	m := Modules{}
	entries, _ := fs.ReadDir(files, "rego")
	for _, e := range entries {
		b, _ := fs.ReadFile(files, "rego/"+e.Name())
		m[e.Name()] = string(b)
	}
	return m
}

// ReadModules reads the .rego files of a policy directory (not recursive). It follows the
// symlinks a ConfigMap volume is made of and skips its hidden ..data entries.
func ReadModules(dir string) (Modules, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read policy directory: %w", err)
	}
	m := Modules{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".rego") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read policy: %w", err)
		}
		m[name] = string(b)
	}
	return m, nil
}

// WithOverrides returns the defaults with the files of dir laid over them: a file of the same
// name replaces a default file (privgate.rego, privgate_test.rego), any other file extends.
func WithOverrides(defaults Modules, dir string) (Modules, error) {
	m := maps.Clone(defaults)
	if dir == "" {
		return m, nil
	}
	extra, err := ReadModules(dir)
	if err != nil {
		return nil, err
	}
	maps.Copy(m, extra)
	return m, nil
}

func isTest(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// Capabilities are OPA's built-ins without the ones that reach the network or the clock of
// another machine: a policy decides from the request alone, and can never hang admission.
func capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	denied := map[string]bool{"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true}
	caps.Builtins = slices.DeleteFunc(slices.Clone(caps.Builtins), func(b *ast.Builtin) bool { return denied[b.Name] })
	return caps
}

// Engine holds the compiled policy and the data it judges with (config and known groups). The
// prepared queries, one per target package, are swapped atomically: a reload that fails leaves
// the last good ones serving.
type Engine struct {
	store    storage.Store
	packages []string // the Rego packages judging the targets
	defaults Modules  // the targets' own policy, under any directory laid over it
	query    atomic.Pointer[compiled]

	// groupsMu guards groups, the set last written to the store: evaluations hold it for
	// reading, so that each can say which set it judged with; a new set is written under it.
	groupsMu sync.RWMutex
	groups   *groups.Set

	lastGood string // where SaveLastGood keeps the policy directory's last good files (lastgood.go)
}

type compiled struct {
	queries    map[string]rego.PreparedEvalQuery // by package
	modules    Modules
	generation uint64 // distinct for every policy ever loaded by this process
	// deterministic is false when the policy calls a built-in whose answer changes between
	// calls on the same input (time.now_ns, rand.intn, uuid.rfc4122...): its verdicts are
	// never cached, or a rule like "exempt until a date" would outlive its date.
	deterministic bool
	static        *precompute.Values // the rules that read neither input nor groups, evaluated once
}

// Evaluated says what one evaluation judged with: the policy and the group set. A verdict may
// be kept under a cache key only if this is what the key names.
type Evaluated struct {
	Generation    uint64
	Groups        *groups.Set
	Deterministic bool
}

var generations atomic.Uint64

// NewEngine prepares the targets' policy, with the files of policyDir laid over it (see
// WithOverrides), over the config. It fails if the modules do not compile or their tests fail.
func NewEngine(ctx context.Context, cfg *Config, policyDir string, targets ...Target) (*Engine, error) {
	cfgDoc, err := toJSONValue(cfg)
	if err != nil {
		return nil, err
	}
	store := inmem.NewFromObjectWithOpts(map[string]any{
		"privgate": map[string]any{"config": cfgDoc, "groups": map[string]any{}},
	}, inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true))
	e := &Engine{store: store, defaults: DefaultModules(targets...)}
	for _, t := range targets {
		e.packages = append(e.packages, t.Package())
	}
	modules, err := WithOverrides(e.defaults, policyDir)
	if err != nil {
		return nil, err
	}
	if err := e.Load(ctx, modules); err != nil {
		return nil, err
	}
	return e, nil
}

// Load compiles modules, runs their tests, and only if both succeed swaps them in.
func (e *Engine) Load(ctx context.Context, modules Modules) error {
	if err := TestModules(ctx, modules, nil); err != nil {
		return err
	}
	parsed, err := parse(modules, false)
	if err != nil {
		return err
	}
	queries := map[string]rego.PreparedEvalQuery{}
	for _, pkg := range e.packages {
		if !definesDeny(parsed, pkg) {
			return fmt.Errorf("compile policy: no module defines data.%s.deny; without it nothing would ever be denied", pkg)
		}
		opts := []func(*rego.Rego){
			rego.Query(fmt.Sprintf("deny := {v | some v in data.%[1]s.deny}; warn := {v | some v in data.%[1]s.warn}", pkg)),
			rego.Store(e.store),
			rego.Capabilities(capabilities()),
			rego.StrictBuiltinErrors(false),
		}
		for _, m := range parsed {
			opts = append(opts, rego.ParsedModule(m))
		}
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			return fmt.Errorf("compile policy: %w", err)
		}
		queries[pkg] = pq
	}
	// An optimisation only: a policy whose static rules cannot be evaluated alone is evaluated
	// whole, as before.
	static, _ := precompute.Eval(ctx, ast.NewCompiler().WithCapabilities(capabilities()), e.store, parsed)
	e.query.Store(&compiled{queries: queries, modules: modules, generation: generations.Add(1), deterministic: deterministic(parsed), static: static})
	return nil
}

// Reload lays dir over the targets' policy again, as NewEngine did, keeping the serving policy
// when that fails.
func (e *Engine) Reload(ctx context.Context, dir string) (Modules, error) {
	mods, err := WithOverrides(e.defaults, dir)
	if err != nil {
		return nil, err
	}
	return mods, e.Load(ctx, mods)
}

// deterministic reports whether no module calls a non-deterministic built-in. A call names its
// built-in by a ref, whether it stands alone or nests in another term, so one walk over refs
// finds them all.
func deterministic(mods map[string]*ast.Module) bool {
	found := false
	for _, m := range mods {
		ast.WalkRefs(m, func(r ast.Ref) bool {
			b, ok := ast.BuiltinMap[r.String()]
			found = found || ok && b.Nondeterministic
			return found
		})
	}
	return !found
}

// Generation identifies the policy now serving: it changes with every successful Load.
func (e *Engine) Generation() uint64 { return e.query.Load().generation }

// Modules returns the modules now serving.
func (e *Engine) Modules() Modules { return e.query.Load().modules }

func definesDeny(mods map[string]*ast.Module, pkg string) bool {
	for _, m := range mods {
		if m.Package.Path.String() != "data."+pkg {
			continue
		}
		for _, r := range m.Rules {
			if r.Head.Ref()[0].String() == "deny" {
				return true
			}
		}
	}
	return false
}

func parse(modules Modules, tests bool) (map[string]*ast.Module, error) {
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range modules {
			if !yield(k) {
				return
			}
		}
	})
	out := map[string]*ast.Module{}
	var errs []error
	for _, name := range names {
		if isTest(name) && !tests {
			continue
		}
		m, err := ast.ParseModuleWithOpts(name, modules[name], ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = m
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("parse policy: %w", errors.Join(errs...))
	}
	return out, nil
}

// TestFailure lists the Rego tests that failed.
type TestFailure struct{ Failed []string }

func (t *TestFailure) Error() string {
	return fmt.Sprintf("policy tests failed: %s", strings.Join(t.Failed, "; "))
}

// TestResult is one Rego test's outcome.
type TestResult struct {
	Name   string // file:package.rule
	Passed bool
	Detail string // error or failure output
}

// TestModules runs every *_test.rego in modules against the others, with OPA's tester. It
// returns a *TestFailure when any test fails, and reports each result to report (may be nil).
func TestModules(ctx context.Context, modules Modules, report func(TestResult)) error {
	parsed, err := parse(modules, true)
	if err != nil {
		return err
	}
	ch, err := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithCapabilities(capabilities())).
		SetStore(inmem.New()).
		SetModules(parsed).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true).
		RunTests(ctx, nil)
	if err != nil {
		return fmt.Errorf("compile policy: %w", err)
	}
	var failed []string
	for res := range ch {
		name := fmt.Sprintf("%s:%s.%s", res.Location.File, strings.TrimPrefix(res.Package, "data."), res.Name)
		tr := TestResult{Name: name, Passed: res.Pass()}
		if res.Error != nil {
			tr.Detail = res.Error.Error()
		} else if res.Fail {
			tr.Detail = strings.TrimSpace(string(res.Output))
			if tr.Detail == "" {
				tr.Detail = "test evaluated to false or undefined"
			}
		}
		if !tr.Passed && !res.Skip {
			failed = append(failed, name)
		}
		if report != nil {
			report(tr)
		}
	}
	if len(failed) > 0 {
		return &TestFailure{Failed: failed}
	}
	return nil
}

// setGroups writes a new group set into the store when it differs from the one there. Writes
// happen only when the source produced a new set, never per request.
func (e *Engine) setGroups(ctx context.Context, set *groups.Set) error {
	e.groupsMu.Lock()
	defer e.groupsMu.Unlock()
	if e.groups == set {
		return nil
	}
	obj := ast.NewObject()
	for _, g := range set.Names() {
		obj.Insert(ast.StringTerm(g), ast.BooleanTerm(true))
	}
	if err := storage.WriteOne(ctx, e.store, storage.ReplaceOp, storage.MustParsePath("/privgate/groups"), obj); err != nil {
		return fmt.Errorf("store groups: %w", err)
	}
	e.groups = set
	return nil
}

// EvalWith evaluates input with package pkg and the known groups of set, and says what it
// judged with. Requests holding different snapshots may race to write their set; the
// evaluation then ran with whichever set was in the store, and Evaluated says which, so that it
// is never cached under the other's name.
func (e *Engine) EvalWith(ctx context.Context, pkg string, set *groups.Set, input ast.Value) (Verdict, Evaluated, error) {
	e.groupsMu.RLock()
	if e.groups != set {
		e.groupsMu.RUnlock()
		if err := e.setGroups(ctx, set); err != nil {
			return Verdict{}, Evaluated{}, err
		}
		e.groupsMu.RLock()
	}
	defer e.groupsMu.RUnlock()
	c := e.query.Load()
	v, err := c.eval(ctx, pkg, input)
	return v, Evaluated{Generation: c.generation, Groups: e.groups, Deterministic: c.deterministic}, err
}

// Verdict is what the policy says of one input.
type Verdict struct {
	Deny []Violation
	Warn []Violation
}

func (c *compiled) eval(ctx context.Context, pkg string, input ast.Value) (Verdict, error) {
	q, ok := c.queries[pkg]
	if !ok {
		return Verdict{}, fmt.Errorf("evaluate policy: no target judges with package %s", pkg)
	}
	rs, err := q.Eval(ctx, rego.EvalParsedInput(input), c.static.EvalOption())
	if err != nil {
		return Verdict{}, fmt.Errorf("evaluate policy: %w", err)
	}
	if len(rs) != 1 {
		return Verdict{}, errors.New("evaluate policy: no result")
	}
	var v Verdict
	if v.Deny, err = violations(rs[0].Bindings["deny"]); err != nil {
		return Verdict{}, err
	}
	if v.Warn, err = violations(rs[0].Bindings["warn"]); err != nil {
		return Verdict{}, err
	}
	return v, nil
}

func violations(x any) ([]Violation, error) {
	items, _ := x.([]any)
	out := make([]Violation, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("evaluate policy: a violation must be an object {id, host, field, message}, got %v", it)
		}
		v := Violation{}
		v.ID, _ = m["id"].(string)
		v.Host, _ = m["host"].(string)
		v.Field, _ = m["field"].(string)
		v.Message, _ = m["message"].(string)
		v.Group, _ = m["group"].(string)
		if v.Message == "" {
			v.Message = fmt.Sprint(it)
		}
		out = append(out, v)
	}
	sortViolations(out)
	return out, nil
}

// sortViolations orders violations by rule id, host, field and message: the same verdict always
// reads the same (Argo CD shows it, golden files hold it).
func sortViolations(vs []Violation) {
	slices.SortFunc(vs, func(a, b Violation) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), strings.Compare(a.Host, b.Host),
			strings.Compare(a.Field, b.Field), strings.Compare(a.Message, b.Message))
	})
}

func toJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}
