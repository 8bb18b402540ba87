package policy

import (
	"context"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var liveReads = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "privgate_live_confirmations_total",
	Help: "Refusals resting on related objects from the cache, judged again against a live read of the API server, by result: confirmed (still refused), overturned (admitted: the cache lagged behind a write), error (the read failed; the refusal stands).",
}, []string{"result"})

func init() { metrics.Registry.MustRegister(liveReads) }

// Live is what a Cluster read from a cache may also offer: the same questions answered from a
// read of the API server now. An informer cache lags behind writes by a few milliseconds to
// seconds, and a client writes related objects in a row (Argo CD applies an AuthorizationPolicy
// and the route it covers in one sync): judged against the cache, the route can be refused
// because the policy written just before is not in it yet. A refusal is therefore confirmed
// live before it is given (see Reviewer.confirm). Admissions are not: they never rest on an
// object missing from the cache alone (a lagging cache only lacks recent writes), and the audit
// judges every object again on each change anyway.
type Live interface {
	// Live is the cluster as stored now. An error leaves the cached answer standing.
	Live(ctx context.Context) (Cluster, error)
}

// confirm judges req again against a live read of the cluster when its refusal d rests on
// related stored objects (t reads kinds found with their CRDs: gateways, routes, policies,
// which Live lists) and the Cluster can be read live: the live verdict stands, whichever it
// is. Any failure to read keeps the refusal (fail closed).
func (r *Reviewer) confirm(ctx context.Context, t Target, req Request, d Decision) Decision {
	if d.Allowed || r.noConfirm {
		return d
	}
	if !readsCRDs(t) {
		return d
	}
	lc, ok := r.Cluster.(Live)
	if !ok {
		return d
	}
	cluster, err := lc.Live(ctx)
	if err != nil || cluster == nil {
		liveReads.WithLabelValues("error").Inc()
		return d
	}
	live := *r
	live.Cluster, live.Cache, live.noConfirm = cluster, nil, true
	confirmed, err := live.Validate(ctx, req)
	switch {
	case err != nil:
		liveReads.WithLabelValues("error").Inc()
		return d
	case confirmed.Allowed:
		liveReads.WithLabelValues("overturned").Inc()
	default:
		liveReads.WithLabelValues("confirmed").Inc()
	}
	return confirmed
}

// readsCRDs reports whether t reads kinds that exist only with their CRDs (or only with another
// kind): those a cache may not hold yet.
func readsCRDs(t Target) bool {
	rd, ok := t.(Reader)
	if !ok {
		return false
	}
	return slices.ContainsFunc(rd.Reads(), func(k Kind) bool { return k.CRD || !k.With.Empty() })
}
