package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privgate/privgate/policy"
)

// Labels privgate puts on its Reports, so that they can be listed (and cleaned up) apart from
// other engines' (Kyverno writes OpenReports too).
const (
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "privgate"
	source         = "privgate"
)

// reportName is the Report of one object: in its namespace (a ClusterReport for a cluster-scoped
// one), named after its kind and name, so that it can be deleted when the object is gone (its
// UID is then unknown). A Report's name must be a DNS subdomain while RBAC names may hold ":"
// and upper case (system:controller:…): such a name is lowered, its other characters become
// "-", and a digest of the original keeps it unique; so does a name too long.
func reportName(kind, object string) string {
	name := "privgate-" + strings.ToLower(kind) + "-" + object
	clean := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '-', r == '.':
			return r
		case 'A' <= r && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, name)
	if clean == name && len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	clean = strings.TrimRight(clean[:min(len(clean), 253-11)], "-.")
	return clean + "-" + hex.EncodeToString(sum[:5])
}

// report is the Report of one judged object: a result per violation (fail when denied, warn
// when admitted with a warning or for audit) or a single pass. A cluster-scoped object's is a
// ClusterReport, with the same content.
func report(gvk schema.GroupVersionKind, obj metav1.Object, d policy.Decision, now metav1.Time) client.Object {
	r := &reportsv1alpha1.Report{
		ObjectMeta: metav1.ObjectMeta{
			Name: reportName(gvk.Kind, obj.GetName()), Namespace: obj.GetNamespace(),
			Labels: map[string]string{labelManagedBy: managedBy},
		},
		Source: source,
		Scope: &corev1.ObjectReference{
			APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID(),
		},
	}
	ts := metav1.Timestamp{Seconds: now.Unix()}
	add := func(result reportsv1alpha1.Result, mode policy.Mode, vs []policy.Violation) {
		for _, v := range vs {
			props := map[string]string{"mode": string(mode)}
			if v.Host != "" {
				props["host"] = v.Host
			}
			if v.Field != "" {
				props["field"] = v.Field
			}
			r.Results = append(r.Results, reportsv1alpha1.ReportResult{
				Source: source, Policy: "privgate", Rule: v.ID, Result: result, Scored: true,
				Severity: "high", Timestamp: ts, Description: v.Message, Properties: props,
			})
		}
	}
	add("fail", policy.ModeDeny, d.Violations)
	add("warn", policy.ModeWarn, d.Warnings)
	add("warn", policy.ModeAudit, d.Audited)
	r.Summary = reportsv1alpha1.ReportSummary{Fail: len(d.Violations), Warn: len(d.Warnings) + len(d.Audited)}
	if d.Skipped {
		// Never judged (kube-system, privgate's namespace): never a pass.
		r.Results = []reportsv1alpha1.ReportResult{{Source: source, Policy: "privgate", Result: "skip", Timestamp: ts, Description: d.Note}}
		r.Summary = reportsv1alpha1.ReportSummary{Skip: 1}
	}
	if len(r.Results) == 0 {
		note := d.Note
		if note == "" {
			note = "as privgate requires"
		}
		r.Results = []reportsv1alpha1.ReportResult{{Source: source, Policy: "privgate", Result: "pass", Scored: true, Timestamp: ts, Description: note}}
		r.Summary.Pass = 1
	}
	if obj.GetNamespace() != "" {
		return r
	}
	return &reportsv1alpha1.ClusterReport{
		ObjectMeta: metav1.ObjectMeta{Name: r.Name, Labels: r.Labels},
		Source:     r.Source, Scope: r.Scope, Summary: r.Summary, Results: r.Results,
	}
}

// content is what a Report or ClusterReport says, without what changes when nothing does
// (timestamps, the API server's metadata): an unchanged verdict is not written again.
type content struct {
	Labels  map[string]string
	Source  string
	Scope   *corev1.ObjectReference
	Summary reportsv1alpha1.ReportSummary
	Results []reportsv1alpha1.ReportResult
}

func contentOf(o client.Object) content {
	var c content
	switch r := o.(type) {
	case *reportsv1alpha1.Report:
		c = content{r.Labels, r.Source, r.Scope, r.Summary, slices.Clone(r.Results)}
	case *reportsv1alpha1.ClusterReport:
		c = content{r.Labels, r.Source, r.Scope, r.Summary, slices.Clone(r.Results)}
	}
	for i := range c.Results {
		c.Results[i].Timestamp = metav1.Timestamp{}
	}
	return c
}
