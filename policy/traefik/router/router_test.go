package router_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/policy/traefik/router"
)

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"traefik-oauth2-proxy":  "traefik-oauth2-proxy",
		"traefik-oauth2.proxy":  "traefik-oauth2-proxy", // a dotted name collides with a dashed one
		"traefik--oauth2--pr..": "traefik-oauth2-pr",
		"-a-":                   "a",
	}
	for in, want := range cases {
		if got := router.Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMatch(t *testing.T) {
	cases := map[string]struct {
		rule          string
		hosts, regexp string
		any           bool
	}{
		"host":         {"Host(`a.example.com`)", "a.example.com", "", false},
		"double quote": {`Host("a.example.com") && PathPrefix("/x")`, "a.example.com", "", false},
		"or":           {"Host(`a.example.com`) || Host(`b.private.example.com`)", "a.example.com,b.private.example.com", "", false},
		"v2 list":      {"Host(`a`, `b`)", "a,b", "", false},
		"regexp":       {"HostRegexp(`^.+\\.example\\.com$`)", "", "^.+\\.example\\.com$", false},
		"no host":      {"PathPrefix(`/`)", "", "", true},
		"negation":     {"Host(`a`) && !Host(`b`)", "a,b", "", true},
		"sni":          {"HostSNI(`db.private.example.com`)", "db.private.example.com", "", false},
		"sni any":      {"HostSNI(`*`)", "", "", true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m := router.ParseMatch(c.rule)
			if strings.Join(m.Hosts, ",") != c.hosts || strings.Join(m.Regexp, ",") != c.regexp || m.Any != c.any {
				t.Errorf("got %+v", m)
			}
		})
	}
}

func TestPriority(t *testing.T) {
	if got := router.Priority("Host(`a`)", 0); got != 9 {
		t.Errorf("default priority = %d, want the rule's length 9", got)
	}
	if got := router.Priority("Host(`a`)", 100); got != 100 {
		t.Errorf("set priority = %d", got)
	}
}

func settings() *router.Settings {
	s := &router.Settings{AuthAddress: "http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth"}
	s.Default(nil)
	return s
}

func TestRouteMiddlewares(t *testing.T) {
	cases := map[string]struct {
		cross   bool
		refs    []router.MiddlewareRef
		want    string
		skipped bool
	}{
		"own namespace":         {false, []router.MiddlewareRef{{Name: "login"}}, "web-login@kubernetescrd", false},
		"explicit own":          {false, []router.MiddlewareRef{{Name: "login", Namespace: "web"}}, "web-login@kubernetescrd", false},
		"other namespace":       {false, []router.MiddlewareRef{{Name: "oauth2-proxy", Namespace: "traefik"}}, "", true},
		"other, allowed":        {true, []router.MiddlewareRef{{Name: "oauth2-proxy", Namespace: "traefik"}}, "traefik-oauth2-proxy@kubernetescrd", false},
		"crd name, not allowed": {false, []router.MiddlewareRef{{Name: "traefik-oauth2-proxy@kubernetescrd"}}, "", true},
		"other provider":        {false, []router.MiddlewareRef{{Name: "auth@file"}}, "auth@file", false},
		"dotted name":           {false, []router.MiddlewareRef{{Name: "log.in"}}, "web-log-in@kubernetescrd", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := settings()
			s.AllowCrossNamespace = c.cross
			refs, skipped := s.RouteMiddlewares("web", c.refs, "spec.routes[0]")
			var got []string
			for _, r := range refs {
				got = append(got, r.Name)
			}
			if strings.Join(got, ",") != c.want || (skipped != "") != c.skipped {
				t.Errorf("got %v, skipped %q", got, skipped)
			}
		})
	}
}

func middleware(t *testing.T, ns, name, spec string) runtime.Object {
	t.Helper()
	raw := fmt.Sprintf(`{"apiVersion":"traefik.io/v1alpha1","kind":"Middleware","metadata":{"namespace":%q,"name":%q},"spec":%s}`, ns, name, spec)
	obj, err := router.Decode(router.MiddlewareKind.GroupKind(), []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestServe: the chain a router runs on each entrypoint, entrypoint middlewares first.
func TestServe(t *testing.T) {
	auth := `{"forwardAuth":{"address":"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth"}}`
	x := router.NewIndex([]runtime.Object{
		middleware(t, "traefik", "oauth2-proxy", auth),
		middleware(t, "web", "headers", `{"headers":{}}`),
		middleware(t, "web", "loop", `{"chain":{"middlewares":[{"name":"loop"}]}}`),
		middleware(t, "web", "two", `{"headers":{},"redirectScheme":{"scheme":"https"}}`),
		middleware(t, "web", "secure", `{"chain":{"middlewares":[{"name":"headers"},{"name":"oauth2-proxy","namespace":"traefik"}]}}`),
	})
	cases := map[string]struct {
		entry []string
		refs  string
		want  string // per entrypoint: id:state:login:safe, ...
	}{
		"login":            {nil, "traefik-oauth2-proxy@kubernetescrd", "web[0] traefik-oauth2-proxy@kubernetescrd:ok:true:false|websecure[0] traefik-oauth2-proxy@kubernetescrd:ok:true:false"},
		"entrypoint first": {[]string{"metrics"}, "traefik-oauth2-proxy@kubernetescrd", "metrics[1] plugin@file:foreign:false:false,traefik-oauth2-proxy@kubernetescrd:ok:true:false"},
		"unqualified":      {[]string{"websecure"}, "traefik-oauth2-proxy", "websecure[-1] traefik-oauth2-proxy@kubernetes:missing:false:false"},
		"through a chain":  {[]string{"websecure"}, "web-secure@kubernetescrd", "websecure[1] web-headers@kubernetescrd:ok:false:true,traefik-oauth2-proxy@kubernetescrd:ok:true:false"},
		"recursion":        {[]string{"websecure"}, "web-loop@kubernetescrd", "websecure[-1] web-loop@kubernetescrd:invalid:false:false"},
		"two types":        {[]string{"websecure"}, "web-two@kubernetescrd", "websecure[-1] web-two@kubernetescrd:invalid:false:false"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := settings()
			s.EntryPoints["metrics"] = []string{"plugin@file"}
			if c.entry == nil {
				delete(s.EntryPoints, "metrics")
			}
			var eps []string
			for _, ep := range s.Serve(x, c.entry, "f", router.IngressMiddlewares(c.refs, "f")) {
				var links []string
				for _, l := range ep.Chain.Links {
					links = append(links, fmt.Sprintf("%s:%s:%v:%v", l.ID, l.State, l.Login, l.Safe))
				}
				eps = append(eps, fmt.Sprintf("%s[%d] %s", ep.Name, ep.Chain.Login, strings.Join(links, ",")))
			}
			if got := strings.Join(eps, "|"); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestSettingsValidate: every problem at once, each under its path.
func TestSettingsValidate(t *testing.T) {
	var s router.Settings
	if err := json.Unmarshal([]byte(`{"ingressClasses":["Traefik"],"loginMiddleware":"oauth2-proxy","authAddress":"oauth2-proxy:4180","entryPoints":{"web":["auth"]},"tlsEntryPoints":["websecure"]}`), &s); err != nil {
		t.Fatal(err)
	}
	s.Default(nil)
	var got []string
	for _, e := range s.Validate(nil, field.NewPath("traefik")) {
		got = append(got, e.Field)
	}
	want := []string{"traefik.ingressClasses[0]", "traefik.loginMiddleware", "traefik.authAddress", "traefik.entryPoints[web][0]", "traefik.tlsEntryPoints[0]"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	ok := settings()
	ok.LoginMiddleware = "traefik/oauth2-proxy"
	if errs := ok.Validate(nil, field.NewPath("traefik")); len(errs) > 0 {
		t.Errorf("defaults: %v", errs)
	}
	if got := ok.LoginID(); got != "traefik-oauth2-proxy@kubernetescrd" {
		t.Errorf("LoginID = %s", got)
	}
}

// TestDecodeErrors: a bad object names its kind and field, never panics.
func TestDecodeErrors(t *testing.T) {
	_, err := router.Decode(router.IngressRouteKind.GroupKind(), []byte(`{"spec":{"routes":"Host(a)"}}`))
	if err == nil || !strings.Contains(err.Error(), "not a valid IngressRoute") || !strings.Contains(err.Error(), "spec.routes") {
		t.Errorf("got %v", err)
	}
}

// FuzzParseMatch: any rule, however malformed, is read without a panic, and a rule naming no
// host it can read is taken to answer every host (fail closed).
func FuzzParseMatch(f *testing.F) {
	f.Add("Host(`a.private.example.com`) || PathPrefix(`/`)")
	f.Add("HostRegexp(`^.+$`) && !Host(\"b\")")
	f.Add("HostSNI(`*`)")
	f.Add("Host(`a`")
	f.Fuzz(func(t *testing.T, rule string) {
		m := router.ParseMatch(rule)
		if len(m.Hosts) == 0 && len(m.Regexp) == 0 && !m.Any {
			t.Errorf("%q: no host and not any", rule)
		}
	})
}

// TestIsLogin: the login's address, or it narrowed by oauth2-proxy's own parameters; nothing
// that reaches another endpoint or widens who gets in.
func TestIsLogin(t *testing.T) {
	s := &router.Settings{AuthAddress: "http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth"}
	for address, want := range map[string]bool{
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth":                                     true,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?allowed_groups=/sre":                 true,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?allowed_groups=/sre,/developers":     true,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?allowed_emails=a@example.com":        true,
		"HTTP://OAUTH2-PROXY.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?allowed_groups=/sre":                 true,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?":                                    false,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?skip=1":                              false,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?allowed_groups=/a&allowed_groups=/b": false,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth/x?allowed_groups=/sre":               false,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4181/oauth2/auth?allowed_groups=/sre":                 false,
		"https://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?allowed_groups=/sre":                false,
		"http://me@oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?allowed_groups=/sre":              false,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth?allowed_groups=/sre#x":               false,
		"http://oauth2-proxy.oauth2-proxy.svc.cluster.local.evil.io:4180/oauth2/auth?allowed_groups=/sre":         false,
	} {
		if got := s.IsLogin(address); got != want {
			t.Errorf("IsLogin(%q) = %v, want %v", address, got, want)
		}
	}
}
