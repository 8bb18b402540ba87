package ingress

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
)

// Annotation keys privgate sets or reads besides the ingress-nginx ones.
const (
	AnnotationClusterIssuer = "cert-manager.io/cluster-issuer"
	AnnotationIssuer        = "cert-manager.io/issuer"
	AnnotationIngressClass  = "kubernetes.io/ingress.class"
)

// authURLKey is the ingress-nginx auth-url annotation under the configured prefix.
func authURLKey(c config) string { return c.AnnotationPrefix + "/auth-url" }

// authSigninKey is the ingress-nginx auth-signin annotation under the configured prefix.
func authSigninKey(c config) string { return c.AnnotationPrefix + "/auth-signin" }

// mutate injects into ing (a copy the caller owns) what a private Ingress needs: auth-url (with
// the Ingress's groups), auth-signin, the cluster issuer, an ingress class, and a tls entry for
// every private host no tls entry covers. It reports whether anything changed.
//
// It only fills what is missing: a value the user set is kept, and if it is wrong validation
// denies it, because silently overwriting would hide the mistake. The one exception is an
// auth-url that already points at the configured endpoint: its allowed_groups follow the groups
// annotation, so that editing the annotation is enough. Running Mutate on its own output changes
// nothing, and the output depends only on the input (Argo CD compares).
func (t *Target) mutate(ing *networkingv1.Ingress, f policy.Facts) bool {
	c := t.cfg
	if !f.Protected() {
		return false
	}
	if t.traefikClass(ing) {
		return t.mutateTraefik(ing, f)
	}
	changed := false
	set := func(key, value string) { changed = setAnnotation(ing, key, value) || changed }

	groupsValue, named := ing.Annotations[c.Groups.Annotation]
	if cur, ok := ing.Annotations[authURLKey(c)]; !ok || named && ownsAuthURL(c, cur) {
		set(authURLKey(c), authURL(c, groups.Split(groupsValue)))
	}
	if _, ok := ing.Annotations[authSigninKey(c)]; !ok {
		set(authSigninKey(c), c.Auth.Signin)
	}
	changed = mutateIssuer(c, ing, f) || changed
	if _, ok := ing.Annotations[AnnotationIngressClass]; !ok && ing.Spec.IngressClassName == nil {
		class := c.IngressClasses[0]
		ing.Spec.IngressClassName = &class
		changed = true
	}
	if mutateTLS(c, ing, f) {
		changed = true
	}
	return changed
}

// setAnnotation sets an annotation, reporting whether that changed the Ingress.
func setAnnotation(ing *networkingv1.Ingress, key, value string) bool {
	if old, ok := ing.Annotations[key]; ok && old == value {
		return false
	}
	if ing.Annotations == nil {
		ing.Annotations = map[string]string{}
	}
	ing.Annotations[key] = value
	return true
}

// mutateIssuer names the cluster issuer on an Ingress with private hosts that names no issuer,
// whatever its controller (cert-manager reads the Ingress).
func mutateIssuer(c config, ing *networkingv1.Ingress, f policy.Facts) bool {
	_, cluster := ing.Annotations[AnnotationClusterIssuer]
	_, namespaced := ing.Annotations[AnnotationIssuer]
	if cluster || namespaced || !slices.ContainsFunc(f.Hosts, func(h policy.HostFact) bool { return h.Private && !h.Any }) {
		return false
	}
	return setAnnotation(ing, AnnotationClusterIssuer, c.TLS.ClusterIssuer)
}

// authURL is the configured auth endpoint with allowed_groups for the given groups. The groups
// are written as they are, not percent-encoded: ingress-nginx rejects '%' in auth-url, and
// validation denies any group that would need encoding.
func authURL(c config, groups []string) string {
	if len(groups) == 0 {
		return c.Auth.URL
	}
	return c.Auth.URL + "?allowed_groups=" + strings.Join(groups, ",")
}

// ownsAuthURL reports whether an auth-url is the configured endpoint with at most an
// allowed_groups query, i.e. one privgate may keep in step with the groups annotation.
func ownsAuthURL(c config, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return false
	}
	base := *u
	base.RawQuery = ""
	if base.String() != c.Auth.URL {
		return false
	}
	for part := range strings.SplitSeq(u.RawQuery, "&") {
		if part != "" && !strings.HasPrefix(part, "allowed_groups=") {
			return false
		}
	}
	return true
}

// mutateTLS makes spec.tls cover every private named host. Entries the user wrote are never
// touched; privgate owns one entry, named <ingress><suffix>, holding exactly the private hosts
// no other entry covers, sorted. spec.tls is an atomic list in server-side apply, so it is
// rewritten only when that owned entry must change.
func mutateTLS(c config, ing *networkingv1.Ingress, f policy.Facts) bool {
	owned := tlsSecretName(c, ing)
	var others []networkingv1.IngressTLS
	seenOwned := false
	for _, t := range ing.Spec.TLS {
		if t.SecretName == owned && !seenOwned {
			seenOwned = true
			continue
		}
		others = append(others, t)
	}
	var uncovered []string
	for _, h := range f.Hosts {
		if h.Private && !h.Any && tlsNameable(h.Host) && !tlsCovered(others, h.Host) {
			uncovered = append(uncovered, h.Host)
		}
	}
	slices.Sort(uncovered)
	uncovered = slices.Compact(uncovered)

	want := others
	if len(uncovered) > 0 {
		want = append(slices.Clip(others), networkingv1.IngressTLS{Hosts: uncovered, SecretName: owned})
	}
	if slices.EqualFunc(want, ing.Spec.TLS, func(a, b networkingv1.IngressTLS) bool {
		return a.SecretName == b.SecretName && slices.Equal(a.Hosts, b.Hosts)
	}) {
		return false
	}
	ing.Spec.TLS = want
	return true
}

// tlsSecretName is the deterministic Secret name of privgate's tls entry: <name><suffix>, or for
// an Ingress created with generateName, one derived from its generateName.
func tlsSecretName(c config, ing *networkingv1.Ingress) string {
	base := ing.Name
	if base == "" {
		base = strings.TrimSuffix(ing.GenerateName, "-")
	}
	if base == "" {
		base = "ingress"
	}
	name := base + c.TLSSecretSuffix
	if len(name) > 253 {
		// Keep it a valid name and still unique per Ingress name.
		sum := sha256.Sum256([]byte(name))
		name = strings.TrimRight(name[:253-11], "-.") + "-" + hex.EncodeToString(sum[:5])
	}
	return name
}
