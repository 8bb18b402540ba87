package policy

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Cluster is what privgate knows of the other objects stored beside the one it judges, for the
// rules no single object can decide (who owns a host, which controller serves a class). Each
// door brings its own: the webhook an informer cache, audit the objects it lists, check the
// files it reads. A nil Cluster judges every object alone.
type Cluster interface {
	// Claimants are the objects answering host, oldest first.
	Claimants(host string) []Ref
	// IngressClassController is the spec.controller of IngressClass name, if it exists.
	IngressClassController(name string) (string, bool)
	// Stored are the stored objects of a kind a Relating target relates to, typed as its Typed
	// decodes them; none when the kind is not installed (its CRD absent) or not in view.
	// Callers only read them.
	Stored(kind schema.GroupKind) []runtime.Object
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

// SortClaims orders refs oldest first (ties: namespace/name): the first claim owns.
func SortClaims(refs []Ref) {
	slices.SortFunc(refs, func(a, b Ref) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
}

// Index is an in-memory Cluster, for callers that hold the objects themselves (check, audit).
// It is safe for concurrent use.
type Index struct {
	mu         sync.RWMutex
	claims     map[string][]Ref // by host
	classes    map[string]string
	stored     map[schema.GroupKind]map[string]runtime.Object // by namespace/name
	generation uint64
}

// NewIndex is an empty Index.
func NewIndex() *Index {
	return &Index{claims: map[string][]Ref{}, classes: map[string]string{}, stored: map[schema.GroupKind]map[string]runtime.Object{}}
}

// Store records a typed object of kind, replacing one of the same namespace and name.
func (x *Index) Store(kind schema.GroupKind, obj runtime.Object) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.stored[kind] == nil {
		x.stored[kind] = map[string]runtime.Object{}
	}
	x.stored[kind][m.GetNamespace()+"/"+m.GetName()] = obj
	x.generation++
}

// Stored implements Cluster, in namespace/name order.
func (x *Index) Stored(kind schema.GroupKind) []runtime.Object {
	x.mu.RLock()
	defer x.mu.RUnlock()
	keys := make([]string, 0, len(x.stored[kind]))
	for k := range x.stored[kind] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]runtime.Object, 0, len(keys))
	for _, k := range keys {
		out = append(out, x.stored[kind][k])
	}
	return out
}

// Add records that ref answers hosts.
func (x *Index) Add(ref Ref, hosts []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, h := range hosts {
		refs := append(x.claims[h], ref)
		SortClaims(refs)
		x.claims[h] = refs
	}
	x.generation++
}

// AddIngressClass records an IngressClass and its controller.
func (x *Index) AddIngressClass(name, controller string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.classes[name] = controller
	x.generation++
}

// Claimants implements Cluster.
func (x *Index) Claimants(host string) []Ref {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.claims[host])
}

// IngressClassController implements Cluster.
func (x *Index) IngressClassController(name string) (string, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	c, ok := x.classes[name]
	return c, ok
}

// Generation implements Cluster.
func (x *Index) Generation() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.generation
}

// crossObject fills what the Cluster says of obj into its input: the owner of each private host
// another namespace owns, and the controller of each class the object names that exists.
func (r *Reviewer) crossObject(in *Input, self Ref, f Facts) {
	if r.Cluster == nil {
		return
	}
	if r.Config.HostOwnership.On() {
		for _, h := range f.Hosts {
			if !h.Private || h.Any {
				continue
			}
			owner, ok := r.owner(h.Host, self)
			if ok && owner.Namespace != self.Namespace {
				if in.Owners == nil {
					in.Owners = map[string]Ref{}
				}
				in.Owners[h.Host] = owner
			}
		}
	}
	for _, c := range f.Classes {
		if controller, ok := r.Cluster.IngressClassController(c); ok {
			if in.Classes == nil {
				in.Classes = map[string]string{}
			}
			in.Classes[c] = controller
		}
	}
}

// owner is the oldest claim on host outside the shared namespaces (they neither own hosts nor
// are refused them), when it is not the object being judged. Only a stored claim's age counts:
// an object that does not claim the host yet (a new one, or an old one adding the host) is the
// newest, whatever its creationTimestamp says.
func (r *Reviewer) owner(host string, self Ref) (Ref, bool) {
	for _, c := range r.Cluster.Claimants(host) {
		if slices.Contains(r.Config.HostOwnership.SharedNamespaces, c.Namespace) {
			continue
		}
		if c.Kind == self.Kind && c.Namespace == self.Namespace && c.Name == self.Name {
			return Ref{}, false // the oldest claim is the object's own stored one: it owns the host
		}
		return c, true
	}
	return Ref{}, false
}

// Related are the kinds of stored objects the targets judge against (see Relating): what every
// door's Cluster must hold.
func (r *Reviewer) Related() []schema.GroupKind {
	var out []schema.GroupKind
	for _, t := range r.Targets {
		if rel, ok := t.(Relating); ok {
			out = append(out, rel.Related()...)
		}
	}
	return out
}

// Store records a stored object (JSON) in x, typed as the target relating to its kind reads it,
// in namespace when one is given (where kubectl would create a manifest naming none). It is what
// doors holding the objects themselves (check, privgate audit) do with each; objects of kinds no
// target relates to are not kept.
func (r *Reviewer) Store(x *Index, kind schema.GroupVersionKind, namespace string, raw []byte) error {
	for _, t := range r.Targets {
		rel, ok := t.(Relating)
		if !ok || !slices.Contains(rel.Related(), kind.GroupKind()) {
			continue
		}
		typed, err := rel.Typed(kind, raw)
		if err != nil {
			return err
		}
		if m, err := meta.Accessor(typed); err == nil && namespace != "" {
			m.SetNamespace(namespace)
		}
		x.Store(kind.GroupKind(), typed)
		return nil
	}
	return nil
}
