package migrate

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/privgate/privgate/policy/traefik/router"
)

// annotations says what becomes of each annotation of an Ingress: carried over (by the login
// the implementation's policy adds, the generated Gateway, or the routes themselves), left
// behind (a Note: nothing is dropped silently), or impossible to carry without changing who
// gets in (refused). docs/migrate.md has the table.
func (m *migration) annotations(ing *networkingv1.Ingress) (notes, refused []Note) {
	id := ing.Namespace + "/" + ing.Name
	field := func(key string) string { return "metadata.annotations[" + key + "]" }
	nginx := m.o.AnnotationPrefix + "/"
	for _, key := range slices.Sorted(maps.Keys(ing.Annotations)) {
		name, isNginx := strings.CutPrefix(key, nginx)
		switch {
		case key == "kubectl.kubernetes.io/last-applied-configuration", key == "kubernetes.io/ingress.class":
			// kubectl's bookkeeping, and the class the Gateway's class replaces
		case key == "cert-manager.io/cluster-issuer" && m.o.Gateway == nil:
			// on the generated Gateway, where cert-manager's gateway-shim reads it
		case key == m.o.GroupsAnnotation:
			// carried on the routes, and by the login of their groups
			if why := m.groupsRefusal(m.groups(ing)); why != "" {
				refused = append(refused, Note{id, field(key), why})
			}
		case isNginx && (name == "auth-url" || name == "auth-signin"):
			// the login, which the implementation's own policy carries (above: its groups)
			if name == "auth-url" && ing.Annotations[m.o.GroupsAnnotation] == "" {
				if why := m.groupsRefusal(m.groups(ing)); why != "" {
					refused = append(refused, Note{id, field(key), why})
				}
			}
		case key == router.AnnotationTLS && m.o.Gateway == nil:
			// an Ingress of a class Traefik serves (privgate's mutation writes router.tls and
			// router.middlewares there): TLS, which the generated Gateway's HTTPS listeners carry
		case key == router.AnnotationTLS:
			notes = append(notes, Note{id, field(key), "not carried over: TLS depends on Gateway " + m.o.Gateway.String() + "'s listeners"})
		case key == router.AnnotationMiddlewares:
			notes = append(notes, Note{id, field(key), "carried over only as the login: each rule of a route answering a private host names the login Middleware first (an ExtensionRef filter); any other Middleware listed here is not: add an ExtensionRef filter naming it after the login"})
		case isNginx && (name == "ssl-redirect" || name == "force-ssl-redirect"):
			if m.o.Gateway != nil {
				notes = append(notes, Note{id, field(key), "not carried over: https-only depends on Gateway " + m.o.Gateway.String() + "'s listeners"})
			}
			// the generated Gateway listens on https only
		case isNginx:
			notes = append(notes, Note{id, field(key), fmt.Sprintf("not carried over: ingress-nginx's %s has no counterpart migrate writes on %s; redo it with that implementation's filters or policies if you need it", name, m.o.To.Name)})
		default:
			notes = append(notes, Note{id, field(key), "not carried over: an annotation of another tool, whose meaning on an HTTPRoute migrate cannot know; copy it if it applies"})
		}
	}
	return notes, refused
}

// groupsRefusal says why allowed groups cannot move to the implementation ("" when they can, or
// there are none): no login of their own is configured there, or, where the routes of each set
// need a Gateway of their own, --gateway names one for every route.
func (m *migration) groupsRefusal(gs []string) string {
	if len(gs) == 0 {
		return ""
	}
	list := strings.Join(gs, ", ")
	if err := m.o.To.Groups(gs); err != nil {
		return fmt.Sprintf("allowed groups %s narrow who gets in, and %s sends every route to one fixed login, so they would be lost (everyone who can log in would get in) unless they have a login of their own, and %v: add one (an oauth2-proxy run with --allowed-group for each group), or keep this Ingress", list, m.o.To.Name, err)
	}
	if m.o.To.GatewayPerGroups && m.o.Gateway != nil {
		return fmt.Sprintf("allowed groups %s need a login of their own, and %s runs one login per gateway workload: Gateway %s cannot serve them beside routes with another login; migrate without --gateway (each set of groups gets a Gateway of its own), or keep this Ingress", list, m.o.To.Name, m.o.Gateway)
	}
	return ""
}

// allowedGroups is auth-url's allowed_groups query value, "" when none.
func allowedGroups(authURL string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("allowed_groups")
}
