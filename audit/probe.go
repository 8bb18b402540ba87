package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/probe"
)

// The network probe on the leader (privgate.yaml's probe section): the zone's private hosts,
// probed as privgate probe does, after each full pass and whenever an object answering private
// hosts changes (those hosts only), a few seconds later so that the controller has applied the
// change. Each host's last probe is a result (source privgate-probe) on the Report of every
// object answering it, and metrics.

// probeSource is the source of the probe's Report results.
const probeSource = "privgate-probe"

// NewProbe is the auditor's prober and plan for cfg's probe section, or nil when it names no
// address.
func NewProbe(cfg *policy.Config) (*probe.Prober, probe.Plan) {
	p := cfg.Probe
	if !p.Enabled() {
		return nil, probe.Plan{}
	}
	signin := probe.NewSignIn(cfg.Auth.Signin, cfg.Auth.URL, p.Signin)
	plan := probe.NewPlan(signin, p.NoAuthLocations, 0)
	return &probe.Prober{Address: p.Address, Scheme: p.Scheme, Insecure: p.Insecure, Rate: p.Rate, SignIn: signin}, plan
}

// requestProbe asks for a probe of hosts (every private host when all).
func (a *Auditor) requestProbe(all bool, hosts ...string) {
	if a.Prober == nil || (!all && len(hosts) == 0) {
		return
	}
	a.mu.Lock()
	a.probeAll = a.probeAll || all
	for _, h := range hosts {
		a.probeWant[h] = true
	}
	a.mu.Unlock()
	select {
	case a.probeKick <- struct{}{}:
	default: // one is pending already
	}
}

// probeLoop probes what was requested until ctx (the term) ends.
func (a *Auditor) probeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.probeKick:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(a.ProbeSettle):
		}
		a.probeOnce(ctx)
	}
}

// probeOnce probes the hosts requested that the zone holds (exempt ones aside), keeps each
// host's results, publishes them and rewrites the Reports of the objects answering them.
func (a *Auditor) probeOnce(ctx context.Context) {
	a.mu.Lock()
	zone := NewZone(a.Reviewer.Config)
	for key, v := range a.verdicts {
		zone.Add(policy.ObjectName(key.Namespace, key.Name), v.Verdict)
	}
	all, want := a.probeAll, a.probeWant
	a.probeAll, a.probeWant = false, map[string]bool{}
	a.mu.Unlock()
	var reqs []probe.Request
	probed := map[string]bool{}
	for _, h := range zone.Hosts() {
		if !zone.Probed(h) || (!all && !want[h]) {
			continue
		}
		probed[h] = true
		reqs = append(reqs, a.Plan.Requests(zone.ProbeTarget(h))...)
	}
	results := a.Prober.Run(ctx, reqs)
	if ctx.Err() != nil {
		return // the term ended: the next one probes again
	}
	byHost := map[string][]probe.Result{}
	for _, r := range results {
		byHost[r.Host] = append(byHost[r.Host], r)
	}
	a.mu.Lock()
	for h := range a.probed {
		if all && !probed[h] || !all && want[h] && !probed[h] {
			delete(a.probed, h) // no longer a private host, or exempt now
		}
	}
	for h := range probed {
		a.probed[h] = byHost[probe.Name(h)]
	}
	a.publishProbe()
	var rewrite []verdict
	var keys []objectKey
	for key, v := range a.verdicts {
		if slices.ContainsFunc(v.Hosts, func(h string) bool { return probed[h] || want[h] }) {
			rewrite, keys = append(rewrite, v), append(keys, key)
		}
	}
	a.mu.Unlock()
	open := probe.OpenHosts(results)
	a.Log.Info("probe", "hosts", len(probed), "requests", len(results), "open", open)
	a.work.Lock()
	defer a.work.Unlock()
	for i, v := range rewrite {
		// The object as judged: its metadata is all a Report names.
		var obj struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(v.Request.Object, &obj); err != nil {
			a.Log.Error(err, "probe: cannot read the object judged", "object", keys[i].NamespacedName)
			continue
		}
		rep := a.reportOf(v.Request.Kind, &obj.Metadata, v.Verdict)
		if !a.reportsOn(ctx, rep) {
			continue
		}
		if err := a.writeReport(ctx, keys[i].report(), rep); err != nil {
			a.Log.Error(err, "probe: cannot write Report", "object", keys[i].NamespacedName)
		}
	}
}

// publishProbe sets the probe's metrics from the last probe of each host (a.mu held).
func (a *Auditor) publishProbe() {
	counts := map[string]int{probe.Login: 0, probe.Open: 0, probe.Unreachable: 0}
	open := 0
	for _, rs := range a.probed {
		for v, n := range probe.Summary(rs) {
			counts[v] += n
		}
		if len(probe.OpenHosts(rs)) > 0 {
			open++
		}
	}
	for v, n := range counts {
		probeRequests.WithLabelValues(v).Set(float64(n))
	}
	probeOpenHosts.Set(float64(open))
}

// reportOf is an object's Report: its verdict, and the last probe of each private host it
// answers.
func (a *Auditor) reportOf(gvk schema.GroupVersionKind, obj metav1.Object, v Verdict) client.Object {
	r := report(gvk, obj, v.Decision, metav1.Now())
	if a.Prober == nil {
		return r
	}
	a.mu.Lock()
	probed := map[string][]probe.Result{}
	for _, h := range v.Hosts {
		if rs, ok := a.probed[h]; ok {
			probed[h] = rs
		}
	}
	a.mu.Unlock()
	addProbe(r, v, a.Prober.Address, probed)
	return r
}

// addProbe adds a result per probed host to a Report: fail when a request got past the login
// (saying so loudest when the manifest passes: the controller does not do what it says), pass
// when the login met every one, error when the host could not be checked.
func addProbe(o client.Object, v Verdict, address string, probed map[string][]probe.Result) {
	var results *[]reportsv1alpha1.ReportResult
	var summary *reportsv1alpha1.ReportSummary
	switch r := o.(type) {
	case *reportsv1alpha1.Report:
		results, summary = &r.Results, &r.Summary
	case *reportsv1alpha1.ClusterReport:
		results, summary = &r.Results, &r.Summary
	default:
		return
	}
	hosts := make([]string, 0, len(probed))
	for h := range probed {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	passes := v.Err == nil && !v.Decision.Skipped && v.Decision.Findings() == 0
	for _, h := range hosts {
		rs := probed[h]
		res := reportsv1alpha1.ReportResult{Source: probeSource, Policy: probeSource, Scored: true, Severity: "high",
			Timestamp: metav1.Timestamp{Seconds: time.Now().Unix()}, Properties: map[string]string{"host": h, "address": address}}
		switch open := openRequests(rs); {
		case len(open) > 0:
			res.Rule, res.Result = "network-open", "fail"
			res.Description = fmt.Sprintf("%s answers without the login on the network (%d of %d unauthenticated requests through %s: %s)",
				h, len(open), len(rs), address, strings.Join(open[:min(3, len(open))], ", "))
			if passes {
				res.Description += " although its manifest passes privgate's checks: the controller does not do what the manifest says; find why before anything else"
			}
			summary.Fail++
		case len(probe.Unchecked(rs)) > 0 || len(rs) == 0:
			res.Rule, res.Result = "network-unchecked", "error"
			res.Description = fmt.Sprintf("%s could not be checked on the network: its plain request through %s got no answer from the login or the app", h, address)
			for _, r := range rs {
				if r.Variant == probe.Plain {
					res.Description += fmt.Sprintf(" (%d %s)", r.Status, r.Error)
					break
				}
			}
			summary.Error++
		default:
			res.Rule, res.Result = "network-login", "pass"
			res.Description = fmt.Sprintf("%s: the login met every one of %d unauthenticated requests through %s", h, len(rs), address)
			summary.Pass++
		}
		*results = append(*results, res)
	}
}

// openRequests are the requests that got past the login, as "variant GET target: status".
func openRequests(rs []probe.Result) []string {
	var out []string
	for _, r := range rs {
		if r.Verdict == probe.Open {
			out = append(out, fmt.Sprintf("%s GET %s: %d", r.Variant, r.Target, r.Status))
		}
	}
	return out
}
