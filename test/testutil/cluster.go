package testutil

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/privgate/privgate/policy"
)

// FakeCache is an informer cache answering from a fake client (Get, List, and the field indexes
// the client was built with: FakeClient), with fake informers that deliver no events: a
// cache.Cache for the cluster view without an API server. As a real cache, it answers an index
// only once IndexField registered it for the kind: the client holds every index declared.
type FakeCache struct {
	client.Client
	*informertest.FakeInformers
	indexed *sync.Map // kind and field registered (fieldKey)
}

type fieldKey struct {
	kind  schema.GroupKind
	field string
}

// Get reads the fake client.
func (c FakeCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.Client.Get(ctx, key, obj, opts...)
}

// List reads the fake client, refusing an index not registered for the kind as the real cache does.
func (c FakeCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if fs := (&client.ListOptions{}).ApplyOptions(opts).FieldSelector; fs != nil {
		gvk, err := apiutil.GVKForObject(list, c.Client.Scheme())
		if err != nil {
			return err
		}
		kind := schema.GroupKind{Group: gvk.Group, Kind: strings.TrimSuffix(gvk.Kind, "List")}
		for _, r := range fs.Requirements() {
			if _, ok := c.indexed.Load(fieldKey{kind, r.Field}); !ok {
				return fmt.Errorf("index with name field:%s does not exist on %s", r.Field, kind)
			}
		}
	}
	return c.Client.List(ctx, list, opts...)
}

// IndexField registers an index of the client's for the kind of obj.
func (c FakeCache) IndexField(_ context.Context, obj client.Object, field string, _ client.IndexerFunc) error {
	gvk, err := apiutil.GVKForObject(obj, c.Client.Scheme())
	if err != nil {
		return err
	}
	c.indexed.Store(fieldKey{gvk.GroupKind(), field}, true)
	return nil
}

// NewFakeCache is a FakeCache over c, its informers in scheme s.
func NewFakeCache(c client.Client, s *runtime.Scheme) FakeCache {
	return FakeCache{Client: c, FakeInformers: &informertest.FakeInformers{Scheme: s}, indexed: &sync.Map{}}
}

// FakeClient is a fake API server holding objs, with the field indexes reviewer's targets
// declare (policy.Kind.Indexes), in scheme s; the builder takes more (interceptors) before Build.
func FakeClient(t testing.TB, reviewer *policy.Reviewer, s *runtime.Scheme, objs ...client.Object) *fake.ClientBuilder {
	t.Helper()
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...)
	for _, k := range reviewer.Reads() {
		if len(k.Indexes) == 0 {
			continue
		}
		o, err := s.New(k.GVK)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range k.Indexes {
			b = b.WithIndex(o.(client.Object), name, func(o client.Object) []string { return f(o) })
		}
	}
	return b
}

// Stored decodes YAML manifests (one object each) into the Go types of scheme s, as the API
// server stores them: a UID, a creation time and a generation.
func Stored(t testing.TB, s *runtime.Scheme, manifests ...string) []client.Object {
	t.Helper()
	decode := serializer.NewCodecFactory(s).UniversalDeserializer()
	out := make([]client.Object, 0, len(manifests))
	for _, m := range manifests {
		obj, _, err := decode.Decode([]byte(m), nil, nil)
		if err != nil {
			t.Fatalf("%v\n%s", err, m)
		}
		o := obj.(client.Object)
		o.SetUID(types.UID("uid-" + strings.ReplaceAll(o.GetNamespace()+"-"+o.GetName(), "/", "-")))
		o.SetCreationTimestamp(metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
		o.SetGeneration(1)
		out = append(out, o)
	}
	return out
}
