package envoygateway

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

// fixJSON is fixObject as one line of JSON (which is YAML): kubectl apply -f takes it as it is.
func (l *login) fixJSON(gw *gatewayv1.Gateway, p gatewayapi.Publication, written *SecurityPolicy) string {
	b, err := json.Marshal(l.fixObject(gw, p, written))
	if err != nil {
		return ""
	}
	return string(b)
}

// fixObject is a SecurityPolicy that puts p's login in force: the policy in force as written
// with the login's extAuth (and without passThroughAuthHeader), so that what else it sets
// stays; or, where none is in force, one on the whole Gateway, from its namespace. A route
// allowing only some groups gets its group login from a policy on the route itself (which
// overrides the Gateway's), unless the one in force is already the route's.
func (l *login) fixObject(gw *gatewayv1.Gateway, p gatewayapi.Publication, written *SecurityPolicy) map[string]any {
	name, ns := "privgate-login-"+gw.Name, gw.Namespace
	spec := map[string]any{"targetRefs": []any{map[string]any{"group": gatewayv1.GroupName, "kind": "Gateway", "name": gw.Name}}}
	switch {
	case len(p.Groups) > 0 && p.Route != nil && (written == nil || !l.onRoute(written, p.Route)):
		m := metaOf(p.Route)
		name, ns = "privgate-login-"+m.GetName(), m.GetNamespace()
		spec = map[string]any{"targetRefs": []any{map[string]any{"group": gatewayv1.GroupName, "kind": kindOf(p.Route), "name": m.GetName()}}}
	case written != nil:
		name, ns, spec = written.Name, written.Namespace, written.Spec.Doc()
		if o, ok := spec["oidc"].(map[string]any); ok {
			delete(o, "passThroughAuthHeader")
		}
	}
	spec["extAuth"] = l.extAuth(ns, p.Groups)
	return map[string]any{
		"apiVersion": GroupVersion.String(),
		"kind":       "SecurityPolicy",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}
}

// onRoute reports whether a policy attaches to the route or one of its rules.
func (l *login) onRoute(p *SecurityPolicy, route runtime.Object) bool {
	k, m := kindOf(route), metaOf(route)
	return l.targetsRoute(p, k, m) || slices.ContainsFunc(rulesOf(route), func(r routeRule) bool { return r.name != "" && targetsRule(p, k, m, r.name) })
}

// service is the login service, namespace/name, of routes allowing groups (none: everyone who
// logs in): the group login for exactly those groups, else the first of extAuthServices; ""
// when none is configured.
func (l *login) service(groups []string) string {
	if len(groups) > 0 {
		g, _ := gatewayapi.FindGroupLogin(l.cfg.GroupLogins, groups)
		return g.Service
	}
	if len(l.cfg.ExtAuthServices) > 0 {
		return l.cfg.ExtAuthServices[0]
	}
	return ""
}

// extAuth is HTTP external authorization to the login service of groups, with the session
// cookie sent along (Envoy Gateway sends an HTTP service only Host, Method, Path,
// Content-Length and Authorization unless headersToExtAuth lists more).
func (l *login) extAuth(policyNS string, groups []string) map[string]any {
	ref := map[string]any{"name": "<a Service of envoyGateway.extAuthServices>", "port": 4180}
	if len(groups) > 0 {
		ref["name"] = fmt.Sprintf("<a Service of %s for %s>", GroupLoginsKey, strings.Join(groups, ","))
	}
	if svc := l.service(groups); svc != "" {
		ns, name, _ := strings.Cut(svc, "/")
		ref["name"] = name
		if ns != policyNS {
			ref["namespace"] = ns
		}
		if l.services != nil {
			if s := l.services(ns, name); s != nil && len(s.Spec.Ports) > 0 {
				ref["port"] = s.Spec.Ports[0].Port
			}
		}
	}
	return map[string]any{"http": map[string]any{"backendRefs": []any{ref}}, "headersToExtAuth": []any{"cookie"}}
}

// grantFix is the ReferenceGrant a policy in namespace from needs to use the login service of
// groups in another namespace; nil when none is needed or one exists.
func (l *login) grantFix(from string, groups []string) map[string]any {
	svc := l.service(groups)
	if svc == "" {
		return nil
	}
	ns, name, _ := strings.Cut(svc, "/")
	if l.granted(from, GroupVersion.Group, "SecurityPolicy", ns, "", "Service", name) {
		return nil
	}
	return map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "ReferenceGrant",
		"metadata":   map[string]any{"name": "privgate-login-" + from + grantSuffix(name, groups), "namespace": ns},
		"spec": map[string]any{
			"from": []any{map[string]any{"group": GroupVersion.Group, "kind": "SecurityPolicy", "namespace": from}},
			"to":   []any{map[string]any{"group": "", "kind": "Service", "name": name}},
		},
	}
}

// grantSuffix tells apart the grants of one namespace to several login services: the group
// logins' grants are named for their Service.
func grantSuffix(service string, groups []string) string {
	if len(groups) == 0 {
		return ""
	}
	return "-" + service
}

// Fixes are what `privgate envoygateway policy` prints: for each published private host on
// Envoy Gateway that no login covers, the SecurityPolicy that would (each once), and the
// ReferenceGrants they need to reach the login service.
func (t *Target) Fixes(c policy.Cluster) []policy.Fix {
	s := load(t.cfg, c)
	l := s.login(s.policies)
	var out []policy.Fix
	seen := map[string]bool{}
	add := func(comment string, obj map[string]any) {
		if obj == nil {
			return
		}
		md := obj["metadata"].(map[string]any)
		k := obj["kind"].(string) + " " + md["namespace"].(string) + "/" + md["name"].(string)
		if seen[k] {
			return
		}
		seen[k] = true
		out = append(out, policy.Fix{Comment: comment, Object: obj})
	}
	for _, p := range s.published() {
		e, written := l.coverage(p)
		if e.Covered || e.Exempt || e.Uncheckable {
			continue
		}
		fix := l.fixObject(p.Workload.Gateway, p, written)
		comment := "Login for " + p.Host + " (" + p.By + ")"
		if len(p.Groups) > 0 {
			comment += ", allowing groups " + strings.Join(p.Groups, ",")
		}
		add(comment, fix)
		ns := fix["metadata"].(map[string]any)["namespace"].(string)
		if g := l.grantFix(ns, p.Groups); g != nil {
			add("Lets SecurityPolicies of "+ns+" use the login service", g)
		}
	}
	slices.SortStableFunc(out, func(a, b policy.Fix) int { return strings.Compare(kindOrder(a), kindOrder(b)) })
	return out
}

// kindOrder puts ReferenceGrants first: the policies need them.
func kindOrder(f policy.Fix) string {
	if f.Object["kind"] == "ReferenceGrant" {
		return "0"
	}
	return "1"
}
