package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privgate/privgate/policy"
)

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
// questions (policy.Cluster) from memory, for every kind the targets read.
type View struct {
	cache      cache.Cache
	generation atomic.Uint64
	kinds      map[schema.GroupKind]kind

	mu        sync.Mutex
	installed map[schema.GroupKind]bool // CRD kinds whose informers run (CRD found)
	onRelated func()                    // called on any change of a CRD kind

	reader client.Reader // uncached, for Live (live.go)
}

// NewView starts the informers of the kinds read without a CRD, their indexes registered, and
// counts every change of them. Call it before the cache starts; s is the scheme the cache decodes
// with (Scheme).
func NewView(ctx context.Context, c cache.Cache, reviewer *policy.Reviewer, s *runtime.Scheme) (*View, error) {
	v := &View{cache: c, kinds: map[schema.GroupKind]kind{}, installed: map[schema.GroupKind]bool{}}
	bump := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { v.generation.Add(1) },
		UpdateFunc: func(any, any) { v.generation.Add(1) },
		DeleteFunc: func(any) { v.generation.Add(1) },
	}
	for _, k := range kindsOf(reviewer, s) {
		v.kinds[k.GVK.GroupKind()] = k
		if k.CRD || !k.With.Empty() {
			continue // started by Discover
		}
		if err := v.watch(ctx, k, bump); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// watch starts the informer of k (or joins it) with h, k's field indexes (Kind.Indexes)
// registered first: every kind the view starts, now or when Discover finds its CRD, answers
// Indexed. Once the cache runs, IndexField starts the kind's informer itself and adds the
// indexers to its store, which indexes what the informer already listed (client-go's
// threadSafeMap.AddIndexers), so a kind found late misses no object.
func (v *View) watch(ctx context.Context, k kind, h toolscache.ResourceEventHandler) error {
	for name, f := range k.Indexes {
		if err := v.cache.IndexField(ctx, k.object(), name, func(o client.Object) []string { return f(o) }); err != nil {
			return fmt.Errorf("index %s by %s: %w", k.GVK.Kind, name, err)
		}
	}
	inf, err := v.cache.GetInformer(ctx, k.object())
	if err != nil {
		return err
	}
	_, err = inf.AddEventHandler(h)
	return err
}

// Get implements policy.Cluster from the cache.
func (v *View) Get(gk schema.GroupKind, namespace, name string) runtime.Object {
	k, ok := v.inView(gk)
	if !ok {
		return nil
	}
	obj := k.object()
	// Read-only use of the cached object: no copy needed.
	if err := v.cache.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, obj, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	return obj
}

// Indexed implements policy.Cluster from the cache's field indexes.
func (v *View) Indexed(gk schema.GroupKind, index, value string) []runtime.Object {
	return v.list(gk, client.MatchingFields{index: value})
}

// Stored implements policy.Cluster from the cache: none for a kind not installed.
func (v *View) Stored(gk schema.GroupKind) []runtime.Object { return v.list(gk) }

func (v *View) list(gk schema.GroupKind, opts ...client.ListOption) []runtime.Object {
	k, ok := v.inView(gk)
	if !ok {
		return nil
	}
	list := k.list()
	if err := v.cache.List(context.Background(), list, append(opts, client.UnsafeDisableDeepCopy)...); err != nil {
		return nil
	}
	objs, _ := meta.ExtractList(list)
	return objs
}

// inView is the kind of gk when its informer runs.
func (v *View) inView(gk schema.GroupKind) (kind, bool) {
	k, ok := v.kinds[gk]
	if !ok || (k.CRD || !k.With.Empty()) && !v.Installed(gk) {
		return kind{}, false
	}
	return k, true
}

// OnRelatedChange sets what to do when an object of a CRD kind changes (the audit's full
// pass: coverage moves for every route at once).
func (v *View) OnRelatedChange(f func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.onRelated = f
}

// Installed reports whether the informer of a CRD kind runs.
func (v *View) Installed(gk schema.GroupKind) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.installed[gk]
}

// Discover starts the informers of the CRD kinds whose CRDs are installed now, and says which it
// started. Kinds whose CRDs are absent are left out: an informer for them would never sync. A
// kind held back for another (Kind.With) starts once that one is installed.
func (v *View) Discover(ctx context.Context, mapper meta.RESTMapper) ([]schema.GroupKind, error) {
	var started []schema.GroupKind
	for _, gk := range slices.SortedFunc(maps.Keys(v.kinds), func(a, b schema.GroupKind) int { return strings.Compare(a.String(), b.String()) }) {
		k := v.kinds[gk]
		if (!k.CRD && k.With.Empty()) || v.Installed(gk) {
			continue
		}
		probe := k.GVK
		if !k.With.Empty() {
			w, ok := v.kinds[k.With]
			if !ok {
				continue
			}
			probe = w.GVK
		}
		if _, err := mapper.RESTMapping(probe.GroupKind(), probe.Version); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return started, err
		}
		if err := v.watch(ctx, k, toolscache.ResourceEventHandlerFuncs{
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

// Generation implements policy.Cluster.
func (v *View) Generation() uint64 { return v.generation.Load() }
