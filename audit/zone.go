package audit

import (
	"context"
	"encoding/json"
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/probe"
)

// Verdict is one stored object judged as the validating webhook would judge it if it were
// written as it is now, in any namespace (policy.Reviewer.Audit).
type Verdict struct {
	// Request is what the core judged: the object as stored, operation UPDATE, no requester.
	Request policy.Request
	// Decision is the core's; when it could not judge the object (Err), a single "unjudged"
	// violation: such an object is reported as such, never as passing.
	Decision policy.Decision
	// Err is why the core could not judge the object.
	Err error
	// Hosts are the named private hosts the object answers.
	Hosts []string
	// Paths are the paths it routes on each of them, when its target says (the network probe).
	Paths map[string][]string
}

// Judge judges one stored object of kind gvk: the one audit of the in-cluster Auditor and
// privgate audit.
func Judge(ctx context.Context, reviewer *policy.Reviewer, gvk schema.GroupVersionKind, obj client.Object) Verdict {
	v := Verdict{Request: policy.Request{Kind: gvk, Operation: "UPDATE", Namespace: obj.GetNamespace(), Name: obj.GetName()}}
	v.Request.Object, v.Err = json.Marshal(obj)
	if v.Err == nil {
		v.Decision, v.Err = reviewer.Audit(ctx, v.Request)
	}
	if v.Err != nil {
		v.Decision = policy.Decision{Violations: []policy.Violation{{ID: "unjudged", Message: v.Err.Error()}}}
	}
	for _, h := range reviewer.PrivateHosts(v.Request) {
		v.Hosts = append(v.Hosts, h.Host)
		if len(h.Paths) > 0 {
			if v.Paths == nil {
				v.Paths = map[string][]string{}
			}
			v.Paths[h.Host] = append(v.Paths[h.Host], h.Paths...)
		}
	}
	return v
}

// State is what the verdict makes of one private host it answers: unjudged when the core could
// not judge the object (not known to be protected), else as policy.Config.HostState says.
func (v Verdict) State(cfg *policy.Config, host string) string {
	if v.Err != nil {
		return policy.HostUnjudged
	}
	return cfg.HostState(host, v.Decision)
}

// Zone is every private host stored objects answer, who answers each and in which state: the
// zone at a glance (privgate audit) and the audit's privgate_private_hosts.
type Zone struct {
	config *policy.Config
	claims map[string][]Claim
	paths  map[string][]string
}

// Claim is one object answering a private host, and the state it leaves the host in.
type Claim struct {
	By    string // namespace/name
	State string // policy.HostProtected, HostUnprotected, HostExempt or HostUnjudged
}

// NewZone is an empty zone judged under cfg (its exemptHosts).
func NewZone(cfg *policy.Config) *Zone {
	return &Zone{config: cfg, claims: map[string][]Claim{}, paths: map[string][]string{}}
}

// Add files the private hosts an object (by: namespace/name) answers, as its verdict leaves them.
func (z *Zone) Add(by string, v Verdict) {
	for _, h := range v.Hosts {
		z.claims[h] = append(z.claims[h], Claim{By: by, State: v.State(z.config, h)})
		for _, p := range v.Paths[h] {
			if !slices.Contains(z.paths[h], p) {
				z.paths[h] = append(z.paths[h], p)
			}
		}
	}
}

// Hosts are the private hosts answered, sorted.
func (z *Zone) Hosts() []string {
	hosts := make([]string, 0, len(z.claims))
	for h := range z.claims {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	return hosts
}

// Paths are the paths routed on host by the objects answering it, sorted; none when no target
// said.
func (z *Zone) Paths(host string) []string {
	paths := slices.Clone(z.paths[host])
	sort.Strings(paths)
	return paths
}

// Claims are the objects answering host, in the order they were added.
func (z *Zone) Claims(host string) []Claim { return slices.Clone(z.claims[host]) }

// Worst is the state of host over every object answering it: unprotected when any leaves it
// so, else unjudged when any could not be judged, else what they say (protected or exempt).
func (z *Zone) Worst(host string) string {
	worst := ""
	for _, c := range z.claims[host] {
		if worst != policy.HostUnprotected && worst != policy.HostUnjudged || c.State == policy.HostUnprotected {
			worst = c.State
		}
	}
	return worst
}

// Counts are how many private hosts are in each state (every state present, 0 when none).
func (z *Zone) Counts() map[string]int {
	counts := map[string]int{policy.HostProtected: 0, policy.HostUnprotected: 0, policy.HostExempt: 0, policy.HostUnjudged: 0}
	for h := range z.claims {
		counts[z.Worst(h)]++
	}
	return counts
}

// Probed reports whether the network probe asks host: every private host but the exempt ones
// (exemptHosts: the login's own host, served without login by design).
func (z *Zone) Probed(host string) bool { return z.Worst(host) != policy.HostExempt }

// ProbeTarget is what the network probe asks of host: its name (a wildcard as one name under
// it) and the paths routed there.
func (z *Zone) ProbeTarget(host string) probe.Target {
	return probe.Target{Host: probe.Name(host), Paths: z.Paths(host)}
}
