package ingress

import (
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/policy"
)

// Settings are the Ingress target's keys of privgate.yaml. They sit at the top level of the
// file, beside the core's: the Ingress target came first, and every config written since has
// them there.
type Settings struct {
	// IngressClasses are the classes whose controller enforces auth-url; the first is set on
	// a private Ingress that names none.
	IngressClasses []string `json:"ingressClasses"`
	// AnnotationPrefix is the ingress-nginx --annotations-prefix (default nginx.ingress.kubernetes.io).
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// DefaultIngressClass is the cluster's default IngressClass (the one annotated
	// ingressclass.kubernetes.io/is-default-class: "true"), which the API server sets on a created
	// Ingress naming no class before privgate sees it; privgate check applies it when the files
	// hold no default IngressClass, so that it judges what the webhook will. "" is none.
	DefaultIngressClass string `json:"defaultIngressClass,omitempty"`
	// ServedBy says, per class of IngressClasses, which controller executes it: ingress-nginx
	// (the default) or traefik-nginx-provider, Traefik's ingress-nginx compatibility provider
	// (providers.kubernetesIngressNGINX, as MicroK8s and k3s clusters run it). Both claim the
	// controller name k8s.io/ingress-nginx, so the IngressClass cannot tell them apart, and they
	// read the same annotations differently (docs/traefik.md).
	ServedBy map[string]string `json:"servedBy,omitempty"`
	// IngressControllers are the IngressClass spec.controller values that enforce auth-url: a
	// class in IngressClasses must name an IngressClass served by one of them, when it exists.
	IngressControllers []string `json:"ingressControllers,omitempty"`
	// HostOwnership gives each private host to the namespace of its oldest Ingress.
	HostOwnership HostOwnership `json:"hostOwnership"`
	// Controller is the ingress-nginx settings that change who gets in; each defaults to the
	// controller's own default, so it needs saying only where the cluster's controller differs.
	Controller Controller `json:"controller"`
	// ACMESolverUsers are the identities allowed to create cert-manager HTTP-01 solver Ingresses
	// (default: cert-manager's own service account in namespace cert-manager).
	ACMESolverUsers []string `json:"acmeSolverUsers,omitempty"`
	// TLSSecretSuffix names the tls entry privgate adds: <ingress name><suffix>.
	TLSSecretSuffix string `json:"tlsSecretSuffix,omitempty"`
	// RuleModes are the modes of the target's rules (privgate.yaml's top-level rules).
	RuleModes map[string]policy.Mode `json:"rules,omitempty"`
}

// Controller mirrors the ingress-nginx (v1.15.1) settings privgate must know to judge an Ingress
// as the controller will serve it (docs/ingress-nginx.md).
type Controller struct {
	// NoAuthLocations is the ConfigMap's no-auth-locations: paths starting with one are served
	// without auth_request. nil means the controller's default.
	NoAuthLocations []string `json:"noAuthLocations"`
	// NoTLSRedirectLocations is the ConfigMap's no-tls-redirect-locations.
	NoTLSRedirectLocations []string `json:"noTLSRedirectLocations"`
	// DefaultBackend is --default-backend-service (namespace/name); "" is the controller's
	// built-in server, which answers 404.
	DefaultBackend string `json:"defaultBackend"`
	// ErrorBackends are the Services (namespace/name) trusted to answer the error pages of
	// custom-http-errors: error-page servers, never apps.
	ErrorBackends []string `json:"errorBackends"`
}

// HostOwnership: ingress-nginx merges every Ingress naming a host into one server, so a tenant's
// Ingress for a host another team serves receives that host's requests, session cookies
// included. A private host therefore belongs to the namespace of its oldest Ingress.
type HostOwnership struct {
	// Enabled turns the rule on (default true).
	Enabled *bool `json:"enabled,omitempty"`
	// SharedNamespaces neither own hosts nor are refused them (a platform team's namespace).
	SharedNamespaces []string `json:"sharedNamespaces"`
}

// On reports whether host ownership is judged.
func (h HostOwnership) On() bool { return h.Enabled == nil || *h.Enabled }

const (
	// acmeChallenge is where ingress-nginx exempts paths by default: cert-manager's HTTP-01 tokens.
	acmeChallenge            = "/.well-known/acme-challenge"
	defaultAnnotationPrefix  = "nginx.ingress.kubernetes.io"
	defaultACMESolverUser    = "system:serviceaccount:cert-manager:cert-manager"
	defaultTLSSecretSuffix   = "-privgate-tls"
	defaultIngressController = "k8s.io/ingress-nginx"

	// The controllers a class of ingressClasses can be served by (servedBy).
	servedByIngressNGINX  = "ingress-nginx"
	servedByNGINXProvider = "traefik-nginx-provider"
)

// Key: the target's keys are top-level ones.
func (*Settings) Key() string { return "" }

// Rules are the top-level rules.
func (s *Settings) Rules() map[string]policy.Mode { return s.RuleModes }

// Default fills in ingress-nginx's own defaults.
func (s *Settings) Default(*policy.Config) {
	if s.AnnotationPrefix == "" {
		s.AnnotationPrefix = defaultAnnotationPrefix
	}
	if len(s.ACMESolverUsers) == 0 {
		s.ACMESolverUsers = []string{defaultACMESolverUser}
	}
	if s.TLSSecretSuffix == "" {
		s.TLSSecretSuffix = defaultTLSSecretSuffix
	}
	if s.Controller.NoAuthLocations == nil {
		s.Controller.NoAuthLocations = []string{acmeChallenge}
	}
	if s.Controller.NoTLSRedirectLocations == nil {
		s.Controller.NoTLSRedirectLocations = []string{acmeChallenge}
	}
	if s.Controller.ErrorBackends == nil {
		s.Controller.ErrorBackends = []string{}
	}
	if len(s.IngressControllers) == 0 {
		s.IngressControllers = []string{defaultIngressController}
	}
	if s.HostOwnership.SharedNamespaces == nil {
		s.HostOwnership.SharedNamespaces = []string{}
	}
}

// Validate reports every problem of the target's keys.
func (s *Settings) Validate(_ *policy.Config, _ *field.Path) field.ErrorList {
	var errs field.ErrorList
	fail := func(fld *field.Path, format string, args ...any) {
		errs = append(errs, policy.Problem(fld, format, args...))
	}
	if len(s.IngressClasses) == 0 {
		fail(field.NewPath("ingressClasses"), "must name at least one ingress class whose controller enforces auth-url (such as nginx)")
	}
	if e := validation.IsDNS1123Subdomain(s.DefaultIngressClass); s.DefaultIngressClass != "" && len(e) > 0 {
		fail(field.NewPath("defaultIngressClass"), "%q is not an IngressClass name: %s", s.DefaultIngressClass, e[0])
	}
	if e := validation.IsQualifiedName(s.AnnotationPrefix + "/x"); len(e) > 0 {
		fail(field.NewPath("annotationPrefix"), "%q is not an annotation prefix: %s", s.AnnotationPrefix, e[0])
	}
	if e := validation.IsDNS1123Subdomain(strings.TrimPrefix(s.TLSSecretSuffix, "-")); len(e) > 0 {
		fail(field.NewPath("tlsSecretSuffix"), "%q cannot end a Secret name: %s", s.TLSSecretSuffix, e[0])
	}
	errs = append(errs, s.validateServedBy()...)
	ctl := field.NewPath("controller")
	if b := s.Controller.DefaultBackend; b != "" && !isService(b) {
		fail(ctl.Child("defaultBackend"), "%q is not a Service as namespace/name", b)
	}
	for i, b := range s.Controller.ErrorBackends {
		if !isService(b) {
			fail(ctl.Child("errorBackends").Index(i), "%q is not a Service as namespace/name", b)
		}
	}
	return errs
}

// validateServedBy: each class named is one of ingressClasses, each controller one privgate
// models, and an annotation prefix other than ingress-nginx's own is refused where Traefik's
// NGINX provider serves a class: it reads nginx.ingress.kubernetes.io/ only (annotations.go),
// so it would never see the auth-url privgate writes under another prefix.
func (s *Settings) validateServedBy() field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("servedBy")
	for _, class := range slices.Sorted(maps.Keys(s.ServedBy)) {
		switch by := s.ServedBy[class]; {
		case !slices.Contains(s.IngressClasses, class):
			errs = append(errs, policy.Problem(path.Key(class), "class %q is not in ingressClasses %v: servedBy says who executes those", class, s.IngressClasses))
		case by != servedByIngressNGINX && by != servedByNGINXProvider:
			errs = append(errs, policy.Problem(path.Key(class), "%q is not a controller privgate models: use %s or %s", by, servedByIngressNGINX, servedByNGINXProvider))
		case by == servedByNGINXProvider && s.AnnotationPrefix != defaultAnnotationPrefix:
			errs = append(errs, policy.Problem(field.NewPath("annotationPrefix"), "%q: class %q is served by Traefik's NGINX provider, which reads only %s/ annotations, so it would never see the auth-url privgate sets (the app would be served without login)", s.AnnotationPrefix, class, defaultAnnotationPrefix))
		}
	}
	return errs
}

// isService reports whether s reads namespace/name of a Service.
func isService(s string) bool {
	ns, name, ok := strings.Cut(s, "/")
	return ok && len(validation.IsDNS1123Label(ns)) == 0 && len(validation.IsDNS1035Label(name)) == 0
}

// config is what the target reads: the shared keys and its own.
type config struct {
	*policy.Config
	*Settings
}

// nginxProvider reports whether Traefik's NGINX provider executes the Ingress's class, named
// in spec.ingressClassName or the legacy annotation (servedBy).
func (c config) nginxProvider(ing *networkingv1.Ingress) bool {
	classes := []string{ing.Annotations[AnnotationIngressClass]}
	if ing.Spec.IngressClassName != nil {
		classes = append(classes, *ing.Spec.IngressClassName)
	}
	return slices.ContainsFunc(classes, func(class string) bool { return c.ServedBy[class] == servedByNGINXProvider })
}

// Plugin is the Ingress target as the registry lists it.
var Plugin = policy.Plugin{
	Name:    name,
	Section: func() policy.Section { return &Settings{} },
	Modules: func() policy.Modules { return policy.ModulesIn(rego) },
	New:     func(cfg *policy.Config) policy.Target { return New(cfg) },
}
