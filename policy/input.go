package policy

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Input is the document a target's Rego package judges, as input. Its fields are what every
// target shares; a target adds its own (Facts.Input) beside them. Together they are the only
// definition of what Rego sees: the README's policy reference and every .rego file follow these
// JSON names.
type Input struct {
	Request InputRequest `json:"request"`
	// Object is the object as written (after mutation), without metadata.managedFields.
	Object json.RawMessage `json:"object"`
	// Hosts are the hostnames the object answers, classified by privgate.
	Hosts []HostFact `json:"hosts"`
	// GroupsStale is set when the group source has not answered for longer than allowed, so
	// unknown groups are warned about rather than denied.
	GroupsStale bool `json:"groupsStale"`
	// Target is the target's own part of the input (Facts.Input), a struct whose JSON fields
	// sit beside the ones above; Related objects fill it in from the Cluster.
	Target any `json:"-"`
}

// MarshalJSON writes the shared fields and the target's beside them.
func (in *Input) MarshalJSON() ([]byte, error) {
	type shared Input // without this method
	b, err := json.Marshal((*shared)(in))
	if err != nil || in.Target == nil {
		return b, err
	}
	t, err := json.Marshal(in.Target)
	if err != nil {
		return nil, err
	}
	if t = bytes.TrimSpace(t); len(t) <= 2 || t[0] != '{' {
		return b, nil // an empty section, or not an object: nothing to add
	}
	// {shared...} + {target...} = {shared..., target...}
	out := make([]byte, 0, len(b)+len(t))
	out = append(out, b[:len(b)-1]...)
	out = append(out, ',')
	return append(out, t[1:]...), nil
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
	// Paths are the paths the object routes on this host, for the network probe: filled by
	// Reviewer.PrivateHosts from a Router object, never on the admission path nor in the
	// policy input.
	Paths []string `json:"-"`
}

// Facts are the Go-computed view of an object that its target's mutation and policy share.
type Facts struct {
	Hosts []HostFact
	// Exempt says why the object as a whole needs no login though it answers private hosts
	// (cert-manager's HTTP-01 solver, recognised by its whole shape and its creator); "" when
	// it does.
	Exempt string
	// Always is set for an object judged whatever hosts it names: a binding granting groups, a
	// route judged against the gateways serving it.
	Always bool
	// Input is the target's own part of the policy input (see Input.Target), or nil.
	Input any
}

// Protected reports whether the object needs login: it answers a private host that is not
// exempt, and it is not exempt as a whole.
func (f Facts) Protected() bool {
	if f.Exempt != "" {
		return false
	}
	return slices.ContainsFunc(f.Hosts, func(h HostFact) bool { return h.Private && !h.Exempt })
}

// Judged reports whether the policy has anything to judge: a private host (exempt or not, for
// the mixing rules), or an object judged whatever it names.
func (f Facts) Judged() bool { return f.AnyPrivate() || f.Always }

// AnyPrivate reports whether any host is private, exempt or not.
func (f Facts) AnyPrivate() bool {
	return slices.ContainsFunc(f.Hosts, func(h HostFact) bool { return h.Private })
}
