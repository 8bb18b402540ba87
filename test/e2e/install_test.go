//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/privgate/privgate/test/testutil"
)

const serviceAccount = "system:serviceaccount:privgate:privgate"

// TestInstall runs after TestPrivgate: it replaces the webhook configurations with the real ones.
func TestInstall(t *testing.T) {
	// The local configurations (url, not service) share the install's names; an apply would merge
	// service into them, leaving both set. A real install starts from none.
	for _, kind := range []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration"} {
		if _, stderr, code := c.run("", "delete", kind, "privgate"); code != 0 {
			t.Fatal(stderr)
		}
	}
	if _, stderr, code := c.run(manifest(t, "cert-manager-crds.yaml"), "apply", "-f", "-"); code != 0 {
		t.Fatal(stderr)
	}
	if err := c.eventually(10*time.Second, func() error {
		_, stderr, code := c.run("", "get", "certificates.cert-manager.io", "-A")
		if code != 0 {
			return fmt.Errorf("%s", stderr)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	for _, overlay := range []string{"cert-manager", "self-signed"} {
		t.Run("overlay "+overlay+" applies cleanly", func(t *testing.T) {
			rendered, stderr, code := c.run("", "kustomize", filepath.Join(c.root, "deploy/overlays", overlay))
			if code != 0 {
				t.Fatal(stderr)
			}
			for _, mode := range [][]string{{"--dry-run=server"}, nil} {
				args := append([]string{"apply", "-f", "-"}, mode...)
				if out, stderr, code := c.run(rendered, args...); code != 0 {
					t.Fatalf("kubectl %s: %s%s", strings.Join(args, " "), out, stderr)
				}
			}
		})
	}

	t.Run("RBAC is exactly what the code needs", func(t *testing.T) {
		// Both overlays are applied by now: the base's cluster view and leader election, plus the
		// self-signed overlay's certificate rights. kubectl resolves a resource through discovery
		// before it asks RBAC, so the Report CRD is installed for the question (and removed after:
		// TestZone starts without it).
		if _, stderr, code := c.run("", "apply", "-k", filepath.Join(c.root, "deploy/crds")); code != 0 {
			t.Fatal(stderr)
		}
		defer c.run("", "delete", "-k", filepath.Join(c.root, "deploy/crds"), "--wait")
		if err := c.eventually(10*time.Second, func() error {
			_, stderr, code := c.run("", "get", "reports.openreports.io,clusterreports.openreports.io", "-A")
			if code != 0 {
				return fmt.Errorf("%s", stderr)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			args []string
			want string
		}{
			// self-signed certificates
			{[]string{"get", "secret/privgate-tls", "-n", "privgate"}, "yes"},
			{[]string{"update", "secret/privgate-tls", "-n", "privgate"}, "yes"},
			{[]string{"create", "secrets", "-n", "privgate"}, "yes"},
			{[]string{"get", "mutatingwebhookconfiguration/privgate"}, "yes"},
			{[]string{"patch", "mutatingwebhookconfiguration/privgate"}, "yes"},
			{[]string{"patch", "validatingwebhookconfiguration/privgate"}, "yes"},
			{[]string{"list", "secrets", "-n", "privgate"}, "no"},
			{[]string{"get", "secret/other", "-n", "privgate"}, "no"},
			{[]string{"delete", "secret/privgate-tls", "-n", "privgate"}, "no"},
			{[]string{"create", "secrets", "-n", "default"}, "no"},
			{[]string{"patch", "mutatingwebhookconfiguration/other"}, "no"},
			{[]string{"list", "mutatingwebhookconfigurations"}, "no"},
			{[]string{"delete", "validatingwebhookconfiguration/privgate"}, "no"},
			{[]string{"get", "configmaps", "-n", "privgate"}, "no"},
			// the cluster view: read Ingresses and IngressClasses, never write them
			{[]string{"get", "ingresses.networking.k8s.io", "-n", "web"}, "yes"},
			{[]string{"list", "ingresses.networking.k8s.io", "--all-namespaces"}, "yes"},
			{[]string{"watch", "ingresses.networking.k8s.io", "--all-namespaces"}, "yes"},
			{[]string{"get", "ingressclasses.networking.k8s.io"}, "yes"},
			{[]string{"list", "ingressclasses.networking.k8s.io"}, "yes"},
			{[]string{"watch", "ingressclasses.networking.k8s.io"}, "yes"},
			{[]string{"create", "ingresses.networking.k8s.io", "-n", "web"}, "no"},
			{[]string{"update", "ingresses.networking.k8s.io", "-n", "web"}, "no"},
			{[]string{"patch", "ingresses.networking.k8s.io", "-n", "web"}, "no"},
			{[]string{"delete", "ingresses.networking.k8s.io", "-n", "web"}, "no"},
			{[]string{"update", "ingressclasses.networking.k8s.io"}, "no"},
			// audit's Reports: direct reads and whole-object writes, no cache, no patch
			{[]string{"get", "reports.openreports.io", "-n", "web"}, "yes"},
			{[]string{"list", "reports.openreports.io", "--all-namespaces"}, "yes"},
			{[]string{"create", "reports.openreports.io", "-n", "web"}, "yes"},
			{[]string{"update", "reports.openreports.io", "-n", "web"}, "yes"},
			{[]string{"delete", "reports.openreports.io", "-n", "web"}, "yes"},
			{[]string{"patch", "reports.openreports.io", "-n", "web"}, "no"},
			{[]string{"watch", "reports.openreports.io", "-n", "web"}, "no"},
			{[]string{"deletecollection", "reports.openreports.io", "-n", "web"}, "no"},
			{[]string{"create", "clusterreports.openreports.io"}, "yes"},
			{[]string{"update", "clusterreports.openreports.io"}, "yes"},
			{[]string{"watch", "clusterreports.openreports.io"}, "no"},
			{[]string{"watch", "rolebindings.rbac.authorization.k8s.io", "--all-namespaces"}, "yes"},
			{[]string{"list", "clusterrolebindings.rbac.authorization.k8s.io"}, "yes"},
			{[]string{"create", "rolebindings.rbac.authorization.k8s.io", "-n", "web"}, "no"},
			{[]string{"update", "clusterrolebindings.rbac.authorization.k8s.io"}, "no"},
			// leader election for audit: one Lease by name, its Events, in privgate's namespace
			{[]string{"get", "leases.coordination.k8s.io/privgate-audit", "-n", "privgate"}, "yes"},
			{[]string{"update", "leases.coordination.k8s.io/privgate-audit", "-n", "privgate"}, "yes"},
			{[]string{"create", "leases.coordination.k8s.io", "-n", "privgate"}, "yes"},
			{[]string{"create", "events", "-n", "privgate"}, "yes"},
			{[]string{"patch", "events", "-n", "privgate"}, "yes"},
			{[]string{"update", "leases.coordination.k8s.io/other", "-n", "privgate"}, "no"},
			{[]string{"delete", "leases.coordination.k8s.io/privgate-audit", "-n", "privgate"}, "no"},
			{[]string{"list", "leases.coordination.k8s.io", "-n", "privgate"}, "no"},
			{[]string{"create", "leases.coordination.k8s.io", "-n", "kube-system"}, "no"},
			{[]string{"create", "events", "-n", "web"}, "no"},
		}
		for _, tc := range cases {
			out, _, _ := c.run("", append([]string{"auth", "can-i", "--as", serviceAccount}, tc.args...)...)
			if got := strings.TrimSpace(out); got != tc.want {
				t.Errorf("can-i %s: %s, want %s", strings.Join(tc.args, " "), got, tc.want)
			}
		}
	})

	t.Run("self-managed certificates: two replicas, rotation under load, repair", func(t *testing.T) {
		selfManaged(t)
	})
}

// selfManaged points the installed webhook configurations at two local replicas running with
// --certs self-managed as privgate's service account, then drives Ingresses through the API
// server while the serving certificate rotates.
func selfManaged(t *testing.T) {
	ctx := context.Background()
	kubeconfig := impersonatingKubeconfig(t)
	_ = c.client.CoreV1().Secrets("privgate").Delete(ctx, "privgate-tls", deleteOpts)

	ports := []int{testutil.FreePort(t), testutil.FreePort(t)}
	// Point the installed configurations at the first replica, with no caBundle: privgate
	// must set it.
	for _, kind := range []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration"} {
		path := "/mutate"
		if strings.HasPrefix(kind, "validating") {
			path = "/validate"
		}
		patch := fmt.Sprintf(`[{"op":"replace","path":"/webhooks/0/clientConfig","value":{"url":"https://127.0.0.1:%d%s"}}]`, ports[0], path)
		if _, stderr, code := c.run("", "patch", kind, "privgate", "--type=json", "-p", patch); code != 0 {
			t.Fatal(stderr)
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait() // runs last, after the kills below
	logs := make([]*testutil.LockedBuffer, len(ports))
	for i, port := range ports { // both at once: they must settle on one Secret, not fight
		logs[i] = &testutil.LockedBuffer{}
		cmd := exec.Command(c.privgate, "serve", "--config", c.example("privgate.yaml"), "--namespace", "privgate",
			"--certs", "self-managed", "--cert-san", "127.0.0.1", "--cert-validity", "9s", "--cert-check-interval", "1s",
			"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--metrics-bind-address", "0")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		cmd.Stdout, cmd.Stderr = logs[i], logs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// One Wait per process, in its goroutine: a second, concurrent Wait can block forever on
		// the output copier the first one already drained (seen once, a 15-minute hang).
		wg.Add(1)
		go func() { defer wg.Done(); _ = cmd.Wait() }()
		defer func() { _ = cmd.Process.Kill() }()
	}
	var caPool *x509.CertPool
	err := c.eventually(15*time.Second, func() error {
		secret, err := c.client.CoreV1().Secrets("privgate").Get(ctx, "privgate-tls", metav1.GetOptions{})
		if err != nil {
			return err
		}
		caPool = x509.NewCertPool()
		caPool.AppendCertsFromPEM(secret.Data["ca.crt"])
		for _, port := range ports {
			if _, err := servedLeaf(port, caPool); err != nil {
				return fmt.Errorf("replica on %d: %w", port, err)
			}
		}
		m, err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "privgate", metav1.GetOptions{})
		if err != nil || string(m.Webhooks[0].ClientConfig.CABundle) != string(secret.Data["ca.crt"]) {
			return fmt.Errorf("caBundle not set yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nreplica 1:\n%s\nreplica 2:\n%s", err, logs[0].String(), logs[1].String())
	}

	// Load: Ingresses through the API server while the 9 s certificate is renewed every 6 s.
	first, _ := servedLeaf(ports[0], caPool)
	var sent, failed atomic.Int32
	var failures sync.Map
	stop := time.Now().Add(16 * time.Second)
	// A host of its own: another namespace's stored Ingress owns bare.private.example.com.
	body := strings.ReplaceAll(strings.ReplaceAll(manifest(t, "bare.yaml"), "NAMESPACE", "web"), "bare.private", "rotation.private")
	for time.Now().Before(stop) {
		sent.Add(1)
		if _, stderr, code := c.run(body, "apply", "--dry-run=server", "-f", "-"); code != 0 {
			failed.Add(1)
			failures.Store(stderr, true)
		}
	}
	last, err := servedLeaf(ports[0], caPool)
	if err != nil {
		t.Fatal(err)
	}
	if last.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Errorf("no rotation in 16 s with a 9 s certificate")
	}
	if failed.Load() != 0 {
		failures.Range(func(k, _ any) bool { t.Log(k); return true })
		t.Errorf("%d of %d requests failed during rotation", failed.Load(), sent.Load())
	}
	t.Logf("%d Ingress admissions through kube-apiserver during rotation, %d failed", sent.Load(), failed.Load())

	// A corrupted Secret is regenerated, with a log line, and admissions recover.
	secret, _ := c.client.CoreV1().Secrets("privgate").Get(ctx, "privgate-tls", metav1.GetOptions{})
	secret.Data["ca.key"] = []byte("corrupted")
	if _, err := c.client.CoreV1().Secrets("privgate").Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = c.eventually(20*time.Second, func() error {
		if !strings.Contains(logs[0].String()+logs[1].String(), "corrupt or missing CA: regenerating") {
			return fmt.Errorf("no regeneration logged")
		}
		if _, stderr, code := c.run(body, "apply", "--dry-run=server", "-f", "-"); code != 0 {
			return fmt.Errorf("admission still failing: %s", stderr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// servedLeaf dials a replica and returns the certificate it serves, verified against roots.
func servedLeaf(port int, roots *x509.CertPool) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
		&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// impersonatingKubeconfig is the admin's kubeconfig acting as privgate's service account, so the
// replicas have exactly the RBAC of the install and nothing more.
func impersonatingKubeconfig(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = serviceAccount
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
