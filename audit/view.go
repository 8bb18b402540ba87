package audit

import (
	"context"
	"encoding/json"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/istio"
)

// hostIndex indexes Ingresses by the private hosts they answer.
const hostIndex = "privgate.io/private-host"

// lastApplied is kubectl's copy of the whole object, as large as the object: not kept.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Trim drops what the cache need not hold: managedFields and kubectl's last-applied copy are
// most of an object's bytes and say nothing about exposure, so memory stays about the objects.
func Trim(obj any) (any, error) {
	if o, ok := obj.(metav1.Object); ok {
		o.SetManagedFields(nil)
		if a := o.GetAnnotations(); a[lastApplied] != "" {
			a = maps.Clone(a)
			delete(a, lastApplied)
			o.SetAnnotations(a)
		}
	}
	return obj, nil
}

// View is the cluster as the informer cache holds it, answering the core's cross-object
// questions (policy.Cluster) from memory.
type View struct {
	cache      cache.Cache
	generation atomic.Uint64

	mu        sync.Mutex
	wanted    []schema.GroupKind        // related kinds the targets read
	installed map[schema.GroupKind]bool // those whose informers run (CRD found)
	onRelated func()                    // called on any change of a related kind

	reader client.Reader // uncached, for Live (live.go)
}

// NewView indexes c's Ingresses by private host (as reviewer classifies them) and counts every
// change of Ingresses and IngressClasses. Call it before the cache starts.
func NewView(ctx context.Context, c cache.Cache, reviewer *policy.Reviewer) (*View, error) {
	v := &View{cache: c}
	err := c.IndexField(ctx, &networkingv1.Ingress{}, hostIndex, func(o client.Object) []string {
		raw, err := json.Marshal(o)
		if err != nil {
			return nil
		}
		return reviewer.Claims(policy.Request{Kind: ingressKind, Namespace: o.GetNamespace(), Name: o.GetName(), Object: raw})
	})
	if err != nil {
		return nil, err
	}
	v.installed, v.wanted = map[schema.GroupKind]bool{}, reviewer.Related()
	bump := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { v.generation.Add(1) },
		UpdateFunc: func(any, any) { v.generation.Add(1) },
		DeleteFunc: func(any) { v.generation.Add(1) },
	}
	for _, o := range []client.Object{&networkingv1.Ingress{}, &networkingv1.IngressClass{}} {
		inf, err := c.GetInformer(ctx, o)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(bump); err != nil {
			return nil, err
		}
	}
	return v, nil
}

var ingressKind = networkingv1.SchemeGroupVersion.WithKind("Ingress")

// Claimants implements policy.Cluster from the cache's host index.
func (v *View) Claimants(host string) []policy.Ref {
	var list networkingv1.IngressList
	// Read-only use of the cached objects: no copy needed.
	if err := v.cache.List(context.Background(), &list, client.MatchingFields{hostIndex: host}, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	refs := make([]policy.Ref, 0, len(list.Items))
	for _, ing := range list.Items {
		refs = append(refs, policy.Ref{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name, Created: ing.CreationTimestamp.Time})
	}
	policy.SortClaims(refs)
	return refs
}

// IngressClassController implements policy.Cluster.
func (v *View) IngressClassController(name string) (string, bool) {
	var class networkingv1.IngressClass
	if err := v.cache.Get(context.Background(), client.ObjectKey{Name: name}, &class, client.UnsafeDisableDeepCopy); err != nil {
		return "", false
	}
	return class.Spec.Controller, true
}

// OnRelatedChange sets what to do when an object of a related kind changes (the audit's full
// pass: coverage moves for every route at once).
func (v *View) OnRelatedChange(f func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.onRelated = f
}

// Installed reports whether the informer of a related kind runs.
func (v *View) Installed(gk schema.GroupKind) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.installed[gk]
}

// Discover starts the informers of the related kinds whose CRDs are installed now, and says
// which it started. Kinds whose CRDs are absent are left out: an informer for them would never
// sync. Services are held only once Gateway API's Gateway is installed (they matter only for its
// hand-deployed gateways).
func (v *View) Discover(ctx context.Context, mapper meta.RESTMapper) ([]schema.GroupKind, error) {
	var started []schema.GroupKind
	for _, gk := range v.wanted {
		k, ok := related[gk]
		if !ok || v.Installed(gk) {
			continue
		}
		probe := k.gvk
		if gk == istio.Service {
			probe = related[istio.Gateway].gvk
		}
		if _, err := mapper.RESTMapping(probe.GroupKind(), probe.Version); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return started, err
		}
		inf, err := v.cache.GetInformer(ctx, k.object())
		if err != nil {
			return started, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { v.related() },
			UpdateFunc: func(any, any) { v.related() },
			DeleteFunc: func(any) { v.related() },
		}); err != nil {
			return started, err
		}
		v.mu.Lock()
		v.installed[gk] = true
		v.mu.Unlock()
		started = append(started, gk)
	}
	if len(started) > 0 {
		v.related()
	}
	return started, nil
}

// WatchCRDs runs Discover every interval until ctx ends, so that kinds whose CRDs are
// installed after privgate starts (Istio installed later) are judged without a restart.
func (v *View) WatchCRDs(ctx context.Context, mapper meta.RESTMapper, interval time.Duration, log func(error, []schema.GroupKind)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if started, err := v.Discover(ctx, mapper); err != nil || len(started) > 0 {
				log(err, started)
			}
		}
	}
}

func (v *View) related() {
	v.generation.Add(1)
	v.mu.Lock()
	f := v.onRelated
	v.mu.Unlock()
	if f != nil {
		f()
	}
}

// Stored implements policy.Cluster from the cache: none for a kind not installed.
func (v *View) Stored(gk schema.GroupKind) []runtime.Object {
	k, ok := related[gk]
	if !ok || !v.Installed(gk) {
		return nil
	}
	list := k.list()
	if err := v.cache.List(context.Background(), list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	objs, _ := meta.ExtractList(list)
	return objs
}

// Generation implements policy.Cluster.
func (v *View) Generation() uint64 { return v.generation.Load() }
