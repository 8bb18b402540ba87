package audit

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

// TestJudge: the one audit of a stored object, as serve's audit and privgate audit see it: the
// core's verdict in any namespace, the private hosts, and an object the core cannot read
// reported as unjudged, never as passing.
func TestJudge(t *testing.T) {
	r := examplesReviewer(t)
	s, err := Scheme(r)
	if err != nil {
		t.Fatal(err)
	}
	unreadable := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
		"metadata": map[string]any{"name": "broken", "namespace": "zone-a"},
		"spec":     map[string]any{"rules": "grafana.private.example.com"},
	}}
	cases := map[string]struct {
		obj        client.Object
		violations []string
		hosts      []string
		err        bool
	}{
		"protected":    {testutil.Stored(t, s, protected)[0], nil, []string{"argocd.private.example.com"}, false},
		"unprotected":  {testutil.Stored(t, s, ingress("zone-a", "grafana", "grafana.private.example.com"))[0], []string{"auth-missing", "auth-missing", "tls-missing"}, []string{"grafana.private.example.com"}, false},
		"kube-system":  {testutil.Stored(t, s, ingress("kube-system", "dashboard", "dashboard.private.example.com"))[0], []string{"auth-missing", "auth-missing", "tls-missing"}, []string{"dashboard.private.example.com"}, false},
		"public":       {testutil.Stored(t, s, ingress("zone-a", "blog", "blog.example.com"))[0], nil, nil, false},
		"unreadable":   {unreadable, []string{"unjudged"}, nil, true},
		"exempt host":  {testutil.Stored(t, s, ingress("oauth2-proxy", "oauth2-proxy", "oauth2.private.example.com"))[0], nil, []string{"oauth2.private.example.com"}, false},
		"two services": {testutil.Stored(t, s, ingress("zone-a", "two", "a.private.example.com", "b.private.example.com"))[0], []string{"auth-missing", "auth-missing", "tls-missing", "tls-missing"}, []string{"a.private.example.com", "b.private.example.com"}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			v := Judge(context.Background(), r, testutil.IngressKind, c.obj)
			var ids []string
			for _, x := range v.Decision.Violations {
				ids = append(ids, x.ID)
			}
			slices.Sort(ids)
			if !slices.Equal(ids, c.violations) || !slices.Equal(v.Hosts, c.hosts) || (v.Err != nil) != c.err {
				t.Errorf("violations %v, hosts %v, error %v; want %v, %v, error %v", ids, v.Hosts, v.Err, c.violations, c.hosts, c.err)
			}
			if v.Request.Operation != "UPDATE" || v.Request.Namespace != c.obj.GetNamespace() || v.Request.Name != c.obj.GetName() || v.Request.Kind != testutil.IngressKind {
				t.Errorf("request %+v", v.Request)
			}
		})
	}
}

// TestZone: each private host's claims in the order added, and its worst state: unprotected
// over everything, unjudged over protected and exempt.
func TestZone(t *testing.T) {
	cfg := examplesReviewer(t).Config
	const host, exempt = "grafana.private.example.com", "oauth2.private.example.com"
	ok := Verdict{Decision: policy.Decision{Allowed: true}, Hosts: []string{host}}
	bad := Verdict{Decision: policy.Decision{Violations: []policy.Violation{{ID: "auth-missing"}}}, Hosts: []string{host}}
	warned := Verdict{Decision: policy.Decision{Allowed: true, Audited: []policy.Violation{{ID: "cors-open"}}}, Hosts: []string{host}}
	failed := Verdict{Decision: policy.Decision{Violations: []policy.Violation{{ID: "unjudged"}}}, Err: errors.New("eval"), Hosts: []string{host}}
	skipped := Verdict{Decision: policy.Decision{Allowed: true, Skipped: true}, Hosts: []string{host}}
	cases := map[string]struct {
		add    []Verdict
		states []string // the claims' states, in order
		worst  string
	}{
		"protected":                        {[]Verdict{ok}, []string{"protected"}, policy.HostProtected},
		"a violation in any mode":          {[]Verdict{warned}, []string{"unprotected"}, policy.HostUnprotected},
		"unprotected by one of two":        {[]Verdict{ok, bad}, []string{"protected", "unprotected"}, policy.HostUnprotected},
		"unprotected, then protected":      {[]Verdict{bad, ok}, []string{"unprotected", "protected"}, policy.HostUnprotected},
		"not judged: unjudged, not failed": {[]Verdict{ok, failed}, []string{"protected", "unjudged"}, policy.HostUnjudged},
		"skipped":                          {[]Verdict{skipped, ok}, []string{"unjudged", "protected"}, policy.HostUnjudged},
		"unprotected over unjudged":        {[]Verdict{failed, bad, ok}, []string{"unjudged", "unprotected", "protected"}, policy.HostUnprotected},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			z := NewZone(cfg)
			var by []string
			for i, v := range c.add {
				by = append(by, string(rune('a'+i))+"/x")
				z.Add(by[i], v)
			}
			z.Add("oauth2-proxy/oauth2-proxy", Verdict{Decision: ok.Decision, Hosts: []string{exempt}})
			var states, claimants []string
			for _, cl := range z.Claims(host) {
				states, claimants = append(states, cl.State), append(claimants, cl.By)
			}
			if !slices.Equal(states, c.states) || !slices.Equal(claimants, by) {
				t.Errorf("claims %v by %v, want %v by %v", states, claimants, c.states, by)
			}
			if w := z.Worst(host); w != c.worst {
				t.Errorf("worst %s, want %s", w, c.worst)
			}
			if hosts := z.Hosts(); !slices.Equal(hosts, []string{host, exempt}) {
				t.Errorf("hosts %v", hosts)
			}
			want := map[string]int{policy.HostProtected: 0, policy.HostUnprotected: 0, policy.HostExempt: 1, policy.HostUnjudged: 0}
			want[c.worst]++
			if got := z.Counts(); !maps.Equal(got, want) {
				t.Errorf("counts %v, want %v", got, want)
			}
		})
	}
}

// TestZonePaths: the paths each object routes on a private host, gathered over its claims for
// the network probe, sorted and once each; a rule repeating a host adds its paths to it.
func TestZonePaths(t *testing.T) {
	r := examplesReviewer(t)
	s, err := Scheme(r)
	if err != nil {
		t.Fatal(err)
	}
	const two = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: api, namespace: zone-b}\nspec:\n  ingressClassName: nginx\n  rules:\n" +
		"  - host: grafana.private.example.com\n    http: {paths: [{path: /api, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}]}\n" +
		"  - host: grafana.private.example.com\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: a, port: {number: 80}}}}, {path: /api, pathType: Exact, backend: {service: {name: a, port: {number: 80}}}}]}\n"
	z := NewZone(r.Config)
	for _, m := range []string{ingress("zone-a", "grafana", "grafana.private.example.com"), two, ingress("zone-a", "blog", "blog.example.com")} {
		obj := testutil.Stored(t, s, m)[0]
		z.Add(obj.GetNamespace()+"/"+obj.GetName(), Judge(context.Background(), r, testutil.IngressKind, obj))
	}
	if got := z.Paths("grafana.private.example.com"); !slices.Equal(got, []string{"/", "/api"}) {
		t.Errorf("paths %v, want [/ /api]", got)
	}
	if got := z.Paths("blog.example.com"); len(got) != 0 {
		t.Errorf("a public host has paths %v", got)
	}
}
