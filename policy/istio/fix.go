package istio

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

// fix is a policy that would cover one publication, as one line of JSON (which is YAML):
// kubectl apply -f takes it as it is.
func (m *mesh) fix(p publication) string {
	b, err := json.Marshal(m.loginPolicy(p.Workload, m.provider(p.Groups), []string{p.Host}, false))
	if err != nil {
		return ""
	}
	return string(b)
}

// provider is the login for routes allowing groups (none: everyone who logs in): the group
// login for exactly those groups, else the first of istio.extensionProviders.
func (m *mesh) provider(groups []string) string {
	if len(groups) > 0 {
		if g, ok := gatewayapi.FindGroupLogin(m.cfg.GroupLogins, groups); ok {
			return g.Provider
		}
		return fmt.Sprintf("<a provider of %s for %s>", GroupLoginsKey, strings.Join(groups, ","))
	}
	if len(m.cfg.ExtensionProviders) > 0 {
		return m.cfg.ExtensionProviders[0]
	}
	return "<a provider from istio.extensionProviders>"
}

// loginPolicy is the CUSTOM AuthorizationPolicy sending every request to hosts on workload w to
// provider: by targetRefs for a Gateway API Gateway's pods, by selector otherwise (from the
// root namespace when the pods' namespace is unknown). all leaves out hosts (the gateway serves
// only private hosts); so does a host for every name or a wildcard, which no hosts value can
// cover with its ports.
func (m *mesh) loginPolicy(w workload, provider string, hosts []string, all bool) map[string]any {
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
// publishes only private hosts gets one without hosts (every request to it). Routes allowing
// only some groups need their group's provider, and Istio applies one per workload: a workload
// whose uncovered hosts ask for several gets a policy for the first set only (by the order the
// hosts sort in), the hosts that promise no groups with it, and the comment says which hosts
// need a Gateway of their own.
func (t *Target) Fixes(c policy.Cluster) []policy.Fix {
	m := load(t.cfg, c)
	type group struct {
		w        workload
		hosts    []string
		groups   map[string][]string // host -> the groups its route allows
		onlyPriv bool
	}
	byWorkload := map[string]*group{}
	var order []string
	for _, obj := range m.publishers() {
		for _, p := range m.publications(obj) {
			if !onIstio(p) {
				continue // another implementation's policy, or none
			}
			k := p.Workload.String()
			g := byWorkload[k]
			if g == nil {
				g = &group{w: p.Workload, onlyPriv: true, groups: map[string][]string{}}
				byWorkload[k] = g
				order = append(order, k)
			}
			if !p.Private {
				g.onlyPriv = false
				continue
			}
			listed := slices.Contains(g.hosts, p.Host)
			if slices.Contains(t.cfg.ExemptHosts, p.Host) || listed && len(p.Groups) == 0 {
				continue
			}
			if !m.judge(p).Covered {
				if !listed {
					g.hosts = append(g.hosts, p.Host)
				}
				if len(p.Groups) > 0 {
					// A route's groups speak for the host: a Gateway's own listener promises none.
					g.groups[p.Host] = p.Groups
				}
			}
		}
	}
	slices.Sort(order)
	var out []policy.Fix
	for _, k := range order {
		g := byWorkload[k]
		if len(g.hosts) == 0 {
			continue
		}
		slices.Sort(g.hosts)
		// The first set of groups a route allows (by host order) picks the provider; hosts that
		// promise no groups go with it (a group login is a login, narrower).
		var first []string
		if i := slices.IndexFunc(g.hosts, func(h string) bool { return len(g.groups[h]) > 0 }); i >= 0 {
			first = g.groups[g.hosts[i]]
		}
		hosts, others := partition(g.hosts, func(h string) bool { return len(g.groups[h]) == 0 || groups.Same(g.groups[h], first) })
		comment := fmt.Sprintf("Login for %s on pods %s", strings.Join(hosts, ", "), k)
		if len(first) > 0 {
			comment += " (allowed groups " + strings.Join(first, ",") + ")"
		}
		if len(others) > 0 {
			comment += fmt.Sprintf("; %s allow other groups, whose provider Istio cannot run on the same pods: publish them through a Gateway of their own", strings.Join(others, ", "))
		}
		out = append(out, policy.Fix{Comment: comment, Object: m.loginPolicy(g.w, m.provider(first), hosts, g.onlyPriv && len(others) == 0)})
	}
	return out
}

// partition splits hosts into those keep holds for and the others, in order.
func partition(hosts []string, keep func(string) bool) (in, out []string) {
	for _, h := range hosts {
		if keep(h) {
			in = append(in, h)
		} else {
			out = append(out, h)
		}
	}
	return in, out
}
