package policy

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Reviewer is the decision core: object (+ config, policy, groups) -> mutated object and
// Decision. Every door (the webhooks, privgate check) calls it and decides nothing itself:
// which kinds are judged, which namespaces are never intercepted, and what a violation does
// (deny, warn, audit, off) are all settled here.
type Reviewer struct {
	Config  *Config
	Engine  *Engine
	Groups  GroupSource
	Targets []Target
	// NeverIntercepted lists namespaces whose objects are always admitted untouched
	// (kube-system and privgate's own), so that privgate can never lock the cluster out of
	// repairing itself.
	NeverIntercepted []string
	// Cache, when set, answers requests seen before (see DecisionCache). privgate check has none.
	Cache *DecisionCache
	// Cluster, when set, answers cross-object questions (see Cluster).
	Cluster Cluster

	// noConfirm: refusals are not confirmed against a live read (see Live): the audit judges
	// every object again on each change, and a live round per refusal would only load the API
	// server; a live reviewer is live already.
	noConfirm bool
}

// Intercepts reports whether objects in namespace are judged at all. The webhook asks before it
// queues a request, so that a never-intercepted namespace is answered even under overload.
func (r *Reviewer) Intercepts(namespace string) bool {
	return !slices.Contains(r.NeverIntercepted, namespace)
}

// Mutate decides the patch for the mutating webhook. Mutation depends on the config and the
// request alone, so its cache key holds nothing else.
func (r *Reviewer) Mutate(req Request) (Decision, error) {
	t, done, err := r.route(req)
	if t == nil || err != nil {
		return done, err
	}
	if req.Operation == "DELETE" {
		return skipped("a deletion is not mutated"), nil
	}
	return r.cached("mutate", req, version{}, func() (Decision, bool, error) {
		d, err := r.mutate(t, req)
		return d, true, err
	})
}

// Validate judges an object as it is (after all mutating webhooks ran). A verdict depends on
// the policy and the known groups too, so both are part of its cache key.
func (r *Reviewer) Validate(ctx context.Context, req Request) (Decision, error) {
	t, done, err := r.route(req)
	if t == nil || err != nil {
		return done, err
	}
	if req.Operation == "DELETE" {
		// A deletion is judged on the object it removes; its input says the operation.
		req.Object = req.OldObject
	}
	snap, generation := r.Groups.Snapshot(), r.Engine.Generation()
	v := version{policy: generation, groups: snap.Set.ID(), stale: snap.Stale}
	if r.Cluster != nil {
		// A verdict that may depend on other objects is kept only for the cluster it saw.
		v.cluster = r.Cluster.Generation()
	}
	d, err := r.cached("validate", req, v, func() (Decision, bool, error) {
		if t.SurelyPublic(req.Object) {
			return quiet(t), true, nil
		}
		obj, err := t.Decode(req.Object)
		if err != nil {
			return Decision{}, false, err
		}
		d, used, err := r.validate(ctx, t, req, obj)
		// An unknown group may be created any minute (and triggers a refresh), so its denial is
		// not kept. Neither is a verdict judged with another policy or group set than the key
		// names (one changed, or a request holding an older snapshot wrote its set meanwhile),
		// or by a policy whose answers change by themselves.
		keep := !hasUnknownGroup(d.Violations, d.Warnings, d.Audited) &&
			(used == Evaluated{} || used == Evaluated{Generation: generation, Groups: snap.Set, Deterministic: true})
		return d, keep, err
	})
	if err != nil {
		return d, err
	}
	return r.confirm(ctx, t, req, d), nil
}

// Audit judges a stored object as Validate would if it were written now, in every namespace.
// Never intercepting a namespace means admission never blocks it (so that privgate can never lock
// the cluster out of repairing itself), not that what it exposes goes unseen: an unprotected
// private host in kube-system is as exposed as anywhere else, so the zone view (the audit, privgate
// audit) reports it like any other.
func (r *Reviewer) Audit(ctx context.Context, req Request) (Decision, error) {
	every := *r
	every.NeverIntercepted, every.noConfirm = nil, true
	return every.Validate(ctx, req)
}

// Review mutates and then validates the result, as the API server calls the two webhooks:
// privgate check's path.
func (r *Reviewer) Review(ctx context.Context, req Request) (Decision, error) {
	t, done, err := r.route(req)
	if t == nil || err != nil {
		return done, err
	}
	m, err := r.mutate(t, req)
	if err != nil || m.mutated == nil {
		return m, err
	}
	v, _, err := r.validate(ctx, t, req, m.mutated)
	if err != nil {
		return Decision{}, err
	}
	v.Patch = m.Patch
	return v, nil
}

// Defaults is req as the API server's own admission plugins leave it before any webhook (see
// Defaulter), and what they set ("" when nothing): what privgate check judges.
func (r *Reviewer) Defaults(req Request) (Request, string) {
	t, err := r.target(req.Kind)
	if t == nil || err != nil {
		return req, ""
	}
	d, ok := t.(Defaulter)
	if !ok {
		return req, ""
	}
	out, note := d.Defaults(req.Object, req.Operation, r.Cluster)
	if note != "" {
		req.Object = out
	}
	return req, note
}

// route finds the target judging a request. Without one (a never-intercepted namespace, another
// kind or operation) the request is answered at once, skipped; an unjudged version of a judged
// kind is an error, so that it is refused rather than let through. The namespace comes first:
// nothing in kube-system or privgate's own is ever refused.
func (r *Reviewer) route(req Request) (Target, Decision, error) {
	if !r.Intercepts(req.Namespace) {
		return nil, skipped(fmt.Sprintf("namespace %s is never intercepted", req.Namespace)), nil
	}
	t, err := r.target(req.Kind)
	switch {
	case err != nil:
		return nil, Decision{}, err
	case t == nil:
		return nil, skipped(fmt.Sprintf("kind %s is not judged", req.Kind.GroupKind())), nil
	case req.Operation == "DELETE" && judgesDelete(t):
		return t, Decision{}, nil
	case req.Operation != "CREATE" && req.Operation != "UPDATE":
		return nil, skipped(fmt.Sprintf("operation %s is not judged", req.Operation)), nil
	}
	return t, Decision{}, nil
}

// judgesDelete reports whether t judges deletions (see Deletions).
func judgesDelete(t Target) bool {
	d, ok := t.(Deletions)
	return ok && d.JudgesDelete()
}

// Judges reports whether objects of kind are a target's: judged, or refused in an unjudged
// version. privgate check reports those and only counts the others.
func (r *Reviewer) Judges(kind schema.GroupVersionKind) bool {
	t, err := r.target(kind)
	return t != nil || err != nil
}

// target is the target judging kind: nil for a kind no target judges, an UnsupportedError for
// another version of a judged kind.
func (r *Reviewer) target(kind schema.GroupVersionKind) (Target, error) {
	for _, t := range r.Targets {
		if slices.Contains(t.Kinds(), kind) {
			return t, nil
		}
	}
	for _, t := range r.Targets {
		for _, k := range t.Kinds() {
			if k.GroupKind() == kind.GroupKind() || slices.Contains(t.Retired(), kind) {
				return nil, &UnsupportedError{Kind: kind, Want: k}
			}
		}
	}
	return nil, nil
}

func skipped(why string) Decision { return Decision{Allowed: true, Skipped: true, Note: why} }

func quiet(t Target) Decision { return Decision{Allowed: true, Note: t.Quiet()} }

// mutate computes the patch for an object of t; mutated holds the object the validation then
// judges.
func (r *Reviewer) mutate(t Target, req Request) (Decision, error) {
	if t.SurelyPublic(req.Object) {
		return quiet(t), nil
	}
	obj, err := t.Decode(req.Object)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Allowed: true, mutated: obj}
	facts := obj.Facts(req.Username)
	if !facts.Protected() {
		d.Note = "no private host to protect"
		return d, nil
	}
	mutated, changed := obj.Mutate(facts)
	if !changed {
		return d, nil
	}
	d.mutated = mutated
	d.Patch, err = diff(obj, mutated)
	return d, err
}

// validate judges a decoded object and says what the policy judged with (zero when the policy
// was not needed).
func (r *Reviewer) validate(ctx context.Context, t Target, req Request, obj Object) (Decision, Evaluated, error) {
	d := Decision{Allowed: true, mutated: obj}
	facts := obj.Facts(req.Username)
	if !facts.Judged() {
		// Public objects never need the policy; exempt-only ones still do (mixing rules).
		d.Note = t.Quiet()
		return d, Evaluated{}, nil
	}
	input, err := r.input(req, obj, facts)
	if err != nil {
		return Decision{}, Evaluated{}, err
	}
	verdict, used, err := r.judge(ctx, t, input)
	if err != nil {
		return Decision{}, Evaluated{}, err
	}
	switch {
	case facts.Exempt != "":
		d.Note = facts.Exempt
	case len(facts.Hosts) > 0 && !facts.Protected():
		d.Note = "exempt host (exemptHosts)"
	}
	r.Config.sortVerdict(t.Name(), input.Request.Namespace, verdict, &d)
	d.Allowed, d.Protected = len(d.Violations) == 0, facts.Protected()
	if !d.Allowed {
		d.Refusal = "is refused"
		if rf, ok := t.(Refuser); ok {
			d.Refusal = rf.Refusal()
		}
	}
	return d, used, nil
}

// input is what the policy judges of obj.
func (r *Reviewer) input(req Request, obj Object, f Facts) (*Input, error) {
	doc, err := obj.JSON()
	if err != nil {
		return nil, err
	}
	name := req.Name
	if name == "" {
		name = obj.Name()
	}
	in := &Input{
		Request: InputRequest{
			Operation: req.Operation, Namespace: namespaceOf(req, obj), Name: name, DryRun: req.DryRun,
			UserInfo: UserInfo{Username: req.Username},
		},
		Object: doc,
		Hosts:  f.Hosts,
		Target: f.Input,
	}
	if rel, ok := obj.(Related); ok {
		rel.Relate(r.Cluster, in)
	}
	return in, nil
}

// PrivateHosts are the facts of the named private hosts an object answers (with the paths it
// routes there, when its target says), for the zone view and the network probe.
// Objects no target judges, or that cannot be decoded, answer none.
func (r *Reviewer) PrivateHosts(req Request) []HostFact {
	t, err := r.target(req.Kind)
	if t == nil || err != nil {
		return nil
	}
	obj, err := t.Decode(req.Object)
	if err != nil {
		return nil
	}
	router, _ := obj.(Router)
	var hosts []HostFact
	for _, h := range obj.Facts(req.Username).Hosts {
		if h.Private && !h.Any {
			if router != nil {
				h.Paths = router.Paths(h.Host)
			}
			hosts = append(hosts, h)
		}
	}
	return hosts
}

func namespaceOf(req Request, obj Object) string {
	if req.Namespace != "" {
		return req.Namespace
	}
	return obj.Namespace()
}

// InputDocument is the policy input privgate builds for req (after mutation), as plain JSON
// values, together with the data document (config and known groups). It exists so that other
// engines (opa run --server in the load harness) can be given exactly what privgate evaluates.
func (r *Reviewer) InputDocument(req Request) (input, data any, err error) {
	t, _, err := r.route(req)
	if err != nil {
		return nil, nil, err
	}
	if t == nil {
		return nil, nil, fmt.Errorf("%s is not judged", req.Kind)
	}
	m, err := r.mutate(t, req)
	if err != nil {
		return nil, nil, err
	}
	obj := m.mutated
	if obj == nil {
		if obj, err = t.Decode(req.Object); err != nil {
			return nil, nil, err
		}
	}
	in, err := r.input(req, obj, obj.Facts(req.Username))
	if err != nil {
		return nil, nil, err
	}
	snap := r.Groups.Snapshot()
	in.GroupsStale = snap.Stale
	if input, err = toJSONValue(in); err != nil {
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
