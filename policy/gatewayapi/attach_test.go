package gatewayapi_test

import (
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy/gatewayapi"
)

func ptr[T any](v T) *T { return &v }

func listener(name string, protocol gatewayv1.ProtocolType, port gatewayv1.PortNumber, hostname string) gatewayv1.Listener {
	l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Protocol: protocol, Port: port}
	if hostname != "" {
		l.Hostname = ptr(gatewayv1.Hostname(hostname))
	}
	return l
}

func gateway(class string, listeners ...gatewayv1.Listener) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "gateways", Name: "shared"},
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(class), Listeners: listeners},
	}
}

// TestParents: a route's parentRefs as the Gateways they name, the route's namespace by default;
// Service parents (the mesh) left out, other kinds (a ListenerSet) unfollowable.
func TestParents(t *testing.T) {
	cases := map[string]struct {
		refs []gatewayv1.ParentReference
		want []gatewayapi.Parent
	}{
		"gateway in the route's namespace": {
			refs: []gatewayv1.ParentReference{{Name: "shared"}},
			want: []gatewayapi.Parent{{Namespace: "apps", Name: "shared", Route: "apps", Gateway: "Gateway apps/shared", Field: "spec.parentRefs[0]"}},
		},
		"gateway in another namespace": {
			refs: []gatewayv1.ParentReference{{Namespace: ptr(gatewayv1.Namespace("gateways")), Name: "shared"}},
			want: []gatewayapi.Parent{{Namespace: "gateways", Name: "shared", Route: "apps", Gateway: "Gateway gateways/shared", Field: "spec.parentRefs[0]"}},
		},
		"service parent left out": {
			refs: []gatewayv1.ParentReference{{Group: ptr(gatewayv1.Group("")), Kind: ptr(gatewayv1.Kind("Service")), Name: "grafana"}, {Name: "shared"}},
			want: []gatewayapi.Parent{{Namespace: "apps", Name: "shared", Route: "apps", Gateway: "Gateway apps/shared", Field: "spec.parentRefs[1]"}},
		},
		"listener set unfollowable": {
			refs: []gatewayv1.ParentReference{{Group: ptr(gatewayv1.Group("gateway.networking.x-k8s.io")), Kind: ptr(gatewayv1.Kind("XListenerSet")), Name: "team"}},
			want: []gatewayapi.Parent{{Namespace: "apps", Name: "team", Route: "apps", Gateway: "XListenerSet apps/team", Field: "spec.parentRefs[0]",
				Unfollowable: &gatewayapi.Unsupported{Reason: "parent", Kind: "XListenerSet", Group: "gateway.networking.x-k8s.io"}}},
		},
		"none": {},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := gatewayapi.Parents("apps", c.refs)
			for i := range got {
				got[i].Ref = gatewayv1.ParentReference{} // the ref as written: not what is tested here
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestListeners: the hostnames of the listeners a parentRef attaches to, by sectionName, port and
// protocol (HTTP routes to HTTP and HTTPS listeners, TLSRoutes to TLS ones).
func TestListeners(t *testing.T) {
	gw := gateway("istio",
		listener("http", gatewayv1.HTTPProtocolType, 80, "*.private.example.com"),
		listener("https", gatewayv1.HTTPSProtocolType, 443, "*.private.example.com"),
		listener("any", gatewayv1.HTTPSProtocolType, 8443, ""),
		listener("passthrough", gatewayv1.TLSProtocolType, 443, "db.private.example.com"),
		listener("tcp", gatewayv1.TCPProtocolType, 5432, ""),
	)
	cases := map[string]struct {
		gw   *gatewayv1.Gateway
		ref  gatewayv1.ParentReference
		http bool
		want []string
	}{
		"every HTTP listener, hostnames once":  {gw, gatewayv1.ParentReference{}, true, []string{"*.private.example.com", "*"}},
		"by sectionName":                       {gw, gatewayv1.ParentReference{SectionName: ptr(gatewayv1.SectionName("any"))}, true, []string{"*"}},
		"by port":                              {gw, gatewayv1.ParentReference{Port: ptr(gatewayv1.PortNumber(443))}, true, []string{"*.private.example.com"}},
		"TLS route: TLS listeners only":        {gw, gatewayv1.ParentReference{}, false, []string{"db.private.example.com"}},
		"HTTP route on a TLS listener: none":   {gw, gatewayv1.ParentReference{SectionName: ptr(gatewayv1.SectionName("passthrough"))}, true, nil},
		"TCP listener carries no route judged": {gw, gatewayv1.ParentReference{SectionName: ptr(gatewayv1.SectionName("tcp"))}, false, nil},
		"gateway not in view: every host":      {nil, gatewayv1.ParentReference{}, true, []string{"*"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := gatewayapi.Parent{Namespace: "gateways", Name: "shared", Route: "gateways", Ref: c.ref}
			if got := listenerHosts(c.gw, p, c.http); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestAllowedRoutes: a listener takes routes from the namespaces its allowedRoutes admits (Same
// when unset, as the CRD defaults it); a route it does not admit is not attached there, and
// publishes nothing through it. Selector is taken as admitting (privgate reads no Namespaces).
func TestAllowedRoutes(t *testing.T) {
	from := func(f gatewayv1.FromNamespaces) gatewayv1.Listener {
		l := listener("https", gatewayv1.HTTPSProtocolType, 443, "*.private.example.com")
		l.AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: &f}}
		return l
	}
	unset := listener("https", gatewayv1.HTTPSProtocolType, 443, "*.private.example.com")
	zone := []string{"*.private.example.com"}
	cases := map[string]struct {
		l     gatewayv1.Listener
		route string // the route's namespace
		want  []string
	}{
		"unset: same namespace":        {unset, "gateways", zone},
		"unset: another namespace":     {unset, "monitoring", nil},
		"Same: another namespace":      {from(gatewayv1.NamespacesFromSame), "monitoring", nil},
		"All: another namespace":       {from(gatewayv1.NamespacesFromAll), "monitoring", zone},
		"Selector: taken as admitting": {from(gatewayv1.NamespacesFromSelector), "monitoring", zone},
		"None: not even the same":      {from(gatewayv1.NamespacesFromNone), "gateways", nil},
		"namespace unknown: admitting": {unset, "", zone},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := gatewayapi.Parent{Namespace: "gateways", Name: "shared", Route: c.route}
			if got := listenerHosts(gateway("istio", c.l), p, true); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestAttach: the hosts a route publishes through a parent: its hostnames narrowed by the
// listeners', the listeners' own when it names none, its own (or every host) through a parent
// privgate cannot follow.
func TestAttach(t *testing.T) {
	gw := gateway("istio",
		listener("private", gatewayv1.HTTPSProtocolType, 443, "*.Private.Example.com."),
		listener("grafana", gatewayv1.HTTPSProtocolType, 8443, "grafana.private.example.com"),
	)
	parent := gatewayapi.Parent{Namespace: "gateways", Name: "shared", Field: "spec.parentRefs[0]"}
	unfollowable := parent
	unfollowable.Unfollowable = &gatewayapi.Unsupported{Reason: "parent", Kind: "ListenerSet"}
	named := gatewayapi.Hostnames([]gatewayv1.Hostname{"Grafana.private.example.com", "www.example.com"})
	cases := map[string]struct {
		gw     *gatewayv1.Gateway
		parent gatewayapi.Parent
		named  []gatewayapi.Host
		want   []gatewayapi.Host
	}{
		"hostnames within a listener's": {gw, parent, named, []gatewayapi.Host{
			{Host: "grafana.private.example.com", Field: "spec.hostnames[0]"},
			{Host: "grafana.private.example.com", Field: "spec.hostnames[0]"},
		}},
		"no hostnames: the listeners'": {gw, parent, nil, []gatewayapi.Host{
			{Host: "*.private.example.com", Field: "spec.parentRefs[0]"},
			{Host: "grafana.private.example.com", Field: "spec.parentRefs[0]"},
		}},
		"gateway not in view: the hostnames": {nil, parent, named, named},
		"unfollowable: the hostnames":        {gw, unfollowable, named, named},
		"unfollowable, no hostnames: every":  {gw, unfollowable, nil, []gatewayapi.Host{{Host: "*", Field: "spec.parentRefs[0]"}}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := hostsOf(gatewayapi.Attachments(c.gw, c.parent, c.named, true)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestIntersect: what a route hostname and a listener hostname publish together.
func TestIntersect(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"grafana.private.example.com", "*.private.example.com", "grafana.private.example.com"},
		{"*.private.example.com", "grafana.private.example.com", "grafana.private.example.com"},
		{"*.private.example.com", "*", "*.private.example.com"},
		{"*", "*", "*"},
		{"a.b.private.example.com", "*.private.example.com", "a.b.private.example.com"},
		{"*.a.private.example.com", "*.private.example.com", "*.a.private.example.com"},
		{"grafana.example.org", "*.private.example.com", ""},
		{"private.example.com", "*.private.example.com", ""}, // a wildcard needs one more label
	}
	for _, c := range cases {
		got, ok := gatewayapi.Intersect(c.a, c.b)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("Intersect(%q, %q) = %q, %v; want %q", c.a, c.b, got, ok, c.want)
		}
	}
}

// TestServed: a Gateway's own hosts, one per listener, and which never reach an HTTP login.
func TestServed(t *testing.T) {
	gw := gateway("istio",
		listener("https", gatewayv1.HTTPSProtocolType, 443, "*.private.example.com"),
		listener("http", gatewayv1.HTTPProtocolType, 80, ""),
		listener("passthrough", gatewayv1.TLSProtocolType, 443, "db.private.example.com"),
	)
	want := []gatewayapi.Listener{
		{Host: gatewayapi.Host{Host: "*.private.example.com", Field: "spec.listeners[0].hostname"}, Name: "https"},
		{Host: gatewayapi.Host{Host: "*", Field: "spec.listeners[1]"}, Name: "http"},
		{Host: gatewayapi.Host{Host: "db.private.example.com", Field: "spec.listeners[2].hostname"}, Name: "passthrough",
			NotHTTP: &gatewayapi.Unsupported{Reason: "listener-protocol", Listener: "passthrough", Protocol: "TLS"}},
	}
	if got := gatewayapi.Served(gw); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestNames: the hosts Gateway API objects name themselves.
func TestNames(t *testing.T) {
	cases := map[string]struct {
		obj  runtime.Object
		want []gatewayapi.Host
	}{
		"gateway: listener hostnames": {gateway("istio", listener("a", gatewayv1.HTTPSProtocolType, 443, "A.example.com"), listener("b", gatewayv1.HTTPProtocolType, 80, "")),
			[]gatewayapi.Host{{Host: "a.example.com", Field: "spec.listeners[0].hostname"}}},
		"httproute": {&gatewayv1.HTTPRoute{Spec: gatewayv1.HTTPRouteSpec{Hostnames: []gatewayv1.Hostname{"grafana.example.com."}}},
			[]gatewayapi.Host{{Host: "grafana.example.com", Field: "spec.hostnames[0]"}}},
		"tlsroute": {&gatewayv1.TLSRoute{Spec: gatewayv1.TLSRouteSpec{Hostnames: []gatewayv1.Hostname{"db.example.com"}}},
			[]gatewayapi.Host{{Host: "db.example.com", Field: "spec.hostnames[0]"}}},
		"another kind": {&corev1.Service{}, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := gatewayapi.Names(c.obj); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestAttachments: each host a route publishes, with the listeners publishing it, by name: two
// listeners of one hostname publish it together, a sectionName keeps one.
func TestAttachments(t *testing.T) {
	gw := gateway("eg",
		listener("https", gatewayv1.HTTPSProtocolType, 443, "*.private.example.com"),
		listener("http", gatewayv1.HTTPProtocolType, 80, "*.private.example.com"),
		listener("any", gatewayv1.HTTPSProtocolType, 8443, ""),
	)
	named := []gatewayapi.Host{{Host: "grafana.private.example.com", Field: "spec.hostnames[0]"}}
	cases := map[string]struct {
		ref  gatewayv1.ParentReference
		want []gatewayapi.Attached
	}{
		"every listener": {gatewayv1.ParentReference{}, []gatewayapi.Attached{
			{Host: gatewayapi.Host{Host: "grafana.private.example.com", Field: "spec.hostnames[0]"}, Listeners: []string{"https", "http"}},
			{Host: gatewayapi.Host{Host: "grafana.private.example.com", Field: "spec.hostnames[0]"}, Listeners: []string{"any"}},
		}},
		"by sectionName": {gatewayv1.ParentReference{SectionName: ptr(gatewayv1.SectionName("http"))}, []gatewayapi.Attached{
			{Host: gatewayapi.Host{Host: "grafana.private.example.com", Field: "spec.hostnames[0]"}, Listeners: []string{"http"}},
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := gatewayapi.Parent{Namespace: "gateways", Name: "shared", Route: "gateways", Field: "spec.parentRefs[0]", Ref: c.ref}
			if got := gatewayapi.Attachments(gw, p, named, true); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestPaths(t *testing.T) {
	exact, prefix, regex := gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix, gatewayv1.PathMatchRegularExpression
	path := func(typ *gatewayv1.PathMatchType, v string) gatewayv1.HTTPRouteMatch {
		return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: typ, Value: &v}}
	}
	route := &gatewayv1.HTTPRoute{Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{
		{Matches: []gatewayv1.HTTPRouteMatch{path(&prefix, "/api"), path(&exact, "/login"), path(&regex, "/v[0-9]+")}},
		{}, // no match: everything
		{Matches: []gatewayv1.HTTPRouteMatch{path(&prefix, "/api")}},
	}}}
	if got := gatewayapi.Paths(route); !slices.Equal(got, []string{"/api", "/login", "/"}) {
		t.Errorf("Paths = %v", got)
	}
	if got := gatewayapi.Paths(&gatewayv1.Gateway{}); got != nil {
		t.Errorf("a Gateway has paths %v", got)
	}
}

// listenerHosts are the hostnames of the listeners p attaches a route to: with no hostnames of
// its own, a route publishes each listener's.
func listenerHosts(gw *gatewayv1.Gateway, p gatewayapi.Parent, http bool) []string {
	var out []string
	for _, a := range gatewayapi.Attachments(gw, p, nil, http) {
		out = append(out, a.Host.Host)
	}
	return out
}

func hostsOf(as []gatewayapi.Attached) []gatewayapi.Host {
	var out []gatewayapi.Host
	for _, a := range as {
		out = append(out, a.Host)
	}
	return out
}
