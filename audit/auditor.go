package audit

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privgate/privgate/policy"
)

// Auditor judges every stored Ingress with the core — what the validating webhook would say if
// the object were written as it is now — and keeps the verdicts as OpenReports Reports (one per
// Ingress, as Kyverno does per resource) and metrics. It runs on the leader only.
//
// Each Ingress is judged again when it changes (and the others claiming its hosts with it, since
// ownership may move), and all of them at start, when the policy or the group set changes, when
// an IngressClass changes, and every Interval.
type Auditor struct {
	Reviewer *policy.Reviewer
	View     *View
	Interval time.Duration
	Log      logr.Logger

	client client.Client
	mapper meta.RESTMapper
	pass   chan string // reasons for a full pass

	mu       sync.Mutex
	verdicts map[types.NamespacedName]verdict
	written  map[types.NamespacedName]written // by Report
	reports  *bool                            // whether the Report CRD is installed; nil until first checked
}

type verdict struct {
	d     policy.Decision
	hosts []string
}

// SetupWithManager registers the per-object controller and the full passes.
func (a *Auditor) SetupWithManager(mgr ctrl.Manager) error {
	a.client, a.mapper = mgr.GetClient(), mgr.GetRESTMapper()
	a.pass = make(chan string, 1)
	a.verdicts = map[types.NamespacedName]verdict{}
	a.written = map[types.NamespacedName]written{}
	// Audit judges objects as stored, each once per change: the decision cache would only
	// crowd out the webhook's entries.
	r := *a.Reviewer
	r.Cache = nil
	a.Reviewer = &r
	err := ctrl.NewControllerManagedBy(mgr).Named("privgate-audit").
		// The initial list is the start's full pass: judging it here too would double the
		// start's work.
		Watches(&networkingv1.Ingress{}, handler.EnqueueRequestsFromMapFunc(a.withClaimants),
			builder.WithPredicates(predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList }})).
		Watches(&networkingv1.IngressClass{}, handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
			a.requestPass("IngressClass changed")
			return nil
		})).
		Complete(a)
	if err != nil {
		return err
	}
	return mgr.Add(a)
}

// withClaimants is the Ingress and every other Ingress claiming one of its hosts: when one is
// created or deleted, who owns a host may change for the others.
func (a *Auditor) withClaimants(_ context.Context, o client.Object) []reconcile.Request {
	out := []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
	a.mu.Lock()
	hosts := a.verdicts[client.ObjectKeyFromObject(o)].hosts
	a.mu.Unlock()
	if ing, ok := o.(*networkingv1.Ingress); ok {
		if raw, err := json.Marshal(ing); err == nil {
			hosts = append(hosts, a.Reviewer.HostsOf(policy.Request{Kind: ingressKind, Namespace: ing.Namespace, Name: ing.Name, Object: raw})...)
		}
	}
	slices.Sort(hosts)
	for _, h := range slices.Compact(hosts) {
		for _, c := range a.View.Claimants(h) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
		}
	}
	return out
}

func (a *Auditor) requestPass(why string) {
	select {
	case a.pass <- why:
	default: // one is pending already
	}
}

// Reconcile judges one Ingress again, or forgets it (and deletes its Report) when it is gone.
func (a *Auditor) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var ing networkingv1.Ingress
	err := a.client.Get(ctx, req.NamespacedName, &ing)
	switch {
	case apierrors.IsNotFound(err):
		a.forget(req.NamespacedName)
		a.publish()
		return reconcile.Result{}, a.deleteReport(ctx, req.NamespacedName)
	case err != nil:
		return reconcile.Result{}, err
	}
	err = a.judge(ctx, &ing)
	a.publish()
	return reconcile.Result{}, err
}

// Start runs the full passes until ctx ends: at once, on a policy or group change, on request
// (an IngressClass changed), and every Interval.
func (a *Auditor) Start(ctx context.Context) error {
	a.fullPass(ctx, "start")
	tick := time.NewTicker(a.Interval)
	defer tick.Stop()
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	generation, set := a.Reviewer.Engine.Generation(), a.Reviewer.Groups.Snapshot().Set.ID()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			a.fullPass(ctx, "interval")
		case why := <-a.pass:
			a.fullPass(ctx, why)
		case <-poll.C:
			g, s := a.Reviewer.Engine.Generation(), a.Reviewer.Groups.Snapshot().Set.ID()
			if g != generation || s != set {
				generation, set = g, s
				a.fullPass(ctx, "policy or groups changed")
			}
		}
	}
}

// fullPass judges every stored Ingress, deletes the Reports of Ingresses gone while nobody was
// watching, and publishes the metrics.
func (a *Auditor) fullPass(ctx context.Context, why string) {
	start := time.Now()
	if a.reportsOn(ctx) {
		a.loadWritten(ctx)
	}
	var list networkingv1.IngressList
	if err := a.client.List(ctx, &list); err != nil {
		a.Log.Error(err, "audit: cannot list Ingresses")
		return
	}
	seen := map[types.NamespacedName]bool{}
	failed := 0
	for i := range list.Items {
		seen[client.ObjectKeyFromObject(&list.Items[i])] = true
		if err := a.judge(ctx, &list.Items[i]); err != nil {
			failed++
			a.Log.Error(err, "audit: cannot judge or report", "ingress", client.ObjectKeyFromObject(&list.Items[i]))
		}
	}
	a.mu.Lock()
	for k := range a.verdicts {
		if !seen[k] {
			delete(a.verdicts, k)
		}
	}
	a.mu.Unlock()
	a.deleteOrphans(ctx, seen)
	a.publish()
	took := time.Since(start)
	auditDuration.Set(took.Seconds())
	auditLastRun.Set(float64(time.Now().Unix()))
	a.Log.Info("audit pass", "reason", why, "ingresses", len(list.Items), "failed", failed, "took", took.Round(time.Millisecond).String())
}

// judge runs one Ingress through the validating path and files the verdict.
func (a *Auditor) judge(ctx context.Context, ing *networkingv1.Ingress) error {
	raw, err := json.Marshal(ing)
	if err != nil {
		return err
	}
	req := policy.Request{Kind: ingressKind, Operation: "UPDATE", Namespace: ing.Namespace, Name: ing.Name, Object: raw}
	d, err := a.Reviewer.Validate(ctx, req)
	if err != nil {
		// An object the core cannot judge is reported as such, never as protected.
		d = policy.Decision{Violations: []policy.Violation{{ID: "unjudged", Message: err.Error()}}}
	}
	key := client.ObjectKeyFromObject(ing)
	a.mu.Lock()
	a.verdicts[key] = verdict{d: d, hosts: a.Reviewer.HostsOf(req)}
	a.mu.Unlock()
	if !a.reportsOn(ctx) {
		return nil
	}
	return a.writeReport(ctx, report(ing, d, metav1.Now()))
}

func (a *Auditor) forget(key types.NamespacedName) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.verdicts, key)
}

var reportGK = schema.GroupKind{Group: reportsv1alpha1.GroupName, Kind: "Report"}

// reportsOn reports whether the Report CRD is installed, saying so in the log once per change:
// without it audit still runs, its results in metrics and privgate audit.
func (a *Auditor) reportsOn(ctx context.Context) bool {
	_, err := a.mapper.RESTMapping(reportGK, reportsv1alpha1.SchemeGroupVersion.Version)
	on := err == nil
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.reports == nil || *a.reports != on {
		if on {
			a.Log.Info("audit writes OpenReports Reports")
			reportsEnabled.Set(1)
		} else {
			a.Log.Info("the OpenReports Report CRD is not installed: audit results are in metrics and privgate audit only (kubectl apply -k deploy/crds)", "error", err.Error())
			reportsEnabled.Set(0)
		}
		a.reports = &on
	}
	return on
}

// writeReport creates or updates a Report when its verdict changed. What privgate last wrote is
// remembered (a digest and the resourceVersion), so an unchanged verdict costs no request: a
// pass over thousands of Ingresses writes only what changed.
func (a *Auditor) writeReport(ctx context.Context, want *reportsv1alpha1.Report) error {
	key, sum := client.ObjectKeyFromObject(want), digest(want)
	a.mu.Lock()
	last, known := a.written[key]
	a.mu.Unlock()
	if known && last.sum == sum {
		return nil
	}
	err := retry.OnError(retry.DefaultRetry, func(err error) bool {
		return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err)
	}, func() error {
		if !known {
			err := a.client.Create(ctx, want)
			if apierrors.IsAlreadyExists(err) {
				known = true // someone wrote it: update what is there
			}
			return err
		}
		if last.rv == "" {
			// What is stored is unknown (a lost race): read it first.
			var have reportsv1alpha1.Report
			if err := a.client.Get(ctx, key, &have); err != nil {
				if apierrors.IsNotFound(err) {
					known = false
				}
				return err
			}
			last.rv = have.ResourceVersion
		}
		want.ResourceVersion = last.rv
		err := a.client.Update(ctx, want)
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			last.rv, known = "", !apierrors.IsNotFound(err)
		}
		return err
	})
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.written[key] = written{sum: sum, rv: want.ResourceVersion}
	a.mu.Unlock()
	return nil
}

// written is what privgate last wrote of a Report.
type written struct {
	sum [sha256.Size]byte
	rv  string
}

// digest is a Report's content, timestamps aside (see sameReport).
func digest(r *reportsv1alpha1.Report) [sha256.Size]byte {
	b, _ := json.Marshal(stripped(r))
	return sha256.Sum256(b)
}

// loadWritten reads privgate's stored Reports once a pass (one request), so that the pass knows
// which are current.
func (a *Auditor) loadWritten(ctx context.Context) {
	var reports reportsv1alpha1.ReportList
	if err := a.client.List(ctx, &reports, client.MatchingLabels{labelManagedBy: managedBy}); err != nil {
		a.Log.Error(err, "audit: cannot list Reports")
		return
	}
	w := make(map[types.NamespacedName]written, len(reports.Items))
	for i := range reports.Items {
		r := &reports.Items[i]
		w[client.ObjectKeyFromObject(r)] = written{sum: digest(r), rv: r.ResourceVersion}
	}
	a.mu.Lock()
	a.written = w
	a.mu.Unlock()
}

func (a *Auditor) deleteReport(ctx context.Context, ingress types.NamespacedName) error {
	if !a.reportsOn(ctx) {
		return nil
	}
	r := &reportsv1alpha1.Report{ObjectMeta: metav1.ObjectMeta{Namespace: ingress.Namespace, Name: reportName(ingress.Name)}}
	a.mu.Lock()
	delete(a.written, client.ObjectKeyFromObject(r))
	a.mu.Unlock()
	return client.IgnoreNotFound(a.client.Delete(ctx, r))
}

// deleteOrphans deletes privgate's Reports whose Ingress no longer exists (deleted while no
// replica was watching): garbage collection is not relied on (an owner reference needs the
// Ingress's UID, and the test control plane runs no collector).
func (a *Auditor) deleteOrphans(ctx context.Context, seen map[types.NamespacedName]bool) {
	if !a.reportsOn(ctx) {
		return
	}
	want := map[types.NamespacedName]bool{}
	for k := range seen {
		want[types.NamespacedName{Namespace: k.Namespace, Name: reportName(k.Name)}] = true
	}
	a.mu.Lock()
	var orphans []types.NamespacedName
	for k := range a.written {
		if !want[k] {
			orphans = append(orphans, k)
		}
	}
	a.mu.Unlock()
	for _, k := range orphans {
		r := &reportsv1alpha1.Report{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}
		if err := client.IgnoreNotFound(a.client.Delete(ctx, r)); err != nil {
			a.Log.Error(err, "audit: cannot delete Report", "report", k)
			continue
		}
		a.mu.Lock()
		delete(a.written, k)
		a.mu.Unlock()
	}
}

// publish sets the metrics from the verdicts held.
func (a *Auditor) publish() {
	a.mu.Lock()
	defer a.mu.Unlock()
	violationsGauge.Reset()
	worst := map[string]string{}
	for key, v := range a.verdicts {
		all := slices.Concat(v.d.Violations, v.d.Warnings, v.d.Audited)
		for _, x := range all {
			violationsGauge.WithLabelValues(x.ID, key.Namespace).Inc()
		}
		for _, h := range v.hosts {
			state := "protected"
			switch {
			case slices.Contains(a.Reviewer.Config.ExemptHosts, h):
				state = "exempt"
			case len(all) > 0:
				state = "unprotected"
			}
			if worst[h] != "unprotected" {
				worst[h] = state
			}
		}
	}
	counts := map[string]int{"protected": 0, "unprotected": 0, "exempt": 0}
	for _, s := range worst {
		counts[s]++
	}
	for s, n := range counts {
		hostsGauge.WithLabelValues(s).Set(float64(n))
	}
	auditObjects.Set(float64(len(a.verdicts)))
}

// Verdicts returns what the audit last found, for tests and privgate audit's view.
func (a *Auditor) Verdicts() map[types.NamespacedName]policy.Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[types.NamespacedName]policy.Decision, len(a.verdicts))
	for k, v := range a.verdicts {
		out[k] = v.d
	}
	return out
}

// NeedLeaderElection: one replica writes the Reports.
func (a *Auditor) NeedLeaderElection() bool { return true }
