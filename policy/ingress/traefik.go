package ingress

import (
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/traefik/router"
)

// Ingresses of Traefik's classes (traefik.ingressClasses) are served by Traefik's
// kubernetesIngress provider, which reads its own annotations and none of ingress-nginx's: the
// login is a Middleware in router.middlewares, judged on the chain Traefik will run
// (policy/traefik/router, docs/traefik.md).

// Traefik's Ingress annotations (Traefik's model, policy/traefik/router).
const (
	traefikPrefix            = router.AnnotationPrefix
	AnnotationTraefikMWs     = router.AnnotationMiddlewares
	AnnotationTraefikTLS     = router.AnnotationTLS
	AnnotationTraefikEntries = router.AnnotationEntryPoints
)

// traefikRouterKeys are the router.* options Traefik's label decoder knows (RouterIng, with
// tls.* and observability.* below them); any other makes it skip the whole Ingress.
var traefikRouterKeys = []string{"pathmatcher", "entrypoints", "middlewares", "priority", "rulesyntax", "tls", "observability"}

// traefikInput is what the policy reads of an Ingress Traefik serves.
type traefikInput struct {
	// Login is the login Middleware's ID as router.middlewares names it: the one for the groups
	// the Ingress allows (router.Settings.GroupLogin), LoginObject it as namespace/name and
	// LoginAddress where it must forward.
	Login        string `json:"login"`
	LoginObject  string `json:"loginObject"`
	LoginAddress string `json:"loginAddress"`
	// Groups are those the groups annotation allows, sorted (none: everyone who logs in).
	Groups []string `json:"groups,omitempty"`
	// TLS: router.tls (or one of its options) is set, so Traefik serves the routers over TLS only.
	TLS bool `json:"tls"`
	// EntryPoints are those the routers are served on, each with the chain it runs there.
	EntryPoints []router.EntryPoint `json:"entryPoints"`
	// Unknown are router.* annotations Traefik does not know: it skips the Ingress.
	Unknown []string `json:"unknown,omitempty"`

	refs    []router.Ref
	entries []string
}

// traefikClass reports whether every class the Ingress names is one Traefik serves.
func (t *Target) traefikClass(ing *networkingv1.Ingress) bool {
	var named []string
	if ing.Spec.IngressClassName != nil {
		named = append(named, *ing.Spec.IngressClassName)
	}
	if c, ok := ing.Annotations[AnnotationIngressClass]; ok {
		named = append(named, c)
	}
	return len(named) > 0 && !slices.ContainsFunc(named, func(c string) bool { return !slices.Contains(t.traefik.IngressClasses, c) })
}

// traefikFacts reads the routers' annotations as Traefik's label decoder does (paerser: a list
// splits on "," and each entry is trimmed); the chain is resolved against no stored Middleware
// until Relate knows them.
func (t *Target) traefikFacts(ing *networkingv1.Ingress) *traefikInput {
	groups := t.traefikGroups(ing)
	ns, name, address := t.traefik.GroupLogin(groups)
	in := &traefikInput{Login: t.traefik.GroupLoginID(groups), LoginObject: ns + "/" + name, LoginAddress: address, Groups: groups}
	for _, key := range slices.Sorted(maps.Keys(ing.Annotations)) {
		opt, ok := strings.CutPrefix(key, traefikPrefix+"router.")
		if !ok {
			continue
		}
		base, _, _ := strings.Cut(strings.ToLower(opt), ".")
		if !slices.Contains(traefikRouterKeys, base) {
			in.Unknown = append(in.Unknown, key)
		}
		if base == "tls" && (opt != "tls" || ing.Annotations[key] == "true") {
			in.TLS = true
		}
	}
	in.refs = router.IngressMiddlewares(ing.Annotations[AnnotationTraefikMWs], annotationField(AnnotationTraefikMWs))
	in.entries = router.IngressEntryPoints(ing.Annotations[AnnotationTraefikEntries])
	in.relate(t.traefik, nil)
	return in
}

// relate resolves the chains against the stored Middlewares (nil: none known).
func (in *traefikInput) relate(s *router.Settings, c policy.Cluster) {
	in.EntryPoints = s.Serve(router.Stored(c), in.entries, annotationField(AnnotationTraefikEntries), in.refs)
}

// traefikGroups are the groups the Ingress's groups annotation allows, sorted.
func (t *Target) traefikGroups(ing *networkingv1.Ingress) []string {
	return slices.Sorted(slices.Values(groups.Split(ing.Annotations[t.cfg.Groups.Annotation])))
}

func annotationField(key string) string { return "metadata.annotations[" + key + "]" }

// mutateTraefik adds what a private Ingress of a Traefik class needs: the login Middleware for
// the groups it allows in router.middlewares (first, unless the user already placed it:
// validation judges the order), router.tls, the cluster issuer and a tls entry for every private
// host, as for ingress-nginx. The logins privgate names (the login's and its group logins') follow
// the groups annotation, as auth-url's allowed_groups do on ingress-nginx: another one is
// dropped, so that editing the annotation is enough.
func (t *Target) mutateTraefik(ing *networkingv1.Ingress, f policy.Facts) bool {
	changed := false
	set := func(key, value string) { changed = setAnnotation(ing, key, value) || changed }
	login := t.traefik.GroupLoginID(t.traefikGroups(ing))
	var names []string
	if v := ing.Annotations[AnnotationTraefikMWs]; v != "" {
		names = strings.Split(v, ",")
	}
	kept := slices.DeleteFunc(slices.Clone(names), func(n string) bool {
		return t.traefik.IsGroupLoginID(n) && strings.TrimSpace(n) != login
	})
	if !slices.ContainsFunc(kept, func(n string) bool { return strings.TrimSpace(n) == login }) {
		kept = append([]string{login}, kept...)
	}
	if !slices.Equal(kept, names) {
		set(AnnotationTraefikMWs, strings.Join(kept, ","))
	}
	if !hasTLSAnnotation(ing.Annotations) {
		set(AnnotationTraefikTLS, "true")
	}
	changed = mutateIssuer(t.cfg, ing, f) || changed
	return mutateTLS(t.cfg, ing, f) || changed
}

// hasTLSAnnotation: router.tls or one of its options is set (either makes Traefik serve the
// routers over TLS).
func hasTLSAnnotation(annotations map[string]string) bool {
	for k := range annotations {
		if k == AnnotationTraefikTLS || strings.HasPrefix(k, AnnotationTraefikTLS+".") {
			return true
		}
	}
	return false
}
