package gatewayapi

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
)

// An Implementation is a gateway controller whose login privgate can judge: which pods serve a
// Gateway of its classes, and what covers a host published on them. Istio's (policy/istio) is
// the one built in: its login is a CUSTOM AuthorizationPolicy on those pods. Another (Envoy
// Gateway, whose SecurityPolicy with extAuth plays that part) is a package of its own
// implementing this, listed in the Registry that the target judging Gateway API kinds is given
// (policy/istio's implementations, for now) under its controllerName: nothing here changes. It
// owns its policy kind end to end: what covers a host (Login), and, in the target judging that
// kind, the changes that uncover one, the policy it suggests and its Rego. One that reads kinds
// of its own (its policy kind) implements policy.Reader too: the target reads them for it. An
// implementation is a comparable value (an empty struct will do): a target keeps each one's
// Login per judgement.
type Implementation interface {
	// Pods are the pods serving Gateway ns/name of class (gw nil when not in view), as the
	// implementation deploys them, or why they are unknown. services finds a Service in view.
	Pods(ns, name string, gw *gatewayv1.Gateway, class string, services Services) (Workload, *Unsupported)
	// Login reads what covers hosts on its pods from a snapshot of the cluster, once per
	// judgement: a judgement asks it about every host published there.
	Login(cfg *policy.Config, c policy.Cluster) Login
}

// Login judges hosts published on an implementation's pods over one snapshot of the cluster.
type Login interface {
	// Coverage is what covers the publication there (Covered, Policy), or why each policy that
	// applies does not (Gaps, codes the target's policy words: say why even when none applies,
	// since privgate.istio's fallback reason names AuthorizationPolicies) and a policy that
	// would (Fix).
	Coverage(p Publication) Exposure
}

// Services finds Service namespace/name in view (nil when not).
type Services func(namespace, name string) *corev1.Service

// Registry is the implementations a target judging Gateway API kinds knows, by GatewayClass
// spec.controllerName, and the class assumed where none is in view.
type Registry struct {
	Implementations map[string]Implementation
	// AssumedClass is the class of a Gateway not in view, and AssumedController its controller
	// when its GatewayClass is not in view either: the class an implementation installs itself
	// (Istio's "istio").
	AssumedClass, AssumedController string
}

// Known lists the controllerNames of the implementations, in order, for messages.
func (r Registry) Known() []string {
	return slices.Sorted(maps.Keys(r.Implementations))
}

// Readers are the implementations that read kinds of their own, in controllerName order.
func (r Registry) Readers() []policy.Reader {
	var out []policy.Reader
	for _, c := range slices.Sorted(maps.Keys(r.Implementations)) {
		if reader, ok := r.Implementations[c].(policy.Reader); ok {
			out = append(out, reader)
		}
	}
	return out
}

// Reading is the implementation that reads kind gk, nil when none does.
func (r Registry) Reading(gk schema.GroupKind) policy.Reader {
	for _, reader := range r.Readers() {
		for _, k := range reader.Reads() {
			if k.GVK.GroupKind() == gk {
				return reader
			}
		}
	}
	return nil
}

// Serving are the pods serving Gateway ns/name (gw nil when not in view), as the implementation
// running its class deploys them (classes: GatewayClass name to controllerName), and why no
// login can be checked there when no implementation the registry knows runs the class.
func (r Registry) Serving(classes map[string]string, ns, name string, gw *gatewayv1.Gateway, services Services) (Workload, *Unsupported) {
	class := r.AssumedClass
	if gw != nil {
		class = string(gw.Spec.GatewayClassName)
	}
	controller, ok := classes[class]
	if !ok && class == r.AssumedClass {
		controller, ok = r.AssumedController, true
	}
	impl := r.Implementations[controller]
	switch {
	case !ok:
		return Workload{Namespace: ns, Class: class}, &Unsupported{Reason: "class-not-in-view", Class: class}
	case impl == nil:
		return Workload{Namespace: ns, Class: class}, &Unsupported{Reason: "controller", Class: class, Controller: controller, Known: r.Known()}
	}
	w, why := impl.Pods(ns, name, gw, class, services)
	w.Impl = impl
	return w, why
}

// Workload is a set of gateway pods.
type Workload struct {
	Namespace string            // "" when unknown
	Labels    map[string]string // the pods' labels (or the selector that picks them)
	// Gateway is the Gateway API Gateway these pods serve, for targetRefs; nil for another
	// kind of gateway's pods (an Istio Gateway's).
	Gateway *gatewayv1.Gateway
	// Class is that Gateway's class.
	Class string
	// Impl is the implementation running the pods, which says what covers a host on them
	// (nil when none privgate knows does).
	Impl Implementation
}

func (w Workload) String() string {
	if w.Namespace == "" && len(w.Labels) == 0 {
		return "(any: the Gateway is not in view)"
	}
	ns := w.Namespace
	if ns == "" {
		ns = "*"
	}
	keys := slices.Sorted(maps.Keys(w.Labels))
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, k+"="+w.Labels[k])
	}
	return ns + "/{" + strings.Join(pairs, ",") + "}"
}

// Publication is one host an object publishes on one gateway workload.
type Publication struct {
	Host        string // normalized; "*" for every host
	Field       string
	By          string
	Gateway     string
	Workload    Workload
	Unsupported *Unsupported // why no login can be checked here; nil when one can
	Private     bool
	// Route is the Gateway API route publishing the host (nil for a Gateway's own host, or
	// another kind of route), and Listeners the Gateway's listeners that publish it, by name
	// (none when the Gateway is not in view): an implementation whose login attaches to route
	// rules or listeners (Envoy Gateway's SecurityPolicy) judges each.
	Route     runtime.Object
	Listeners []string
	// Groups are the groups the route lets in (its groups annotation, cfg.Groups.Annotation,
	// read as an Ingress's is); none for everyone who logs in. A login covers such a route only
	// when it lets in exactly these groups: one that lets in everyone who logs in, or other
	// groups, does not keep the route's promise.
	Groups []string
}

// Exposure is one private host published on one gateway workload, and what login covers it
// there: what a target's Rego reads (docs/istio.md).
type Exposure struct {
	Host     string `json:"host"`             // normalized; "*" when every host is
	Field    string `json:"field"`            // where the publishing object names it: spec.hosts[0]
	By       string `json:"by"`               // the publishing object: VirtualService apps/grafana
	Gateway  string `json:"gateway"`          // the gateway it is published on: Gateway istio-system/public
	Workload string `json:"workload"`         // the pods serving it: istio-system/{app=istio-ingressgateway}
	Exempt   bool   `json:"exempt"`           // listed in exemptHosts
	Covered  bool   `json:"covered"`          // some enforced login policy matches every request to it there
	Policy   string `json:"policy,omitempty"` // the policy that covers it: AuthorizationPolicy istio-system/login
	// Gaps say why each login policy that applies to the workload does not cover the host, as
	// codes the target's policy words (privgate.istio's why).
	Gaps []Gap `json:"gaps,omitempty"`
	// Uncheckable: no login can be checked on this gateway (an implementation privgate does not
	// know, requests no HTTP login provider sees); such a host is never covered. Unsupported
	// says why, for messages.
	Uncheckable bool         `json:"uncheckable"`
	Unsupported *Unsupported `json:"unsupported,omitempty"`
	// Fix is a policy that would cover the host, as YAML to apply.
	Fix string `json:"fix,omitempty"`
}

// Gap is why login policies leave a host uncovered on a workload: a Reason code, and what its
// wording names. The codes of Istio's AuthorizationPolicy model (privgate.istio words them):
// "providers" (the workload has CUSTOM policies of several Providers), and for one Policy
// "dry-run", "provider" (Provider is not a configured login provider), "no-rules", "rules"
// (none of its Rules matches every request to the host). The codes of a policy that attaches
// to a Gateway, a listener, a route or a route rule, the most specific one in force (Envoy
// Gateway's SecurityPolicy; privgate.gatewayapi words them, for any target): "no-policy" (none
// is in force for RouteRule on Listener), and for the Policy in force "no-login" (it has no
// login; Replaces names a less specific policy with one that it replaces), "ext-auth-service"
// (its external authorization goes to Provider, not a configured login service),
// "ext-auth-grpc" (over gRPC, which oauth2-proxy does not answer), "fail-open" (it lets
// requests through when the login service fails), "fail-open-invalid" (its external
// authorization is invalid, Detail says why, and failOpen makes Envoy skip it), "oidc-issuer"
// (its OIDC provider is Provider, not the configured issuer), "pass-through-auth" (a request
// carrying its own Authorization header skips the OIDC login).
type Gap struct {
	Reason    string    `json:"reason"`
	Policy    string    `json:"policy,omitempty"` // AuthorizationPolicy istio-system/login
	Provider  string    `json:"provider,omitempty"`
	Providers []string  `json:"providers,omitempty"`
	Rules     []RuleGap `json:"rules,omitempty"`
	// RouteRule and Listener are where a policy attaching to rules or listeners leaves the host
	// uncovered (spec.rules[1], https); Replaces and Detail as the codes above say.
	RouteRule string `json:"routeRule,omitempty"`
	Listener  string `json:"listener,omitempty"`
	Replaces  string `json:"replaces,omitempty"`
	Detail    string `json:"detail,omitempty"`
	// Groups, Allows, Want, Setting and PerWorkload are what the groups codes name (any
	// implementation): "groups-login" (the login in force, Provider, lets in the groups Allows,
	// none for everyone who logs in, not exactly the route's Groups; Want is the login that
	// does) and "groups-no-login" (privgate.yaml has no group login for Groups: Setting is the
	// key to add one under). PerWorkload: the implementation runs one login per gateway workload
	// (Istio), so the routes of one group set need a Gateway of their own.
	Groups      []string `json:"groups,omitempty"`
	Allows      []string `json:"allows,omitempty"`
	Want        string   `json:"want,omitempty"`
	Setting     string   `json:"setting,omitempty"`
	PerWorkload bool     `json:"perWorkload,omitempty"`
}

// RuleGap is why one rule does not match every request to the host: Reason "from" or "when"
// (it narrows to some clients), or "to" (none of its operations matches every request, To).
type RuleGap struct {
	Rule   int            `json:"rule"` // its index in rules
	Reason string         `json:"reason"`
	To     []OperationGap `json:"to,omitempty"`
}

// OperationGap is why one operation of a rule does not match every request to the host.
type OperationGap struct {
	To      int         `json:"to"` // its index in the rule's to
	Narrows []Narrowing `json:"narrows"`
}

// Narrowing is one field of an operation that leaves out requests to the host: "methods",
// "notMethods", "ports", "notPorts", "paths", "notPaths" (Value, not an allowed one), "hosts"
// (no value matches the host), "hostPorts" (none matches it with a port), "notHosts" (Value
// takes it away).
type Narrowing struct {
	Field string `json:"field"`
	Value string `json:"value,omitempty"`
}

// Unsupported is why no login can be checked for hosts on a gateway: a Reason code, and what its
// wording names (privgate.istio's unsupported words it). The codes: "class-not-in-view"
// (Class), "controller" (Class is run by Controller, not one of Known), "service-not-in-view"
// (Address names a Service not in view), "passthrough" (Server passes TLS through),
// "server-protocol" and "listener-protocol" (Server or Listener carries Protocol, not HTTP),
// "tls-route" (a TLSRoute), "parent" (a parent of Kind in Group, not a Gateway).
type Unsupported struct {
	Reason     string   `json:"reason"`
	Class      string   `json:"class,omitempty"`
	Controller string   `json:"controller,omitempty"`
	Known      []string `json:"known,omitempty"`
	Address    string   `json:"address,omitempty"`
	Server     string   `json:"server,omitempty"`
	Listener   string   `json:"listener,omitempty"`
	Protocol   string   `json:"protocol,omitempty"`
	Kind       string   `json:"kind,omitempty"`
	Group      string   `json:"group,omitempty"`
}
