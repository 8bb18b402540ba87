package envoygateway

import (
	"encoding/json"
	"slices"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy"
)

// fixJSON is fixObject as one line of JSON (which is YAML): kubectl apply -f takes it as it is.
func (l *login) fixJSON(gw *gatewayv1.Gateway, written *SecurityPolicy) string {
	b, err := json.Marshal(l.fixObject(gw, written))
	if err != nil {
		return ""
	}
	return string(b)
}

// fixObject is a SecurityPolicy that puts login in force: the policy in force as written with
// the login's extAuth (and without passThroughAuthHeader), so that what else it sets stays; or,
// where none is in force, one on the whole Gateway, from its namespace.
func (l *login) fixObject(gw *gatewayv1.Gateway, written *SecurityPolicy) map[string]any {
	name, ns := "privgate-login-"+gw.Name, gw.Namespace
	spec := map[string]any{"targetRefs": []any{map[string]any{"group": gatewayv1.GroupName, "kind": "Gateway", "name": gw.Name}}}
	if written != nil {
		name, ns, spec = written.Name, written.Namespace, written.Spec.Doc()
		if o, ok := spec["oidc"].(map[string]any); ok {
			delete(o, "passThroughAuthHeader")
		}
	}
	spec["extAuth"] = l.extAuth(ns)
	return map[string]any{
		"apiVersion": GroupVersion.String(),
		"kind":       "SecurityPolicy",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}
}

// extAuth is HTTP external authorization to the first configured login service, with the
// session cookie sent along (Envoy Gateway sends an HTTP service only Host, Method, Path,
// Content-Length and Authorization unless headersToExtAuth lists more).
func (l *login) extAuth(policyNS string) map[string]any {
	ref := map[string]any{"name": "<a Service of envoyGateway.extAuthServices>", "port": 4180}
	if len(l.cfg.ExtAuthServices) > 0 {
		ns, name, _ := strings.Cut(l.cfg.ExtAuthServices[0], "/")
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

// grantFix is the ReferenceGrant a policy in namespace from needs to use the first login
// service in another namespace; nil when none is needed or one exists.
func (l *login) grantFix(from string) map[string]any {
	if len(l.cfg.ExtAuthServices) == 0 {
		return nil
	}
	ns, name, _ := strings.Cut(l.cfg.ExtAuthServices[0], "/")
	if l.granted(from, GroupVersion.Group, "SecurityPolicy", ns, "", "Service", name) {
		return nil
	}
	return map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "ReferenceGrant",
		"metadata":   map[string]any{"name": "privgate-login-" + from, "namespace": ns},
		"spec": map[string]any{
			"from": []any{map[string]any{"group": GroupVersion.Group, "kind": "SecurityPolicy", "namespace": from}},
			"to":   []any{map[string]any{"group": "", "kind": "Service", "name": name}},
		},
	}
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
		e := l.Coverage(p)
		if e.Covered || e.Exempt || e.Uncheckable {
			continue
		}
		var written *SecurityPolicy
		for _, g := range e.Gaps {
			if g.Policy != "" {
				written = s.byName(strings.TrimPrefix(g.Policy, "SecurityPolicy "))
				break
			}
		}
		fix := l.fixObject(p.Workload.Gateway, written)
		add("Login for "+p.Host+" ("+p.By+")", fix)
		ns := fix["metadata"].(map[string]any)["namespace"].(string)
		if g := l.grantFix(ns); g != nil {
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
