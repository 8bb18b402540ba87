package policy

import (
	"slices"
	"sort"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Mode is what becomes of a violation.
type Mode string

const (
	// ModeDeny refuses the object, listing every violation.
	ModeDeny Mode = "deny"
	// ModeWarn admits the object and returns the violation as an admission warning.
	ModeWarn Mode = "warn"
	// ModeAudit admits the object silently; the violation is left for the audit to report.
	ModeAudit Mode = "audit"
	// ModeOff drops the violation.
	ModeOff Mode = "off"
)

// modes in order of strength: a weaker mode never turns into a stronger one.
var modes = []Mode{ModeOff, ModeAudit, ModeWarn, ModeDeny}

func (m Mode) valid() bool { return slices.Contains(modes, m) }

func weaker(a, b Mode) Mode {
	if slices.Index(modes, a) < slices.Index(modes, b) {
		return a
	}
	return b
}

// Enforcement is the admin's say over what violations do, in privgate.yaml (never in a label or
// annotation a tenant could set): globally and per namespace here, per rule in each target's
// section (Section.Rules).
// The most specific setting wins: rule, then namespace, then global. A setting can weaken what
// the policy says, never strengthen it: the policy's warnings stay warnings under deny (make a
// warning a denial by writing a rule, where it is reviewed and tested).
type Enforcement struct {
	// Default applies where nothing more specific is set; deny when empty.
	Default Mode `json:"default,omitempty"`
	// Namespaces sets a mode for every rule in a namespace (a team rolling out in warn).
	Namespaces map[string]Mode `json:"namespaces,omitempty"`
}

// ModeOf is the enforcement of one violation of rule, found in namespace, that the policy put in
// its deny set (severity ModeDeny) or its warn set (ModeWarn).
func (c *Config) ModeOf(target, rule, namespace string, severity Mode) Mode {
	m, ok := c.rules(target)[rule]
	if !ok {
		m, ok = c.Enforcement.Namespaces[namespace]
	}
	if !ok {
		m = c.Enforcement.Default
	}
	if m == "" {
		m = ModeDeny
	}
	return weaker(m, severity)
}

// rules are the per-rule modes of a target: its section's (see Section.Rules).
func (c *Config) rules(target string) map[string]Mode {
	if s, ok := c.Section(target); ok {
		return s.Rules()
	}
	return nil
}

// sort places each violation of a verdict in the decision list its mode says.
func (c *Config) sortVerdict(target, namespace string, v Verdict, d *Decision) {
	place := func(severity Mode, vs []Violation) {
		for _, x := range vs {
			switch c.ModeOf(target, x.ID, namespace, severity) {
			case ModeDeny:
				d.Violations = append(d.Violations, x)
			case ModeWarn:
				d.Warnings = append(d.Warnings, x)
			case ModeAudit:
				d.Audited = append(d.Audited, x)
			}
		}
	}
	place(ModeDeny, v.Deny)
	place(ModeWarn, v.Warn)
	for _, vs := range [][]Violation{d.Violations, d.Warnings, d.Audited} {
		sortViolations(vs)
	}
}

func badMode(fld *field.Path, m Mode) *field.Error {
	return Problem(fld, "%q is not a mode: want deny, warn, audit or off", m)
}

func (e Enforcement) validate() field.ErrorList {
	var errs field.ErrorList
	fld := field.NewPath("enforcement")
	if e.Default != "" && !e.Default.valid() {
		errs = append(errs, badMode(fld.Child("default"), e.Default))
	}
	for _, ns := range sortedKeys(e.Namespaces) {
		if !e.Namespaces[ns].valid() {
			errs = append(errs, badMode(fld.Child("namespaces").Child(ns), e.Namespaces[ns]))
		}
	}
	return errs
}

// validateRules checks a section's rule modes (fld is its rules key).
func validateRules(rules map[string]Mode, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, id := range sortedKeys(rules) {
		switch {
		case id == "":
			errs = append(errs, Problem(fld, "a rule id is empty"))
		case !rules[id].valid():
			errs = append(errs, badMode(fld.Child(id), rules[id]))
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
