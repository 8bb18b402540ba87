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
type Gate struct {
	slots   chan struct{}
	maxWait time.Duration
}

// NewGate lets size requests be decided at once, and the rest wait up to maxWait.
func NewGate(size int, maxWait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(size, 1)), maxWait: maxWait}
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
	wait := g.maxWait
	if t, ok := apiTimeout(r); ok {
		wait = min(wait, t/2)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
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
