package policy

import (
	"encoding/json"
	"slices"
)

// Input is the document a target's Rego package judges, as input. It is the only definition of
// what Rego sees: the README's policy reference and every .rego file follow these JSON names.
type Input struct {
	Request InputRequest `json:"request"`
	// Object is the object as written (after mutation), without metadata.managedFields.
	Object json.RawMessage `json:"object"`
	// Hosts are the hostnames the object answers, classified by privgate.
	Hosts []HostFact `json:"hosts"`
	// ACMESolver is set for cert-manager's own HTTP-01 solver Ingress (see Facts).
	ACMESolver bool `json:"acmeSolver"`
	// GroupsStale is set when the group source has not answered for longer than allowed, so
	// unknown groups are warned about rather than denied.
	GroupsStale bool `json:"groupsStale"`
	// Owners are the private hosts of the object that an older object in another namespace
	// answers (hostOwnership), with that object.
	Owners map[string]Ref `json:"owners,omitempty"`
	// Classes are the classes the object names that exist in the cluster, with their
	// controller (IngressClass spec.controller).
	Classes map[string]string `json:"classes,omitempty"`
	// Subjects are the groups the object grants access to (an RBAC binding's Group subjects
	// under the configured prefix).
	Subjects []Subject `json:"subjects,omitempty"`
	// Exposures are the private hosts the object publishes through shared gateways (Istio,
	// Gateway API): one per host and gateway workload, with the login in front of each.
	Exposures []Exposure `json:"exposures,omitempty"`
	// Uncovered are published private hosts (of any stored object) that were behind login
	// before the object's change and are not after it: an AuthorizationPolicy deleted, narrowed
	// or pointed at another provider.
	Uncovered []Exposure `json:"uncovered,omitempty"`
	// Conflicts are gateway workloads the change leaves with more than one login provider,
	// which Istio refuses.
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Gateways are the gateway workloads publishing hosts that an AuthorizationPolicy applies
	// to, as stored or as written (none: the policy is a sidecar's, not a login in front of a
	// gateway).
	Gateways []string `json:"gateways,omitempty"`
}

// Exposure is one private host published on one gateway workload, and what login covers it
// there (see docs/istio.md).
type Exposure struct {
	Host     string `json:"host"`             // normalized; "*" when every host is
	Field    string `json:"field"`            // where the publishing object names it: spec.hosts[0]
	By       string `json:"by"`               // the publishing object: VirtualService apps/grafana
	Gateway  string `json:"gateway"`          // the gateway it is published on: Gateway istio-system/public
	Workload string `json:"workload"`         // the pods serving it: istio-system/{app=istio-ingressgateway}
	Exempt   bool   `json:"exempt"`           // listed in exemptHosts
	Covered  bool   `json:"covered"`          // some enforced login policy matches every request to it there
	Policy   string `json:"policy,omitempty"` // the policy that covers it: AuthorizationPolicy istio-system/login
	// Gaps say why each login policy that applies to the workload does not cover the host.
	Gaps []string `json:"gaps,omitempty"`
	// Unsupported says why no login can be checked on this gateway (an implementation privgate
	// does not know); such a host is never covered.
	Unsupported string `json:"unsupported,omitempty"`
	// Fix is a policy that would cover the host, as YAML to apply.
	Fix string `json:"fix,omitempty"`
}

// Conflict is a gateway workload with more than one login provider.
type Conflict struct {
	Workload  string   `json:"workload"`
	Providers []string `json:"providers"`
	Policies  []string `json:"policies"`
}

// Subject is one group an object grants access to, as written and as the token carries it.
type Subject struct {
	Name  string `json:"name"`  // as written in the object: oidc:/developers
	Group string `json:"group"` // as the token carries it, the prefix removed: /developers
	Field string `json:"field"` // where: subjects[2].name
}

// InputRequest is the part of the admission request a policy may judge.
type InputRequest struct {
	Operation string   `json:"operation"`
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	DryRun    bool     `json:"dryRun"`
	UserInfo  UserInfo `json:"userInfo"`
}

// UserInfo names who sends the request ("" in privgate check).
type UserInfo struct {
	Username string `json:"username"`
}

// HostFact is what privgate knows of one host an object answers. The same facts drive mutation
// (Go) and judgement (Rego), so the two can never disagree on which hosts are private.
type HostFact struct {
	Host    string `json:"host"`    // normalized; "*" for a catch-all (rule without host, defaultBackend)
	Field   string `json:"field"`   // where it is set, for messages: spec.rules[0].host
	Private bool   `json:"private"` // inside a private zone (or a catch-all while hostlessRules is private)
	Exempt  bool   `json:"exempt"`  // listed in exemptHosts
	TLS     bool   `json:"tls"`     // covered by spec.tls; always true for a catch-all (nothing to name)
	Any     bool   `json:"any"`     // a catch-all answering every hostname
}

// Facts are the Go-computed view of an object that its target's mutation and policy share.
type Facts struct {
	Hosts []HostFact
	// ACMESolver is set for a cert-manager HTTP-01 solver Ingress recognised by its whole shape
	// and its creator, not by its label alone.
	ACMESolver bool
	// Classes are the (ingress) classes the object names, for cross-object rules.
	Classes []string
	// Subjects are the groups the object grants access to (RBAC bindings).
	Subjects []Subject
	// Related is set for an object judged whatever it names, against other objects (an Istio
	// route, whose hosts may come from its gateway; an AuthorizationPolicy).
	Related bool
}

// Protected reports whether the object needs login: it answers a private host that is not
// exempt, and it is not a cert-manager solver.
func (f Facts) Protected() bool {
	if f.ACMESolver {
		return false
	}
	return slices.ContainsFunc(f.Hosts, func(h HostFact) bool { return h.Private && !h.Exempt })
}

// Judged reports whether the policy has anything to judge: a private host (exempt or not, for
// the mixing rules) or a group subject.
func (f Facts) Judged() bool { return f.AnyPrivate() || len(f.Subjects) > 0 || f.Related }

// AnyPrivate reports whether any host is private, exempt or not.
func (f Facts) AnyPrivate() bool {
	return slices.ContainsFunc(f.Hosts, func(h HostFact) bool { return h.Private })
}
