package audit

import (
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
)

// kind is one kind of stored object the audit judges.
type kind struct {
	gvk    schema.GroupVersionKind
	object func() client.Object
	list   func() client.ObjectList
}

// kinds are every kind the audit knows; it judges those a target of the core judges.
var kinds = []kind{
	{networkingv1.SchemeGroupVersion.WithKind("Ingress"), func() client.Object { return &networkingv1.Ingress{} }, func() client.ObjectList { return &networkingv1.IngressList{} }},
	{rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), func() client.Object { return &rbacv1.RoleBinding{} }, func() client.ObjectList { return &rbacv1.RoleBindingList{} }},
	{rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"), func() client.Object { return &rbacv1.ClusterRoleBinding{} }, func() client.ObjectList { return &rbacv1.ClusterRoleBindingList{} }},
}

// CachedObjects are the objects the cluster view caches for reviewer's targets: the audited
// kinds, and IngressClasses for the cross-object rules.
func CachedObjects(judges func(schema.GroupVersionKind) bool) []client.Object {
	out := []client.Object{&networkingv1.IngressClass{}}
	for _, k := range kinds {
		if judges(k.gvk) {
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
