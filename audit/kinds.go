package audit

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"

	"github.com/privgate/privgate/policy"
)

// kind is one kind of stored object the audit judges or the cluster view holds: a target's
// declaration (policy.Kind) with its Go types from the scheme the targets registered.
type kind struct {
	policy.Kind
	scheme *runtime.Scheme
}

// kindsOf are the kinds reviewer's targets read, in scheme s (see Scheme).
func kindsOf(reviewer *policy.Reviewer, s *runtime.Scheme) []kind {
	var out []kind
	for _, k := range reviewer.Reads() {
		out = append(out, kind{k, s})
	}
	return out
}

// object is an empty object of the kind.
func (k kind) object() client.Object {
	o, err := k.scheme.New(k.GVK)
	if err != nil {
		panic(fmt.Sprintf("kind %s is not in the scheme: %v", k.GVK, err)) // Scheme checked it is
	}
	return o.(client.Object)
}

// list is an empty list of the kind.
func (k kind) list() client.ObjectList {
	o, err := k.scheme.New(k.GVK.GroupVersion().WithKind(k.GVK.Kind + "List"))
	if err != nil {
		panic(fmt.Sprintf("list of %s is not in the scheme: %v", k.GVK, err)) // Scheme checked it is
	}
	return o.(client.ObjectList)
}

// Scheme registers the Go types of every kind reviewer's targets read, and the OpenReports
// types the audit writes: the cluster view's scheme.
func Scheme(reviewer *policy.Reviewer) (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := reviewer.AddToScheme(s); err != nil {
		return nil, err
	}
	for _, k := range reviewer.Reads() {
		for _, gvk := range []schema.GroupVersionKind{k.GVK, k.GVK.GroupVersion().WithKind(k.GVK.Kind + "List")} {
			if !s.Recognizes(gvk) {
				return nil, fmt.Errorf("a target reads %s but its AddToScheme does not register it", gvk)
			}
		}
	}
	return s, reportsv1alpha1.Install(s)
}

// CachedObjects are the objects the cluster view caches from the start: every kind read that
// exists without a CRD (CRD kinds are cached once found installed: View.Discover).
func CachedObjects(reviewer *policy.Reviewer, s *runtime.Scheme) []client.Object {
	var out []client.Object
	for _, k := range kindsOf(reviewer, s) {
		if !k.CRD && k.With.Empty() {
			out = append(out, k.object())
		}
	}
	return out
}

// objectKey names one judged object of one kind.
type objectKey struct {
	kind string
	types.NamespacedName
}

// reportKey is where an object's Report lives: its report kind (Report or ClusterReport),
// namespace and name.
type reportKey struct {
	cluster bool
	types.NamespacedName
}

func (k objectKey) report() reportKey {
	return reportKey{k.Namespace == "", types.NamespacedName{Namespace: k.Namespace, Name: reportName(k.kind, k.Name)}}
}

// emptyReport is the Report (or ClusterReport) at key, for deletes.
func (k reportKey) object() client.Object {
	if k.cluster {
		return &reportsv1alpha1.ClusterReport{ObjectMeta: objectMeta(k.NamespacedName)}
	}
	return &reportsv1alpha1.Report{ObjectMeta: objectMeta(k.NamespacedName)}
}

func objectMeta(n types.NamespacedName) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: n.Namespace, Name: n.Name}
}

func items(list client.ObjectList) []client.Object {
	objs, _ := meta.ExtractList(list)
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		if c, ok := o.(client.Object); ok {
			out = append(out, c)
		}
	}
	return out
}
