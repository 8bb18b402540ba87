package istio

import (
	"slices"
	"strconv"

	securityv1beta1 "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	istiosecurity "istio.io/client-go/pkg/apis/security/v1"

	"github.com/privgate/privgate/policy/gatewayapi"
)

// dryRunAnnotation makes Istio only log what a policy would do.
const dryRunAnnotation = "istio.io/dry-run"

// expose judges one publication against policies: which one covers it, or why each that applies
// does not.
func (m *mesh) expose(p publication, policies []*istiosecurity.AuthorizationPolicy) Exposure {
	return m.exposeTo(p, m.applying(p.Workload, policies))
}

// exposeTo judges a publication against the policies that apply to its workload.
func (m *mesh) exposeTo(p publication, applying []*istiosecurity.AuthorizationPolicy) Exposure {
	e := Exposure{Host: p.Host, Field: p.Field, By: p.By, Gateway: p.Gateway, Workload: p.Workload.String(),
		Exempt: slices.Contains(m.cfg.ExemptHosts, p.Host), Uncheckable: p.Unsupported != nil, Unsupported: p.Unsupported}
	if e.Uncheckable {
		return e
	}
	if providers := providersOf(applying); len(providers) > 1 {
		e.Gaps = append(e.Gaps, gap{Reason: "providers", Providers: providers})
	} else {
		for _, ap := range applying {
			if _, ok := m.covers(ap, p.Host, false); ok {
				// One provider applies per workload (else the gap above): this one is the login
				// in force, which must keep the route's groups.
				if g, narrower := m.cfg.groupsGap(p, ap); narrower {
					e.Gaps = append(e.Gaps, g)
					e.Fix = m.fix(p)
					return e
				}
				e.Covered, e.Policy = true, "AuthorizationPolicy "+key(ap)
				return e
			}
		}
		// Uncovered: only now say why, policy by policy (the reasons cost more than the
		// answer, and a policy change asks for the answer once per published host).
		for _, ap := range applying {
			g, _ := m.covers(ap, p.Host, true)
			g.Policy = "AuthorizationPolicy " + key(ap)
			e.Gaps = append(e.Gaps, g)
		}
	}
	if _, ok := gatewayapi.FindGroupLogin(m.cfg.GroupLogins, p.Groups); len(p.Groups) > 0 && !ok {
		e.Gaps = append(e.Gaps, gap{Reason: "groups-no-login", Groups: p.Groups, Setting: GroupLoginsKey, PerWorkload: true})
	}
	e.Fix = m.fix(p)
	return e
}

// The reasons a policy leaves a host uncovered, as codes privgate.istio words (gatewayapi.Gap).
type (
	gap          = gatewayapi.Gap
	ruleGap      = gatewayapi.RuleGap
	operationGap = gatewayapi.OperationGap
	narrowing    = gatewayapi.Narrowing
)

// applying are the CUSTOM policies that apply to a workload, as Istio picks them: in the root
// namespace mesh-wide or by selector; in the workload's namespace namespace-wide or by selector;
// by targetRefs to its Gateway (from the Gateway's namespace) or its GatewayClass (from the root
// namespace). A policy with both selector and targetRefs is refused by Istio and applies nowhere.
func (m *mesh) applying(w workload, policies []*istiosecurity.AuthorizationPolicy) []*istiosecurity.AuthorizationPolicy {
	var out []*istiosecurity.AuthorizationPolicy
	root := m.cfg.RootNamespace
	for _, ap := range policies {
		if ap.Spec.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM {
			continue
		}
		refs := targetRefs(ap)
		sel := ap.Spec.GetSelector().GetMatchLabels()
		local := ap.Namespace == root || (w.Namespace != "" && ap.Namespace == w.Namespace)
		switch {
		case selectorAndTargetRefs(ap):
		case len(refs) > 0:
			if targets(ap, refs, w) {
				out = append(out, ap)
			}
		case local && subset(sel, w.Labels):
			out = append(out, ap)
		}
	}
	return out
}

type typeRef = typev1beta1.PolicyTargetReference

func targetRefs(ap *istiosecurity.AuthorizationPolicy) []*typeRef {
	var out []*typeRef
	if r := ap.Spec.GetTargetRef(); r != nil {
		out = append(out, r)
	}
	return append(out, ap.Spec.GetTargetRefs()...)
}

// selectorAndTargetRefs: a policy with both a selector and targetRefs, which Istio refuses.
func selectorAndTargetRefs(ap *istiosecurity.AuthorizationPolicy) bool {
	return ap.Spec.GetSelector() != nil && len(targetRefs(ap)) > 0
}

// read is what the policy reads of an AuthorizationPolicy (input.policy): the same answers
// applying, enforced and covers give, computed here once.
func (c config) read(ap *istiosecurity.AuthorizationPolicy) *PolicyFacts {
	provider := ap.Spec.GetProvider().GetName()
	f := &PolicyFacts{
		Custom:                ap.Spec.GetAction() == securityv1beta1.AuthorizationPolicy_CUSTOM,
		Provider:              provider,
		ProviderKnown:         c.knows(provider),
		DryRun:                !enforced(ap),
		SelectorAndTargetRefs: selectorAndTargetRefs(ap),
	}
	if f.SelectorAndTargetRefs {
		if ap.Spec.GetTargetRef() != nil {
			f.TargetRefFields = append(f.TargetRefFields, "targetRef")
		}
		if len(ap.Spec.GetTargetRefs()) > 0 {
			f.TargetRefFields = append(f.TargetRefFields, "targetRefs")
		}
	}
	return f
}

// knows reports whether provider is a login: one of istio.extensionProviders, or a group
// login's (it lets fewer in).
func (c config) knows(provider string) bool {
	return slices.Contains(c.ExtensionProviders, provider) || slices.ContainsFunc(c.GroupLogins, func(g GroupLogin) bool { return g.Provider == provider })
}

// allowedBy are the groups provider lets in; none for everyone who logs in.
func (c config) allowedBy(provider string) []string {
	return gatewayapi.AllowedBy(c.GroupLogins, func(g GroupLogin) string { return g.Provider }, provider)
}

// groupsGap is why a policy covering a publication does not keep its groups: a route that lets
// in only some groups needs the group login for exactly those groups (none: every login will
// do).
func (c config) groupsGap(p publication, ap *istiosecurity.AuthorizationPolicy) (gap, bool) {
	if len(p.Groups) == 0 {
		return gap{}, false
	}
	want, ok := gatewayapi.FindGroupLogin(c.GroupLogins, p.Groups)
	provider := ap.Spec.GetProvider().GetName()
	switch {
	case !ok:
		return gap{Reason: "groups-no-login", Groups: p.Groups, Setting: GroupLoginsKey, PerWorkload: true}, true
	case provider != want.Provider:
		return gap{Reason: "groups-login", Policy: "AuthorizationPolicy " + key(ap), Provider: provider, Allows: c.allowedBy(provider),
			Groups: p.Groups, Want: want.Provider, PerWorkload: true}, true
	}
	return gap{}, false
}

// targets reports whether some targetRef names the workload's Gateway. Istio attaches such a
// policy only to pods carrying the gateway-name label of the Gateway it names, in the policy's
// own namespace: never to an Istio Gateway's pods nor to a Gateway deployed by hand (its
// Service's pods), and a GatewayClass target reaches waypoints only, never ingress gateways.
func targets(ap *istiosecurity.AuthorizationPolicy, refs []*typeRef, w workload) bool {
	name, ok := w.Labels[gatewayNameLabel]
	if !ok || ap.Namespace != w.Namespace {
		return false
	}
	for _, r := range refs {
		if r.GetGroup() == "gateway.networking.k8s.io" && r.GetKind() == "Gateway" && r.GetName() == name &&
			(r.GetNamespace() == "" || r.GetNamespace() == ap.Namespace) {
			return true
		}
	}
	return false
}

func providersOf(policies []*istiosecurity.AuthorizationPolicy) []string {
	var out []string
	for _, ap := range policies {
		if enforced(ap) && !slices.Contains(out, ap.Spec.GetProvider().GetName()) {
			out = append(out, ap.Spec.GetProvider().GetName())
		}
	}
	slices.Sort(out)
	return out
}

// enforced: Istio reads the dry-run annotation with strconv.ParseBool ("1", "t", "TRUE"…).
func enforced(ap *istiosecurity.AuthorizationPolicy) bool {
	dry, err := strconv.ParseBool(ap.Annotations[dryRunAnnotation])
	return err != nil || !dry
}

// covers reports whether ap sends every request to host to a configured login provider, and
// when not (and explain), why.
func (m *mesh) covers(ap *istiosecurity.AuthorizationPolicy, host string, explain bool) (gap, bool) {
	switch provider := ap.Spec.GetProvider().GetName(); {
	case !enforced(ap):
		return gap{Reason: "dry-run"}, false
	case !m.cfg.knows(provider):
		return gap{Reason: "provider", Provider: provider}, false
	case len(ap.Spec.GetRules()) == 0:
		return gap{Reason: "no-rules"}, false
	}
	g := gap{Reason: "rules"}
	for i, r := range ap.Spec.GetRules() {
		rg, ok := m.ruleCovers(r, host, explain)
		if ok {
			return gap{}, true
		}
		if explain {
			rg.Rule = i
			g.Rules = append(g.Rules, rg)
		}
	}
	return g, false
}

// ruleCovers reports whether a rule matches every request to host, and when not, why.
func (m *mesh) ruleCovers(r *securityv1beta1.Rule, host string, explain bool) (ruleGap, bool) {
	switch {
	case len(r.GetFrom()) > 0:
		return ruleGap{Reason: "from"}, false
	case len(r.GetWhen()) > 0:
		return ruleGap{Reason: "when"}, false
	case len(r.GetTo()) == 0:
		return ruleGap{}, true
	}
	g := ruleGap{Reason: "to"}
	for i, to := range r.GetTo() {
		why := m.operationCovers(to.GetOperation(), host)
		if len(why) == 0 {
			return ruleGap{}, true
		}
		if explain {
			g.To = append(g.To, operationGap{To: i, Narrows: why})
		}
	}
	return g, false
}

// operationCovers is what keeps an operation from matching every request to host: none when
// all its fields match.
func (m *mesh) operationCovers(op *securityv1beta1.Operation, host string) []narrowing {
	var why []narrowing
	narrow := func(field string, values []string) {
		if len(values) > 0 {
			why = append(why, narrowing{Field: field})
		}
	}
	// "*" is Istio's presence match (any non-empty value): every request has a method.
	if methods := op.GetMethods(); !slices.Contains(methods, "*") {
		narrow("methods", methods)
	}
	narrow("notMethods", op.GetNotMethods())
	narrow("ports", op.GetPorts())
	narrow("notPorts", op.GetNotPorts())
	if paths := op.GetPaths(); len(paths) > 0 && !slices.Contains(paths, "*") && !slices.Contains(paths, "/*") {
		why = append(why, narrowing{Field: "paths"})
	}
	for _, p := range op.GetNotPaths() {
		if !slices.Contains(m.cfg.AllowedNotPaths, p) {
			why = append(why, narrowing{Field: "notPaths", Value: p})
		}
	}
	if hosts := op.GetHosts(); len(hosts) > 0 {
		name := slices.ContainsFunc(hosts, func(v string) bool { return coversName(v, host) })
		ports := slices.ContainsFunc(hosts, func(v string) bool { return coversPorts(v, host) })
		switch {
		case !name:
			why = append(why, narrowing{Field: "hosts"})
		case !ports:
			why = append(why, narrowing{Field: "hostPorts"})
		}
	}
	for _, v := range op.GetNotHosts() {
		if excludes(v, host) {
			why = append(why, narrowing{Field: "notHosts", Value: v})
		}
	}
	return why
}

// change is what writing (or deleting) an AuthorizationPolicy does to the published private
// hosts: those covered with the stored policies and not with the change, the workloads left
// with two providers, and the gateway workloads publishing hosts that the policy (as stored or
// as written) applies to.
func (m *mesh) change(o *object, operation string) ([]Exposure, []Conflict, []string) {
	self, ok := o.typed.(*istiosecurity.AuthorizationPolicy)
	if !ok {
		return nil, nil, nil
	}
	after := slices.DeleteFunc(slices.Clone(m.policies), func(p *istiosecurity.AuthorizationPolicy) bool { return key(p) == key(self) })
	if operation != "DELETE" {
		after = append(after, self)
	}
	var uncovered []Exposure
	var conflicts []Conflict
	var reaches []string
	// What applies to a workload, before and after, once per workload: a policy change is
	// judged against every published host.
	type applying struct {
		before, after []*istiosecurity.AuthorizationPolicy
	}
	byWorkload := map[string]*applying{}
	for _, obj := range m.publishers() {
		for _, p := range m.publications(obj) {
			if !onIstio(p) {
				continue
			}
			w := p.Workload.String()
			a := byWorkload[w]
			if a == nil {
				a = &applying{m.applying(p.Workload, m.policies), m.applying(p.Workload, after)}
				byWorkload[w] = a
				if len(m.applying(p.Workload, []*istiosecurity.AuthorizationPolicy{self}))+len(m.applying(p.Workload, m.stored(self))) > 0 {
					reaches = append(reaches, w)
				}
				if providers := providersOf(a.after); operation != "DELETE" && len(providers) > 1 && slices.Contains(a.after, self) {
					c := Conflict{Workload: w, Providers: providers}
					for _, ap := range a.after {
						c.Policies = append(c.Policies, "AuthorizationPolicy "+key(ap))
					}
					conflicts = append(conflicts, c)
				}
			}
			if !p.Private || slices.Contains(m.cfg.ExemptHosts, p.Host) || slices.Equal(a.before, a.after) {
				continue // public, exempt, or pods the change does not reach
			}
			if m.exposeTo(p, a.before).Covered {
				if e := m.exposeTo(p, a.after); !e.Covered {
					uncovered = append(uncovered, e)
				}
			}
		}
	}
	slices.Sort(reaches)
	return uncovered, conflicts, reaches
}

// stored is the stored version of ap, if any.
func (m *mesh) stored(ap *istiosecurity.AuthorizationPolicy) []*istiosecurity.AuthorizationPolicy {
	for _, p := range m.policies {
		if key(p) == key(ap) {
			return []*istiosecurity.AuthorizationPolicy{p}
		}
	}
	return nil
}
