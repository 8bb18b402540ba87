package policy

import (
	"fmt"
	"slices"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Request is one admission as every door (webhook, check, audit) sees it.
type Request struct {
	// Kind is the object's apiVersion and kind: the core decides from it which target judges
	// the object, if any.
	Kind      schema.GroupVersionKind
	Operation string // CREATE or UPDATE
	Namespace string
	Name      string
	DryRun    bool
	Username  string // "" when unknown (privgate check)
	Object    []byte // the object as JSON
	// OldObject is the stored object an UPDATE or DELETE replaces; a DELETE is judged on it,
	// for the targets that judge deletions (see Deletions).
	OldObject []byte
}

// Decision is privgate's answer for one object.
type Decision struct {
	Allowed bool
	// Violations are denied; Warnings are admitted and told (kubectl prints them); Audited
	// are admitted silently and left for the audit to report. Which list a violation lands in
	// is its enforcement mode (see Enforcement).
	Violations []Violation
	Warnings   []Violation
	Audited    []Violation
	// Patch turns the request's object into the mutated one; empty when nothing changed.
	Patch []jsonpatch.Operation
	// Skipped is set when the object is not judged at all (a kind no target judges, a
	// never-intercepted namespace); Note says why.
	Skipped bool
	// Note says why an admitted object needed nothing (public, exempt, skipped).
	Note string
	// Protected is set when the object answers private hosts that need login (not exempt):
	// admitted, it is protected as written.
	Protected bool
	// Refusal is how a denial's headline describes the object ("exposes private hosts
	// unprotected"), as its target words it (see Refuser); "is refused" by default.
	Refusal string

	// mutated is the object after mutation, for Review to go on judging; never cached.
	mutated Object
}

// Violation is one problem the policy found.
type Violation struct {
	ID      string `json:"id"`
	Host    string `json:"host,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Group is the unknown group a group-unknown violation is about (for "did you mean").
	Group string `json:"group,omitempty"`
}

// Host states, as the zone view (audit metrics, privgate audit) names a private host.
const (
	HostProtected   = "protected"
	HostUnprotected = "unprotected" // a violation, whatever its enforcement mode
	HostExempt      = "exempt"
	HostUnjudged    = "unjudged" // not judged (skipped, or the core could not judge it): not known to be protected
)

// Findings counts what the decision found, whatever each one's mode made of it (denied,
// warned, audited): none means the object passes privgate's checks.
func (d Decision) Findings() int { return len(d.Violations) + len(d.Warnings) + len(d.Audited) }

// HostState is what an object judged d makes of one private host it answers.
func (c *Config) HostState(host string, d Decision) string {
	switch {
	case d.Skipped:
		return HostUnjudged
	case slices.Contains(c.ExemptHosts, host):
		return HostExempt
	case d.Findings() > 0:
		return HostUnprotected
	}
	return HostProtected
}

// ObjectName is how messages name an object: namespace/name, or the name alone for a
// cluster-scoped one.
func ObjectName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
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

// UnsupportedError is the answer for an object of a judged kind in an apiVersion privgate
// does not judge: refused (the webhook) or reported as unreadable (check), never let through.
type UnsupportedError struct {
	Kind schema.GroupVersionKind
	Want schema.GroupVersionKind
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("apiVersion %s is not judged for kind %s; use %s", e.Kind.GroupVersion(), e.Kind.Kind, e.Want.GroupVersion())
}
