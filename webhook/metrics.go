package webhook

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "privgate_admission_decisions_total",
		Help: "Admission requests answered, by webhook and result (allowed, patched, denied, ignored, error, bad-request, shed: refused with 429 after waiting for a slot under overload).",
	}, []string{"webhook", "result"})
	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "privgate_admission_duration_seconds",
		Help:    "Time to answer an admission request, from reading the body to writing the answer.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5},
	}, []string{"webhook"})
)

func init() {
	metrics.Registry.MustRegister(decisions, latency)
}

func observe(kind Kind, result string, start time.Time) {
	decisions.WithLabelValues(string(kind), result).Inc()
	latency.WithLabelValues(string(kind)).Observe(time.Since(start).Seconds())
}
