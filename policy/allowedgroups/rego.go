package allowedgroups

import (
	"embed"

	"github.com/privgate/privgate/policy"
)

//go:embed rego/*.rego
var rego embed.FS

// Modules are privgate.allowedgroups and its tests: every target judging a groups annotation
// loads them with its own, so an Ingress and a route naming the same group hear the same.
func Modules() policy.Modules { return policy.ModulesIn(rego) }
