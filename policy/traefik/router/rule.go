package router

import (
	"regexp"
	"strconv"
	"strings"
)

// Match is what a router's rule says of hosts: the names its Host (or HostSNI) matchers give,
// whether a HostRegexp (HostSNIRegexp) can take other names, and whether it matches whatever
// the host (no host matcher, or one under a negation).
type Match struct {
	Hosts  []string
	Regexp []string
	Any    bool
}

// hostMatcher finds Host, HostRegexp, HostSNI and HostSNIRegexp calls and their arguments, in
// backquotes or double quotes (pkg/muxer/http/matcher.go, pkg/muxer/tcp/matcher.go).
var (
	hostMatcher = regexp.MustCompile("(HostSNIRegexp|HostSNI|HostRegexp|Host)\\s*\\(((?:\\s*(?:`[^`]*`|\"[^\"]*\")\\s*,?)*)\\)")
	argument    = regexp.MustCompile("`([^`]*)`|\"([^\"]*)\"")
)

// ParseMatch reads a rule's host matchers. It does not evaluate the rule's logic: a rule
// naming several hosts (Host(a) || Host(b)) answers each; one with a negation (!) or without any
// host matcher may answer every name, and is taken to (fail closed).
func ParseMatch(rule string) Match {
	var m Match
	calls := hostMatcher.FindAllStringSubmatch(rule, -1)
	if len(calls) == 0 || strings.Contains(rule, "!") {
		m.Any = true
	}
	for _, c := range calls {
		for _, a := range argument.FindAllStringSubmatch(c[2], -1) {
			v := a[1] + a[2]
			switch c[1] {
			case "Host":
				m.Hosts = append(m.Hosts, v)
			case "HostSNI":
				if v == "*" {
					m.Any = true // HostSNI(`*`): every connection
				} else {
					m.Hosts = append(m.Hosts, v)
				}
			default:
				m.Regexp = append(m.Regexp, v)
			}
		}
	}
	if len(m.Hosts) == 0 && len(m.Regexp) == 0 {
		m.Any = true // Host() with nothing readable in it: no name privgate can hold it to
	}
	return m
}

// Priority is a router's priority: the one set, else the rule's length
// (GetRulePriority, pkg/muxer/http/mux.go): the longer rule wins among routers of one host.
func Priority(rule string, set int) int {
	if set != 0 {
		return set
	}
	return len(rule)
}

// Traefik's Ingress annotations (pkg/provider/kubernetes/ingress/annotations.go).
const (
	AnnotationPrefix      = "traefik.ingress.kubernetes.io/"
	AnnotationMiddlewares = AnnotationPrefix + "router.middlewares"
	AnnotationTLS         = AnnotationPrefix + "router.tls"
	AnnotationEntryPoints = AnnotationPrefix + "router.entrypoints"
)

// IngressMiddlewares reads an Ingress's router.middlewares as Traefik's label decoder does
// (paerser: split on ",", each entry trimmed), each qualified in the Ingress provider.
func IngressMiddlewares(value, field string) []Ref {
	if value == "" {
		return nil
	}
	var refs []Ref
	for _, name := range strings.Split(value, ",") {
		refs = append(refs, Ref{Name: Qualify(strings.TrimSpace(name), ProviderIngress), Field: field})
	}
	return refs
}

// RouteMiddlewares are an IngressRoute route's middlewares as the CRD provider names them
// (makeMiddlewareKeys, pkg/provider/kubernetes/crd/kubernetes_http.go), and why Traefik skips
// the route ("" when it does not): with allowCrossNamespace false, a Middleware of another
// namespace, or any name@kubernetescrd, cannot be referenced.
func (s *Settings) RouteMiddlewares(namespace string, mws []MiddlewareRef, field string) ([]Ref, string) {
	var refs []Ref
	for i, mi := range mws {
		f := field + ".middlewares[" + itoa(i) + "]"
		if !s.AllowCrossNamespace && strings.HasSuffix(mi.Name, "@"+ProviderCRD) {
			return nil, f + ": " + mi.Name + " names a kubernetescrd middleware directly, which allowCrossNamespace false refuses"
		}
		if strings.Contains(mi.Name, "@") {
			refs = append(refs, Ref{Name: mi.Name, Field: f})
			continue
		}
		ns := namespace
		if mi.Namespace != "" {
			if !s.AllowCrossNamespace && mi.Namespace != namespace {
				return nil, f + ": Middleware " + mi.Namespace + "/" + mi.Name + " is in another namespace, which allowCrossNamespace false refuses"
			}
			ns = mi.Namespace
		}
		refs = append(refs, Ref{Name: CRDID(ns, mi.Name) + "@" + ProviderCRD, Field: f})
	}
	return refs, ""
}

func itoa(i int) string { return strconv.Itoa(i) }

// IngressEntryPoints reads an Ingress's router.entrypoints as the label decoder does.
func IngressEntryPoints(value string) []string {
	if value == "" {
		return nil
	}
	var out []string
	for _, ep := range strings.Split(value, ",") {
		out = append(out, strings.TrimSpace(ep))
	}
	return out
}
