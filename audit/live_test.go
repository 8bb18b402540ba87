package audit

import (
	"context"
	"testing"

	istiosecurity "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/istio"
)

// TestViewLive: Live lists the installed related kinds from the API server (here a fake
// client), not from the cache; kinds whose CRDs are absent are not read.
func TestViewLive(t *testing.T) {
	s := runtime.NewScheme()
	_ = istiosecurity.AddToScheme(s)
	stored := &istiosecurity.AuthorizationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "login", Namespace: "istio-system"}}
	reader := fake.NewClientBuilder().WithScheme(s).WithObjects(stored).Build()
	v := &View{wanted: []schema.GroupKind{istio.AuthorizationPolicy, istio.VirtualService},
		installed: map[schema.GroupKind]bool{istio.AuthorizationPolicy: true}}
	if _, err := v.Live(context.Background()); err == nil {
		t.Error("Live without a reader must fail (the refusal then stands)")
	}
	v.ReadLive(reader)
	live, err := v.Live(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := live.Stored(istio.AuthorizationPolicy)
	if len(got) != 1 || got[0].(*istiosecurity.AuthorizationPolicy).Name != "login" {
		t.Errorf("live AuthorizationPolicies %v, want istio-system/login", got)
	}
	if vs := live.Stored(istio.VirtualService); len(vs) != 0 {
		t.Errorf("a kind not installed was read: %v", vs)
	}
	if _, again := live.(policy.Live); again {
		t.Error("the live view offers Live again")
	}
}
