package groups

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	syncErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "privgate_groups_sync_errors_total",
		Help: "Group syncs from the identity provider that failed (the last good snapshot keeps serving).",
	})
	registerOnce sync.Once
	current      struct {
		sync.Mutex
		k *Keycloak
	}
)

// registerMetrics exposes the source's state: last successful sync, group count, snapshot age.
// Gauges read the source when scraped; the last source built is the one reported.
func registerMetrics(k *Keycloak) {
	current.Lock()
	current.k = k
	current.Unlock()
	registerOnce.Do(func() {
		read := func(f func(*Snapshot) float64) func() float64 {
			return func() float64 {
				current.Lock()
				k := current.k
				current.Unlock()
				return f(k.Snapshot())
			}
		}
		metrics.Registry.MustRegister(syncErrors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "privgate_groups_last_sync_timestamp_seconds",
				Help: "Unix time of the last successful group sync (0 before the first).",
			}, read(func(s *Snapshot) float64 {
				if s.Synced.IsZero() {
					return 0
				}
				return float64(s.Synced.UnixNano()) / 1e9
			})),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "privgate_groups_count",
				Help: "Groups in the current snapshot.",
			}, read(func(s *Snapshot) float64 { return float64(s.Set.Len()) })),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "privgate_groups_snapshot_age_seconds",
				Help: "Seconds since the last successful group sync (-1 before the first).",
			}, read(func(s *Snapshot) float64 {
				if s.Synced.IsZero() {
					return -1
				}
				return time.Since(s.Synced).Seconds()
			})),
		)
	})
}
