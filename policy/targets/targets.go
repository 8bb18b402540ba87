// Package targets is the registry: the one list of the targets privgate judges with, for
// everything that assembles the core (privgate's commands, the tests, the load harness). A new
// target is one package and one line here; nothing else names it.
package targets

import (
	"maps"

	"github.com/privgate/privgate/migrate"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/envoygateway"
	"github.com/privgate/privgate/policy/ingress"
	"github.com/privgate/privgate/policy/istio"
	"github.com/privgate/privgate/policy/rbac"
	"github.com/privgate/privgate/policy/traefik"
)

// Plugins are the registered targets, in the order their findings are listed.
func Plugins() []policy.Plugin {
	return []policy.Plugin{
		ingress.Plugin,      // Ingresses (ingress-nginx, Traefik's classes, Traefik's NGINX provider)
		rbac.Plugin,         // RBAC bindings' groups, with an rbac section
		istio.Plugin,        // Istio's and Gateway API's gateways and routes, Istio's AuthorizationPolicies
		envoygateway.Plugin, // Envoy Gateway's SecurityPolicies
		traefik.Plugin,      // Traefik's IngressRoutes, IngressRouteTCPs and Middlewares, with a traefik section
	}
}

// LoadConfig reads privgate.yaml with every registered target's section.
func LoadConfig(path string) (*policy.Config, error) { return policy.LoadConfig(path, Plugins()...) }

// ParseConfig parses privgate.yaml's bytes with every registered target's section.
func ParseConfig(path string, data []byte) (*policy.Config, error) {
	return policy.ParseConfig(path, data, Plugins()...)
}

// For are the targets cfg judges (a target its config turns off is left out).
func For(cfg *policy.Config) []policy.Target {
	var ts []policy.Target
	for _, p := range Plugins() {
		if t := p.New(cfg); t != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// Modules are every target's default Rego files and tests, whatever a config judges: what an
// admin's policy directory is laid over and tested with.
func Modules() policy.Modules {
	m := policy.Modules{}
	for _, p := range Plugins() {
		maps.Copy(m, p.Modules())
	}
	return m
}

// IngressSettings are the Ingress target's settings under cfg (its defaults when cfg was parsed
// without them), for the commands that read Ingresses outside the target (privgate migrate).
func IngressSettings(cfg *policy.Config) *ingress.Settings {
	if s, ok := policy.Settings[*ingress.Settings](cfg, ingress.Plugin.Name); ok {
		return s
	}
	s := &ingress.Settings{}
	s.Default(cfg)
	return s
}

// Migrations are the Gateway API implementations privgate migrate writes for (--to), under
// cfg: each target's class, controller and, where each rule names it, login.
func Migrations(cfg *policy.Config) []migrate.Implementation {
	traefikLogin, unavailable := traefik.RouteLogin(cfg)
	return []migrate.Implementation{
		{Name: "istio", GatewayClass: istio.Class, Controller: istio.GatewayController,
			Groups: istio.GroupLogins(cfg), GatewayPerGroups: true},
		{Name: "envoy-gateway", GatewayClass: envoygateway.GatewayClass, Controller: envoygateway.Controller,
			Groups: envoygateway.GroupLogins(cfg)},
		{Name: "traefik", GatewayClass: traefik.GatewayClass, Controller: traefik.GatewayController,
			Groups: func([]string) error { return nil }, RouteLogin: traefikLogin, Unavailable: unavailable},
	}
}
