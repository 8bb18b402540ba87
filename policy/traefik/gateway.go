package traefik

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
	"github.com/privgate/privgate/policy/traefik/router"
)

// GatewayController is the GatewayClass controllerName of Traefik's Gateway API provider
// (pkg/provider/kubernetes/gateway, providers.kubernetesGateway).
const GatewayController = "traefik.io/gateway-controller"

// Gateways is Traefik as a Gateway API implementation. Its login is a Middleware the route rule
// names in an ExtensionRef filter (group traefik.io, kind Middleware, the route's own
// namespace: a LocalObjectReference), which Traefik's Gateway API provider turns into the
// router's middleware, filters in order (pkg/provider/kubernetes/gateway/httproute.go,
// loadMiddlewares). The chain each rule runs is judged as for Ingresses and IngressRoutes
// (router.Settings.Serve): every entrypoint's middlewares, then the rule's, the login first of
// whatever can answer on its own. Registered in the Gateway API target's implementations.
type Gateways struct{}

// Pods: one Traefik deployment serves every Gateway of its classes; privgate does not need its
// pods (the login is per route rule), so the workload names the Gateway only.
func (Gateways) Pods(ns, name string, gw *gatewayv1.Gateway, class string, _ gatewayapi.Services) (gatewayapi.Workload, *gatewayapi.Unsupported) {
	return gatewayapi.Workload{Labels: map[string]string{"app.kubernetes.io/name": "traefik"}, Gateway: gw, Class: class}, nil
}

// Login reads the stored Middlewares once per judgement, with the traefik section (none: no
// login can be proven, every host uncovered, saying why).
func (Gateways) Login(cfg *policy.Config, c policy.Cluster) gatewayapi.Login {
	s, ok := policy.Settings[*router.Settings](cfg, router.Key)
	if !ok {
		s = nil
	}
	return &gatewayLogin{settings: s, exempt: cfg.ExemptHosts, index: router.Stored(c)}
}

// Reads: the Middlewares, once their CRD exists.
func (Gateways) Reads() []policy.Kind {
	return []policy.Kind{{GVK: router.MiddlewareKind, CRD: true, Indexes: router.MiddlewareIndexes}}
}

// AddToScheme registers traefik.io/v1alpha1.
func (Gateways) AddToScheme(s *runtime.Scheme) error { return router.AddToScheme(s) }

// Typed decodes a stored Middleware.
func (Gateways) Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	return router.Decode(gvk.GroupKind(), raw)
}

type gatewayLogin struct {
	settings *router.Settings
	exempt   []string
	index    router.Index
}

// Coverage: on every rule of the route publishing the host, the chain Traefik runs reaches the
// login first on every entrypoint.
func (l *gatewayLogin) Coverage(p gatewayapi.Publication) gatewayapi.Exposure {
	e := gatewayapi.Exposure{Host: p.Host, Field: p.Field, By: p.By, Gateway: p.Gateway, Workload: p.Workload.String(),
		Exempt: slices.Contains(l.exempt, p.Host), Uncheckable: p.Unsupported != nil, Unsupported: p.Unsupported}
	if e.Uncheckable {
		return e
	}
	route, ok := p.Route.(*gatewayv1.HTTPRoute)
	if !ok {
		// A Gateway's own hostname without a route: Traefik builds no router for it, so nothing
		// answers there. Another kind of route (GRPCRoute): no ExtensionRef login is modelled.
		if p.Route == nil {
			e.Covered, e.Policy = true, "no route: Traefik serves nothing there"
			return e
		}
		e.Uncheckable = true
		return e
	}
	if l.settings == nil {
		e.Gaps = []gatewayapi.Gap{{Reason: "traefik-unconfigured"}}
		return e
	}
	var gaps []gatewayapi.Gap
	var logins []string
	for i, rule := range route.Spec.Rules {
		where := fmt.Sprintf("spec.rules[%d]", i)
		refs, mirror := l.filters(route.Namespace, rule.Filters, where)
		// One gap per rule: the first entrypoint where its chain fails (Traefik serves a rule's
		// router on every entrypoint; their own middlewares come first).
		for _, ep := range l.settings.Serve(l.index, nil, where, refs) {
			g, ok := l.gap(ep.Chain, rule.Filters, where, mirror)
			if !ok {
				g, ok = l.groupsGap(ep.Chain.Links[ep.Chain.Login], p.Groups, where)
			}
			if ok {
				gaps = append(gaps, g)
				break
			}
			for _, o := range ep.Chain.Links[ep.Chain.Login].Objects {
				if !slices.Contains(logins, o) {
					logins = append(logins, o)
				}
			}
		}
	}
	if len(gaps) == 0 && len(route.Spec.Rules) > 0 {
		e.Covered, e.Policy = true, "Middleware "+strings.Join(logins, ", ")
		return e
	}
	e.Gaps = gaps
	if _, fix := routeLogin(l.settings, route.Namespace, p.Groups); fix != nil {
		if b, err := json.Marshal(fix); err == nil {
			e.Fix = string(b)
		}
	}
	return e
}

// groupsGap is why a rule's login does not keep the route's allowed groups, if it does not: a
// route allowing only some groups needs a login whose forwardAuth address carries exactly
// those in oauth2-proxy's allowed_groups (none lets in everyone who logs in).
func (l *gatewayLogin) groupsGap(login router.Link, want []string, where string) (gatewayapi.Gap, bool) {
	if len(want) == 0 {
		return gatewayapi.Gap{}, false
	}
	if groups.Same(login.Groups, want) {
		return gatewayapi.Gap{}, false
	}
	_, address := routeLoginName(l.settings, want)
	return gatewayapi.Gap{Reason: "groups-login", RouteRule: where, Policy: "Middleware " + strings.Join(login.Objects, ", "),
		Provider: login.Address, Allows: login.Groups, Groups: want, Want: address}, true
}

// GatewayClass is the class Traefik's Helm chart installs for its Gateway API provider (what the
// Gateways privgate migrate writes for Traefik name).
const GatewayClass = "traefik"

// loginMiddleware is a forwardAuth Middleware to address, in namespace (an ExtensionRef filter
// names one of the route's own namespace).
func loginMiddleware(namespace, name, address string) map[string]any {
	return map[string]any{
		"apiVersion": router.GroupVersion.String(), "kind": "Middleware",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec":     map[string]any{"forwardAuth": map[string]any{"address": address}},
	}
}

// LoginMiddlewareName names the login Middleware privgate suggests (and privgate migrate writes)
// in a namespace.
const LoginMiddlewareName = "privgate-login"

// RouteLogin is the login each rule of a protected route names first on Traefik, for privgate
// migrate: under cfg's traefik section, the namespace's login Middleware (a forwardAuth to
// traefik.authAddress), or, for a set of allowed groups, one of its own per set forwarding with
// oauth2-proxy's allowed_groups query (which IsLogin takes as the login: it lets fewer in). An
// error says why there is none (no traefik section).
func RouteLogin(cfg *policy.Config) (func(namespace string, groups []string) (gatewayv1.LocalObjectReference, map[string]any), error) {
	s, ok := policy.Settings[*router.Settings](cfg, router.Key)
	if !ok {
		return nil, fmt.Errorf("the login Middleware forwards to traefik.authAddress, and the config has no traefik section")
	}
	return func(namespace string, groups []string) (gatewayv1.LocalObjectReference, map[string]any) {
		return routeLogin(s, namespace, groups)
	}, nil
}

// routeLogin is RouteLogin's reference and Middleware under traefik settings s.
func routeLogin(s *router.Settings, namespace string, groups []string) (gatewayv1.LocalObjectReference, map[string]any) {
	name, address := routeLoginName(s, groups)
	ref := gatewayv1.LocalObjectReference{Group: gatewayv1.Group(router.GroupVersion.Group), Kind: "Middleware", Name: gatewayv1.ObjectName(name)}
	return ref, loginMiddleware(namespace, name, address)
}

// routeLoginName is the name and forwardAuth address of a route's login Middleware letting in
// groups (none: everyone who logs in): LoginMiddlewareName, and for groups its suffix and
// allowed_groups query as the Ingresses' group logins have them (router.GroupQuery: the same
// groups in any order, the same Middleware).
func routeLoginName(s *router.Settings, groups []string) (name, address string) {
	if len(groups) == 0 {
		return LoginMiddlewareName, s.AuthAddress
	}
	suffix, query := router.GroupQuery(groups)
	return LoginMiddlewareName + "-" + suffix, s.AuthAddress + "?" + query
}

// gap is why a rule's chain on one entrypoint leaves the host without login, if it does.
func (l *gatewayLogin) gap(c router.Chain, filters []gatewayv1.HTTPRouteFilter, where, mirror string) (gatewayapi.Gap, bool) {
	switch {
	case mirror != "" && (c.Login < 0 || mirrorBeforeLogin(filters)):
		return gatewayapi.Gap{Reason: "traefik-mirror", RouteRule: where, Detail: mirror}, true
	case c.Login < 0:
		return gatewayapi.Gap{Reason: "traefik-no-login", RouteRule: where}, true
	}
	for _, link := range c.Links[:c.Login] {
		if !link.Safe {
			return gatewayapi.Gap{Reason: "traefik-chain-order", RouteRule: where, Detail: link.ID}, true
		}
	}
	return gatewayapi.Gap{}, false
}

// filters are the Middlewares a rule's ExtensionRef filters name, in order, as the qualified
// names Traefik gives them; mirror names a RequestMirror filter (which copies requests, session
// cookies included, to another backend), "" when none.
func (l *gatewayLogin) filters(namespace string, fs []gatewayv1.HTTPRouteFilter, where string) ([]router.Ref, string) {
	var refs []router.Ref
	mirror := ""
	for j, f := range fs {
		field := fmt.Sprintf("%s.filters[%d]", where, j)
		switch f.Type {
		case gatewayv1.HTTPRouteFilterExtensionRef:
			if f.ExtensionRef != nil && string(f.ExtensionRef.Group) == router.GroupVersion.Group && string(f.ExtensionRef.Kind) == "Middleware" {
				refs = append(refs, router.Ref{Name: router.CRDID(namespace, string(f.ExtensionRef.Name)) + "@" + router.ProviderCRD, Field: field})
			}
		case gatewayv1.HTTPRouteFilterRequestMirror:
			mirror = field
		}
	}
	return refs, mirror
}

// mirrorBeforeLogin: a RequestMirror filter comes before the first ExtensionRef filter.
func mirrorBeforeLogin(fs []gatewayv1.HTTPRouteFilter) bool {
	for _, f := range fs {
		switch f.Type {
		case gatewayv1.HTTPRouteFilterRequestMirror:
			return true
		case gatewayv1.HTTPRouteFilterExtensionRef:
			return false
		}
	}
	return false
}
