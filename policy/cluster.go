package policy

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Cluster is what privgate knows of the other objects stored beside the one it judges, for the
// rules no single object can decide (who owns a host, which controller serves a class, which
// policy covers a route). It holds the kinds the targets read (Reader.Reads), typed as they
// decode them. Each door brings its own: the webhook an informer cache, privgate audit the
// objects it lists, check the files it reads. A nil Cluster judges every object alone.
// Callers only read the objects.
type Cluster interface {
	// Stored are the stored objects of kind; none when the kind is not installed (its CRD
	// absent) or not in view.
	Stored(kind schema.GroupKind) []runtime.Object
	// Get is the stored object of kind at namespace/name ("" for cluster-scoped), or nil.
	Get(kind schema.GroupKind, namespace, name string) runtime.Object
	// Indexed are the stored objects of kind whose index (Kind.Indexes) holds value.
	Indexed(kind schema.GroupKind, index, value string) []runtime.Object
	// Generation changes whenever an answer above may have changed: decisions that used
	// cross-object facts are cached under it.
	Generation() uint64
}

// Ref names a stored object and when it was created, for ownership: the oldest claim wins,
// ties broken by namespace/name.
type Ref struct {
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Created   time.Time `json:"-"`
}

// RefOf is the Ref of a stored object of kind.
func RefOf(kind string, obj runtime.Object) Ref {
	m, err := meta.Accessor(obj)
	if err != nil {
		return Ref{Kind: kind}
	}
	return Ref{Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), Created: m.GetCreationTimestamp().Time}
}

// SortClaims orders refs oldest first (ties: namespace/name): the first claim owns.
func SortClaims(refs []Ref) {
	slices.SortFunc(refs, func(a, b Ref) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
}

// Index is an in-memory Cluster, for the doors that hold the objects themselves (check, privgate
// audit). Build it with Reviewer.Store, which types and indexes each object as its target
// reads it. It is safe for concurrent use.
type Index struct {
	mu         sync.RWMutex
	stored     map[schema.GroupKind]map[string]runtime.Object // by namespace/name
	indexes    map[schema.GroupKind]map[string]map[string][]string
	generation uint64
}

// NewIndex is an empty Index.
func NewIndex() *Index {
	return &Index{stored: map[schema.GroupKind]map[string]runtime.Object{}, indexes: map[schema.GroupKind]map[string]map[string][]string{}}
}

// add records a typed object of kind under its namespace/name, with its index values.
func (x *Index) add(kind schema.GroupKind, obj runtime.Object, indexes map[string]IndexFunc) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	key := m.GetNamespace() + "/" + m.GetName()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stored[kind] == nil {
		x.stored[kind] = map[string]runtime.Object{}
		x.indexes[kind] = map[string]map[string][]string{}
	}
	x.stored[kind][key] = obj
	for name, f := range indexes {
		if x.indexes[kind][name] == nil {
			x.indexes[kind][name] = map[string][]string{}
		}
		for _, v := range f(obj) {
			if !slices.Contains(x.indexes[kind][name][v], key) {
				x.indexes[kind][name][v] = append(x.indexes[kind][name][v], key)
			}
		}
	}
	x.generation++
}

// Stored implements Cluster, in namespace/name order.
func (x *Index) Stored(kind schema.GroupKind) []runtime.Object {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.sorted(kind, slices.Collect(maps.Keys(x.stored[kind])))
}

// Get implements Cluster.
func (x *Index) Get(kind schema.GroupKind, namespace, name string) runtime.Object {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.stored[kind][namespace+"/"+name]
}

// Indexed implements Cluster, in namespace/name order.
func (x *Index) Indexed(kind schema.GroupKind, index, value string) []runtime.Object {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.sorted(kind, slices.Clone(x.indexes[kind][index][value]))
}

func (x *Index) sorted(kind schema.GroupKind, keys []string) []runtime.Object {
	slices.Sort(keys)
	out := make([]runtime.Object, 0, len(keys))
	for _, k := range keys {
		out = append(out, x.stored[kind][k])
	}
	return out
}

// Generation implements Cluster.
func (x *Index) Generation() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.generation
}

// Reads are the kinds of stored objects the targets read (see Reader), each once: what every
// door's Cluster holds, what the scheme registers and what the audit lists.
func (r *Reviewer) Reads() []Kind {
	var out []Kind
	for _, t := range r.Targets {
		rd, ok := t.(Reader)
		if !ok {
			continue
		}
		for _, k := range rd.Reads() {
			if i := slices.IndexFunc(out, func(o Kind) bool { return o.GVK.GroupKind() == k.GVK.GroupKind() }); i >= 0 {
				out[i] = out[i].merge(k)
				continue
			}
			out = append(out, k)
		}
	}
	return out
}

// ClusterScoped reports whether a kind the targets read has no namespace.
func (r *Reviewer) ClusterScoped(gk schema.GroupKind) bool {
	return slices.ContainsFunc(r.Reads(), func(k Kind) bool { return k.GVK.GroupKind() == gk && k.ClusterScoped })
}

// AddToScheme registers the Go types of every kind the targets read.
func (r *Reviewer) AddToScheme(s *runtime.Scheme) error {
	for _, t := range r.Targets {
		if rd, ok := t.(Reader); ok {
			if err := rd.AddToScheme(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// Store records a stored object (JSON) in x, typed as the target reading its kind decodes it,
// in namespace when one is given (where kubectl would create a manifest naming none), created at
// created when it is not zero and the object says no creation time (manifests rarely do: check
// gives them their order in the input, later is newer). It is what the doors holding the objects themselves (check, privgate audit) do
// with each; objects of kinds no target reads are not kept.
func (r *Reviewer) Store(x *Index, kind schema.GroupVersionKind, namespace string, created time.Time, raw []byte) error {
	i := slices.IndexFunc(r.Reads(), func(k Kind) bool { return k.GVK.GroupKind() == kind.GroupKind() })
	if i < 0 {
		return nil
	}
	var typed runtime.Object
	for _, t := range r.Targets {
		if rd, ok := t.(Reader); ok && slices.ContainsFunc(rd.Reads(), func(k Kind) bool { return k.GVK.GroupKind() == kind.GroupKind() }) {
			var err error
			if typed, err = rd.Typed(kind, raw); err != nil {
				return err
			}
			break // the first target reading the kind decodes it; Reads merged what all declare
		}
	}
	if m, err := meta.Accessor(typed); err == nil {
		if namespace != "" {
			m.SetNamespace(namespace)
		}
		if !created.IsZero() && m.GetCreationTimestamp().Time.IsZero() {
			m.SetCreationTimestamp(metav1.NewTime(created))
		}
	}
	x.add(kind.GroupKind(), typed, r.Reads()[i].Indexes)
	return nil
}
