package istio_test

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/istio"
	"github.com/privgate/privgate/test/testutil"
)

// zone is a mesh of n VirtualServices on Istio's ingress gateway, each with its own CUSTOM
// policy (a team per app), stored as the cluster view holds them.
func zone(b *testing.B, n int) (*policy.Reviewer, policy.Request, policy.Request) {
	b.Helper()
	r := testutil.Reviewer(b, "testdata/privgate.yaml")
	index := policy.NewIndex()
	put := func(gvk schema.GroupVersionKind, doc string) []byte {
		if err := r.Store(index, gvk, "", time.Time{}, []byte(doc)); err != nil {
			b.Fatal(err)
		}
		return []byte(doc)
	}
	put(istio.IstioGateway.WithVersion("v1"), `{"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"public","namespace":"istio-system"},"spec":{"selector":{"istio":"ingressgateway"},"servers":[{"port":{"number":443,"name":"https","protocol":"HTTPS"},"hosts":["*/*.example.com"]}]}}`)
	var vs, ap []byte
	for i := range n {
		host := fmt.Sprintf("app%d.private.example.com", i)
		vs = put(istio.VirtualService.WithVersion("v1"), fmt.Sprintf(`{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"app%d","namespace":"team%d"},"spec":{"hosts":[%q],"gateways":["istio-system/public"],"http":[{"route":[{"destination":{"host":"app"}}]}]}}`, i, i, host))
		ap = put(istio.AuthorizationPolicy.WithVersion("v1"), fmt.Sprintf(`{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"login-app%d","namespace":"istio-system"},"spec":{"selector":{"matchLabels":{"istio":"ingressgateway"}},"action":"CUSTOM","provider":{"name":"oauth2-proxy"},"rules":[{"to":[{"operation":{"hosts":[%q,"%s:*"]}}]}]}}`, i, host, host))
	}
	r.Cluster = index
	route := policy.Request{Kind: istio.VirtualService.WithVersion("v1"), Operation: "UPDATE", Namespace: fmt.Sprintf("team%d", n-1), Name: fmt.Sprintf("app%d", n-1), Object: vs}
	deletion := policy.Request{Kind: istio.AuthorizationPolicy.WithVersion("v1"), Operation: "DELETE", Namespace: "istio-system", Name: fmt.Sprintf("login-app%d", n-1), OldObject: ap}
	return r, route, deletion
}

// BenchmarkRoute: one VirtualService judged against a gateway with n policies (no cache).
func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprintf("policies=%d", n), func(b *testing.B) {
			r, route, _ := zone(b, n)
			testutil.BenchValidate(b, r, route, true)
		})
	}
}

// BenchmarkPolicyDeletion: deleting one policy re-judges every route published where it
// applies (n routes, n policies).
func BenchmarkPolicyDeletion(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			r, _, deletion := zone(b, n)
			testutil.BenchValidate(b, r, deletion, false)
		})
	}
}
