package audit

import (
	"context"
	"errors"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privgate/privgate/policy"
)

// liveTimeout bounds the live read confirming a refusal: well inside the webhooks' timeout.
const liveTimeout = 2 * time.Second

// ReadLive gives the view an uncached reader (the manager's API reader) for Live.
func (v *View) ReadLive(r client.Reader) { v.reader = r }

// Live implements policy.Live: the kinds found with their CRDs (the gateways, routes and
// policies judged in full passes), listed from the API server now; the kinds always served
// (Ingresses, IngressClasses) still from the cache, which no refusal of a related kind rests
// on. Only refusals resting on related objects read it, so the lists are rare.
func (v *View) Live(ctx context.Context) (policy.Cluster, error) {
	if v.reader == nil {
		return nil, errors.New("no live reader")
	}
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	live := &liveView{view: v, stored: map[schema.GroupKind][]runtime.Object{}}
	for gk, k := range v.kinds {
		if !k.CRD && k.With.Empty() || !v.Installed(gk) {
			continue // read from the cache, or not installed
		}
		list := k.list()
		if err := v.reader.List(ctx, list); err != nil {
			return nil, err
		}
		objs, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		live.stored[gk] = objs
	}
	return live, nil
}

// liveView is the cluster as Live read it.
type liveView struct {
	view   *View
	stored map[schema.GroupKind][]runtime.Object
}

func (l *liveView) Stored(gk schema.GroupKind) []runtime.Object {
	if objs, ok := l.stored[gk]; ok {
		return objs
	}
	return l.view.Stored(gk)
}

func (l *liveView) Get(gk schema.GroupKind, namespace, name string) runtime.Object {
	objs, ok := l.stored[gk]
	if !ok {
		return l.view.Get(gk, namespace, name)
	}
	for _, o := range objs {
		if m, err := meta.Accessor(o); err == nil && m.GetNamespace() == namespace && m.GetName() == name {
			return o
		}
	}
	return nil
}

// Indexed answers a kind read live from what was read (a CRD kind may declare an index too: the
// cache's answer would lag behind Stored's), the others from the cache.
func (l *liveView) Indexed(gk schema.GroupKind, index, value string) []runtime.Object {
	objs, ok := l.stored[gk]
	if !ok {
		return l.view.Indexed(gk, index, value)
	}
	f := l.view.kinds[gk].Indexes[index]
	if f == nil {
		return nil // as the cache answers an index nobody declared
	}
	var out []runtime.Object
	for _, o := range objs {
		if slices.Contains(f(o), value) {
			out = append(out, o)
		}
	}
	return out
}

func (l *liveView) Generation() uint64 { return l.view.Generation() }

var _ policy.Live = (*View)(nil)
