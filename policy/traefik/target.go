package traefik

import (
	"embed"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/traefik/router"
)

//go:embed rego/*.rego
var rego embed.FS

// Plugin is the traefik target as the registry lists it: its section is traefik, opted into
// (without it Traefik's classes are foreign to the Ingress target and its CRDs are not judged).
var Plugin = policy.Plugin{
	Name:    router.Key,
	Section: func() policy.Section { return &router.Settings{} },
	Modules: func() policy.Modules { return policy.ModulesIn(rego) },
	New: func(cfg *policy.Config) policy.Target {
		if _, present := router.Of(cfg); !present {
			return nil
		}
		return New(cfg)
	},
}

// Target judges Traefik's CRDs.
type Target struct {
	cfg     *policy.Config
	traefik *router.Settings
	zones   policy.Zones
}

// New is the target over a parsed config.
func New(cfg *policy.Config) *Target {
	s, _ := router.Of(cfg)
	return &Target{cfg: cfg, traefik: s, zones: cfg.Zones()}
}

var (
	kinds       = []schema.GroupVersionKind{router.IngressRouteKind, router.IngressRouteTCPKind, router.MiddlewareKind}
	ingressKind = schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}
)

func (*Target) Name() string                       { return router.Key }
func (*Target) Kinds() []schema.GroupVersionKind   { return kinds }
func (*Target) Retired() []schema.GroupVersionKind { return nil }
func (*Target) Package() string                    { return "privgate.traefik" }
func (*Target) Modules() policy.Modules            { return policy.ModulesIn(rego) }
func (*Target) Quiet() string                      { return "routes no private host through Traefik" }

// SurelyPublic: a Middleware's change is judged against every route using it, so nothing is
// surely public from the object alone.
func (*Target) SurelyPublic([]byte) bool { return false }

// JudgesDelete: deleting a Middleware disables the routers naming it, or uncovers the hosts of
// a chain it was the login of.
func (*Target) JudgesDelete() bool { return true }

// Refusal heads a denial.
func (*Target) Refusal() string { return "exposes private hosts through Traefik unprotected" }

// Reads are the three kinds, judged, once their CRDs exist; Ingresses are the Ingress target's.
func (*Target) Reads() []policy.Kind {
	var out []policy.Kind
	for _, k := range kinds {
		kind := policy.Kind{GVK: k, Judged: true, CRD: true}
		if k == router.MiddlewareKind {
			kind.Indexes = router.MiddlewareIndexes
		}
		out = append(out, kind)
	}
	return out
}

// AddToScheme registers traefik.io/v1alpha1.
func (*Target) AddToScheme(s *runtime.Scheme) error { return router.AddToScheme(s) }

// Typed decodes a stored object of the kinds.
func (*Target) Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	return router.Decode(gvk.GroupKind(), raw)
}

// Decode parses an IngressRoute, IngressRouteTCP or Middleware, by its kind.
func (t *Target) Decode(raw []byte) (policy.Object, error) {
	var tm struct{ APIVersion, Kind string }
	if err := json.Unmarshal(raw, &tm); err != nil {
		return nil, fmt.Errorf("object is not a valid Traefik object: %w", err)
	}
	gk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind).GroupKind()
	typed, err := router.Decode(gk, raw)
	if err != nil {
		return nil, err
	}
	doc, err := policy.WithoutManagedFields(raw)
	if err != nil {
		return nil, err
	}
	return &object{t: t, typed: typed, doc: doc}, nil
}

// Webhooks: routes to the validating webhook that fails closed (a private host is never
// published unchecked); Middlewares, deletions included, to one of their own that fails open as
// Istio's policy webhook does, so that Traefik's own installs and upgrades go through with
// privgate down (the audit then reports what they uncover).
func (*Target) Webhooks() []policy.Webhook {
	routes := policy.Webhook{Name: "validate.privgate.io", FailurePolicy: "Fail", Operations: []string{"CREATE", "UPDATE"},
		Resources: []schema.GroupVersionResource{router.GroupVersion.WithResource("ingressroutes"), router.GroupVersion.WithResource("ingressroutetcps")}}
	mws := policy.Webhook{Name: "validate-traefik-middleware.privgate.io", FailurePolicy: "Ignore", Operations: []string{"CREATE", "UPDATE", "DELETE"},
		Resources: []schema.GroupVersionResource{router.GroupVersion.WithResource("middlewares")}}
	return []policy.Webhook{routes, mws}
}
