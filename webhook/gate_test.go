package webhook

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// TestGateSheds fills the gate, then sends requests that must wait: each is refused with 429
// inside its bound (never allowed), except those of a never-blocked namespace, and a slot freed in
// time lets the waiting request be judged.
func TestGateSheds(t *testing.T) {
	private := reviewOf(t, "CREATE", "Ingress", "../examples/admitted/grafana.yaml")
	cases := map[string]struct {
		body     []byte
		query    string
		maxWait  time.Duration
		freeIn   time.Duration // 0: the slot stays taken
		shed     bool
		allowed  bool          // when not shed: the decision (grafana is denied unmutated)
		waitedAt time.Duration // the answer must come before this
	}{
		"waits its bound, then 429":            {private, "", 50 * time.Millisecond, 0, true, false, time.Second},
		"API server's timeout halves the wait": {private, "?timeout=100ms", 10 * time.Second, 0, true, false, time.Second},
		"slot freed in time, then judged":      {private, "", 5 * time.Second, 50 * time.Millisecond, false, false, 5 * time.Second},
		"kube-system takes no slot":            {reviewOf(t, "CREATE", "Ingress", "testdata/kube-system-ingress.yaml"), "", 10 * time.Second, 0, false, true, time.Second},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			gate := NewGate(1, c.maxWait)
			h := &Handler{Kind: Validate, Reviewer: testReviewer(t), Log: logr.Discard(), Gate: gate}
			if !gate.enter(httptest.NewRequest(http.MethodPost, "/", nil)) {
				t.Fatal("could not take the only slot")
			}
			if c.freeIn > 0 {
				time.AfterFunc(c.freeIn, gate.leave)
			}
			req := httptest.NewRequest(http.MethodPost, "/validate"+c.query, bytes.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(rec, req)
			if took := time.Since(start); took > c.waitedAt {
				t.Errorf("answered after %v, bound %v", took, c.waitedAt)
			}
			_, out := post(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(rec.Body.Bytes()) }), nil, "application/json")
			if out == nil || out.Response == nil || out.Response.UID == "" {
				t.Fatalf("not an AdmissionReview answer: HTTP %d %s", rec.Code, rec.Body)
			}
			shed := out.Response.Result != nil && out.Response.Result.Code == http.StatusTooManyRequests
			if shed != c.shed {
				t.Fatalf("shed = %v, want %v: %+v", shed, c.shed, out.Response.Result)
			}
			if shed && out.Response.Allowed {
				t.Fatal("a shed request was allowed")
			}
			if !c.shed && out.Response.Allowed != c.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", out.Response.Allowed, c.allowed, out.Response.Result)
			}
		})
	}
}

// TestGateSlowBody: a client that sends its headers and then stalls its body holds no slot, so
// honest requests are judged meanwhile.
func TestGateSlowBody(t *testing.T) {
	gate := NewGate(1, 50*time.Millisecond)
	h := &Handler{Kind: Validate, Reviewer: testReviewer(t), Log: logr.Discard(), Gate: gate}
	stalled, writer := io.Pipe()
	reading := make(chan struct{})
	slow := httptest.NewRequest(http.MethodPost, "/validate", &firstRead{r: stalled, first: reading})
	slow.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), slow)
	}()
	<-reading // the slow request is inside the handler, waiting for its body
	rec, out := post(t, h, reviewOf(t, "CREATE", "Ingress", "../examples/admitted/grafana.yaml"), "application/json")
	if out == nil || out.Response.Result != nil && out.Response.Result.Code == http.StatusTooManyRequests {
		t.Errorf("an honest request was not judged while another's body stalled: HTTP %d %s", rec.Code, rec.Body)
	}
	writer.CloseWithError(errors.New("client gone"))
	<-done
}

// firstRead closes first when the handler starts reading the body.
type firstRead struct {
	r     io.Reader
	first chan struct{}
	once  sync.Once
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(func() { close(f.first) })
	return f.r.Read(p)
}

// TestSlowBodyCutOff: over a real connection, a body that stops arriving is given up within the
// API server's ?timeout=, with 400, and the connection is not held open.
func TestSlowBodyCutOff(t *testing.T) {
	srv := httptest.NewServer(&Handler{Kind: Validate, Reviewer: testReviewer(t), Log: logr.Discard(), Gate: NewGate(1, time.Second)})
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second)) // the test's own bound, far above the cut-off
	fmt.Fprintf(conn, "POST /validate?timeout=200ms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "read body") {
		t.Errorf("HTTP %d %q, want 400 naming the body read", resp.StatusCode, body)
	}
}

// TestGateBoundsBodyBytes: bodies are charged before they are read, so however many large
// reviews arrive at once, the bytes being read, waiting or decided never exceed the budget; the
// rest are refused with 429 without being read once their wait is over, and a small review is
// answered meanwhile. A body of unknown length is charged the most a body may be.
func TestGateBoundsBodyBytes(t *testing.T) {
	const mib = 1 << 20
	cases := map[string]struct {
		contentLength int64 // declared; -1: unknown (chunked)
		readers       int   // bodies read at once within the 2 MiB budget
	}{
		"1 MiB declared":  {mib, 2},
		"unknown length":  {-1, 1},
		"over the budget": {3 * mib, 1}, // charged the whole budget: alone
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			gate := NewGate(4, 200*time.Millisecond).WithBodyBudget(2 * mib)
			h := &Handler{Kind: Validate, Reviewer: testReviewer(t), Log: logr.Discard(), Gate: gate}
			reads, answers := make(chan struct{}, 64), make(chan int, 64)
			var writers []*io.PipeWriter
			for range c.readers + 4 {
				body, writer := io.Pipe()
				writers = append(writers, writer)
				req := httptest.NewRequest(http.MethodPost, "/validate", &signalRead{r: body, read: reads})
				req.Header.Set("Content-Type", "application/json")
				req.ContentLength = c.contentLength
				go func() {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					answers <- rec.Code
				}()
			}
			sentN := len(writers)
			// Until every request not read has been answered (429), or more bodies than the
			// budget holds are being read: no timing in the test, only the order of events.
			reading, refused := 0, 0
			for refused < sentN-c.readers && reading <= c.readers {
				select {
				case <-reads:
					reading++
				case code := <-answers:
					if code != http.StatusTooManyRequests {
						t.Fatalf("a request waiting for bytes was answered %d, want 429", code)
					}
					refused++
				}
			}
			if reading != c.readers {
				t.Errorf("%d bodies read at once, budget for %d", reading, c.readers)
			}
			// The large ones hold the budget: a small review is still judged.
			rec, out := post(t, h, reviewOf(t, "CREATE", "Ingress", "../examples/admitted/grafana.yaml"), "application/json")
			if out == nil || out.Response.Result != nil && out.Response.Result.Code == http.StatusTooManyRequests {
				t.Errorf("a small review was not judged while large ones held the budget: HTTP %d %s", rec.Code, rec.Body)
			}
			for _, w := range writers {
				w.CloseWithError(errors.New("client gone"))
			}
			for range sentN - refused {
				<-answers
			}
		})
	}
}

// signalRead sends on read at its first Read: the handler has started reading the body.
type signalRead struct {
	r    io.Reader
	read chan<- struct{}
	once sync.Once
}

func (s *signalRead) Read(p []byte) (int, error) {
	s.once.Do(func() { s.read <- struct{}{} })
	return s.r.Read(p)
}
