package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

// laggingCache is a Cluster read from a cache that has not seen the latest writes yet, with the
// store as it is now behind Live.
type laggingCache struct {
	*policy.Index
	live  policy.Cluster
	err   error
	reads int
}

func (c *laggingCache) Live(context.Context) (policy.Cluster, error) {
	c.reads++
	return c.live, c.err
}

// TestLiveConfirmsRefusals: a route written right after the AuthorizationPolicy covering it is
// refused by a cache that has not seen the policy yet; the refusal is confirmed against a live
// read first, which admits it. A refusal the store confirms stands, and so does one whose live
// read fails (fail closed). Admissions and objects related to nothing are never read again.
func TestLiveConfirmsRefusals(t *testing.T) {
	r := testutil.Reviewer(t, "istio/testdata/privgate.yaml")
	docs := map[string][]byte{}
	// A Gateway, a VirtualService and the policy covering it.
	for _, j := range testutil.ReadYAMLDocuments(t, "istio/testdata/cases/authz-delete-uncovers.yaml") {
		var head struct{ Kind string }
		_ = json.Unmarshal(j, &head)
		docs[head.Kind] = j
	}
	gw := schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"}
	authz := schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}
	vs := schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}
	index := func(withPolicy bool) *policy.Index {
		x := policy.NewIndex()
		if err := r.Store(x, gw, "", time.Time{}, docs["Gateway"]); err != nil {
			t.Fatal(err)
		}
		if withPolicy {
			if err := r.Store(x, authz, "", time.Time{}, docs["AuthorizationPolicy"]); err != nil {
				t.Fatal(err)
			}
		}
		return x
	}
	route := policy.Request{Kind: vs, Operation: "CREATE", Namespace: "monitoring", Name: "grafana", Object: docs["VirtualService"]}
	ingress := create("monitoring", []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"bare"},"spec":{"rules":[{"host":"bare.private.example.com"}]}}`))
	cases := map[string]struct {
		cache   *laggingCache
		req     policy.Request
		allowed bool
		reads   int
	}{
		"the policy is stored, the cache lags: admitted": {&laggingCache{Index: index(false), live: index(true)}, route, true, 1},
		"no policy stored either: refused":               {&laggingCache{Index: index(false), live: index(false)}, route, false, 1},
		"live read fails: the refusal stands":            {&laggingCache{Index: index(false), err: errors.New("connection refused")}, route, false, 1},
		"admitted from the cache: no live read":          {&laggingCache{Index: index(true), live: index(false)}, route, true, 0},
		"an Ingress relates to nothing: no live read":    {&laggingCache{Index: index(false), live: index(true)}, ingress, false, 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rc := *r
			rc.Cluster = c.cache
			d, err := rc.Validate(context.Background(), c.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != c.allowed || c.cache.reads != c.reads {
				t.Errorf("allowed %v after %d live reads, want %v after %d: %s", d.Allowed, c.cache.reads, c.allowed, c.reads, testutil.IDs(d.Violations))
			}
			if audited, _ := rc.Audit(context.Background(), c.req); c.cache.reads != c.reads || audited.Allowed != (c.reads == 0 && c.allowed) {
				t.Errorf("the audit read live (%d reads) or judged otherwise than the cache (allowed %v)", c.cache.reads, audited.Allowed)
			}
		})
	}
}
