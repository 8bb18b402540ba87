package audit

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

var (
	ingressGK        = schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}
	ingressClassGK   = schema.GroupKind{Group: "networking.k8s.io", Kind: "IngressClass"}
	virtualServiceGK = schema.GroupKind{Group: "networking.istio.io", Kind: "VirtualService"}
	gatewayGK        = schema.GroupKind{Group: "gateway.networking.k8s.io", Kind: "Gateway"}
	serviceGK        = schema.GroupKind{Kind: "Service"}
)

// ingress is an Ingress as stored: class nginx, one rule per host, no login.
func ingress(namespace, name string, hosts ...string) string {
	m := fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: %s, namespace: %s}\nspec:\n  ingressClassName: nginx\n  rules:\n", name, namespace)
	for _, h := range hosts {
		m += fmt.Sprintf("  - host: %s\n    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: %s, port: {number: 80}}}}]}\n", h, name)
	}
	return m
}

const nginxClass = "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: nginx}\nspec: {controller: k8s.io/ingress-nginx}\n"

// examplesReviewer is the core over the examples' config: Ingresses, Istio and Gateway API.
func examplesReviewer(t *testing.T) *policy.Reviewer {
	return testutil.Reviewer(t, testutil.Root()+"/examples/privgate.yaml")
}

// indexOf is the name and function of the index the targets declare on gk.
func indexOf(t *testing.T, r *policy.Reviewer, gk schema.GroupKind) (string, policy.IndexFunc) {
	t.Helper()
	for _, k := range r.Reads() {
		if k.GVK.GroupKind() == gk {
			for name, f := range k.Indexes {
				return name, f
			}
		}
	}
	t.Fatalf("no index on %s", gk)
	return "", nil
}

// names are objects as namespace/name, sorted.
func names(objs []runtime.Object) []string {
	var out []string
	for _, o := range objs {
		m, _ := meta.Accessor(o)
		out = append(out, policy.ObjectName(m.GetNamespace(), m.GetName()))
	}
	slices.Sort(out)
	return out
}

// TestView: the view answers from the cache the kinds always served (Ingresses, IngressClasses)
// at once, a CRD kind only once Discover found its CRD installed, and a kind held back for
// another (Services, With Gateway) only once that one is installed. Each step adds CRDs to the
// RESTMapper and runs Discover, then asks every kind.
func TestView(t *testing.T) {
	ctx := context.Background()
	r := examplesReviewer(t)
	s, err := Scheme(r)
	if err != nil {
		t.Fatal(err)
	}
	objs := testutil.Stored(t, s,
		ingress("zone-a", "grafana", "grafana.private.example.com"),
		ingress("zone-b", "grafana", "grafana.private.example.com"),
		ingress("zone-a", "blog", "blog.example.com"),
		nginxClass,
		"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: shop, namespace: zone-a}\nspec: {hosts: [shop.private.example.com], gateways: [istio-system/public]}\n",
		"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: zone-a}\nspec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: public, namespace: zone-a}\nspec: {ports: [{port: 80}]}\n",
	)
	c := testutil.FakeClient(t, r, s, objs...).Build()
	v, err := NewView(ctx, testutil.NewFakeCache(c, s), r, s)
	if err != nil {
		t.Fatal(err)
	}
	related := 0
	v.OnRelatedChange(func() { related++ })
	mapper := meta.NewDefaultRESTMapper(nil)
	index, claims := indexOf(t, r, ingressGK)
	host := claims(objs[0])
	if len(host) != 1 {
		t.Fatalf("the Ingress index gives %v for a single private host", host)
	}

	type get struct {
		gk              schema.GroupKind
		namespace, name string
	}
	steps := []struct {
		name    string
		install []schema.GroupVersionKind // CRDs found from this step on
		started []schema.GroupKind        // what Discover starts
		stored  map[schema.GroupKind][]string
		found   []get // Get answers these
		missing []get // and not these
	}{{
		name: "no CRD installed: the kinds always served only",
		stored: map[schema.GroupKind][]string{
			ingressGK: {"zone-a/blog", "zone-a/grafana", "zone-b/grafana"}, ingressClassGK: {"nginx"},
			virtualServiceGK: nil, gatewayGK: nil, serviceGK: nil,
		},
		found:   []get{{ingressGK, "zone-a", "grafana"}, {ingressClassGK, "", "nginx"}},
		missing: []get{{ingressGK, "zone-a", "absent"}, {virtualServiceGK, "zone-a", "shop"}, {serviceGK, "zone-a", "public"}},
	}, {
		name:    "Istio installed: its kinds too",
		install: []schema.GroupVersionKind{virtualServiceGK.WithVersion("v1")},
		started: []schema.GroupKind{virtualServiceGK},
		stored:  map[schema.GroupKind][]string{virtualServiceGK: {"zone-a/shop"}, gatewayGK: nil, serviceGK: nil},
		found:   []get{{virtualServiceGK, "zone-a", "shop"}},
		missing: []get{{gatewayGK, "zone-a", "public"}, {serviceGK, "zone-a", "public"}},
	}, {
		name:    "Gateway API installed: Gateways, and Services with them",
		install: []schema.GroupVersionKind{gatewayGK.WithVersion("v1")},
		started: []schema.GroupKind{gatewayGK, serviceGK},
		stored:  map[schema.GroupKind][]string{gatewayGK: {"zone-a/public"}, serviceGK: {"zone-a/public"}, virtualServiceGK: {"zone-a/shop"}},
		found:   []get{{gatewayGK, "zone-a", "public"}, {serviceGK, "zone-a", "public"}},
	}, {
		name:   "nothing new: nothing started",
		stored: map[schema.GroupKind][]string{ingressGK: {"zone-a/blog", "zone-a/grafana", "zone-b/grafana"}},
	}}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			for _, gvk := range step.install {
				mapper.Add(gvk, meta.RESTScopeNamespace)
			}
			before, calls := v.Generation(), related
			started, err := v.Discover(ctx, mapper)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(started, step.started) {
				t.Errorf("Discover started %v, want %v", started, step.started)
			}
			if moved := v.Generation() != before || related != calls; moved != (len(step.started) > 0) {
				t.Errorf("generation or related change moved: %v, want %v (kinds started: %v)", moved, len(step.started) > 0, step.started)
			}
			for gk, want := range step.stored {
				if got := names(v.Stored(gk)); !slices.Equal(got, want) {
					t.Errorf("Stored(%s) = %v, want %v", gk, got, want)
				}
				if v.Installed(gk) != (want != nil && gk != ingressGK && gk != ingressClassGK) {
					t.Errorf("Installed(%s) = %v", gk, v.Installed(gk))
				}
			}
			for _, g := range step.found {
				o := v.Get(g.gk, g.namespace, g.name)
				if o == nil {
					t.Errorf("Get(%s %s) found nothing", g.gk, policy.ObjectName(g.namespace, g.name))
				} else if m, _ := meta.Accessor(o); m.GetName() != g.name || m.GetUID() == "" {
					t.Errorf("Get(%s %s) = %s (uid %q)", g.gk, policy.ObjectName(g.namespace, g.name), m.GetName(), m.GetUID())
				}
			}
			for _, g := range step.missing {
				if o := v.Get(g.gk, g.namespace, g.name); o != nil {
					t.Errorf("Get(%s %s) = %v, want nothing", g.gk, policy.ObjectName(g.namespace, g.name), names([]runtime.Object{o}))
				}
			}
		})
	}

	// The index answers every Ingress claiming a host, and nothing for a host nobody claims.
	indexed := map[string][]string{host[0]: {"zone-a/grafana", "zone-b/grafana"}, "nobody.private.example.com": nil}
	for value, want := range indexed {
		if got := names(v.Indexed(ingressGK, index, value)); !slices.Equal(got, want) {
			t.Errorf("Indexed(Ingress, %s, %s) = %v, want %v", index, value, got, want)
		}
	}
	if got := v.Indexed(virtualServiceGK, index, host[0]); got != nil {
		t.Errorf("an index no target declares on VirtualServices answered %v", got)
	}
}
