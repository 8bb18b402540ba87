package gatewayapi

import (
	"embed"

	"github.com/privgate/privgate/policy"
)

//go:embed rego/*.rego
var rego embed.FS

// Modules are privgate.gatewayapi, the wording of login gaps (Gap's codes of policies attaching
// to Gateways, listeners, routes and rules), and its tests: every target that reports such
// gaps loads them with its own.
func Modules() policy.Modules { return policy.ModulesIn(rego) }
