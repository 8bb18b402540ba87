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
	istionetworking "istio.io/client-go/pkg/apis/networking/v1"
	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/privgate/privgate/policy/istio"
)

// kind is one kind of stored object the audit judges or the cluster view holds.
type kind struct {
	gvk    schema.GroupVersionKind
	object func() client.Object
	list   func() client.ObjectList
	// crd marks a kind that exists only when its CRD is installed (Istio, Gateway API): its
	// objects are judged in full passes, which any change of a related kind requests, since a
	// policy or gateway change moves what covers every route.
	crd bool
}

// kinds are every kind the audit knows; it judges those a target of the core judges.
var kinds = []kind{
	{networkingv1.SchemeGroupVersion.WithKind("Ingress"), func() client.Object { return &networkingv1.Ingress{} }, func() client.ObjectList { return &networkingv1.IngressList{} }, false},
	{rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), func() client.Object { return &rbacv1.RoleBinding{} }, func() client.ObjectList { return &rbacv1.RoleBindingList{} }, false},
	{rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"), func() client.Object { return &rbacv1.ClusterRoleBinding{} }, func() client.ObjectList { return &rbacv1.ClusterRoleBindingList{} }, false},
	related[istio.VirtualService], related[istio.IstioGateway], related[istio.AuthorizationPolicy],
	related[istio.Gateway], related[istio.HTTPRoute], related[istio.GRPCRoute], related[istio.TLSRoute],
}

// related are the kinds a Relating target may read through the view, in the version cached.
var related = map[schema.GroupKind]kind{
	istio.VirtualService:      {istio.VirtualService.WithVersion("v1"), func() client.Object { return &istionetworking.VirtualService{} }, func() client.ObjectList { return &istionetworking.VirtualServiceList{} }, true},
	istio.IstioGateway:        {istio.IstioGateway.WithVersion("v1"), func() client.Object { return &istionetworking.Gateway{} }, func() client.ObjectList { return &istionetworking.GatewayList{} }, true},
	istio.AuthorizationPolicy: {istio.AuthorizationPolicy.WithVersion("v1"), func() client.Object { return &istiosecurity.AuthorizationPolicy{} }, func() client.ObjectList { return &istiosecurity.AuthorizationPolicyList{} }, true},
	istio.Gateway:             {istio.Gateway.WithVersion("v1"), func() client.Object { return &gatewayv1.Gateway{} }, func() client.ObjectList { return &gatewayv1.GatewayList{} }, true},
	istio.GatewayClass:        {istio.GatewayClass.WithVersion("v1"), func() client.Object { return &gatewayv1.GatewayClass{} }, func() client.ObjectList { return &gatewayv1.GatewayClassList{} }, true},
	istio.HTTPRoute:           {istio.HTTPRoute.WithVersion("v1"), func() client.Object { return &gatewayv1.HTTPRoute{} }, func() client.ObjectList { return &gatewayv1.HTTPRouteList{} }, true},
	istio.GRPCRoute:           {istio.GRPCRoute.WithVersion("v1"), func() client.Object { return &gatewayv1.GRPCRoute{} }, func() client.ObjectList { return &gatewayv1.GRPCRouteList{} }, true},
	istio.TLSRoute:            {istio.TLSRoute.WithVersion("v1"), func() client.Object { return &gatewayv1.TLSRoute{} }, func() client.ObjectList { return &gatewayv1.TLSRouteList{} }, true},
	// Services are always served; they are read only for Gateways deployed by hand, so they
	// are cached only once Gateway API is installed.
	istio.Service: {corev1.SchemeGroupVersion.WithKind("Service"), func() client.Object { return &corev1.Service{} }, func() client.ObjectList { return &corev1.ServiceList{} }, true},
}

// CachedObjects are the objects the cluster view caches for reviewer's targets: the audited
// kinds, and IngressClasses for the cross-object rules.
func CachedObjects(judges func(schema.GroupVersionKind) bool) []client.Object {
	out := []client.Object{&networkingv1.IngressClass{}}
	for _, k := range kinds {
		if judges(k.gvk) && !k.crd { // CRD kinds are cached once found installed (View.Discover)
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
