package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ControlPlane is a real etcd and kube-apiserver (envtest), for the tests that need what no fake
// does (informers listing and watching, CRDs served after start), and the directory of its
// binaries (kubectl beside them): KUBEBUILDER_ASSETS, else what hack/build-control-plane.sh
// built (once, then cached). Start it with Start.
func ControlPlane() (*envtest.Environment, string, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		out, err := exec.Command("bash", filepath.Join(Root(), "hack/build-control-plane.sh")).Output()
		if err != nil {
			return nil, "", fmt.Errorf("no KUBEBUILDER_ASSETS and hack/build-control-plane.sh failed: %w", err)
		}
		assets = strings.TrimSpace(string(out))
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	// 1.37 refuses a loopback advertise address unless the endpoint reconciler is off.
	env.ControlPlane.GetAPIServer().Configure().Set("advertise-address", "127.0.0.1").Set("endpoint-reconciler-type", "none")
	return env, assets, nil
}
