package audit

import (
	"context"
	"slices"
	"testing"

	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/privgate/privgate/policy"
)

// TestViewLive: Live lists the installed kinds found with their CRDs from the API server (here a
// fake client), not from the cache; kinds whose CRDs are absent are not read.
func TestViewLive(t *testing.T) {
	s := runtime.NewScheme()
	_ = istiosecurity.AddToScheme(s)
	stored := &istiosecurity.AuthorizationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "login", Namespace: "istio-system"}}
	reader := fake.NewClientBuilder().WithScheme(s).WithObjects(stored).Build()
	authz := schema.GroupKind{Group: "security.istio.io", Kind: "AuthorizationPolicy"}
	vs := schema.GroupKind{Group: "networking.istio.io", Kind: "VirtualService"}
	v := &View{
		kinds: map[schema.GroupKind]kind{
			authz: {policy.Kind{GVK: authz.WithVersion("v1"), CRD: true, Indexes: map[string]policy.IndexFunc{"name": nameOf}}, s},
			vs:    {policy.Kind{GVK: vs.WithVersion("v1"), CRD: true}, s},
		},
		installed: map[schema.GroupKind]bool{authz: true},
	}
	if _, err := v.Live(context.Background()); err == nil {
		t.Error("Live without a reader must fail (the refusal then stands)")
	}
	v.ReadLive(reader)
	live, err := v.Live(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := live.Stored(authz)
	if len(got) != 1 || got[0].(*istiosecurity.AuthorizationPolicy).Name != "login" {
		t.Errorf("live AuthorizationPolicies %v, want istio-system/login", got)
	}
	// A CRD kind's index answers from the live read too (the view has no cache here to ask).
	for value, want := range map[string][]string{"login": {"istio-system/login"}, "other": nil} {
		if got := names(live.Indexed(authz, "name", value)); !slices.Equal(got, want) {
			t.Errorf("live Indexed(AuthorizationPolicy, name, %s) = %v, want %v", value, got, want)
		}
	}
	if vs := live.Stored(vs); len(vs) != 0 {
		t.Errorf("a kind not installed was read: %v", vs)
	}
	if _, again := live.(policy.Live); again {
		t.Error("the live view offers Live again")
	}
}

// nameOf indexes an object by its name.
func nameOf(o runtime.Object) []string {
	m, err := meta.Accessor(o)
	if err != nil {
		return nil
	}
	return []string{m.GetName()}
}
