package migrate

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
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
			if !m.o.To.Groups {
				refused = append(refused, Note{id, field(key), m.groupsRefusal(ing.Annotations[key])})
			}
		case isNginx && (name == "auth-url" || name == "auth-signin"):
			// the login, which the implementation's own policy carries (below: its groups)
			if g := allowedGroups(ing.Annotations[key]); name == "auth-url" && g != "" && !m.o.To.Groups && ing.Annotations[m.o.GroupsAnnotation] == "" {
				refused = append(refused, Note{id, field(key), m.groupsRefusal(g)})
			}
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

// groupsRefusal says why allowed groups cannot move to an implementation without them.
func (m *migration) groupsRefusal(groups string) string {
	return fmt.Sprintf("allowed groups %s narrow who gets in, and %s sends every route to one fixed login URL, so they would be lost (everyone who can log in would get in): keep this Ingress, or give its groups a login of their own (an oauth2-proxy with --allowed-group) and migrate it without the annotation", groups, m.o.To.Name)
}

// allowedGroups is auth-url's allowed_groups query value, "" when none.
func allowedGroups(authURL string) string {
	u, err := url.Parse(authURL)
	if err != nil {
		return ""
	}
	return u.Query().Get("allowed_groups")
}
