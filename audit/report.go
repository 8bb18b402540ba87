package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/privgate/privgate/policy"
)

// Labels privgate puts on its Reports, so that they can be listed (and cleaned up) apart from
// other engines' (Kyverno writes OpenReports too).
const (
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "privgate"
	source         = "privgate"
)

// reportName is the Report of one Ingress: in its namespace, named after it, so that it can be
// deleted when the Ingress is gone (its UID is then unknown). Kept a valid name when long.
func reportName(ingress string) string {
	name := "privgate-ingress-" + ingress
	if len(name) > 253 {
		sum := sha256.Sum256([]byte(name))
		name = strings.TrimRight(name[:253-11], "-.") + "-" + hex.EncodeToString(sum[:5])
	}
	return name
}

// report is the Report of one judged Ingress: a result per violation (fail when denied, warn
// when admitted with a warning or for audit) or a single pass.
func report(ing *networkingv1.Ingress, d policy.Decision, now metav1.Time) *reportsv1alpha1.Report {
	r := &reportsv1alpha1.Report{
		ObjectMeta: metav1.ObjectMeta{
			Name: reportName(ing.Name), Namespace: ing.Namespace,
			Labels: map[string]string{labelManagedBy: managedBy},
		},
		Source: source,
		Scope: &corev1.ObjectReference{
			APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name, UID: ing.UID,
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
	if len(r.Results) == 0 {
		note := d.Note
		if note == "" {
			note = "protected: behind login, with TLS, on a class that enforces it"
		}
		r.Results = []reportsv1alpha1.ReportResult{{Source: source, Policy: "privgate", Result: "pass", Scored: true, Timestamp: ts, Description: note}}
		r.Summary.Pass = 1
	}
	return r
}

// stripped is what a Report says, without what changes when nothing does (timestamps, the API
// server's metadata): an unchanged verdict is not written again.
func stripped(r *reportsv1alpha1.Report) reportsv1alpha1.Report {
	c := *r.DeepCopy()
	for i := range c.Results {
		c.Results[i].Timestamp = metav1.Timestamp{}
	}
	c.ObjectMeta, c.TypeMeta = metav1.ObjectMeta{Labels: c.Labels}, metav1.TypeMeta{}
	return c
}
