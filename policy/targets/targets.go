// Package targets lists the kinds of object privgate judges, for everything that assembles the
// core (privgate's commands, the tests, the load harness): one list, so a new target is
// registered once.
package targets

import (
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/ingress"
	"github.com/privgate/privgate/policy/istio"
	"github.com/privgate/privgate/policy/rbac"
)

// For are the targets cfg judges: Ingresses, hosts published through Istio and Gateway API
// gateways, and RBAC bindings when it has an rbac section.
func For(cfg *policy.Config) []policy.Target {
	ts := []policy.Target{ingress.New(cfg), istio.New(cfg)}
	if t := rbac.New(cfg); t != nil {
		ts = append(ts, t)
	}
	return ts
}

// Modules are every target's default Rego files and tests, whatever a config judges: what an
// admin's policy directory is laid over and tested with.
func Modules() policy.Modules {
	// The targets' Rego does not depend on the config: an empty one with an rbac section has
	// every target.
	return policy.DefaultModules(For(&policy.Config{RBAC: &policy.RBAC{}})...)
}
