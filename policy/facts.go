package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// HostFact is what privgate knows of one host an Ingress answers. The same facts drive mutation
// (Go) and judgement (Rego), so the two can never disagree on which hosts are private.
type HostFact struct {
	Host    string `json:"host"`    // normalized; "*" for a catch-all (rule without host, defaultBackend)
	Field   string `json:"field"`   // where it is set, for messages: spec.rules[0].host
	Private bool   `json:"private"` // inside a private zone (or a catch-all while hostlessRules is private)
	Exempt  bool   `json:"exempt"`  // listed in exemptHosts
	TLS     bool   `json:"tls"`     // covered by spec.tls; always true for a catch-all (nothing to name)
	Any     bool   `json:"any"`     // a catch-all answering every hostname
}

// Facts are the Go-computed view of an Ingress that the policy judges alongside the object.
type Facts struct {
	Hosts []HostFact `json:"hosts"`
	// ACMESolver is set for a cert-manager HTTP-01 solver Ingress recognised by its whole shape
	// and its creator, not by its label alone.
	ACMESolver bool `json:"acmeSolver"`
}

// Protected reports whether the Ingress needs login: it answers a private host that is not
// exempt, and it is not a cert-manager solver.
func (f Facts) Protected() bool {
	if f.ACMESolver {
		return false
	}
	for _, h := range f.Hosts {
		if h.Private && !h.Exempt {
			return true
		}
	}
	return false
}

// AnyPrivate reports whether any host is private, exempt or not.
func (f Facts) AnyPrivate() bool {
	return slices.ContainsFunc(f.Hosts, func(h HostFact) bool { return h.Private })
}

// Inspect computes the facts of an Ingress. username is the requesting user ("" when unknown, as
// in privgate check), used to recognise cert-manager's solver Ingresses.
func (c *Config) Inspect(ing *networkingv1.Ingress, username string) Facts {
	zones := c.zones()
	f := Facts{}
	seen := map[string]bool{}
	add := func(host, field string) {
		h := NormalizeHost(host)
		anyHost := h == ""
		if anyHost {
			h = "*"
		}
		if seen[h] {
			return
		}
		seen[h] = true
		hf := HostFact{Host: h, Field: field, Any: anyHost}
		if anyHost {
			hf.Private, hf.TLS = c.HostlessRules == "private", true
		} else {
			hf.Private = zones.Private(h)
			hf.Exempt = slices.Contains(c.ExemptHosts, h)
			hf.TLS = tlsCovered(ing.Spec.TLS, h)
		}
		f.Hosts = append(f.Hosts, hf)
	}
	for i, r := range ing.Spec.Rules {
		add(r.Host, fmt.Sprintf("spec.rules[%d].host", i))
	}
	if ing.Spec.DefaultBackend != nil {
		// ingress-nginx serves an Ingress's defaultBackend from the catch-all server, whatever
		// its rules say, so it answers every hostname.
		add("", "spec.defaultBackend")
	}
	f.ACMESolver = c.isACMESolver(ing, username)
	return f
}

func tlsCovered(entries []networkingv1.IngressTLS, host string) bool {
	for _, t := range entries {
		for _, th := range t.Hosts {
			if TLSCovers(th, host) {
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
func (c *Config) isACMESolver(ing *networkingv1.Ingress, username string) bool {
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
