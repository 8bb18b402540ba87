package ingress

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/privgate/privgate/policy"
)

// facts classifies every host an Ingress answers. username is the requesting user ("" when
// unknown, as in privgate check), used to recognise cert-manager's solver Ingresses.
func (t *Target) facts(ing *networkingv1.Ingress, username string) policy.Facts {
	c := t.cfg
	f := policy.Facts{}
	// Which controller executes the class, decided once for what Go reads (aliases) and what
	// the Rego judges (input.nginxProvider).
	nginxProvider := c.nginxProvider(ing)
	seen := map[string]bool{}
	// private says whether a (normalized, non-empty) name can answer a private name, as the
	// component serving it matches names.
	add := func(host, field string, private func(string) bool) {
		h := policy.NormalizeHost(host)
		anyHost := h == ""
		if anyHost {
			h = "*"
		}
		if seen[h] {
			return
		}
		seen[h] = true
		hf := policy.HostFact{Host: h, Field: field, Any: anyHost}
		if anyHost {
			hf.Private, hf.TLS = c.HostlessRules == "private", true
		} else {
			hf.Private = private(h)
			hf.Exempt = slices.Contains(c.ExemptHosts, h)
			// A pattern no certificate can name (".example.com", "grafana.*") is served with its
			// server's certificate: nothing to add for it.
			hf.TLS = !tlsNameable(h) || tlsCovered(ing.Spec.TLS, h)
		}
		f.Hosts = append(f.Hosts, hf)
	}
	// A rule's host is a DNS name or "*." and one (the API server validates it); ingress-nginx
	// makes the wildcard a regex of one label (template.go, buildServerName).
	for i, r := range ing.Spec.Rules {
		add(r.Host, fmt.Sprintf("spec.rules[%d].host", i), t.zones.Private)
	}
	if ing.Spec.DefaultBackend != nil && len(ing.Spec.Rules) == 0 {
		// ingress-nginx makes an Ingress's defaultBackend the catch-all server's only when the
		// Ingress has no rules (controller.go, createServers; ingress-nginx#8823). With rules
		// it serves just this Ingress's hosts.
		add("", "spec.defaultBackend", nil)
	}
	// Names given in annotations are answered too, whatever the Ingress's other hosts are, and
	// nginx matches them as server_name entries (no API server validates them): wildcards at
	// any depth, ".domain", "prefix.*" and regular expressions (docs/ingress-nginx.md).
	for _, alias := range t.aliases(ing, nginxProvider) {
		switch {
		case strings.HasPrefix(alias, "~"):
			// A regular expression may match any name, private ones included, whatever
			// hostlessRules says of rules without host: privgate does not prove it misses them.
			add("", aliasField(c), nil)
			for i := range f.Hosts {
				if f.Hosts[i].Any {
					f.Hosts[i].Private = true
				}
			}
		case policy.NormalizeHost(alias) != "": // "." names no host; it is no catch-all either
			add(alias, aliasField(c), t.zones.PrivateServerName)
		}
	}
	in := &input{ACMESolver: isACMESolver(c, ing, username), NGINXProvider: nginxProvider}
	if in.ACMESolver {
		f.Exempt = "cert-manager HTTP-01 solver"
	}
	if ing.Spec.IngressClassName != nil {
		in.named = append(in.named, *ing.Spec.IngressClassName)
	}
	if c, ok := ing.Annotations[AnnotationIngressClass]; ok && !slices.Contains(in.named, c) {
		in.named = append(in.named, c)
	}
	if t.traefikClass(ing) {
		in.Traefik = t.traefikFacts(ing)
	}
	f.Input = in
	return f
}

// aliases are the server-alias names as ingress-nginx reads them: split on ",", each trimmed,
// blanks skipped (alias/main.go). Traefik's NGINX provider does not read the annotation: an
// Ingress of a class it serves answers its rules' hosts only.
func (t *Target) aliases(ing *networkingv1.Ingress, nginxProvider bool) []string {
	if nginxProvider {
		return nil
	}
	var out []string
	for a := range strings.SplitSeq(ing.Annotations[aliasKey(t.cfg)], ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func aliasKey(c config) string { return c.AnnotationPrefix + "/server-alias" }

func aliasField(c config) string {
	return "metadata.annotations[" + aliasKey(c) + "]"
}

// tlsNameable reports whether spec.tls[].hosts can hold h: the API server takes a DNS name or
// a "*." wildcard of one there (networking validation, validateIngressTLS).
func tlsNameable(h string) bool {
	if strings.Contains(h, "*") {
		return len(validation.IsWildcardDNS1123Subdomain(h)) == 0
	}
	return len(validation.IsDNS1123Subdomain(h)) == 0
}

func tlsCovered(entries []networkingv1.IngressTLS, host string) bool {
	for _, t := range entries {
		for _, th := range t.Hosts {
			if policy.TLSCovers(th, host) {
				return true
			}
		}
	}
	return false
}

var acmeTokenPath = regexp.MustCompile(`^/\.well-known/acme-challenge/[A-Za-z0-9_-]+$`)

// isACMESolver recognises the Ingress cert-manager creates for an HTTP-01 challenge: its label,
// a controller owner reference to a Challenge, one rule with one path to the token and a
// cm-acme-http-solver backend, created by cert-manager itself when the requester is known.
// Copying the label onto an ordinary Ingress matches none of the rest.
func isACMESolver(c config, ing *networkingv1.Ingress, username string) bool {
	if ing.Labels["acme.cert-manager.io/http01-solver"] != "true" {
		return false
	}
	if username != "" && !slices.Contains(c.ACMESolverUsers, username) {
		return false
	}
	owners := ing.OwnerReferences
	if len(owners) != 1 || owners[0].Kind != "Challenge" || owners[0].APIVersion != "acme.cert-manager.io/v1" ||
		owners[0].Controller == nil || !*owners[0].Controller {
		return false
	}
	if ing.Spec.DefaultBackend != nil || len(ing.Spec.Rules) != 1 {
		return false
	}
	http := ing.Spec.Rules[0].HTTP
	if http == nil || len(http.Paths) != 1 {
		return false
	}
	p := http.Paths[0]
	if !acmeTokenPath.MatchString(p.Path) || p.Backend.Service == nil ||
		!strings.HasPrefix(p.Backend.Service.Name, "cm-acme-http-solver-") {
		return false
	}
	if p.PathType != nil && *p.PathType == networkingv1.PathTypePrefix {
		return false // a Prefix path would also route /.well-known/acme-challenge/<token>/anything
	}
	return true
}
