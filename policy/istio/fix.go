package istio

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/privgate/privgate/policy"
)

// fix is a policy that would cover one publication, as one line of JSON (which is YAML):
// kubectl apply -f takes it as it is.
func (m *mesh) fix(p publication) string {
	b, err := json.Marshal(m.loginPolicy(p.Workload, []string{p.Host}, false))
	if err != nil {
		return ""
	}
	return string(b)
}

// loginPolicy is the CUSTOM AuthorizationPolicy sending every request to hosts on workload w to
// the first configured provider: by targetRefs for a Gateway API Gateway's pods, by selector
// otherwise (from the root namespace when the pods' namespace is unknown). all leaves out hosts
// (the gateway serves only private hosts); so does a host for every name or a wildcard, which
// no hosts value can cover with its ports.
func (m *mesh) loginPolicy(w workload, hosts []string, all bool) map[string]any {
	provider := "<a provider from istio.extensionProviders>"
	if len(m.cfg.ExtensionProviders) > 0 {
		provider = m.cfg.ExtensionProviders[0]
	}
	name, ns := "privgate-login", w.Namespace
	spec := map[string]any{"action": "CUSTOM", "provider": map[string]any{"name": provider}}
	switch gw := w.Labels[gatewayNameLabel]; {
	case gw != "": // pods Istio deployed for a Gateway: attach to the Gateway, from its namespace
		name += "-" + gw
		spec["targetRefs"] = []any{map[string]any{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gw}}
	case len(w.Labels) == 0: // pods unknown (a Gateway not in view): mesh-wide, from the root namespace
		ns = m.cfg.RootNamespace
	default:
		if ns == "" {
			ns = m.cfg.RootNamespace
		}
		spec["selector"] = map[string]any{"matchLabels": w.Labels}
	}
	if all || slices.ContainsFunc(hosts, func(h string) bool { return strings.HasPrefix(h, "*") }) {
		spec["rules"] = []any{map[string]any{}}
	} else {
		var values []string
		for _, h := range hosts {
			values = append(values, h, h+":*")
		}
		spec["rules"] = []any{map[string]any{"to": []any{map[string]any{"operation": map[string]any{"hosts": values}}}}}
	}
	return map[string]any{
		"apiVersion": "security.istio.io/v1",
		"kind":       "AuthorizationPolicy",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}
}

// Fixes are what `privgate istio policy` prints: for each gateway workload publishing private
// hosts that no enforced login policy covers, the CUSTOM policy that would. A workload that
// publishes only private hosts gets one without hosts (every request to it).
func (t *Target) Fixes(c policy.Cluster) []policy.Fix {
	m := load(t.cfg, c)
	type group struct {
		w        workload
		hosts    []string
		onlyPriv bool
	}
	groups := map[string]*group{}
	var order []string
	for _, obj := range m.publishers() {
		for _, p := range m.publications(obj) {
			if !onIstio(p) {
				continue // another implementation's policy, or none
			}
			k := p.Workload.String()
			g := groups[k]
			if g == nil {
				g = &group{w: p.Workload, onlyPriv: true}
				groups[k] = g
				order = append(order, k)
			}
			if !p.Private {
				g.onlyPriv = false
				continue
			}
			if slices.Contains(t.cfg.ExemptHosts, p.Host) || slices.Contains(g.hosts, p.Host) {
				continue
			}
			if !m.judge(p).Covered {
				g.hosts = append(g.hosts, p.Host)
			}
		}
	}
	slices.Sort(order)
	var out []policy.Fix
	for _, k := range order {
		g := groups[k]
		if len(g.hosts) == 0 {
			continue
		}
		slices.Sort(g.hosts)
		out = append(out, policy.Fix{
			Comment: fmt.Sprintf("Login for %s on pods %s", strings.Join(g.hosts, ", "), k),
			Object:  m.loginPolicy(g.w, g.hosts, g.onlyPriv),
		})
	}
	return out
}
