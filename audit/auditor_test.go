package audit

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

// protected is an Ingress as privgate's mutation leaves it: login and TLS on its private host.
const protected = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: argocd-server
  namespace: argocd
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt-production
    nginx.ingress.kubernetes.io/auth-signin: https://oauth2.private.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri
    nginx.ingress.kubernetes.io/auth-url: https://oauth2.private.example.com/oauth2/auth
spec:
  ingressClassName: nginx
  rules:
  - host: argocd.private.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: argocd-server, port: {number: 443}}}}]}
  tls:
  - {hosts: [argocd.private.example.com], secretName: argocd-server-privgate-tls}
`

// testAuditor is an Auditor over a fake API server holding objs (and the Report CRDs, when
// reports), its view discovering nothing installed but Reports; writes counts the Reports created
// or updated.
func testAuditor(t *testing.T, r *policy.Reviewer, reports bool, objs ...string) (a *Auditor, c client.Client, writes *int) {
	t.Helper()
	s, err := Scheme(r)
	if err != nil {
		t.Fatal(err)
	}
	writes = new(int)
	c = testutil.FakeClient(t, r, s, testutil.Stored(t, s, objs...)...).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			*writes++
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			*writes++
			return c.Update(ctx, obj, opts...)
		},
	}).Build()
	v, err := NewView(context.Background(), testutil.NewFakeCache(c, s), r, s)
	if err != nil {
		t.Fatal(err)
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	if reports {
		mapper.Add(reportsv1alpha1.SchemeGroupVersion.WithKind("Report"), meta.RESTScopeNamespace)
		mapper.Add(reportsv1alpha1.SchemeGroupVersion.WithKind("ClusterReport"), meta.RESTScopeRoot)
	}
	a = &Auditor{Reviewer: r, View: v, Log: logr.Discard()}
	a.setup(c, mapper, nil, s)
	return a, c, writes
}

// storedReports are privgate's Reports by namespace/name.
func storedReports(t *testing.T, c client.Client) map[string]reportsv1alpha1.Report {
	t.Helper()
	var list reportsv1alpha1.ReportList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]reportsv1alpha1.Report{}
	for _, r := range list.Items {
		out[r.Namespace+"/"+r.Name] = r
	}
	return out
}

// rules are a Report's results as result:rule, in order.
func rules(r reportsv1alpha1.Report) string {
	var out []string
	for _, x := range r.Results {
		out = append(out, string(x.Result)+":"+x.Rule)
	}
	return strings.Join(out, ",")
}

// report is a Report as stored, of an object now gone unless its namespace holds one.
func storedReport(namespace, name string, privgate bool) string {
	labels := "{}"
	if privgate {
		labels = "{app.kubernetes.io/managed-by: privgate}"
	}
	return "apiVersion: openreports.io/v1alpha1\nkind: Report\nmetadata: {name: " + name + ", namespace: " + namespace + ", labels: " + labels + "}\nsource: " + map[bool]string{true: "privgate", false: "kyverno"}[privgate] + "\n"
}

// TestAuditorFullPass: a full pass judges every stored Ingress into its Report (a fail per
// violation, a never-intercepted namespace's unprotected Ingress failing like any other), deletes
// privgate's Reports of objects gone and leaves other engines' alone, and counts the private
// hosts by state.
func TestAuditorFullPass(t *testing.T) {
	a, c, _ := testAuditor(t, examplesReviewer(t), true,
		nginxClass,
		ingress("zone-a", "grafana", "grafana-zone.private.example.com"),
		ingress("kube-system", "dashboard", "dashboard-system.private.example.com"),
		ingress("zone-a", "blog", "blog.example.com"),
		protected,
		storedReport("zone-a", "privgate-ingress-gone", true),
		storedReport("zone-a", "kyverno-ingress-gone", false),
	)
	a.fullPass(context.Background(), "test")
	want := map[string]struct {
		rules      string
		fail, pass int
	}{
		"zone-a/privgate-ingress-grafana":        {"fail:auth-missing,fail:auth-missing,fail:tls-missing", 3, 0},
		"kube-system/privgate-ingress-dashboard": {"fail:auth-missing,fail:auth-missing,fail:tls-missing", 3, 0},
		"zone-a/privgate-ingress-blog":           {"pass:", 0, 1},
		"argocd/privgate-ingress-argocd-server":  {"pass:", 0, 1},
		"zone-a/kyverno-ingress-gone":            {"", 0, 0},
	}
	got := storedReports(t, c)
	for name, w := range want {
		r, ok := got[name]
		switch {
		case !ok:
			t.Errorf("no Report %s", name)
		case rules(r) != w.rules || r.Summary.Fail != w.fail || r.Summary.Pass != w.pass:
			t.Errorf("Report %s: %s, summary %+v; want %s, %d fail, %d pass", name, rules(r), r.Summary, w.rules, w.fail, w.pass)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("Report %s should not be there (an orphan of privgate's?)", name)
		}
	}
	for state, n := range map[string]float64{policy.HostUnprotected: 2, policy.HostProtected: 1, policy.HostExempt: 0, policy.HostUnjudged: 0} {
		if got := promtestutil.ToFloat64(hostsGauge.WithLabelValues(state)); got != n {
			t.Errorf("privgate_private_hosts{state=%q} = %v, want %v", state, got, n)
		}
	}
	if got := promtestutil.ToFloat64(auditObjects); got != 4 {
		t.Errorf("privgate_audit_objects = %v, want 4", got)
	}
}

// TestAuditorWritesChangesOnly: a pass writes the Reports whose verdict changed, none when
// nothing did; a reconcile of an object gone deletes its Report.
func TestAuditorWritesChangesOnly(t *testing.T) {
	ctx := context.Background()
	a, c, writes := testAuditor(t, examplesReviewer(t), true,
		nginxClass,
		ingress("zone-a", "grafana", "grafana-zone.private.example.com"),
		ingress("zone-a", "blog", "blog.example.com"),
	)
	grafana := types.NamespacedName{Namespace: "zone-a", Name: "grafana"}
	pass := func(t *testing.T) { a.fullPass(ctx, t.Name()) }
	steps := []struct {
		name   string
		run    func(t *testing.T)
		writes int
		report map[string]string // rules by Report in zone-a; "": none
	}{
		{"first pass: every Report", pass, 2, map[string]string{"privgate-ingress-grafana": "fail:auth-missing,fail:auth-missing,fail:tls-missing", "privgate-ingress-blog": "pass:"}},
		{"nothing changed: nothing written", pass, 0, map[string]string{"privgate-ingress-grafana": "fail:auth-missing,fail:auth-missing,fail:tls-missing", "privgate-ingress-blog": "pass:"}},
		{"one Ingress made public: its Report alone", func(t *testing.T) {
			var ing networkingv1.Ingress
			if err := c.Get(ctx, grafana, &ing); err != nil {
				t.Fatal(err)
			}
			ing.Spec.Rules[0].Host = "grafana.example.com"
			if err := c.Update(ctx, &ing); err != nil {
				t.Fatal(err)
			}
			*writes-- // the Ingress's own
			pass(t)
		}, 1, map[string]string{"privgate-ingress-grafana": "pass:", "privgate-ingress-blog": "pass:"}},
		{"an Ingress deleted: its reconcile deletes its Report", func(t *testing.T) {
			if err := c.Delete(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: grafana.Namespace, Name: grafana.Name}}); err != nil {
				t.Fatal(err)
			}
			a.leading.Add(1)
			defer a.leading.Add(-1)
			if _, err := (&reconciler{a: a, kind: a.kinds[0]}).Reconcile(ctx, reconcile.Request{NamespacedName: grafana}); err != nil {
				t.Fatal(err)
			}
		}, 0, map[string]string{"privgate-ingress-grafana": "", "privgate-ingress-blog": "pass:"}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			before := *writes
			step.run(t)
			if n := *writes - before; n != step.writes {
				t.Errorf("%d Reports written, want %d", n, step.writes)
			}
			got := storedReports(t, c)
			for name, want := range step.report {
				r, ok := got["zone-a/"+name]
				switch {
				case want == "" && ok:
					t.Errorf("Report %s still there", name)
				case want != "" && rules(r) != want:
					t.Errorf("Report %s: %q, want %q", name, rules(r), want)
				}
			}
		})
	}
}

// TestAuditorSharing: a changed Ingress is judged again with every other Ingress claiming one of
// its hosts, as it claims them now (from the index) and as it claimed them when last judged (a
// host it left may now belong to another).
func TestAuditorSharing(t *testing.T) {
	ctx := context.Background()
	r := examplesReviewer(t)
	cases := []struct {
		name    string
		changed string // the Ingress as it is stored now
		want    []string
	}{
		{"a new Ingress claiming a shared host", ingress("zone-d", "grafana", "grafana.private.example.com"),
			[]string{"zone-a/grafana", "zone-b/grafana", "zone-d/grafana"}},
		{"a host nobody else claims", ingress("zone-c", "shop", "shop.private.example.com"),
			[]string{"zone-c/shop"}},
		{"a claim moved from one host to another: the claimants of both", ingress("zone-a", "grafana", "shop.private.example.com"),
			[]string{"zone-a/grafana", "zone-b/grafana", "zone-c/shop"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, c, _ := testAuditor(t, r, false,
				nginxClass,
				ingress("zone-a", "grafana", "grafana.private.example.com"),
				ingress("zone-b", "grafana", "grafana.private.example.com"),
				ingress("zone-c", "shop", "shop.private.example.com"),
			)
			a.fullPass(ctx, "test") // what each claimed when judged
			obj := testutil.Stored(t, c.Scheme(), tc.changed)[0]
			have := obj.DeepCopyObject().(client.Object)
			err := c.Get(ctx, client.ObjectKeyFromObject(obj), have)
			switch {
			case apierrors.IsNotFound(err):
				err = c.Create(ctx, obj.DeepCopyObject().(client.Object))
			case err == nil:
				obj.SetResourceVersion(have.GetResourceVersion())
				err = c.Update(ctx, obj.DeepCopyObject().(client.Object))
			}
			if err != nil {
				t.Fatal(err)
			}
			k := a.kinds[slices.IndexFunc(a.kinds, func(k kind) bool { return k.GVK.GroupKind() == ingressGK })]
			var got []string
			for _, r := range a.sharing(k)(ctx, obj) {
				got = append(got, r.String())
			}
			slices.Sort(got)
			if got = slices.Compact(got); !slices.Equal(got, tc.want) {
				t.Errorf("judged again: %v, want %v", got, tc.want)
			}
		})
	}
}
