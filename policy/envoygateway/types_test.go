package envoygateway_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/privgate/privgate/policy/envoygateway"
)

// FuzzDecode: the small types' decoder never panics, and what it decodes survives the informer
// cache's copy (DeepCopyObject, through JSON) and the fixes' document (Spec.Doc) unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"gateway.envoyproxy.io/v1alpha1","kind":"SecurityPolicy","metadata":{"name":"login","namespace":"gateways"},"spec":{"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"eg"}],"extAuth":{"http":{"backendRefs":[{"name":"oauth2-proxy","namespace":"oauth2-proxy","port":4180}]},"headersToExtAuth":["cookie"],"failOpen":false}}}`))
	f.Add([]byte(`{"kind":"SecurityPolicy","spec":{"targetSelectors":[{"kind":"HTTPRoute","namespaces":{"from":"All"}}],"oidc":{"provider":{"issuer":"https://k/realms/x"},"passThroughAuthHeader":true},"jwt":{"providers":[{"extractFrom":{"headers":[{"name":"x"}]}}]},"cors":{"allowOrigins":["*"]}}}`))
	f.Add([]byte(`{"spec":null}`))
	f.Add([]byte(`{"spec":{"extAuth":{"grpc":{"backendRef":{"name":"a"}}}}}`))
	t := &envoygateway.Target{}
	f.Fuzz(func(_ *testing.T, raw []byte) {
		obj, err := t.Decode(raw)
		if err != nil {
			return
		}
		p, err := envoygateway.Implementation{}.Typed(envoygateway.SecurityPolicyKind.WithVersion("v1alpha1"), raw)
		if err != nil {
			panic("Decode took what Typed refuses: " + err.Error())
		}
		before, _ := json.Marshal(p)
		after, _ := json.Marshal(p.DeepCopyObject())
		if !bytes.Equal(before, after) {
			panic("DeepCopyObject changed the policy:\n" + string(before) + "\n" + string(after))
		}
		_ = obj.Namespace()
		_ = p.(*envoygateway.SecurityPolicy).Spec.Doc()
	})
}
