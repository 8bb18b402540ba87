package audit

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	violationsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "privgate_audit_violations",
		Help: "Violations found in stored objects by the last audit, by rule and namespace (every mode but off).",
	}, []string{"rule", "namespace"})
	hostsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "privgate_private_hosts",
		Help: "Private hosts answered by stored Ingresses and published by stored routes and gateways (Istio, Gateway API), by state: protected, unprotected (a violation, whatever its mode), exempt, unjudged (the core could not judge the object). Never-intercepted namespaces (kube-system, privgate's own) are judged and counted like the others: admission never blocks them, the audit still reports them.",
	}, []string{"state"})
	auditDuration = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "privgate_audit_duration_seconds",
		Help: "Wall time of the last full audit pass.",
	})
	auditLastRun = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "privgate_audit_last_run_timestamp_seconds",
		Help: "When the last full audit pass finished (Unix time).",
	})
	auditObjects = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "privgate_audit_objects",
		Help: "Objects the last audit judged.",
	})
	probeRequests = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "privgate_probe_requests",
		Help: "Requests of the last network probe of each private host (privgate.yaml's probe), by verdict: login (the sign-in redirect or the login's 401/403), open (past the login), unreachable.",
	}, []string{"verdict"})
	probeOpenHosts = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "privgate_probe_open_hosts",
		Help: "Private hosts that some unauthenticated request of their last network probe got past the login on.",
	})
	reportsEnabled = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "privgate_audit_reports_enabled",
		Help: "1 when audit writes OpenReports Reports, 0 when the Report CRD is not installed (results in metrics and privgate audit only).",
	})
)

func init() {
	metrics.Registry.MustRegister(violationsGauge, hostsGauge, auditDuration, auditLastRun, auditObjects, reportsEnabled, probeRequests, probeOpenHosts)
}
