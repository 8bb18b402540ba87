package audit

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/probe"
)

// Auditor judges every stored object a target judges (Ingresses; RBAC bindings when configured)
// with the core — what the validating webhook would say if the object were written as it is now —
// and keeps the verdicts as OpenReports (one Report per object, as Kyverno does per resource; a
// ClusterReport for a cluster-scoped one) and metrics. It runs on the leader only.
//
// Each object is judged again when it changes (an Ingress with the others claiming its hosts,
// since ownership may move), and all of them at start, when the policy or the group set changes
// (a group renamed in Keycloak breaks bindings without any write), when an IngressClass changes,
// and every Interval.
type Auditor struct {
	Reviewer *policy.Reviewer
	View     *View
	Interval time.Duration
	Log      logr.Logger
	// Election, when set, picks the replica that audits (see Election); without it this one does.
	Election *Election
	// ReportsEvery is how often the leader looks whether the Report CRDs are installed (the
	// cluster view's discovery interval): Reports are written as soon as the CRD is back, and
	// privgate_audit_reports_enabled says 0 while it is gone. 0: once a full pass.
	ReportsEvery time.Duration
	// Prober, when set (NewProbe), probes the private hosts from the network after each full
	// pass and on every change of an object answering them (probe.go), ProbeSettle later.
	Prober      *probe.Prober
	Plan        probe.Plan
	ProbeSettle time.Duration

	discovery groupVersionResources

	client client.Client
	mapper meta.RESTMapper
	kinds  []kind
	pass   chan string // reasons for a full pass

	// work is held by whoever judges and writes: a full pass or one reconcile. One writer at a
	// time, so that a pass working from its list never undoes what a reconcile did meanwhile
	// (queued reconciles run after the pass, on the latest state).
	work sync.Mutex

	probeKick chan struct{}

	mu        sync.Mutex
	probed    map[string][]probe.Result // the last probe of each private host
	probeWant map[string]bool           // hosts to probe next
	probeAll  bool                      // every host to probe next
	verdicts  map[objectKey]verdict
	written   map[reportKey]written
	reports   map[string]bool // by report kind: whether its CRD is installed (absent: not checked yet)

	// leading counts the terms running (one, briefly two while a lost term ends): while none
	// does, reconciles do nothing, and the next term's first full pass catches up.
	leading atomic.Int32
}

type verdict struct {
	Verdict
	indexed map[string][]string // the object's index values when judged, by index
}

// SetupWithManager registers a controller per judged kind and the full passes.
func (a *Auditor) SetupWithManager(mgr ctrl.Manager) error {
	dc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	a.setup(mgr.GetClient(), mgr.GetRESTMapper(), dc, mgr.GetScheme())
	// The initial list is the start's full pass: judging it here too would double the start.
	notInitial := builder.WithPredicates(predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool { return !e.IsInInitialList }})
	a.View.OnRelatedChange(func() { a.requestPass("gateways, routes or their policies changed") })
	for _, k := range kindsOf(a.Reviewer, mgr.GetScheme()) {
		switch {
		case k.CRD:
			continue // judged in full passes, which any change of a CRD kind requests
		case !k.With.Empty():
			continue // read for other objects, never judged alone: a change requests a full pass (View.Discover)
		case !a.judges(k):
			// Read to judge other objects (IngressClass): its change may move every verdict.
			what := k.GVK.Kind + " changed"
			if err := ctrl.NewControllerManagedBy(mgr).Named("privgate-audit-"+strings.ToLower(k.GVK.Kind)).
				Watches(k.object(), handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
					a.requestPass(what)
					return nil
				}), notInitial).Complete(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) { return reconcile.Result{}, nil })); err != nil {
				return err
			}
			continue
		}
		var h handler.EventHandler = &handler.EnqueueRequestForObject{}
		if len(k.Indexes) > 0 {
			h = handler.EnqueueRequestsFromMapFunc(a.sharing(k))
		}
		err := ctrl.NewControllerManagedBy(mgr).Named("privgate-audit-"+strings.ToLower(k.GVK.Kind)).
			Watches(k.object(), h, notInitial).Complete(&reconciler{a: a, kind: k})
		if err != nil {
			return err
		}
	}
	return mgr.Add(a)
}

// setup gives the auditor what it reads and writes with (dc may be nil: the Report CRDs are then
// looked up in mapper) and the kinds it judges, in the order the targets declare them.
func (a *Auditor) setup(c client.Client, mapper meta.RESTMapper, dc groupVersionResources, s *runtime.Scheme) {
	a.client, a.mapper, a.discovery = c, mapper, dc
	a.pass = make(chan string, 1)
	a.probeKick = make(chan struct{}, 1)
	a.probed, a.probeWant = map[string][]probe.Result{}, map[string]bool{}
	a.verdicts, a.written, a.reports = map[objectKey]verdict{}, map[reportKey]written{}, map[string]bool{}
	// Audit judges objects as stored, each once per change: the decision cache would only
	// crowd out the webhook's entries.
	r := *a.Reviewer
	r.Cache = nil
	a.Reviewer = &r
	for _, k := range kindsOf(a.Reviewer, s) {
		if k.With.Empty() && a.judges(k) {
			a.kinds = append(a.kinds, k)
		}
	}
}

// judges reports whether the audit judges objects of k, each with a Report.
func (a *Auditor) judges(k kind) bool { return k.Judged && a.Reviewer.Judges(k.GVK) }

// sharing maps a changed object of k to itself and every stored object of k sharing one of its
// index values, before or after the change (an Ingress and the others claiming its hosts: when
// one is created or deleted, who owns a host may change for the others).
func (a *Auditor) sharing(k kind) handler.MapFunc {
	return func(_ context.Context, o client.Object) []reconcile.Request {
		out := []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(o)}}
		key := objectKey{k.GVK.Kind, client.ObjectKeyFromObject(o)}
		for name, f := range k.Indexes {
			a.mu.Lock()
			values := slices.Clone(a.verdicts[key].indexed[name])
			a.mu.Unlock()
			values = append(values, f(o)...)
			slices.Sort(values)
			for _, v := range slices.Compact(values) {
				for _, other := range a.View.Indexed(k.GVK.GroupKind(), name, v) {
					if m, err := meta.Accessor(other); err == nil {
						out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}})
					}
				}
			}
		}
		return out
	}
}

func (a *Auditor) requestPass(why string) {
	select {
	case a.pass <- why:
	default: // one is pending already
	}
}

// reconciler judges one object of one kind again, or forgets it (and deletes its Report) when
// it is gone.
type reconciler struct {
	a    *Auditor
	kind kind
}

func (r *reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if r.a.leading.Load() == 0 {
		return reconcile.Result{}, nil // another replica audits; this one's next term starts with a full pass
	}
	r.a.work.Lock()
	defer r.a.work.Unlock()
	obj := r.kind.object()
	err := r.a.client.Get(ctx, req.NamespacedName, obj)
	switch {
	case apierrors.IsNotFound(err):
		key := objectKey{r.kind.GVK.Kind, req.NamespacedName}
		r.a.mu.Lock()
		gone := r.a.verdicts[key].Hosts
		delete(r.a.verdicts, key)
		r.a.mu.Unlock()
		r.a.publish()
		r.a.requestProbe(false, gone...) // another object may still answer them
		return reconcile.Result{}, r.a.deleteReport(ctx, key.report())
	case err != nil:
		return reconcile.Result{}, err
	}
	key := objectKey{r.kind.GVK.Kind, req.NamespacedName}
	r.a.mu.Lock()
	before := r.a.verdicts[key].Hosts
	r.a.mu.Unlock()
	err = r.a.judge(ctx, r.kind, obj)
	r.a.publish()
	r.a.mu.Lock()
	after := r.a.verdicts[key].Hosts
	r.a.mu.Unlock()
	r.a.requestProbe(false, append(slices.Clone(before), after...)...)
	return reconcile.Result{}, err
}

// Start audits until ctx ends: while this replica leads, when there is an Election, else
// throughout. Losing the lease stops the audit, never the process (see Election).
func (a *Auditor) Start(ctx context.Context) error {
	if a.Election == nil {
		a.lead(ctx)
		return nil
	}
	return a.Election.Run(ctx, a.lead)
}

// lead runs the full passes until ctx ends: at once, on a policy or group change, on request
// (an IngressClass changed), and every Interval.
func (a *Auditor) lead(ctx context.Context) {
	a.leading.Add(1)
	defer a.leading.Add(-1)
	// What the verdicts depend on, read before the first pass: a change during it is caught.
	judgedWith := func() [3]uint64 {
		snap := a.Reviewer.Groups.Snapshot()
		stale := uint64(0)
		if snap.Stale {
			stale = 1 // a stale source turns group-unknown from a denial into a warning
		}
		return [3]uint64{a.Reviewer.Engine.Generation(), snap.Set.ID(), stale}
	}
	last := judgedWith()
	if a.Prober != nil {
		probing, stop := context.WithCancel(ctx)
		defer stop()
		go a.probeLoop(probing)
	}
	a.fullPass(ctx, "start")
	tick := time.NewTicker(a.Interval)
	defer tick.Stop()
	poll := time.NewTicker(2 * time.Second)
	defer poll.Stop()
	var reportsTick <-chan time.Time
	if a.ReportsEvery > 0 {
		t := time.NewTicker(a.ReportsEvery)
		defer t.Stop()
		reportsTick = t.C
	}
	for ctx.Err() == nil { // a term that ended stops here, whichever other case was ready too
		select {
		case <-ctx.Done():
			return
		case <-reportsTick:
			if a.refreshReports(ctx) {
				a.fullPass(ctx, "Report CRD installed")
			}
		case <-tick.C:
			a.fullPass(ctx, "interval")
		case why := <-a.pass:
			a.fullPass(ctx, why)
		case <-poll.C:
			if now := judgedWith(); now != last {
				last = now
				a.fullPass(ctx, "policy or groups changed")
			}
		}
	}
}

// fullPass judges every stored object, deletes the Reports of objects gone while nobody was
// watching, and publishes the metrics.
func (a *Auditor) fullPass(ctx context.Context, why string) {
	a.work.Lock()
	defer a.work.Unlock()
	start := time.Now()
	a.loadWritten(ctx)
	seen := map[objectKey]bool{}
	judged, failed := 0, 0
	for _, k := range a.kinds {
		if k.CRD && !a.View.Installed(k.GVK.GroupKind()) {
			continue
		}
		list := k.list()
		if err := a.client.List(ctx, list); err != nil {
			a.Log.Error(err, "audit: cannot list", "kind", k.GVK.Kind)
			return
		}
		for _, obj := range items(list) {
			seen[objectKey{k.GVK.Kind, client.ObjectKeyFromObject(obj)}] = true
			judged++
			if err := a.judge(ctx, k, obj); err != nil {
				failed++
				a.Log.Error(err, "audit: cannot judge or report", "kind", k.GVK.Kind, "object", client.ObjectKeyFromObject(obj))
			}
		}
	}
	a.mu.Lock()
	for key := range a.verdicts {
		if !seen[key] {
			delete(a.verdicts, key)
		}
	}
	a.mu.Unlock()
	a.deleteOrphans(ctx, seen)
	a.publish()
	took := time.Since(start)
	auditDuration.Set(took.Seconds())
	auditLastRun.Set(float64(time.Now().Unix()))
	a.requestProbe(true)
	a.Log.Info("audit pass", "reason", why, "objects", judged, "failed", failed, "took", took.Round(time.Millisecond).String())
}

// judge runs one object through the validating path (Judge) and files the verdict.
func (a *Auditor) judge(ctx context.Context, k kind, obj client.Object) error {
	key := objectKey{k.GVK.Kind, client.ObjectKeyFromObject(obj)}
	v := verdict{Verdict: Judge(ctx, a.Reviewer, k.GVK, obj)}
	for name, f := range k.Indexes {
		if v.indexed == nil {
			v.indexed = map[string][]string{}
		}
		v.indexed[name] = f(obj)
	}
	a.mu.Lock()
	a.verdicts[key] = v
	a.mu.Unlock()
	want := a.reportOf(k.GVK, obj, v.Verdict)
	if !a.reportsOn(ctx, want) {
		return nil
	}
	return a.writeReport(ctx, key.report(), want)
}

// reportsOn reports whether the CRD of o's kind (Report, ClusterReport) is installed, saying so
// in the log once per change: without it audit still runs, its results in metrics and privgate
// audit.
func (a *Auditor) reportsOn(ctx context.Context, o client.Object) bool {
	kind := "Report"
	if _, ok := o.(*reportsv1alpha1.ClusterReport); ok {
		kind = "ClusterReport"
	}
	a.mu.Lock()
	on, known := a.reports[kind]
	a.mu.Unlock()
	if known {
		return on // looked up once a pass (checkReports): a missing CRD costs a discovery request per lookup
	}
	return a.checkReports(ctx, kind)
}

// refreshReports looks again whether the Report CRDs are installed, and reports whether one
// came (back) since the last look: the Reports are then all to write.
func (a *Auditor) refreshReports(ctx context.Context) bool {
	a.mu.Lock()
	was := maps.Clone(a.reports)
	a.mu.Unlock()
	back := false
	for _, kind := range []string{"Report", "ClusterReport"} {
		if a.checkReports(ctx, kind) && !was[kind] {
			back = true
		}
	}
	return back
}

// reportsInstalled looks up whether the CRD of kind (Report, ClusterReport) is served, from
// discovery itself: the RESTMapper keeps a mapping it once found after the CRD is deleted.
// known is false when the API server could not say (unreachable).
func (a *Auditor) reportsInstalled(ctx context.Context, kind string) (on, known bool, err error) {
	if a.discovery == nil {
		_, err = a.mapper.RESTMapping(schema.GroupKind{Group: reportsv1alpha1.GroupName, Kind: kind}, reportsv1alpha1.SchemeGroupVersion.Version)
		return err == nil, err == nil || meta.IsNoMatchError(err), err
	}
	// Bounded, and ended with the term: an unreachable API server must not hold up the audit
	// (client-go retries a reset connection) or the step down of a leader that lost its Lease.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	list, err := a.discovery.ServerResourcesForGroupVersionWithContext(ctx, reportsv1alpha1.SchemeGroupVersion.String())
	switch {
	case apierrors.IsNotFound(err):
		return false, true, err
	case err != nil:
		return false, false, err
	}
	for _, r := range list.APIResources {
		if r.Kind == kind {
			return true, true, nil
		}
	}
	return false, true, fmt.Errorf("%s not served in %s", kind, reportsv1alpha1.SchemeGroupVersion)
}

// checkReports looks up whether the CRD of kind (Report, ClusterReport) is installed, once a
// pass and every ReportsEvery, saying so in the log once per change. While the API server
// cannot say, the last answer stands.
func (a *Auditor) checkReports(ctx context.Context, kind string) bool {
	on, known, err := a.reportsInstalled(ctx, kind)
	a.mu.Lock()
	defer a.mu.Unlock()
	if !known {
		if was, ok := a.reports[kind]; ok {
			return was
		}
	}
	if was, known := a.reports[kind]; !known || was != on {
		if on {
			a.Log.Info("audit writes OpenReports " + kind + "s")
		} else {
			a.Log.Info("the OpenReports "+kind+" CRD is not installed: audit results are in metrics and privgate audit only (kubectl apply -k deploy/crds)", "error", err.Error())
		}
		a.reports[kind] = on
		reportsEnabled.Set(boolGauge(a.reports["Report"]))
	}
	return on
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// writeReport creates or updates a Report when its verdict changed. What privgate last wrote is
// remembered (a digest and the resourceVersion), so an unchanged verdict costs no request: a
// pass over thousands of objects writes only what changed.
func (a *Auditor) writeReport(ctx context.Context, key reportKey, want client.Object) error {
	sum := digest(want)
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
			want.SetResourceVersion("") // a create carries none (a retry after NotFound may)
			err := a.client.Create(ctx, want)
			if apierrors.IsAlreadyExists(err) {
				known = true // someone wrote it: update what is there
			}
			return err
		}
		if last.rv == "" {
			// What is stored is unknown (a lost race): read it first.
			have := key.object()
			if err := a.client.Get(ctx, key.NamespacedName, have); err != nil {
				if apierrors.IsNotFound(err) {
					known = false
				}
				return err
			}
			last.rv = have.GetResourceVersion()
		}
		want.SetResourceVersion(last.rv)
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
	a.written[key] = written{sum: sum, rv: want.GetResourceVersion()}
	a.mu.Unlock()
	return nil
}

// written is what privgate last wrote of a Report.
type written struct {
	sum [sha256.Size]byte
	rv  string
}

// digest is a Report's content, timestamps aside.
func digest(o client.Object) [sha256.Size]byte {
	b, _ := json.Marshal(contentOf(o))
	return sha256.Sum256(b)
}

// loadWritten reads privgate's stored Reports and ClusterReports once a pass (a request each),
// so that the pass knows which are current.
func (a *Auditor) loadWritten(ctx context.Context) {
	a.checkReports(ctx, "Report")
	a.checkReports(ctx, "ClusterReport")
	w := map[reportKey]written{}
	labels := client.MatchingLabels{labelManagedBy: managedBy}
	if a.reportsOn(ctx, &reportsv1alpha1.Report{}) {
		var list reportsv1alpha1.ReportList
		if err := a.client.List(ctx, &list, labels); err != nil {
			a.Log.Error(err, "audit: cannot list Reports")
			return
		}
		for i := range list.Items {
			r := &list.Items[i]
			w[reportKey{false, client.ObjectKeyFromObject(r)}] = written{sum: digest(r), rv: r.ResourceVersion}
		}
	}
	if a.reportsOn(ctx, &reportsv1alpha1.ClusterReport{}) {
		var list reportsv1alpha1.ClusterReportList
		if err := a.client.List(ctx, &list, labels); err != nil {
			a.Log.Error(err, "audit: cannot list ClusterReports")
			return
		}
		for i := range list.Items {
			r := &list.Items[i]
			w[reportKey{true, client.ObjectKeyFromObject(r)}] = written{sum: digest(r), rv: r.ResourceVersion}
		}
	}
	a.mu.Lock()
	a.written = w
	a.mu.Unlock()
}

func (a *Auditor) deleteReport(ctx context.Context, key reportKey) error {
	o := key.object()
	if !a.reportsOn(ctx, o) {
		return nil
	}
	a.mu.Lock()
	delete(a.written, key)
	a.mu.Unlock()
	return client.IgnoreNotFound(a.client.Delete(ctx, o))
}

// deleteOrphans deletes privgate's Reports whose object no longer exists (deleted while no
// replica was watching): garbage collection is not relied on (an owner reference needs the
// object's UID, and the test control plane runs no collector).
func (a *Auditor) deleteOrphans(ctx context.Context, seen map[objectKey]bool) {
	want := map[reportKey]bool{}
	for k := range seen {
		want[k.report()] = true
	}
	a.mu.Lock()
	var orphans []reportKey
	for k := range a.written {
		if !want[k] {
			orphans = append(orphans, k)
		}
	}
	a.mu.Unlock()
	for _, k := range orphans {
		if err := a.deleteReport(ctx, k); err != nil {
			a.Log.Error(err, "audit: cannot delete Report", "report", k.NamespacedName)
		}
	}
}

// publish sets the metrics from the verdicts held.
func (a *Auditor) publish() {
	a.mu.Lock()
	defer a.mu.Unlock()
	violationsGauge.Reset()
	zone := NewZone(a.Reviewer.Config)
	for key, v := range a.verdicts {
		for _, x := range slices.Concat(v.Decision.Violations, v.Decision.Warnings, v.Decision.Audited) {
			violationsGauge.WithLabelValues(x.ID, key.Namespace).Inc()
		}
		zone.Add(policy.ObjectName(key.Namespace, key.Name), v.Verdict)
	}
	for s, n := range zone.Counts() {
		hostsGauge.WithLabelValues(s).Set(float64(n))
	}
	auditObjects.Set(float64(len(a.verdicts)))
}

// groupVersionResources is what the Auditor asks discovery.
type groupVersionResources interface {
	ServerResourcesForGroupVersionWithContext(ctx context.Context, groupVersion string) (*metav1.APIResourceList, error)
}

// NeedLeaderElection is false: the manager runs no election (it would end the process when the
// lease is lost); the Auditor runs its own (Election), so that one replica writes the Reports.
func (a *Auditor) NeedLeaderElection() bool { return false }
