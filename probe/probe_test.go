package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/privgate/privgate/test/testnet"
)

func TestRequests(t *testing.T) {
	tests := map[string]struct {
		plan   Plan
		target Target
		want   []string // variant sent-target host-header [header]
	}{
		"root, no no-auth location": {
			target: Target{Host: "grafana.private.example.com"},
			want: []string{
				"plain / grafana.private.example.com",
				"double-slash // grafana.private.example.com",
				"encoded-slash / grafana.private.example.com",
				"dot-segment /./ grafana.private.example.com",
				"encoded-dot /%2e/ grafana.private.example.com",
				"host-dot / grafana.private.example.com.",
				"host-upper / GRAFANA.PRIVATE.EXAMPLE.COM",
				"host-port / grafana.private.example.com:443",
				"x-original-url / grafana.private.example.com X-Original-Url=/",
				"x-forwarded-prefix / grafana.private.example.com X-Forwarded-Prefix=/",
				"x-forwarded-host / grafana.private.example.com X-Forwarded-Host=localhost",
				"x-forwarded-uri / grafana.private.example.com X-Forwarded-Uri=/",
			},
		},
		"two paths, a no-auth location": {
			plan:   Plan{NoAuth: []string{"/.well-known/acme-challenge"}, LoginHost: "oauth2.private.example.com"},
			target: Target{Host: "a.private.example.com", Paths: []string{"/api/v1", "/b"}},
			want: []string{
				"plain /api/v1 a.private.example.com",
				"double-slash //api/v1 a.private.example.com",
				"encoded-slash /api%2Fv1 a.private.example.com",
				"dot-segment /./api/v1 a.private.example.com",
				"encoded-dot /%2e/api/v1 a.private.example.com",
				"other-case /API/V1 a.private.example.com",
				"no-auth /.well-known/acme-challenge/privgate-probe a.private.example.com",
				"no-auth-dotdot /.well-known/acme-challenge/../api/v1 a.private.example.com",
				"host-dot /api/v1 a.private.example.com.",
				"host-upper /api/v1 A.PRIVATE.EXAMPLE.COM",
				"host-port /api/v1 a.private.example.com:443",
				"x-original-url /api/v1 a.private.example.com X-Original-Url=/.well-known/acme-challenge/",
				"x-forwarded-prefix /api/v1 a.private.example.com X-Forwarded-Prefix=/.well-known/acme-challenge/",
				"x-forwarded-host /api/v1 a.private.example.com X-Forwarded-Host=oauth2.private.example.com",
				"x-forwarded-uri /api/v1 a.private.example.com X-Forwarded-Uri=/.well-known/acme-challenge/",
				"plain /b a.private.example.com",
				"double-slash //b a.private.example.com",
				"encoded-slash /b a.private.example.com",
				"dot-segment /./b a.private.example.com",
				"encoded-dot /%2e/b a.private.example.com",
				"other-case /B a.private.example.com",
				"no-auth /.well-known/acme-challenge/privgate-probe a.private.example.com",
				"no-auth-dotdot /.well-known/acme-challenge/../b a.private.example.com",
			},
		},
		"paths a request line cannot carry dropped, the rest bounded": {
			plan:   Plan{MaxPaths: 1},
			target: Target{Host: "h.private.example.com", Paths: []string{"/(api|web)", "relative", "/x", "/y"}},
			want: []string{
				"plain /x h.private.example.com",
				"double-slash //x h.private.example.com",
				"encoded-slash /x h.private.example.com",
				"dot-segment /./x h.private.example.com",
				"encoded-dot /%2e/x h.private.example.com",
				"other-case /X h.private.example.com",
				"host-dot /x h.private.example.com.",
				"host-upper /x H.PRIVATE.EXAMPLE.COM",
				"host-port /x h.private.example.com:443",
				"x-original-url /x h.private.example.com X-Original-Url=/",
				"x-forwarded-prefix /x h.private.example.com X-Forwarded-Prefix=/",
				"x-forwarded-host /x h.private.example.com X-Forwarded-Host=localhost",
				"x-forwarded-uri /x h.private.example.com X-Forwarded-Uri=/",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reqs := tc.plan.Requests(tc.target)
			var got []string
			for _, r := range reqs {
				if r.Method != http.MethodGet || r.Host != tc.target.Host {
					t.Errorf("%s: method %s host %s", r.Variant, r.Method, r.Host)
				}
				s := r.Variant + " " + r.Target + " " + r.HostHdr
				for k, v := range r.Header {
					s += " " + k + "=" + strings.Join(v, ",")
				}
				got = append(got, s)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if hosts := 1; len(reqs) > tc.plan.Bound(hosts) {
				t.Errorf("%d requests, over the bound %d", len(reqs), tc.plan.Bound(hosts))
			}
		})
	}
}

func TestBound(t *testing.T) {
	// The README's formula: hosts × (7 + paths × (6 + 2 × no-auth locations)), paths ≤ 8.
	tests := map[string]struct {
		plan  Plan
		hosts int
		want  int
	}{
		"defaults":               {Plan{}, 10, 10 * (7 + 8*6)},
		"one path, one location": {Plan{MaxPaths: 1, NoAuth: []string{"/.well-known/acme-challenge"}}, 3, 3 * (7 + 8)},
		"no hosts":               {Plan{}, 0, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.plan.Bound(tc.hosts); got != tc.want {
				t.Errorf("Bound(%d) = %d, want %d", tc.hosts, got, tc.want)
			}
		})
	}
	// A host with many paths, each with letters, costs exactly the bound.
	plan := Plan{NoAuth: []string{"/a", "/b"}}
	paths := []string{"/a1", "/b2", "/c3", "/d4", "/e5", "/f6", "/g7", "/h8", "/i9", "/j10"}
	if got := len(plan.Requests(Target{Host: "h", Paths: paths})); got != plan.Bound(1) {
		t.Errorf("%d requests for a host at the path bound, want %d", got, plan.Bound(1))
	}
}

func TestVerdict(t *testing.T) {
	s := NewSignIn("https://oauth2.private.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri",
		"https://oauth2.private.example.com/oauth2/auth", []string{"http://127.0.0.1:8080/realms/privgate/"})
	tests := map[string]struct {
		status   int
		location string
		want     string
	}{
		"no answer":                         {0, "", Unreachable},
		"the app":                           {200, "", Open},
		"accepted":                          {202, "", Open},
		"the login's 401":                   {401, "", Login},
		"the login's 403 (another group)":   {403, "", Login},
		"redirect to the sign-in":           {302, "https://oauth2.private.example.com/oauth2/start?rd=x", Login},
		"sign-in host in another case":      {302, "https://OAUTH2.private.example.com:443/x", Login},
		"redirect to the provider":          {302, "http://127.0.0.1:8080/realms/privgate/protocol/openid-connect/auth?x", Login},
		"relative redirect to the login":    {302, "/oauth2/sign_in?rd=%2F", Login},
		"the app's own redirect":            {302, "/login", Open},
		"redirect to a look-alike host":     {302, "https://oauth2.private.example.com.evil.test/", Open},
		"protocol-relative redirect":        {302, "//evil.test/oauth2/start", Open},
		"redirect without a location":       {302, "", Open},
		"no route":                          {404, "", Unreachable},
		"the controller refused the syntax": {400, "", Unreachable},
		"bad gateway":                       {502, "", Unreachable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := s.Verdict(tc.status, tc.location); got != tc.want {
				t.Errorf("Verdict(%d, %q) = %s, want %s", tc.status, tc.location, got, tc.want)
			}
		})
	}
}

// seen is what a test server received of one request.
type seen struct {
	method, uri, host, cookie, auth string
	header                          http.Header
}

// loginServer is a controller with a login in front of its app, as a test describes it: the
// login answers unless bypass says the app does.
func loginServer(t *testing.T, tlsOnly bool, bypass func(*http.Request) bool) (*httptest.Server, *[]seen, *sync.Mutex) {
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.RequestURI, r.Host, r.Header.Get("Cookie"), r.Header.Get("Authorization"), r.Header.Clone()})
		mu.Unlock()
		switch {
		case r.RequestURI == "/elsewhere":
			w.WriteHeader(299) // reached only by following a redirect
		case r.Header.Get("X-Original-Url") != "" && tlsOnly:
			http.Redirect(w, r, "https://"+r.Host+r.RequestURI, http.StatusPermanentRedirect)
		case bypass(r):
			_, _ = w.Write([]byte(strings.Repeat("secret ", 100000))) // 700 kB, never read whole
		default:
			http.Redirect(w, r, "https://oauth2.private.example.com/oauth2/start?rd=x", http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got, &mu
}

func TestRun(t *testing.T) {
	signin := NewSignIn("https://oauth2.private.example.com/oauth2/start", "", nil)
	tests := map[string]struct {
		bypass      func(*http.Request) bool
		tlsOnly     bool     // the controller redirects x-original-url requests to https
		open        []string // variants found open
		unreachable []string
	}{
		"every request meets the login": {bypass: func(*http.Request) bool { return false }},
		"a login matching the raw path misses //": {
			bypass: func(r *http.Request) bool { return strings.HasPrefix(r.RequestURI, "//") }, open: []string{DoubleSlash}},
		"a login trusting X-Forwarded-Uri": {
			bypass: func(r *http.Request) bool { return r.Header.Get("X-Forwarded-Uri") != "" }, open: []string{XForwardedURI}},
		"a login on the exact host only": {
			bypass: func(r *http.Request) bool { return r.Host != "grafana.private.example.com" }, open: []string{HostDot, HostUpper, HostPort}},
		"a redirect to https is no verdict on the login": {
			bypass: func(*http.Request) bool { return false }, tlsOnly: true, unreachable: []string{XOriginalURL}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv, got, mu := loginServer(t, tc.tlsOnly, tc.bypass)
			p := &Prober{Address: srv.Listener.Addr().String(), Scheme: "http", Rate: 1000, SignIn: signin}
			reqs := Plan{}.Requests(Target{Host: "grafana.private.example.com"})
			results := p.Run(context.Background(), reqs)
			if len(results) != len(reqs) {
				t.Fatalf("%d results for %d requests", len(results), len(reqs))
			}
			var open, unreachable []string
			for i, r := range results {
				if r.Verdict == Unreachable {
					unreachable = append(unreachable, r.Variant)
				}
				if r.Variant != reqs[i].Variant {
					t.Errorf("result %d is %s, want %s (in order)", i, r.Variant, reqs[i].Variant)
				}
				if r.Verdict == Open {
					open = append(open, r.Variant)
				}
				if r.Verdict == Login && (r.Status != 302 || !strings.HasPrefix(r.Location, "https://oauth2.")) {
					t.Errorf("%s: login with %d %q", r.Variant, r.Status, r.Location)
				}
			}
			if strings.Join(open, ",") != strings.Join(tc.open, ",") || strings.Join(unreachable, ",") != strings.Join(tc.unreachable, ",") {
				t.Errorf("open: %v, unreachable %v; want %v, %v", open, unreachable, tc.open, tc.unreachable)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(*got) != len(reqs) {
				t.Errorf("server saw %d requests, want %d (redirects never followed)", len(*got), len(reqs))
			}
			sent := map[string]seen{}
			for _, s := range *got {
				if s.method != http.MethodGet || s.cookie != "" || s.auth != "" {
					t.Errorf("%s %s sent with cookie %q authorization %q", s.method, s.uri, s.cookie, s.auth)
				}
				sent[s.uri+" "+s.host] = s
			}
			for _, r := range reqs {
				if _, ok := sent[r.Target+" "+r.HostHdr]; !ok {
					t.Errorf("%s: %s with Host %s not received as written", r.Variant, r.Target, r.HostHdr)
				}
			}
		})
	}
}

func TestRunUnreachable(t *testing.T) {
	p := &Prober{Address: testnet.Dropping(t), Scheme: "http", Rate: 1000, Timeout: time.Second}
	results := p.Run(context.Background(), Plan{}.Requests(Target{Host: "h.private.example.com"}))
	for _, r := range results {
		if r.Verdict != Unreachable || r.Status != 0 || r.Error == "" {
			t.Errorf("%s: %s %d %q, want unreachable with the error", r.Variant, r.Verdict, r.Status, r.Error)
		}
	}
	if u := Unchecked(results); len(u) != 1 || u[0] != "h.private.example.com" {
		t.Errorf("Unchecked = %v", u)
	}
}

func TestRunBounded(t *testing.T) {
	var inFlight, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	p := &Prober{Address: srv.Listener.Addr().String(), Scheme: "http", Rate: 1000, Concurrency: 2}
	var reqs []Request
	for _, h := range []string{"a", "b", "c"} {
		reqs = append(reqs, Plan{}.Requests(Target{Host: h + ".private.example.com"})...)
	}
	results := p.Run(context.Background(), reqs)
	if c := Summary(results); c[Login] != len(reqs) {
		t.Errorf("verdicts %v, want every one login", c)
	}
	if most.Load() > 2 {
		t.Errorf("%d requests in flight at once, want at most 2", most.Load())
	}
	// Rate: at 5 a second, the limiter hands out tokens at 0, 200, 400, 600 ms... after Run
	// starts, so within half a second at most 3 of 6 requests can go, whatever the machine's
	// speed; the others are refused by the limiter itself, which knows they would miss the
	// deadline (or, on a very slow machine, find it passed).
	p.Rate, p.Concurrency = 5, 4
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	sent, limited := 0, 0
	for _, r := range p.Run(ctx, reqs[:6]) {
		switch {
		case r.Verdict == Login:
			sent++
		case strings.Contains(r.Error, "context deadline"): // the limiter's "would exceed", or a slow machine's deadline
			limited++
		}
	}
	if sent > 3 || limited < 3 {
		t.Errorf("6 requests at 5/s within 0.5 s: %d sent, %d held by the limiter; want at most 3 sent and the rest held", sent, limited)
	}
}

func TestOpenHostsAndName(t *testing.T) {
	results := []Result{
		{Request: Request{Host: "a", Variant: Plain}, Verdict: Login},
		{Request: Request{Host: "b", Variant: DoubleSlash}, Verdict: Open},
		{Request: Request{Host: "b", Variant: Plain}, Verdict: Open},
		{Request: Request{Host: "c", Variant: HostDot}, Verdict: Unreachable},
	}
	if got := OpenHosts(results); strings.Join(got, ",") != "b" {
		t.Errorf("OpenHosts = %v", got)
	}
	if got := Unchecked(results); len(got) != 0 {
		t.Errorf("Unchecked = %v (a variant unreachable leaves the host checked)", got)
	}
	for in, want := range map[string]string{"*.private.example.com": "privgate-probe.private.example.com", "a.b": "a.b"} {
		if got := Name(in); got != want {
			t.Errorf("Name(%s) = %s, want %s", in, got, want)
		}
	}
}
