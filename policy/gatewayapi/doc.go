// Package gatewayapi is Gateway API's model of a published host, for the targets that judge its
// kinds: which Gateways and listeners a route attaches to, the hosts it publishes there, and,
// through the GatewayClass's controllerName, the implementation whose pods serve them and whose
// login covers them. It judges nothing: implementations (Istio's in policy/istio) bring the
// login, targets the Rego.
package gatewayapi
