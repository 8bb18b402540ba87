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

// enter waits for a slot, at most the gate's MaxWait and half the time the API server gives the
// call (its ?timeout= parameter), so that the refusal still reaches it in time. It reports
// whether a slot was taken; the caller must then call leave.
func (g *Gate) enter(r *http.Request) bool {
	if g == nil {
		return true
	}
	select {
	case g.slots <- struct{}{}:
		return true
	default:
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
