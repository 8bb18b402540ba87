package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"gomodules.xyz/jsonpatch/v2"
	networkingv1 "k8s.io/api/networking/v1"

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

// Request is one admission of an Ingress as every door (webhook, check) sees it.
type Request struct {
	Operation string // CREATE or UPDATE
	Namespace string
	Name      string
	DryRun    bool
	Username  string // "" when unknown (privgate check)
	Object    []byte // the Ingress as JSON
}

// Decision is privgate's answer for one Ingress.
type Decision struct {
	Allowed    bool
	Violations []Violation
	Warnings   []Violation
	// Patch turns the request's object into Mutated; empty when nothing changed.
	Patch []jsonpatch.Operation
	// Mutated is the Ingress after mutation (the request's object when nothing changed). It is
	// nil when nothing was decoded (never-blocked namespace, public Ingress) and when the
	// decision came from the cache: callers that go on judging it use Review.
	Mutated *networkingv1.Ingress
	// Note says why an admitted Ingress needed nothing (public, exempt, never-blocked namespace).
	Note string
}

// Messages renders violations one a line, as kubectl and Argo CD show them:
// [id] namespace/name host field: message.
func Messages(obj string, vs []Violation) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		var b strings.Builder
		fmt.Fprintf(&b, "[%s] %s", v.ID, obj)
		if v.Host != "" {
			b.WriteString(" " + v.Host)
		}
		if v.Field != "" {
			b.WriteString(" " + v.Field)
		}
		b.WriteString(": " + v.Message)
		out = append(out, b.String())
	}
	return out
}

// Reviewer is the decision core: Ingress (+ config, policy, groups) -> mutated Ingress and
// Decision. The webhook and privgate check both call it; neither judges anything itself.
type Reviewer struct {
	Config *Config
	Engine *Engine
	Groups GroupSource
	// NeverBlock lists namespaces whose Ingresses are always admitted untouched (kube-system
	// and privgate's own), so that privgate can never lock the cluster out of repairing itself.
	NeverBlock []string
	// Cache, when set, answers requests seen before (see DecisionCache). privgate check has none.
	Cache *DecisionCache
}

// DecodeIngress parses an Ingress, naming what is wrong when it cannot.
func DecodeIngress(raw []byte) (*networkingv1.Ingress, error) {
	ing := &networkingv1.Ingress{}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(ing); err != nil {
		return nil, fmt.Errorf("object is not a valid Ingress: %w", err)
	}
	return ing, nil
}

// hostsOnly is the part of an Ingress that says whether it can be private. Decoding only this
// (encoding/json skips the rest, managedFields included) lets public Ingresses, most of a
// cluster's, through without the full decode.
type hostsOnly struct {
	Spec struct {
		DefaultBackend json.RawMessage `json:"defaultBackend"`
		Rules          []struct {
			Host string `json:"host"`
		} `json:"rules"`
	} `json:"spec"`
}

// surelyPublic reports whether an Ingress answers no private host, from a partial decode. When it
// cannot tell (a decode error), it says no and the full path decides.
func (r *Reviewer) surelyPublic(raw []byte) bool {
	var h hostsOnly
	if json.Unmarshal(raw, &h) != nil {
		return false
	}
	hostless := len(h.Spec.DefaultBackend) > 0 && string(h.Spec.DefaultBackend) != "null"
	zones := r.Config.zones()
	for _, rule := range h.Spec.Rules {
		// Normalized exactly as Inspect does: " " is a catch-all there, so it must be here.
		if host := NormalizeHost(rule.Host); host == "" {
			hostless = true
		} else if zones.Private(host) {
			return false
		}
	}
	return !hostless || r.Config.HostlessRules != "private"
}

// Mutate decides the patch for the mutating webhook. Mutation depends on the config and the
// request alone, so its cache key holds nothing else.
func (r *Reviewer) Mutate(req Request) (Decision, error) {
	if done, ok := r.neverBlocked(req); ok {
		return done, nil
	}
	return r.cached("mutate", req, 0, 0, false, func() (Decision, bool, error) {
		d, err := r.mutate(req)
		return d, true, err
	})
}

func (r *Reviewer) mutate(req Request) (Decision, error) {
	if done, ok := r.public(req); ok {
		return done, nil
	}
	ing, err := DecodeIngress(req.Object)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Allowed: true, Mutated: ing}
	facts := r.Config.Inspect(ing, req.Username)
	if !facts.Protected() {
		d.Note = "no private host to protect"
		return d, nil
	}
	mutated := ing.DeepCopy()
	if !r.Config.Mutate(mutated, facts) {
		return d, nil
	}
	d.Mutated = mutated
	d.Patch, err = diff(ing, mutated)
	return d, err
}

// Validate judges an Ingress as it is (after all mutating webhooks ran). A verdict depends on
// the policy and the known groups too, so both are part of its cache key.
func (r *Reviewer) Validate(ctx context.Context, req Request) (Decision, error) {
	if done, ok := r.neverBlocked(req); ok {
		return done, nil
	}
	snap, generation := r.Groups.Snapshot(), r.Engine.Generation()
	return r.cached("validate", req, generation, snap.Set.ID(), snap.Stale, func() (Decision, bool, error) {
		if done, ok := r.public(req); ok {
			return done, true, nil
		}
		ing, err := DecodeIngress(req.Object)
		if err != nil {
			return Decision{}, false, err
		}
		d, used, err := r.validate(ctx, req, ing)
		// An unknown group may be created any minute (and triggers a refresh), so its denial is
		// not kept. Neither is a verdict judged with another policy or group set than the key
		// names (one changed, or a request holding an older snapshot wrote its set meanwhile),
		// or by a policy whose answers change by themselves.
		keep := !hasUnknownGroup(d.Violations) && !hasUnknownGroup(d.Warnings) &&
			(used == Evaluated{} || used == Evaluated{Generation: generation, Groups: snap.Set, Deterministic: true})
		return d, keep, err
	})
}

// cached answers from the cache when it can, else computes, and keeps what may be kept.
// Errors are never kept.
func (r *Reviewer) cached(webhook string, req Request, generation, groupSet uint64, stale bool, compute func() (d Decision, keep bool, err error)) (Decision, error) {
	key, cacheable := r.Cache.key(webhook, req, generation, groupSet, stale)
	if cacheable {
		if d, ok := r.Cache.get(webhook, key); ok {
			return d, nil
		}
	}
	d, keep, err := compute()
	if err == nil && keep && cacheable {
		r.Cache.put(key, d)
	}
	return d, err
}

// Review mutates and then validates the result, as the API server would call the two webhooks:
// privgate check's path.
func (r *Reviewer) Review(ctx context.Context, req Request) (Decision, error) {
	m, err := r.mutated(req)
	if err != nil || m.Mutated == nil {
		return m, err
	}
	v, _, err := r.validate(ctx, req, m.Mutated)
	if err != nil {
		return Decision{}, err
	}
	v.Patch, v.Mutated = m.Patch, m.Mutated
	return v, nil
}

// mutated is Mutate without the cache, which does not keep Mutated: for callers that go on
// judging the mutated Ingress.
func (r *Reviewer) mutated(req Request) (Decision, error) {
	if done, ok := r.neverBlocked(req); ok {
		return done, nil
	}
	return r.mutate(req)
}

// neverBlocked answers at once for never-blocked namespaces, and public for Ingresses with no
// private host. Mutated stays nil: nothing was decoded, nothing changes.
func (r *Reviewer) neverBlocked(req Request) (Decision, bool) {
	if slices.Contains(r.NeverBlock, req.Namespace) {
		return Decision{Allowed: true, Note: fmt.Sprintf("namespace %s is never intercepted", req.Namespace)}, true
	}
	return Decision{}, false
}

func (r *Reviewer) public(req Request) (Decision, bool) {
	if r.surelyPublic(req.Object) {
		return Decision{Allowed: true, Note: "no private host"}, true
	}
	return Decision{}, false
}

// validate judges a decoded Ingress; callers have already skipped what needs no judgement.
// It says what the policy judged with (zero when the policy was not needed).
func (r *Reviewer) validate(ctx context.Context, req Request, ing *networkingv1.Ingress) (Decision, Evaluated, error) {
	d := Decision{Allowed: true, Mutated: ing}
	facts := r.Config.Inspect(ing, req.Username)
	if !facts.AnyPrivate() {
		// Public Ingresses never need the policy; exempt-only ones still do (mixing rules).
		d.Note = "no private host"
		return d, Evaluated{}, nil
	}
	verdict, used, err := r.eval(ctx, req, ing, facts)
	if err != nil {
		return Decision{}, Evaluated{}, err
	}
	if refresher, ok := r.Groups.(GroupRefresher); ok && hasUnknownGroup(verdict.Deny) && refresher.Refresh(ctx) {
		// The group may have been created since the last sync: judge again on fresh groups.
		if verdict, used, err = r.eval(ctx, req, ing, facts); err != nil {
			return Decision{}, Evaluated{}, err
		}
	}
	switch {
	case facts.ACMESolver:
		d.Note = "cert-manager HTTP-01 solver"
	case !facts.Protected():
		d.Note = "exempt host (exemptHosts)"
	}
	d.Violations, d.Warnings = verdict.Deny, verdict.Warn
	r.suggest(d.Violations)
	r.suggest(d.Warnings)
	d.Allowed = len(d.Violations) == 0
	return d, used, nil
}

func hasUnknownGroup(vs []Violation) bool {
	return slices.ContainsFunc(vs, func(v Violation) bool { return v.ID == "group-unknown" })
}

func (r *Reviewer) eval(ctx context.Context, req Request, ing *networkingv1.Ingress, f Facts) (Verdict, Evaluated, error) {
	snap := r.Groups.Snapshot()
	input, err := buildInput(req, ing, f, snap.Stale)
	if err != nil {
		return Verdict{}, Evaluated{}, err
	}
	return r.Engine.EvalWith(ctx, snap.Set, input)
}

// suggest appends "did you mean" to unknown-group violations. It runs only on the denial path.
func (r *Reviewer) suggest(vs []Violation) {
	for i, v := range vs {
		if v.ID != "group-unknown" || v.Group == "" {
			continue
		}
		if s := r.Groups.Snapshot().Set.Suggest(v.Group); len(s) > 0 {
			vs[i].Message += "; did you mean " + strings.Join(s, " or ") + "?"
		} else {
			vs[i].Message += "; create it in the identity provider first, or name an existing group"
		}
	}
}

// buildInput is the document the policy judges. managedFields are dropped: they are bookkeeping
// of the API server, large, and say nothing about exposure.
func buildInput(req Request, ing *networkingv1.Ingress, f Facts, stale bool) (ast.Value, error) {
	objDoc, err := toJSONValue(withoutManagedFields(ing))
	if err != nil {
		return nil, err
	}
	hosts := make([]any, 0, len(f.Hosts))
	for _, h := range f.Hosts {
		hosts = append(hosts, map[string]any{
			"host": h.Host, "field": h.Field, "private": h.Private, "exempt": h.Exempt, "tls": h.TLS, "any": h.Any,
		})
	}
	name := req.Name
	if name == "" {
		name = ing.Name
	}
	ns := req.Namespace
	if ns == "" {
		ns = ing.Namespace
	}
	return ast.InterfaceToValue(map[string]any{
		"request": map[string]any{
			"operation": req.Operation, "namespace": ns, "name": name, "dryRun": req.DryRun,
			"userInfo": map[string]any{"username": req.Username},
		},
		"object":      objDoc,
		"hosts":       hosts,
		"acmeSolver":  f.ACMESolver,
		"groupsStale": stale,
	})
}

// diff is the JSON patch from one Ingress to another. Both sides are marshalled the same way, so
// the patch holds only what mutation changed; ops are sorted so equal inputs give equal bytes.
// managedFields are left out of both sides: mutation never touches them, and they are most of
// the bytes.
func diff(from, to *networkingv1.Ingress) ([]jsonpatch.Operation, error) {
	from, to = withoutManagedFields(from), withoutManagedFields(to)
	a, err := json.Marshal(from)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(to)
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

// InputDocument is the policy input privgate builds for req (after mutation), as plain JSON
// values, together with the data document (config and known groups). It exists so that other
// engines (opa run --server in the load harness) can be given exactly what privgate evaluates.
func (r *Reviewer) InputDocument(req Request) (input, data any, err error) {
	ing, err := DecodeIngress(req.Object)
	if err != nil {
		return nil, nil, err
	}
	m, err := r.mutated(req)
	if err != nil {
		return nil, nil, err
	}
	if m.Mutated != nil {
		ing = m.Mutated
	}
	f := r.Config.Inspect(ing, req.Username)
	snap := r.Groups.Snapshot()
	v, err := buildInput(req, ing, f, snap.Stale)
	if err != nil {
		return nil, nil, err
	}
	if input, err = ast.JSON(v); err != nil {
		return nil, nil, err
	}
	cfgDoc, err := toJSONValue(r.Config)
	if err != nil {
		return nil, nil, err
	}
	known := make(map[string]any, snap.Set.Len())
	for _, g := range snap.Set.Names() {
		known[g] = true
	}
	return input, map[string]any{"privgate": map[string]any{"config": cfgDoc, "groups": known}}, nil
}

// withoutManagedFields returns a shallow copy of ing without metadata.managedFields.
func withoutManagedFields(ing *networkingv1.Ingress) *networkingv1.Ingress {
	if len(ing.ManagedFields) == 0 {
		return ing
	}
	c := *ing
	c.ManagedFields = nil
	return &c
}
