package webhook

import (
	"context"
	"net/http"
	"time"
)

// Gate bounds the admission requests being decided at once. Decisions are CPU-bound: beyond a few
// per core, more at once only add memory (each holds its body and the policy's working set) and
// stretch every latency. Under overload a request waits for a slot at most MaxWait, well inside the
// webhook's timeoutSeconds, and is then refused with 429 ("shed"): with failurePolicy Fail the API
// server refuses the object, so running out of time never admits anything.
//
// A request waits once its body is read: a client sending its body slowly must never hold a
// slot. The queue then holds bodies, a few KB each.
//
// Bodies are bounded by bytes before they are read (budget.go): a slot bounds the work, the
// budget the memory.
type Gate struct {
	slots   chan struct{}
	maxWait time.Duration
	bytes   *budget
}

// NewGate lets size requests be decided at once, and the rest wait up to maxWait; request bodies
// in flight are bounded by DefaultBodyBudget (WithBodyBudget changes it).
func NewGate(size int, maxWait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(size, 1)), maxWait: maxWait, bytes: newBudget(DefaultBodyBudget)}
}

// enter waits for a slot (see wait). It reports whether a slot was taken; the caller must then
// call leave.
func (g *Gate) enter(r *http.Request) bool { return g.tryEnter() || g.wait(r) }

// tryEnter takes a free slot, if there is one, without waiting.
func (g *Gate) tryEnter() bool {
	if g == nil {
		return true
	}
	select {
	case g.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// wait waits for a slot, at most the gate's MaxWait and half the time the API server gives the
// call (its ?timeout= parameter), so that the refusal still reaches it in time. It reports
// whether a slot was taken; the caller must then call leave.
func (g *Gate) wait(r *http.Request) bool {
	if g == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.waitFor(r))
	defer cancel()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// waitFor is the longest r may still wait: the gate's MaxWait, at most half the API server's
// timeout, counted from when the request arrived (waitsFrom), so that waiting for its bytes and
// then for a slot never adds up to more.
func (g *Gate) waitFor(r *http.Request) time.Duration {
	wait := g.maxWait
	if t, ok := apiTimeout(r); ok {
		wait = min(wait, t/2)
	}
	if since, ok := r.Context().Value(arrivedKey{}).(time.Time); ok {
		wait -= time.Since(since)
	}
	return wait
}

type arrivedKey struct{}

// waitsFrom marks r as arrived at start, for waitFor.
func waitsFrom(r *http.Request, start time.Time) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), arrivedKey{}, start))
}

func (g *Gate) leave() {
	if g != nil {
		<-g.slots
	}
}

// decide runs decide, inside the gate, on a goroutine of its own and waits for its answer.
// Judging grows a goroutine's stack (to 64 KiB and more: topdown recurses deeply), and a grown
// stack stays until later collections shrink it, halving at most once each: decided on the
// connection's own goroutine, every one of hundreds of connections queueing at the gate would keep
// one (190 -> 120 MiB peak at 500 connections once moved). A goroutine that ends gives its stack
// back, so only the requests inside the gate hold one, and memory is bounded by the gate as the
// work is.
func (g *Gate) decide(decide func() answer) answer {
	if g == nil {
		return decide()
	}
	done := make(chan answer, 1)
	go func() { done <- decide() }()
	return <-done
}
