package istio

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// An implementation is a Gateway API controller whose login privgate can judge: which pods
// serve a Gateway of its classes. Istio is the one built in; its login is a CUSTOM
// AuthorizationPolicy on those pods (authz.go). A second implementation (Envoy Gateway, whose
// SecurityPolicy with extAuth plays that part) is a new file: an implementation added to
// implementations, its policy kind added to Target.Related, and its coverage beside authz.go's,
// chosen by the workload's class.
type implementation interface {
	// pods are the pods serving Gateway ns/name of class (gw nil when not in view), or why
	// they are unknown.
	pods(m *mesh, ns, name string, gw *gatewayv1.Gateway, class string) (workload, string)
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
