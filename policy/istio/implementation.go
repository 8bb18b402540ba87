package istio

import (
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/envoygateway"
	"github.com/privgate/privgate/policy/gatewayapi"
	"github.com/privgate/privgate/policy/traefik"
)

// implementations are the Gateway API implementations whose login this target judges, by
// GatewayClass spec.controllerName (gatewayapi.Implementation says what one is): a new one is a
// package of its own and a line here. A Gateway not in view is assumed to be Istio's, of the
// class Istio installs.
var implementations = gatewayapi.Registry{
	Implementations: map[string]gatewayapi.Implementation{
		GatewayController:         istioGateways{},               // CUSTOM AuthorizationPolicies (authz.go)
		envoygateway.Controller:   envoygateway.Implementation{}, // SecurityPolicies (policy/envoygateway)
		traefik.GatewayController: traefik.Gateways{},            // Middlewares in ExtensionRef filters (policy/traefik)
	},
	AssumedClass:      Class,
	AssumedController: GatewayController,
}

// istioGateways is Istio's Gateway API implementation: it deploys a Gateway's pods in the
// Gateway's namespace, labelled with its name, unless the Gateway names a hostname address, a
// Service deployed by hand.
type istioGateways struct{}

// Login: some CUSTOM AuthorizationPolicy covers the host on the pods (the mesh's Coverage).
func (istioGateways) Login(cfg *policy.Config, c policy.Cluster) gatewayapi.Login {
	return load(configOf(cfg), c)
}

// Coverage: some CUSTOM AuthorizationPolicy covers the host on the pods.
func (m *mesh) Coverage(p publication) Exposure { return m.expose(p, m.policies) }

func (istioGateways) Pods(ns, name string, gw *gatewayv1.Gateway, class string, services gatewayapi.Services) (workload, *unsupported) {
	w := workload{Namespace: ns, Labels: map[string]string{gatewayNameLabel: name}, Gateway: gw, Class: class}
	if gw == nil {
		return w, nil
	}
	for _, a := range gw.Spec.Addresses {
		if a.Type == nil || *a.Type != gatewayv1.HostnameAddressType {
			continue
		}
		// <service>.<namespace>.svc.<cluster domain>
		svc, rest, _ := strings.Cut(a.Value, ".")
		svcNS, _, _ := strings.Cut(rest, ".")
		if s := services(svcNS, svc); s != nil && len(s.Spec.Selector) > 0 {
			return workload{Namespace: svcNS, Labels: s.Spec.Selector, Gateway: gw, Class: class}, nil
		}
		return workload{Namespace: svcNS, Labels: map[string]string{"service": svc}, Gateway: gw, Class: class},
			&unsupported{Reason: "service-not-in-view", Address: a.Value}
	}
	return w, nil
}
