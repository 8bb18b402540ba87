package policy_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

// testReviewer is the decision core over testdata/privgate.yaml and its groups file, with the
// Ingress target and the embedded default policy.
func testReviewer(t testing.TB) *policy.Reviewer {
	t.Helper()
	return testutil.Reviewer(t, "testdata/privgate.yaml")
}

// create is a CREATE of an Ingress in namespace.
func create(namespace string, obj []byte) policy.Request {
	return policy.Request{Kind: testutil.IngressKind, Operation: "CREATE", Namespace: namespace, Object: obj}
}

func grafanaWithGroups(g string) []byte {
	return []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"grafana","namespace":"monitoring",
	"annotations":{"privgate.io/allowed-groups":"` + g + `"}},"spec":{"ingressClassName":"nginx","rules":[{"host":"grafana.private.example.com"}]}}`)
}

// switchableSource is a group source whose snapshot tests change, and that can be refreshed.
type switchableSource struct {
	snap      atomic.Pointer[groups.Snapshot]
	onRefresh func() *groups.Snapshot
	refreshes atomic.Int32
}

func (s *switchableSource) Snapshot() *groups.Snapshot { return s.snap.Load() }

func (s *switchableSource) Refresh(context.Context) bool {
	s.refreshes.Add(1)
	if s.onRefresh == nil {
		return false
	}
	s.snap.Store(s.onRefresh())
	return true
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
