package audit

import (
	"context"
	"encoding/json"
	"maps"
	"sync/atomic"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/privgate/privgate/policy"
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
		return reviewer.HostsOf(policy.Request{Kind: ingressKind, Namespace: o.GetNamespace(), Name: o.GetName(), Object: raw})
	})
	if err != nil {
		return nil, err
	}
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

// Generation implements policy.Cluster.
func (v *View) Generation() uint64 { return v.generation.Load() }
