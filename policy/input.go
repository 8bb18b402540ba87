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
func (f Facts) Judged() bool { return f.AnyPrivate() || len(f.Subjects) > 0 }

// AnyPrivate reports whether any host is private, exempt or not.
func (f Facts) AnyPrivate() bool {
	return slices.ContainsFunc(f.Hosts, func(h HostFact) bool { return h.Private })
}
