package webhook

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// A review's memory is its body and what is made of it (the decoded review, the object, the
// policy's input), all proportional to the body. The decision slots bound the work, not those
// bytes: a body is read, and held while it waits for a slot, before any slot is taken, and the
// API server sends bodies of up to maxBody. So the gate also holds a byte budget, charged before
// the body is read and given back once the answer is written: whatever clients send, the bodies
// in flight never exceed it.
//
// The charge is the declared Content-Length (the API server always sends one); a body of
// unknown length (chunked) is charged the most it may be, maxBody. Small reviews (at most
// smallBody, nearly every real one) draw on a pool of their own: a few large reviews waiting for
// their bytes never hold back the small ones, which keep being answered. The pools are FIFO, so
// a large review is not starved by a stream of others.
//
// Nothing of a body is known before it is read, not even its namespace, so a review from a
// never-intercepted namespace waits for its bytes like any other. The webhooks' namespaceSelector
// keeps those from privgate in the first place; and their reviews are small, so they wait only
// when the small pool is full.
const (
	// DefaultBodyBudget is the large pool's default: one review of the largest size at a time
	// (beside medium ones). Decoding and judging a body holds about nine times its size at the
	// peak (the body, the decoded review, the typed object, its JSON, the policy's input and
	// evaluation): two 7 MiB reviews at once took privgate over deploy/'s 192 MiB limit, one
	// stays well under it (docs/performance.md, "Memory under large reviews").
	DefaultBodyBudget = maxBody + 2<<20
	// smallBody is the largest body drawing on the small pool: the reviews seen in practice.
	smallBody = maxPresize
	// smallPool is the small pool: 128 small reviews of the largest small size, thousands of
	// real ones (a few KB each), in flight at once.
	smallPool = 128 * smallBody
)

var bytesInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "privgate_admission_body_bytes_in_flight",
	Help: "Bytes of admission request bodies being read, waiting or decided (charged by Content-Length, the maximum body size when unknown); bounded by --max-body-bytes-in-flight plus the small reviews' pool.",
})

func init() { metrics.Registry.MustRegister(bytesInFlight) }

// budget is the gate's two byte pools.
type budget struct {
	large, small *semaphore.Weighted
	largeCap     int64
}

func newBudget(largeCap int64) *budget {
	largeCap = max(largeCap, 1)
	return &budget{large: semaphore.NewWeighted(largeCap), small: semaphore.NewWeighted(smallPool), largeCap: largeCap}
}

// WithBodyBudget sets the bytes of large request bodies in flight at once (see budget.go); a
// review larger than the whole budget is charged all of it, and is then alone.
func (g *Gate) WithBodyBudget(bytes int64) *Gate {
	g.bytes = newBudget(bytes)
	return g
}

// charge is what a request's body is charged, and from which pool.
func (b *budget) charge(r *http.Request) (*semaphore.Weighted, int64) {
	n := r.ContentLength
	if n < 0 || n > maxBody {
		n = maxBody // unknown length: the most it may be (a larger declared one is refused before)
	}
	if n <= smallBody {
		return b.small, max(n, 1)
	}
	return b.large, min(n, b.largeCap)
}

// reserve takes the bytes r's body is charged, waiting as long as for a slot (Gate.waitFor). It
// reports whether they were taken; release gives them back.
func (g *Gate) reserve(r *http.Request) (release func(), ok bool) {
	if g == nil || g.bytes == nil {
		return func() {}, true
	}
	b := g.bytes
	pool, n := b.charge(r)
	if !pool.TryAcquire(n) {
		ctx, cancel := context.WithTimeout(r.Context(), g.waitFor(r))
		defer cancel()
		if pool.Acquire(ctx, n) != nil {
			return nil, false
		}
	}
	bytesInFlight.Add(float64(n))
	return func() {
		bytesInFlight.Sub(float64(n))
		pool.Release(n)
	}, true
}
