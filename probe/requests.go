package probe

import (
	"net/http"
	"strings"
)

// Target is one private host and the paths its objects route (at least "/").
type Target struct {
	Host  string
	Paths []string
}

// Request is one request probe sends: GET Path (sent as written: never cleaned, never
// re-escaped) with Host, and Header set besides. Variant names the bypass it tries.
type Request struct {
	Host    string      `json:"host"` // the private host probed
	Path    string      `json:"path"` // the path probed (as routed)
	Variant string      `json:"variant"`
	Method  string      `json:"-"`
	Target  string      `json:"sent"`       // the request target sent, raw
	HostHdr string      `json:"hostHeader"` // the Host header sent
	Header  http.Header `json:"-"`
}

// Variants, in the order they are sent.
const (
	Plain          = "plain"
	DoubleSlash    = "double-slash"   // //path: a router cleaning it, a login matching it raw
	EncodedSlash   = "encoded-slash"  // %2F for every slash after the first
	DotSegment     = "dot-segment"    // /./path
	EncodedDot     = "encoded-dot"    // /%2e/path
	OtherCase      = "other-case"     // the path upper-cased (only when it has letters)
	NoAuth         = "no-auth"        // a path under a location the controller serves without login
	NoAuthTraverse = "no-auth-dotdot" // that location, then /.. back to the path
	HostDot        = "host-dot"       // Host: name. (fully qualified)
	HostUpper      = "host-upper"     // Host in upper case
	HostPort       = "host-port"      // Host: name:443
	XOriginalURL   = "x-original-url" // spoofed rewrites a login may trust
	XForwardedPref = "x-forwarded-prefix"
	XForwardedHost = "x-forwarded-host"
	XForwardedURI  = "x-forwarded-uri"
)

// Plan says what to send besides the plain path.
type Plan struct {
	// NoAuth are the locations the controller serves without login (config
	// controller.noAuthLocations): a path under each is requested, and a traversal back from it.
	NoAuth []string
	// LoginHost is the login's own host (exempt from login): the spoofed X-Forwarded-Host.
	LoginHost string
	// MaxPaths bounds the paths probed per host (the first, sorted, are kept; "/" first).
	MaxPaths int
}

// NewPlan is the plan for a login (its own host is the spoofed X-Forwarded-Host), the
// controller's no-auth locations and a bound on paths per host (0: DefaultMaxPaths).
func NewPlan(signin SignIn, noAuth []string, maxPaths int) Plan {
	plan := Plan{NoAuth: noAuth, MaxPaths: maxPaths}
	if len(signin.Hosts) > 0 {
		plan.LoginHost = signin.Hosts[0]
	}
	return plan
}

// DefaultMaxPaths is Plan.MaxPaths when unset.
const DefaultMaxPaths = 8

// HostRequests is how many requests a host costs once, whatever its paths: three Host
// spellings and four spoofed headers, all on its first path.
const HostRequests = 7

// PathRequests is the most a path costs: plain, double-slash, encoded-slash, dot-segment,
// encoded-dot, other-case, and two per no-auth location.
func (p Plan) PathRequests() int { return 6 + 2*len(p.NoAuth) }

// Bound is the most requests probe sends for hosts hosts: hosts × (HostRequests + paths ×
// PathRequests), paths at most MaxPaths per host.
func (p Plan) Bound(hosts int) int { return hosts * (HostRequests + p.maxPaths()*p.PathRequests()) }

func (p Plan) maxPaths() int {
	if p.MaxPaths <= 0 {
		return DefaultMaxPaths
	}
	return p.MaxPaths
}

// Requests are the requests sent for t, in order: for each path its path variants, and on the
// first path the host and header variants.
func (p Plan) Requests(t Target) []Request {
	paths := p.paths(t.Paths)
	var out []Request
	add := func(path, variant, target, host string, header http.Header) {
		out = append(out, Request{Host: t.Host, Path: path, Variant: variant, Method: http.MethodGet, Target: target, HostHdr: host, Header: header})
	}
	for i, path := range paths {
		rest := strings.TrimPrefix(path, "/")
		add(path, Plain, path, t.Host, nil)
		add(path, DoubleSlash, "//"+rest, t.Host, nil)
		add(path, EncodedSlash, "/"+strings.ReplaceAll(rest, "/", "%2F"), t.Host, nil)
		add(path, DotSegment, "/./"+rest, t.Host, nil)
		add(path, EncodedDot, "/%2e/"+rest, t.Host, nil)
		if up := strings.ToUpper(path); up != path {
			add(path, OtherCase, up, t.Host, nil)
		}
		for _, loc := range p.NoAuth {
			loc = "/" + strings.Trim(loc, "/")
			add(path, NoAuth, loc+"/privgate-probe", t.Host, nil)
			add(path, NoAuthTraverse, loc+"/.."+path, t.Host, nil)
		}
		if i > 0 {
			continue
		}
		add(path, HostDot, path, t.Host+".", nil)
		add(path, HostUpper, path, strings.ToUpper(t.Host), nil)
		add(path, HostPort, path, t.Host+":443", nil)
		spoof := "/"
		if len(p.NoAuth) > 0 {
			spoof = "/" + strings.Trim(p.NoAuth[0], "/") + "/"
		}
		forwardedHost := p.LoginHost
		if forwardedHost == "" {
			forwardedHost = "localhost"
		}
		add(path, XOriginalURL, path, t.Host, http.Header{"X-Original-Url": {spoof}})
		add(path, XForwardedPref, path, t.Host, http.Header{"X-Forwarded-Prefix": {spoof}})
		add(path, XForwardedHost, path, t.Host, http.Header{"X-Forwarded-Host": {forwardedHost}})
		add(path, XForwardedURI, path, t.Host, http.Header{"X-Forwarded-Uri": {spoof}})
	}
	return out
}

// paths are the paths probed: "/" when none, sorted and unique as given (callers sort), at most
// MaxPaths; a path a request line cannot carry (a regular expression, a space) is dropped.
func (p Plan) paths(paths []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, path := range paths {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t\r\n?#*()[]{}^$|\\+") || seen[path] {
			continue
		}
		seen[path] = true
		out = append(out, path)
	}
	if len(out) == 0 {
		out = []string{"/"}
	}
	if len(out) > p.maxPaths() {
		out = out[:p.maxPaths()]
	}
	return out
}
