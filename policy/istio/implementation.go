package istio

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// An implementation is a gateway controller whose login privgate can judge: which pods serve
// a Gateway API Gateway of its classes, and what covers a host published on them. Istio is the
// one built in (its Gateways and VirtualServices too); its login is a CUSTOM
// AuthorizationPolicy on those pods (authz.go). A second implementation (Envoy Gateway, whose
// SecurityPolicy with extAuth plays that part) is a new file: a type implementing this,
// registered in implementations under its controllerName, with its policy kind added to
// Target.Related and read into the mesh.
type implementation interface {
	// pods are the pods serving Gateway ns/name of class (gw nil when not in view), or why
	// they are unknown.
	pods(m *mesh, ns, name string, gw *gatewayv1.Gateway, class string) (workload, string)
	// expose judges one publication on those pods against the stored policies.
	expose(m *mesh, p publication) Exposure
}

// implementations by GatewayClass spec.controllerName.
var implementations = map[string]implementation{istioController: istioGateways{}}

func known() string {
	return strings.Join(slices.Sorted(maps.Keys(implementations)), ", ")
}

// istioGateways is Istio's Gateway API implementation: it deploys a Gateway's pods in the
// Gateway's namespace, labelled with its name, unless the Gateway names a hostname address, a
// Service deployed by hand.
type istioGateways struct{}

// expose: some CUSTOM AuthorizationPolicy covers the host on the pods.
func (istioGateways) expose(m *mesh, p publication) Exposure { return m.expose(p, m.policies) }

func (istioGateways) pods(m *mesh, ns, name string, gw *gatewayv1.Gateway, class string) (workload, string) {
	w := workload{namespace: ns, labels: map[string]string{gatewayNameLabel: name}, gateway: gw, class: class}
	if gw == nil {
		return w, ""
	}
	for _, a := range gw.Spec.Addresses {
		if a.Type == nil || *a.Type != gatewayv1.HostnameAddressType {
			continue
		}
		// <service>.<namespace>.svc.<cluster domain>
		svc, rest, _ := strings.Cut(a.Value, ".")
		svcNS, _, _ := strings.Cut(rest, ".")
		if s := m.service(svcNS, svc); s != nil && len(s.Spec.Selector) > 0 {
			return workload{namespace: svcNS, labels: s.Spec.Selector, gateway: gw, class: class}, ""
		}
		return workload{namespace: svcNS, labels: map[string]string{"service": svc}, gateway: gw, class: class},
			fmt.Sprintf("its address %s names a Service not in view, so its pods are unknown", a.Value)
	}
	return w, ""
}
