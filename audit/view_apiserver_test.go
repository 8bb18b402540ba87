package audit

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/traefik/router"
	"github.com/privgate/privgate/test/testutil"
)

// TestViewIndexesDiscoveredKinds: a kind whose CRD is installed after the cache started (Traefik's
// Middleware, indexed by ID: router.IDIndex) answers Indexed once Discover started it, for the
// objects stored before Discover and after, and the Ingress and IngressRoute naming their login
// through that index are judged protected by the audit. Over a real API server and
// controller-runtime's informer cache: the fake cache answers every index its client was built
// with, started or not, so it cannot show an index the view never registered.
func TestViewIndexesDiscoveredKinds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	env, _, err := testutil.ControlPlane()
	if err != nil {
		t.Skip(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	r := testutil.Reviewer(t, "../policy/traefik/testdata/privgate.yaml")
	s, err := Scheme(r)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, hc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cfg, cache.Options{Scheme: s, Mapper: mapper, DefaultTransform: Trim})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v, err := NewView(ctx, c, r, s)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = c.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-stopped }) // before the control plane stops
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache never synced")
	}
	r.Cluster = v
	if started, err := v.Discover(ctx, mapper); err != nil || len(started) > 0 {
		t.Fatalf("Discover before any CRD started %v (%v), want nothing", started, err)
	}

	// A client that writes namespaces too.
	cs, err := Scheme(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := clientgoscheme.AddToScheme(cs); err != nil {
		t.Fatal(err)
	}
	api, err := client.New(cfg, client.Options{Scheme: cs})
	if err != nil {
		t.Fatal(err)
	}
	create := func(manifests ...string) {
		t.Helper()
		for _, o := range testutil.Stored(t, cs, manifests...) {
			if err := api.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	crds := filepath.Join(testutil.Root(), "policy/crdschema/crds")
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{
		filepath.Join(crds, "traefik.io_middlewares.yaml"), filepath.Join(crds, "traefik.io_ingressroutes.yaml"), filepath.Join(crds, "traefik.io_ingressroutetcps.yaml"),
	}}); err != nil {
		t.Fatal(err)
	}
	create(namespace("traefik"), namespace("monitoring"), loginMiddleware("traefik", "oauth2-proxy"),
		`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: grafana
  namespace: monitoring
  annotations:
    traefik.ingress.kubernetes.io/router.middlewares: traefik-oauth2-proxy@kubernetescrd
    traefik.ingress.kubernetes.io/router.tls: "true"
    cert-manager.io/cluster-issuer: letsencrypt-production
spec:
  ingressClassName: traefik
  tls: [{hosts: [grafana.private.example.com], secretName: grafana-privgate-tls}]
  rules:
  - host: grafana.private.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: grafana, port: {number: 3000}}}}]}
`)
	middlewareGK := router.MiddlewareKind.GroupKind()
	started, err := v.Discover(ctx, mapper)
	if err != nil || !slices.Contains(started, middlewareGK) || !slices.Contains(started, router.IngressRouteKind.GroupKind()) {
		t.Fatalf("Discover after the Traefik CRDs started %v (%v), want Middlewares and IngressRoutes", started, err)
	}
	create(loginMiddleware("monitoring", "login"), `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: app, namespace: monitoring}
spec:
  entryPoints: [websecure]
  routes:
  - match: Host(`+"`app.private.example.com`"+`)
    kind: Rule
    middlewares: [{name: login}]
    services: [{name: app, port: 80}]
  tls: {secretName: app-tls}
`)
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return len(v.Stored(middlewareGK)) == 2 && len(v.Stored(router.IngressRouteKind.GroupKind())) == 1, nil
	}); err != nil {
		t.Fatalf("the cache holds Middlewares %v and IngressRoutes %v", names(v.Stored(middlewareGK)), names(v.Stored(router.IngressRouteKind.GroupKind())))
	}

	// The index answers the Middleware listed as the informer started and the one watched after.
	indexed := map[string][]string{
		router.CRDID("traefik", "oauth2-proxy"): {"traefik/oauth2-proxy"},
		router.CRDID("monitoring", "login"):     {"monitoring/login"},
		router.CRDID("monitoring", "absent"):    nil,
	}
	for id, want := range indexed {
		if got := names(v.Indexed(middlewareGK, router.IDIndex, id)); !slices.Equal(got, want) {
			t.Errorf("Indexed(Middleware, %s, %s) = %v, want %v", router.IDIndex, id, got, want)
		}
	}

	// Judged as the audit judges them, each private host is protected by its login.
	judged := map[string]struct {
		gvk             schema.GroupVersionKind
		namespace, name string
		host            string
	}{
		"Ingress naming the login of another namespace": {testutil.IngressKind, "monitoring", "grafana", "grafana.private.example.com"},
		"IngressRoute naming its namespace's login":     {router.IngressRouteKind, "monitoring", "app", "app.private.example.com"},
	}
	for name, j := range judged {
		t.Run(name, func(t *testing.T) {
			obj := v.kinds[j.gvk.GroupKind()].object()
			if err := c.Get(ctx, client.ObjectKey{Namespace: j.namespace, Name: j.name}, obj); err != nil {
				t.Fatal(err) // read as the audit's client reads it, from the cache
			}
			verdict := Judge(ctx, r, j.gvk, obj)
			if state := verdict.State(r.Config, j.host); state != policy.HostProtected {
				t.Errorf("%s is %s, want %s: %+v", j.host, state, policy.HostProtected, verdict.Decision)
			}
		})
	}
}

func namespace(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + "}\n"
}

// loginMiddleware is a ForwardAuth Middleware to the Traefik config's authAddress: the login.
func loginMiddleware(namespace, name string) string {
	return "apiVersion: traefik.io/v1alpha1\nkind: Middleware\nmetadata: {name: " + name + ", namespace: " + namespace + "}\n" +
		"spec: {forwardAuth: {address: http://oauth2-proxy.oauth2-proxy.svc.cluster.local:4180/oauth2/auth}}\n"
}
