//go:build e2e

// Package e2e drives privgate through a real kube-apiserver + etcd (controller-runtime's envtest,
// binaries built from the Go module proxy by hack/build-control-plane.sh) with kubectl, as a user
// and Argo CD do.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/certs"

	"github.com/privgate/privgate/test/testutil"
)

// cluster is the shared fixture: one API server, one privgate, one kubectl.
type cluster struct {
	root       string // repository root
	work       string
	kubectl    string
	kubeconfig string
	client     kubernetes.Interface
	privgate   string // binary
	policyDir  string
	port       int
	caPEM      []byte

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *testutil.LockedBuffer
}

var c *cluster

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, _ := filepath.Abs("../..")
	env, assets, err := testutil.ControlPlane()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	api := env.ControlPlane.GetAPIServer()
	api.Out, api.Err = os.Stderr, os.Stderr
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start control plane: %v\n", err)
		return 1
	}
	api.Out, api.Err = nil, nil
	defer env.Stop()

	work, _ := os.MkdirTemp("", "privgate-e2e")
	defer os.RemoveAll(work)
	c = &cluster{root: root, work: work, kubectl: filepath.Join(assets, "kubectl"), policyDir: filepath.Join(work, "policy.d")}
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	kc, _ := admin.KubeConfig()
	c.kubeconfig = filepath.Join(work, "kubeconfig")
	_ = os.WriteFile(c.kubeconfig, kc, 0o600)
	c.client = kubernetes.NewForConfigOrDie(admin.Config())

	c.privgate = filepath.Join(work, "privgate")
	if out, err := exec.Command("go", "build", "-o", c.privgate, filepath.Join(root, "cmd/privgate")).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build privgate: %v\n%s", err, out)
		return 1
	}
	if err := c.setup(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer c.stopPrivgate()
	defer stopDataPath()
	return m.Run()
}

// setup makes certificates, starts privgate, registers the webhooks of deploy/webhooks for its
// local URL, and creates the namespaces the tests use.
func (c *cluster) setup() error {
	now := time.Now()
	ca, err := certs.NewCA("privgate-e2e", time.Hour, now)
	if err != nil {
		return err
	}
	crt, key, err := ca.Issue([]string{"127.0.0.1"}, time.Hour, now)
	if err != nil {
		return err
	}
	if err := certs.WriteFiles(filepath.Join(c.work, "certs"), ca.CertPEM, crt, key); err != nil {
		return err
	}
	c.caPEM = ca.CertPEM
	if err := os.MkdirAll(c.policyDir, 0o700); err != nil {
		return err
	}
	if c.port, err = testutil.Port(); err != nil {
		return err
	}
	if err := c.startPrivgate(); err != nil {
		return err
	}
	if err := c.registerWebhooks(); err != nil {
		return err
	}
	for _, ns := range []string{"argocd", "monitoring", "headlamp", "oauth2-proxy", "web", "privgate", "argo-sync"} {
		if _, stderr, code := c.run("", "create", "namespace", ns); code != 0 {
			return fmt.Errorf("create namespace %s: %s", ns, stderr)
		}
	}
	return c.webhooksActive()
}

// webhooksActive waits until the API server calls the webhooks registered (about a second).
func (c *cluster) webhooksActive() error {
	return c.eventually(10*time.Second, func() error {
		// A bare private Ingress comes back with the login: auth-url, or, where the cluster's
		// default class is Traefik's (TestTraefik), its login Middleware.
		out, _, _ := c.run("", "apply", "--dry-run=server", "-o", "yaml", "-f", c.example("admitted/argocd-server.yaml"))
		if !strings.Contains(out, "auth-url") && !strings.Contains(out, "router.middlewares") {
			return fmt.Errorf("webhooks not active yet")
		}
		return nil
	})
}

// registerWebhooks creates deploy/webhooks' configurations, pointed at the local privgate: a
// service reference cannot reach a process on this machine.
func (c *cluster) registerWebhooks() error {
	raw, err := os.ReadFile(filepath.Join(c.root, "deploy/webhooks/webhooks.yaml"))
	if err != nil {
		return err
	}
	docs := strings.Split(string(raw), "\n---\n")
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &mwc); err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &vwc); err != nil {
		return err
	}
	url := func(path string) admissionregistrationv1.WebhookClientConfig {
		u := fmt.Sprintf("https://127.0.0.1:%d%s", c.port, path)
		return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: c.caPEM}
	}
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].ClientConfig = url(*mwc.Webhooks[i].ClientConfig.Service.Path)
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig = url(*vwc.Webhooks[i].ClientConfig.Service.Path)
	}
	ctx := context.Background()
	ar := c.client.AdmissionregistrationV1()
	_ = ar.MutatingWebhookConfigurations().Delete(ctx, mwc.Name, deleteOpts)
	_ = ar.ValidatingWebhookConfigurations().Delete(ctx, vwc.Name, deleteOpts)
	if _, err := ar.MutatingWebhookConfigurations().Create(ctx, &mwc, createOpts); err != nil {
		return err
	}
	_, err = ar.ValidatingWebhookConfigurations().Create(ctx, &vwc, createOpts)
	return err
}

func (c *cluster) startPrivgate() error {
	return c.startPrivgateWith(c.example("privgate.yaml"), "--metrics-bind-address", "0")
}

// startPrivgateWith starts the shared privgate with another config and more flags. It runs as
// the admin (KUBECONFIG), with the cluster view and the audit.
func (c *cluster) startPrivgateWith(config string, extra ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = &testutil.LockedBuffer{}
	c.cmd = exec.Command(c.privgate, append([]string{"serve", "--config", config, "--policy-dir", c.policyDir,
		"--cert-dir", filepath.Join(c.work, "certs"), "--host", "127.0.0.1", "--port", fmt.Sprint(c.port),
		"--namespace", "privgate", "--audit-interval", "1m"}, extra...)...)
	c.cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		return err
	}
	return c.eventually(10*time.Second, func() error {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	})
}

func (c *cluster) stopPrivgate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return
	}
	// SIGTERM, as the kubelet stops a pod: the audit's leader gives its Lease back at once, so
	// the next replica need not wait for it to expire.
	terminate(c.cmd)
	c.cmd = nil
}

// terminate stops a process started by the suite: SIGTERM, then SIGKILL after 10 s.
func terminate(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (c *cluster) privgateLogs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.String()
}

// caPEMBase64 is the local privgate's CA as a webhook's caBundle takes it in a JSON patch.
func (c *cluster) caPEMBase64() string { return base64.StdEncoding.EncodeToString(c.caPEM) }

func (c *cluster) example(name string) string { return filepath.Join(c.root, "examples", name) }

// run runs kubectl with stdin, as a user types it, and returns stdout, stderr and the exit code.
func (c *cluster) run(stdin string, args ...string) (string, string, int) {
	return execute(c.kubectl, "", stdin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
}

// execute runs bin in dir with stdin and returns stdout, stderr and the exit code (-1, with the
// reason on stderr, when it could not run).
func execute(bin, dir, stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		code = -1
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func (c *cluster) eventually(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// namespaces creates the namespaces a test uses (those there already are fine).
func (c *cluster) namespaces(t *testing.T, names ...string) {
	t.Helper()
	for _, ns := range names {
		if _, stderr, code := c.run("", "create", "namespace", ns); code != 0 && !strings.Contains(stderr, "AlreadyExists") {
			t.Fatal(stderr)
		}
	}
}

// apply is kubectl apply of a document on standard input: kubectl's stderr and exit code.
func (c *cluster) apply(doc string, args ...string) (string, int) {
	_, stderr, code := c.run(doc, append([]string{"apply", "-f", "-"}, args...)...)
	return stderr, code
}
