package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/privgate/privgate/audit"
	"github.com/privgate/privgate/policy"
)

// restConfig is the cluster privgate talks to, named explicitly: the --kubeconfig flag, else
// $KUBECONFIG, else the pod's own service account. Never ~/.kube/config, which on a laptop would
// pick whatever cluster is current. nil (no error) when there is none.
func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
	} else if cfg, err = rest.InClusterConfig(); errors.Is(err, rest.ErrNotInCluster) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	// client-go's default (5 requests/s) would let the audit's first pass over thousands of
	// Ingresses hold back the cache and leader election for minutes; the audit writes only
	// what changed, so this is a ceiling for bursts, not a steady rate.
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// clusterView is the manager behind the cluster view (an informer cache every replica holds)
// and the audit (on the leader only).
type clusterView struct {
	mgr    ctrl.Manager
	view   *audit.View
	log    logr.Logger
	synced atomic.Bool
	// discoverEvery is how often to look for related kinds installed after start.
	discoverEvery time.Duration
}

// newClusterView builds the manager: Ingresses, IngressClasses (and RBAC bindings, when judged)
// cached without managedFields and kubectl's last-applied copy; Reports read and written directly (never cached: privgate
// may not watch them); leader election with Lease privgate-audit when the namespace is known.
func newClusterView(ctx context.Context, cfg *rest.Config, reviewer *policy.Reviewer, namespace string, interval, discoverEvery time.Duration, log logr.Logger) (*clusterView, error) {
	scheme, err := audit.Scheme(reviewer)
	if err != nil {
		return nil, err
	}
	// Kubernetes' own kinds (Leases, Events) beside the targets' and OpenReports' (audit.Scheme).
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"}, // privgate serves one /metrics
		HealthProbeBindAddress: "0",
		// No manager election: it ends the process when the lease is lost. The audit runs its
		// own (audit.Election), and losing the lease stops the audit only.
		Cache: cache.Options{
			DefaultTransform: audit.Trim,
			ByObject:         byObject(audit.CachedObjects(reviewer, scheme)),
		},
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&reportsv1alpha1.Report{}, &reportsv1alpha1.ClusterReport{}}}},
	})
	if err != nil {
		return nil, err
	}
	view, err := audit.NewView(ctx, mgr.GetCache(), reviewer, scheme)
	if err != nil {
		return nil, err
	}
	view.ReadLive(mgr.GetAPIReader()) // refusals resting on related objects are confirmed live (policy.Live)
	reviewer.Cluster = view           // the webhooks' and the audit's cross-object rules read the cache
	started, err := view.Discover(ctx, mgr.GetRESTMapper())
	if err != nil {
		return nil, fmt.Errorf("discover the installed kinds the targets read: %w", err)
	}
	log.Info("cluster view: related kinds installed", "kinds", fmt.Sprint(started))
	if namespace == "" {
		log.Info("no --namespace: audit runs without leader election (one replica only)")
	}
	a := &audit.Auditor{Reviewer: reviewer, View: view, Interval: interval, ReportsEvery: discoverEvery, Log: log.WithName("audit")}
	// Controllers apply a change within seconds (Traefik's providers throttle for 2 s): the
	// probe after one waits that long.
	a.Prober, a.Plan = audit.NewProbe(reviewer.Config)
	a.ProbeSettle = 5 * time.Second
	if namespace != "" {
		if a.Election, err = auditElection(cfg, namespace, log.WithName("election")); err != nil {
			return nil, err
		}
	}
	if err := a.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	return &clusterView{mgr: mgr, view: view, log: log, discoverEvery: discoverEvery}, nil
}

// auditElection is the Lease privgate-audit in namespace, held by this process (host name and a
// unique suffix, as controller-runtime names its holders).
func auditElection(cfg *rest.Config, namespace string, log logr.Logger) (*audit.Election, error) {
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, err
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, namespace, "privgate-audit", cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID())})
	if err != nil {
		return nil, err
	}
	return &audit.Election{Lock: lock, Log: log}, nil
}

func byObject(objs []client.Object) map[client.Object]cache.ByObject {
	m := make(map[client.Object]cache.ByObject, len(objs))
	for _, o := range objs {
		m[o] = cache.ByObject{}
	}
	return m
}

// Start runs the manager until ctx ends, and marks the view synced once the cache is: before
// that no replica judges cross-object rules blind (readiness waits for it).
func (c *clusterView) Start(ctx context.Context) error {
	go func() {
		if c.mgr.GetCache().WaitForCacheSync(ctx) {
			c.synced.Store(true)
		}
	}()
	// Every replica judges routes against the cache: each looks for CRDs installed later.
	go c.view.WatchCRDs(ctx, c.mgr.GetRESTMapper(), c.discoverEvery, func(err error, started []schema.GroupKind) {
		if err != nil {
			c.log.Error(err, "cluster view: cannot look for newly installed kinds")
			return
		}
		c.log.Info("cluster view: newly installed kinds now judged", "kinds", fmt.Sprint(started))
	})
	return c.mgr.Start(ctx)
}

// Ready is nil once the cache has synced.
func (c *clusterView) Ready() error {
	if !c.synced.Load() {
		return errors.New("cluster view not synced yet")
	}
	return nil
}
