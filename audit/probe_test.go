package audit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/probe"
)

// controllerFake answers each host as told: "login" (the sign-in redirect), "open" (the app),
// "none" (404, no route); hosts not named get the login.
func controllerFake(t *testing.T, answers map[string]string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := strings.Cut(strings.TrimSuffix(strings.ToLower(r.Host), "."), ":")
		switch answers[strings.TrimSuffix(host, ".")] {
		case "open":
			_, _ = w.Write([]byte("the app"))
		case "none":
			http.NotFound(w, r)
		default:
			http.Redirect(w, r, "https://oauth2.private.example.com/oauth2/start?rd=x", http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestAuditorProbe: with a probe configured, the full pass is followed by a probe of every
// private host (the exempt login host aside), whose result joins the Report of each object
// answering the host (source privgate-probe): fail when a request got past the login, saying so
// loudest when the manifest passes, pass when the login met every request, error when the host
// could not be checked; and metrics.
func TestAuditorProbe(t *testing.T) {
	const argocd, grafana = "argocd.private.example.com", "grafana-zone.private.example.com"
	cases := map[string]struct {
		answers     map[string]string
		argocd      string // the rules of argocd's Report
		grafana     string
		passesOpen  bool // argocd's open result says its manifest passes
		open        float64
		openReqs    float64
		unreachable float64
	}{
		"the login meets every request": {
			answers: map[string]string{},
			argocd:  "pass:,pass:network-login", grafana: "fail:auth-missing,fail:auth-missing,fail:tls-missing,pass:network-login",
		},
		"open as its manifest predicts": {
			answers: map[string]string{grafana: "open"},
			argocd:  "pass:,pass:network-login", grafana: "fail:auth-missing,fail:auth-missing,fail:tls-missing,fail:network-open",
			open: 1, openReqs: 14,
		},
		"open although its manifest passes": {
			answers: map[string]string{argocd: "open"},
			argocd:  "pass:,fail:network-open", grafana: "fail:auth-missing,fail:auth-missing,fail:tls-missing,pass:network-login",
			passesOpen: true, open: 1, openReqs: 14,
		},
		"not served: unchecked": {
			answers: map[string]string{argocd: "none"},
			argocd:  "pass:,error:network-unchecked", grafana: "fail:auth-missing,fail:auth-missing,fail:tls-missing,pass:network-login",
			unreachable: 14,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			r := examplesReviewer(t)
			a, c, _ := testAuditor(t, r, true, nginxClass, protected,
				ingress("zone-a", "grafana", grafana),
				ingress("oauth2-proxy", "oauth2-proxy", "oauth2.private.example.com"))
			cfg := *r.Config
			cfg.Probe = policy.Probe{Address: controllerFake(t, tc.answers), Scheme: "http", Rate: 1000, NoAuthLocations: []string{"/.well-known/acme-challenge"}}
			a.Prober, a.Plan = NewProbe(&cfg)
			a.Log = testr.New(t)
			a.fullPass(ctx, "test")
			a.probeOnce(ctx)
			got := storedReports(t, c)
			for report, want := range map[string]string{"argocd/privgate-ingress-argocd-server": tc.argocd, "zone-a/privgate-ingress-grafana": tc.grafana, "oauth2-proxy/privgate-ingress-oauth2-proxy": "pass:"} {
				if rules(got[report]) != want {
					t.Errorf("Report %s: %s, want %s", report, rules(got[report]), want)
				}
			}
			rep := got["argocd/privgate-ingress-argocd-server"]
			last := rep.Results[len(rep.Results)-1]
			if last.Source != probeSource || last.Properties["host"] != argocd {
				t.Errorf("argocd's probe result: %+v", last)
			}
			if says := strings.Contains(last.Description, "although its manifest passes"); says != tc.passesOpen {
				t.Errorf("argocd's probe result: %q (says the manifest passes: %v, want %v)", last.Description, says, tc.passesOpen)
			}
			if rep.Summary.Pass+rep.Summary.Fail+rep.Summary.Error != 2 {
				t.Errorf("argocd's summary %+v: want two results counted", rep.Summary)
			}
			if got := promtestutil.ToFloat64(probeOpenHosts); got != tc.open {
				t.Errorf("privgate_probe_open_hosts = %v, want %v", got, tc.open)
			}
			for verdict, n := range map[string]float64{probe.Open: tc.openReqs, probe.Unreachable: tc.unreachable, probe.Login: 28 - tc.openReqs - tc.unreachable} {
				if got := promtestutil.ToFloat64(probeRequests.WithLabelValues(verdict)); got != n {
					t.Errorf("privgate_probe_requests{verdict=%q} = %v, want %v", verdict, got, n)
				}
			}
			// A reconcile asks for its hosts alone to be probed again.
			a.leading.Add(1)
			defer a.leading.Add(-1)
			if _, err := (&reconciler{a: a, kind: a.kinds[0]}).Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "zone-a", Name: "grafana"}}); err != nil {
				t.Fatal(err)
			}
			a.mu.Lock()
			all, want := a.probeAll, a.probeWant
			a.mu.Unlock()
			if all || len(want) != 1 || !want[grafana] {
				t.Errorf("after a reconcile: probe all %v, hosts %v; want %s alone", all, want, grafana)
			}
		})
	}
}

// TestAuditorNoProbe: without a probe section, nothing is probed and Reports carry no probe result.
func TestAuditorNoProbe(t *testing.T) {
	a, c, _ := testAuditor(t, examplesReviewer(t), true, nginxClass, protected)
	if p, _ := NewProbe(a.Reviewer.Config); p != nil {
		t.Fatalf("a probe without a probe section: %+v", p)
	}
	a.fullPass(context.Background(), "test")
	if got := rules(storedReports(t, c)["argocd/privgate-ingress-argocd-server"]); got != "pass:" {
		t.Errorf("Report: %s", got)
	}
}
