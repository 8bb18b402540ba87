package audit

import (
	"context"
	"errors"
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

// Live implements policy.Live: the related kinds installed, listed from the API server now
// (ownership and classes still from the cache: no target judged against related kinds reads
// them). Only refusals resting on related objects read it, so the lists are rare.
func (v *View) Live(ctx context.Context) (policy.Cluster, error) {
	if v.reader == nil {
		return nil, errors.New("no live reader")
	}
	ctx, cancel := context.WithTimeout(ctx, liveTimeout)
	defer cancel()
	live := &liveView{view: v, stored: map[schema.GroupKind][]runtime.Object{}}
	for _, gk := range v.wanted {
		k, ok := related[gk]
		if !ok || !v.Installed(gk) {
			continue
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

func (l *liveView) Claimants(host string) []policy.Ref { return l.view.Claimants(host) }

func (l *liveView) IngressClassController(name string) (string, bool) {
	return l.view.IngressClassController(name)
}

func (l *liveView) Stored(gk schema.GroupKind) []runtime.Object { return l.stored[gk] }

func (l *liveView) Generation() uint64 { return l.view.Generation() }

var _ policy.Live = (*View)(nil)
