package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"k8s.io/apimachinery/pkg/types"
)

// requestTimeout is the webhooks' timeoutSeconds (deploy/webhooks/webhooks.yaml): the API server
// gives up after it, and the request fails closed.
const requestTimeout = 5 * time.Second

// inflightCap bounds the load generator's concurrent requests in fixed-rate windows, as the API
// server bounds its own (--max-mutating-requests-inflight defaults to 200): beyond it, requests
// wait in the generator, and their wait counts in their latency.
const inflightCap = 200

// window is one stretch of load: a fixed rate (workers grow as needed, up to inflightCap), or,
// with rate 0, a fixed number of workers each sending its next request when the last is answered.
type window struct {
	name     string
	rate     int
	workers  uint64
	duration time.Duration
	warmup   time.Duration // unmeasured load of the same shape first: connections, heap, caches
	// ownPeak: the server's peak RSS is started over before the window (warm-up included), so
	// that it is this window's own rather than the highest since the server started.
	ownPeak bool
}

func (w window) shape() (pacer vegeta.Pacer, workers, maxWorkers uint64) {
	if w.rate == 0 {
		return vegeta.ConstantPacer{}, w.workers, w.workers // zero pacer: as fast as workers go
	}
	return vegeta.ConstantPacer{Freq: w.rate, Per: time.Second}, vegeta.DefaultWorkers, inflightCap
}

// target is a server under load: its process, the requests it is sent and how an answer is judged.
type target struct {
	*server
	transport *http.Transport // kept across windows: connections stay open (keep-alive)
	requests  []vegeta.Target // sent in turn
	judge     func(body []byte) outcome
}

// outcome is what one 200 answer says, against what it should say.
type outcome int

const (
	right            outcome = iota
	allowedByMistake         // the request should have been denied: the failure that matters
	refusedByMistake         // denied an admissible request (safe, but wrong)
	shed                     // refused with 429 for lack of time under overload (safe: never admits)
	malformed                // not the answer's expected shape, or for another request
)

// tally counts the answers of a window.
type tally struct {
	errors                                  int // transport errors, timeouts, non-200 answers
	allowedByMistake, refusedByMistake, bad int
	shed                                    int // refused with 429 under overload: not wrong, counted apart
}

func (t tally) wrong() int { return t.allowedByMistake + t.refusedByMistake + t.bad }

// measurement is one window on one server.
type measurement struct {
	window  window
	server  string
	metrics vegeta.Metrics
	cpu     time.Duration // the server's CPU time during the window
	gen     time.Duration // the load generator's (this process's)
	rss     uint64        // the server's peak RSS since it started, read after the window
	tally   tally
}

func (m measurement) perRequest(d time.Duration) time.Duration {
	if m.metrics.Requests == 0 {
		return 0
	}
	return d / time.Duration(m.metrics.Requests)
}

// newTransport is an HTTPS keep-alive client transport trusting the harness's CA. Each target
// has its own, so each server's connections are its own.
func newTransport(ca *x509.CertPool, http2 bool) *http.Transport {
	return newTransportFor(ca, http2, inflightCap)
}

// newTransportFor is newTransport keeping up to conns connections open.
func newTransportFor(ca *x509.CertPool, http2 bool, conns int) *http.Transport {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(!http2)
	protocols.SetHTTP2(http2)
	return &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: ca, MinVersion: tls.VersionTLS12},
		Protocols:           protocols,
		MaxIdleConnsPerHost: conns, // never close a connection for lack of idle slots
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}

// load runs a window against t, after its warm-up, and measures it.
func (t *target) load(ctx context.Context, w window) (measurement, error) {
	if w.ownPeak {
		if err := t.resetPeakRSS(); err != nil {
			return measurement{}, fmt.Errorf("%s: reset peak RSS: %w", t.name, err)
		}
	}
	if w.warmup > 0 {
		warm := w
		warm.duration = w.warmup
		if _, err := t.attack(ctx, warm); err != nil {
			return measurement{}, err
		}
	}
	return t.attack(ctx, w)
}

func (t *target) attack(ctx context.Context, w window) (measurement, error) {
	pacer, workers, maxWorkers := w.shape()
	atk := vegeta.NewAttacker(
		vegeta.Client(&http.Client{Transport: t.transport, Timeout: requestTimeout}),
		vegeta.Workers(workers), vegeta.MaxWorkers(maxWorkers),
	)
	m := measurement{window: w, server: t.name}
	cpu0, err := t.cpu()
	if err != nil {
		return m, fmt.Errorf("%s: %w", t.name, err)
	}
	gen0 := selfCPU()
	results := atk.Attack(vegeta.NewStaticTargeter(t.requests...), pacer, w.duration, w.name)
	for {
		var res *vegeta.Result
		var open bool
		select {
		case res, open = <-results:
		case <-ctx.Done():
			atk.Stop()
			for range results {
			}
			return m, ctx.Err()
		}
		if !open {
			break
		}
		m.metrics.Add(res)
		if res.Error != "" || res.Code != http.StatusOK {
			m.tally.errors++
			continue
		}
		switch t.judge(res.Body) {
		case allowedByMistake:
			m.tally.allowedByMistake++
		case refusedByMistake:
			m.tally.refusedByMistake++
		case malformed:
			m.tally.bad++
		case shed:
			m.tally.shed++
		}
	}
	m.metrics.Close()
	m.gen = selfCPU() - gen0
	cpu1, err := t.cpu()
	if err != nil {
		return m, fmt.Errorf("%s after %s: %w (exited: %v)", t.name, w.name, err, !t.alive())
	}
	m.cpu = cpu1 - cpu0
	if m.rss, err = t.peakRSS(); err != nil {
		return m, fmt.Errorf("%s: %w", t.name, err)
	}
	return m, nil
}

// judgeAdmission judges AdmissionReview answers (privgate, floor): the UID must be one of the
// requests sent, and allowed what that request deserves.
func judgeAdmission(want map[types.UID]bool) func([]byte) outcome {
	return func(body []byte) outcome {
		var review struct {
			Response *struct {
				UID     types.UID `json:"uid"`
				Allowed bool      `json:"allowed"`
				Status  *struct {
					Code int `json:"code"`
				} `json:"status"`
			} `json:"response"`
		}
		if json.Unmarshal(body, &review) != nil || review.Response == nil {
			return malformed
		}
		allowed, known := want[review.Response.UID]
		switch {
		case !known:
			return malformed
		case !review.Response.Allowed && review.Response.Status != nil && review.Response.Status.Code == http.StatusTooManyRequests:
			return shed
		case review.Response.Allowed == allowed:
			return right
		case review.Response.Allowed:
			return allowedByMistake
		}
		return refusedByMistake
	}
}

// judgeOPA judges opa's answers to POST /v1/data/privgate/deny for an admissible input: a
// result, and an empty one. An undefined deny (no "result") would admit everything.
func judgeOPA(body []byte) outcome {
	var answer struct {
		Result *[]json.RawMessage `json:"result"`
	}
	switch {
	case json.Unmarshal(body, &answer) != nil || answer.Result == nil:
		return malformed
	case len(*answer.Result) > 0:
		return refusedByMistake
	}
	return right
}

func post(url string, body []byte) vegeta.Target {
	return vegeta.Target{Method: http.MethodPost, URL: url, Body: body, Header: http.Header{"Content-Type": {"application/json"}}}
}
