package audit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestReportsCRDComesBack: the leader looks for the Report CRDs every discovery interval, from
// discovery itself: privgate_audit_reports_enabled is 0 while the CRD is gone, and its return
// asks for the Reports to be written at once; an unreachable API server changes nothing.
func TestReportsCRDComesBack(t *testing.T) {
	client := fake.NewClientset()
	disc := client.Discovery().(*fakediscovery.FakeDiscovery)
	var unreachable atomic.Bool
	client.PrependReactor("get", "resource", func(k8stesting.Action) (bool, runtime.Object, error) {
		if unreachable.Load() {
			return true, nil, errors.New("connection refused")
		}
		return false, nil, nil
	})
	served := []*metav1.APIResourceList{{GroupVersion: "openreports.io/v1alpha1", APIResources: []metav1.APIResource{
		{Name: "reports", Kind: "Report", Namespaced: true}, {Name: "clusterreports", Kind: "ClusterReport"}}}}
	a := &Auditor{Log: logr.Discard(), discovery: disc, reports: map[string]bool{}}
	steps := []struct {
		name        string
		installed   bool
		unreachable bool
		enabled     float64
		writeAll    bool // the Reports are to be written now
	}{
		{"installed at start", true, false, 1, true},
		{"still installed", true, false, 1, false},
		{"CRD deleted", false, false, 0, false},
		{"API server away: the last answer stands", true, true, 0, false},
		{"CRD back", true, false, 1, true},
		{"API server away while installed", false, true, 1, false},
	}
	for _, s := range steps {
		disc.Resources = nil
		if s.installed {
			disc.Resources = served
		}
		unreachable.Store(s.unreachable)
		writeAll := a.refreshReports(context.Background())
		if got := testutil.ToFloat64(reportsEnabled); got != s.enabled || writeAll != s.writeAll {
			t.Errorf("%s: privgate_audit_reports_enabled %v, write all %v; want %v, %v", s.name, got, writeAll, s.enabled, s.writeAll)
		}
	}
}
