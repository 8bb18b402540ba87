package audit

import (
	"strings"
	"testing"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/privgate/privgate/policy"
)

func TestReport(t *testing.T) {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "grafana", Namespace: "monitoring", UID: "u1"}}
	v := func(id string) policy.Violation {
		return policy.Violation{ID: id, Host: "grafana.private.example.com", Field: "spec.rules[0].host", Message: id + " message"}
	}
	cases := map[string]struct {
		d                 policy.Decision
		results           string // result:rule:mode, in order
		pass, fail, warns int
	}{
		"protected":          {policy.Decision{Allowed: true}, "pass::", 1, 0, 0},
		"never intercepted":  {policy.Decision{Allowed: true, Skipped: true, Note: "namespace kube-system is never intercepted"}, "skip::", 0, 0, 0},
		"denied":             {policy.Decision{Violations: []policy.Violation{v("auth-missing"), v("tls-missing")}}, "fail:auth-missing:deny,fail:tls-missing:deny", 0, 2, 0},
		"warned and audited": {policy.Decision{Allowed: true, Warnings: []policy.Violation{v("hosts-mixed")}, Audited: []policy.Violation{v("cors-open")}}, "warn:hosts-mixed:warn,warn:cors-open:audit", 0, 0, 2},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := report(networkingv1.SchemeGroupVersion.WithKind("Ingress"), ing, c.d, metav1.Now()).(*reportsv1alpha1.Report)
			var got []string
			for _, x := range r.Results {
				got = append(got, string(x.Result)+":"+x.Rule+":"+x.Properties["mode"])
				if x.Result != "pass" && x.Result != "skip" && (x.Properties["host"] != "grafana.private.example.com" || x.Description != x.Rule+" message") {
					t.Errorf("result %+v lost the violation's host or message", x)
				}
			}
			if strings.Join(got, ",") != c.results {
				t.Errorf("results %v, want %s", got, c.results)
			}
			if s := r.Summary; s.Pass != c.pass || s.Fail != c.fail || s.Warn != c.warns {
				t.Errorf("summary %+v", s)
			}
			if r.Scope.Name != "grafana" || r.Scope.Kind != "Ingress" || r.Scope.UID != "u1" || r.Namespace != "monitoring" || r.Labels[labelManagedBy] != managedBy {
				t.Errorf("scope or metadata %+v %+v", r.Scope, r.ObjectMeta)
			}
		})
	}
}

// An unchanged verdict has the same digest whenever it is judged, so it is not written again.
func TestDigestIgnoresTime(t *testing.T) {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "grafana", Namespace: "monitoring"}}
	d := policy.Decision{Violations: []policy.Violation{{ID: "auth-missing", Message: "m"}}}
	a := report(networkingv1.SchemeGroupVersion.WithKind("Ingress"), ing, d, metav1.Now())
	b := report(networkingv1.SchemeGroupVersion.WithKind("Ingress"), ing, d, metav1.NewTime(time.Now().Add(time.Hour)))
	b.SetResourceVersion("42")
	if digest(a) != digest(b) {
		t.Error("the same verdict at another time digests differently")
	}
	d.Violations[0].Message = "other"
	if digest(a) == digest(report(networkingv1.SchemeGroupVersion.WithKind("Ingress"), ing, d, metav1.Now())) {
		t.Error("another verdict digests the same")
	}
}

// A cluster-scoped object's Report is a ClusterReport with the same content.
func TestClusterReport(t *testing.T) {
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "sre-admins"}}
	gvk := rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding")
	r, ok := report(gvk, crb, policy.Decision{Violations: []policy.Violation{{ID: "group-unknown", Message: "m"}}}, metav1.Now()).(*reportsv1alpha1.ClusterReport)
	if !ok || r.Name != "privgate-clusterrolebinding-sre-admins" || r.Namespace != "" || r.Scope.Kind != "ClusterRoleBinding" || r.Summary.Fail != 1 {
		t.Fatalf("got %T %+v", r, r)
	}
}

func TestReportName(t *testing.T) {
	if got := reportName("Ingress", "grafana"); got != "privgate-ingress-grafana" {
		t.Errorf("got %s", got)
	}
	for _, rbacName := range []string{"system:controller:attachdetach-controller", "system::extension-apiserver-authentication-reader", "MyTeam"} {
		n := reportName("ClusterRoleBinding", rbacName)
		lookalike := strings.ReplaceAll(strings.ToLower(rbacName), ":", "-") // what the cleaning gives
		if errs := validation.IsDNS1123Subdomain(n); len(errs) > 0 || n == reportName("ClusterRoleBinding", lookalike) {
			t.Errorf("%s: Report name %q: %v (must be valid, and apart from %s's)", rbacName, n, errs, lookalike)
		}
	}
	long := strings.Repeat("a", 250)
	n := reportName("Ingress", long)
	if len(n) > 253 || n != reportName("Ingress", long) || n == reportName("Ingress", long[:249]+"b") {
		t.Errorf("long name %q (%d): must be valid, stable and distinct", n, len(n))
	}
}

// The cache keeps what judging needs and drops kubectl's bookkeeping.
func TestTrim(t *testing.T) {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{
		Annotations:   map[string]string{lastApplied: "{...}", "nginx.ingress.kubernetes.io/auth-url": "https://x"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
	}}
	shared := ing.Annotations
	if _, err := Trim(ing); err != nil {
		t.Fatal(err)
	}
	if len(ing.ManagedFields) != 0 || ing.Annotations[lastApplied] != "" || ing.Annotations["nginx.ingress.kubernetes.io/auth-url"] != "https://x" {
		t.Errorf("trimmed to %+v", ing.ObjectMeta)
	}
	if shared[lastApplied] == "" {
		t.Error("Trim changed a map it does not own")
	}
}
