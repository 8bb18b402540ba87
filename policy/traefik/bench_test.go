package traefik_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/traefik/router"
	"github.com/privgate/privgate/test/testutil"
)

// zone is n IngressRoutes, each behind a login Middleware of its own namespace, stored as the
// cluster view holds them; with the route and the login of the last one.
func zone(b *testing.B, n int) (*policy.Reviewer, policy.Request, policy.Request) {
	b.Helper()
	r := testutil.Reviewer(b, "testdata/privgate.yaml")
	index := policy.NewIndex()
	put := func(doc string) []byte {
		if err := r.Store(index, router.IngressRouteKind, "", time.Time{}, []byte(doc)); err != nil {
			b.Fatal(err)
		}
		return []byte(doc)
	}
	var route, login []byte
	for i := range n {
		login = []byte(fmt.Sprintf(`{"apiVersion":"traefik.io/v1alpha1","kind":"Middleware","metadata":{"name":"login","namespace":"team%d"},"spec":{"forwardAuth":{"address":"http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth"}}}`, i))
		if err := r.Store(index, router.MiddlewareKind, "", time.Time{}, login); err != nil {
			b.Fatal(err)
		}
		route = put(fmt.Sprintf(`{"apiVersion":"traefik.io/v1alpha1","kind":"IngressRoute","metadata":{"name":"app","namespace":"team%d"},"spec":{"entryPoints":["websecure"],"tls":{},"routes":[{"match":"Host(`+"`app%d.private.example.com`"+`)","middlewares":[{"name":"login"}],"services":[{"name":"app","port":80}]}]}}`, i, i))
	}
	r.Cluster = index
	last := fmt.Sprintf("team%d", n-1)
	return r,
		policy.Request{Kind: router.IngressRouteKind, Operation: "UPDATE", Namespace: last, Name: "app", Object: route},
		policy.Request{Kind: router.MiddlewareKind, Operation: "DELETE", Namespace: last, Name: "login", OldObject: login}
}

// BenchmarkRoute: one IngressRoute judged against n stored Middlewares (no cache).
func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			r, route, _ := zone(b, n)
			testutil.BenchValidate(b, r, route, true)
		})
	}
}

// BenchmarkMiddlewareDelete: deleting a login in use, judged against every stored router (each
// chain resolved before and after): the cost grows with the zone.
func BenchmarkMiddlewareDelete(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			r, _, deletion := zone(b, n)
			testutil.BenchValidate(b, r, deletion, false)
		})
	}
}
