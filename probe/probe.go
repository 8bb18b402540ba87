package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Result is one request sent and what answered it.
type Result struct {
	Request
	Status   int    `json:"status"` // 0: no answer
	Location string `json:"location"`
	Verdict  string `json:"verdict"`
	Error    string `json:"error,omitempty"`
}

// Prober sends requests without credentials and never follows a redirect.
type Prober struct {
	// Address is where every request goes (IP:PORT, as curl --resolve); "" resolves each host.
	Address string
	// Scheme is http or https (https verifies the host's certificate unless Insecure).
	Scheme   string
	Insecure bool
	// Rate is requests per second (DefaultRate when unset); Concurrency the requests in flight
	// (DefaultConcurrency).
	Rate        float64
	Concurrency int
	// Timeout bounds each request (DefaultTimeout).
	Timeout time.Duration
	SignIn  SignIn
}

// The defaults of a Prober, of privgate probe's flags and of privgate.yaml's probe section:
// gentle on a controller that also serves users.
const (
	DefaultRate        = 10
	DefaultConcurrency = 4
	DefaultTimeout     = 5 * time.Second
)

// DefaultNoAuthLocations are the locations a controller serves without login unless told
// otherwise: cert-manager's HTTP-01 solver's, which ingress-nginx exempts from auth.
var DefaultNoAuthLocations = []string{"/.well-known/acme-challenge"}

// maxDrain is the most of a body read (and thrown away) to reuse a connection: probe reads
// status and Location only.
const maxDrain = 4 << 10

// Run sends every request, at most Rate a second and Concurrency at once, and returns the
// results in the order of reqs. It stops early (the rest unreachable) when ctx ends.
func (p *Prober) Run(ctx context.Context, reqs []Request) []Result {
	client := p.client()
	defer client.CloseIdleConnections()
	r, n := p.Rate, p.Concurrency
	if r <= 0 {
		r = DefaultRate
	}
	if n <= 0 {
		n = DefaultConcurrency
	}
	limit := rate.NewLimiter(rate.Limit(r), 1)
	results := make([]Result, len(reqs))
	work := make(chan int)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				results[i] = p.send(ctx, client, limit, reqs[i])
			}
		}()
	}
	for i := range reqs {
		work <- i
	}
	close(work)
	wg.Wait()
	return results
}

func (p *Prober) send(ctx context.Context, client *http.Client, limit *rate.Limiter, req Request) Result {
	res := Result{Request: req}
	fail := func(err error) Result {
		res.Verdict, res.Error = Unreachable, err.Error()
		return res
	}
	if err := limit.Wait(ctx); err != nil {
		return fail(err)
	}
	scheme := p.Scheme
	if scheme == "" {
		scheme = "https"
	}
	// The URL names the host; the request line carries Target as written (RawPath), so that
	// nothing cleans //, dot segments or re-escapes %2F. (Opaque would turn "//x" into an
	// absolute URI.)
	hr, err := http.NewRequestWithContext(ctx, req.Method, scheme+"://"+req.Host+"/", nil)
	if err != nil {
		return fail(err)
	}
	if hr.URL.Path, err = url.PathUnescape(req.Target); err != nil {
		return fail(err)
	}
	hr.URL.RawPath = req.Target
	hr.Host = req.HostHdr
	for k, vs := range req.Header {
		hr.Header[k] = vs
	}
	hr.Header.Set("User-Agent", "privgate-probe")
	resp, err := client.Do(hr)
	if err != nil {
		return fail(err)
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
	res.Status, res.Location = resp.StatusCode, resp.Header.Get("Location")
	res.Verdict = p.SignIn.Verdict(res.Status, res.Location)
	if res.Verdict == Open && scheme == "http" && upgrade(req.Host, res.Status, res.Location) {
		// The controller's redirect to TLS: neither the app nor the login answered yet.
		res.Verdict, res.Error = Unreachable, "redirected to https: probe with --scheme https"
	}
	return res
}

// client has no cookie jar and no proxy, follows no redirect, and dials Address for every host
// when set.
func (p *Prober) client() *http.Client {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: p.Insecure},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxIdleConnsPerHost:    4,
		MaxResponseHeaderBytes: 64 << 10,
	}
	if p.Address != "" {
		addr := p.Address
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Summary counts results by verdict.
func Summary(results []Result) map[string]int {
	counts := map[string]int{Login: 0, Open: 0, Unreachable: 0}
	for _, r := range results {
		counts[r.Verdict]++
	}
	return counts
}

// OpenHosts are the hosts some request reached past the login, in the order first found.
func OpenHosts(results []Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range results {
		if r.Verdict == Open && !seen[r.Host] {
			seen[r.Host] = true
			out = append(out, r.Host)
		}
	}
	return out
}

// Unchecked are the hosts whose plain request got no verdict of login or open: probe could not
// tell whether they are behind the login.
func Unchecked(results []Result) []string {
	var out []string
	for _, r := range results {
		if r.Variant == Plain && r.Verdict == Unreachable && !slices.Contains(out, r.Host) {
			out = append(out, r.Host)
		}
	}
	return out
}

// Name is the name probed for host: a wildcard's label replaced by privgate-probe, which the
// wildcard answers.
func Name(host string) string {
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		return "privgate-probe." + rest
	}
	return host
}

// Line is a result as the text output prints it.
func (r Result) Line() string {
	s := fmt.Sprintf("%-11s %3d %-36s %-18s %s", r.Verdict, r.Status, r.Host, r.Variant, r.Target)
	if r.Location != "" {
		s += " -> " + r.Location
	}
	if r.Error != "" {
		s += " (" + r.Error + ")"
	}
	return s
}
