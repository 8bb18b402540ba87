package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/privgate/privgate/test/testutil"
)

// runAudit is `load audit`: the zone view's cost. It stores N Ingresses in a real kube-apiserver
// (envtest, from KUBEBUILDER_ASSETS), starts privgate serve against it, and measures the full
// audit pass at start (list, judge every Ingress, write every Report) and a second pass where
// nothing changed (judge only: Reports are written only when a verdict changes), in CPU time
// and peak memory, against the same privgate serving webhooks without a cluster.
func runAudit(args []string) error {
	fs := flag.NewFlagSet("load audit", flag.ExitOnError)
	bin := fs.String("privgate", "bin/privgate", "privgate binary")
	n := fs.Int("ingresses", 5000, "Ingresses stored before privgate starts")
	config := fs.String("config", "examples/privgate.yaml", "privgate config")
	out := fs.String("out", "", "markdown file to add the results to (replacing an earlier audit section)")
	_ = fs.Parse(args)

	env, _, err := testutil.ControlPlane()
	if err != nil {
		return err
	}
	env.CRDDirectoryPaths, env.ErrorIfCRDPathMissing = []string{"deploy/crds"}, true
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start control plane (KUBEBUILDER_ASSETS): %w", err)
	}
	defer func() { _ = env.Stop() }()
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "privgate-audit-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	kc, _ := admin.KubeConfig()
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return err
	}
	client := kubernetes.NewForConfigOrDie(admin.Config())
	start := time.Now()
	if err := storeIngresses(client, *n); err != nil {
		return err
	}
	logf("stored %d Ingresses in %s", *n, time.Since(start).Round(time.Second))

	if _, err := serving(filepath.Join(dir, "certs")); err != nil {
		return err
	}
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	common := []string{"serve", "--config", *config, "--cert-dir", filepath.Join(dir, "certs"), "--host", "127.0.0.1", "--port", "{port}",
		"--metrics-bind-address", "0", "--namespace", "privgate", "--audit-interval", "20s"}

	// The idle server: webhooks only, no cluster.
	if err := os.Unsetenv("KUBECONFIG"); err != nil {
		return err
	}
	idle, err := startServer("idle", dir, "/readyz", *bin, slices.Clone(common)...)
	if err != nil {
		return err
	}
	defer idle.stop()
	if err := idle.waitReady(context.Background(), insecure); err != nil {
		return err
	}
	idleCPU, _ := idle.cpu()
	idleRSS, _ := idle.peakRSS()
	idle.stop()

	if err := os.Setenv("KUBECONFIG", kubeconfig); err != nil {
		return err
	}
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "privgate"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	s, err := startServer("audit", dir, "/readyz", *bin, slices.Clone(common)...)
	if err != nil {
		return err
	}
	defer s.stop()
	if err := s.waitReady(context.Background(), insecure); err != nil {
		return err
	}
	readyCPU, _ := s.cpu()
	first, err := waitPass(s, 1, 5*time.Minute)
	if err != nil {
		return err
	}
	firstCPU, _ := s.cpu()
	firstRSS, _ := s.peakRSS()
	second, err := waitPass(s, 2, 2*time.Minute)
	if err != nil {
		return err
	}
	secondCPU, _ := s.cpu()
	reports, err := client.RESTClient().Get().AbsPath("/apis/openreports.io/v1alpha1/reports").Do(context.Background()).Raw()
	if err != nil {
		return err
	}
	nReports := strings.Count(string(reports), `"kind":"Report"`)

	var b strings.Builder
	fmt.Fprintf(&b, "## Audit of %s stored Ingresses\n\n", thousands(*n))
	fmt.Fprintf(&b, "Measured by `hack/bench.sh` (`load audit`, test/load/audit.go) on %s: %s Ingresses in 50 namespaces (80%% protected, 10%% public, 10%% without auth) stored in a real kube-apiserver + etcd before `privgate serve` starts; one replica (leader), the Report CRD installed.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), thousands(*n))
	fmt.Fprintf(&b, "| | CPU | wall | peak RSS |\n|---|--:|--:|--:|\n")
	fmt.Fprintf(&b, "| idle server (webhooks, no cluster), ready | %s | | %s |\n", dur(idleCPU), mib(idleRSS))
	fmt.Fprintf(&b, "| zone view: start until ready (list and cache every Ingress) | %s | | |\n", dur(readyCPU))
	fmt.Fprintf(&b, "| first full pass (judge every Ingress, create %s Reports) | %s | %s | %s |\n", thousands(nReports), dur(firstCPU-readyCPU), first, mib(firstRSS))
	fmt.Fprintf(&b, "| second full pass (nothing changed: judge only, no write) | %s | %s | |\n", dur(secondCPU-firstCPU), second)
	fmt.Fprintf(&b, "\nGoals (issue 12): a full audit ≤ 5 s of CPU: %s for the judging pass, %s with the Reports written; ≤ +50 MiB over the idle server: +%s.\n",
		dur(secondCPU-firstCPU), dur(firstCPU-readyCPU), mib(firstRSS-idleRSS))
	fmt.Fprintf(&b, "An Ingress change is judged alone (with the Ingresses sharing its hosts), not by a full pass.\n")
	fmt.Print(b.String())
	if *out == "" {
		return nil
	}
	old, _ := os.ReadFile(*out)
	doc := string(old)
	if i := strings.Index(doc, "\n## Audit of "); i >= 0 {
		doc = doc[:i+1]
	}
	return os.WriteFile(*out, []byte(strings.TrimRight(doc, "\n")+"\n\n"+b.String()), 0o644)
}

var passLine = regexp.MustCompile(`"msg":"audit pass".*"took":"([^"]+)"`)

// waitPass waits for the k-th "audit pass" line of the server's log and returns its duration.
func waitPass(s *server, k int, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		raw, _ := os.ReadFile(s.log)
		if m := passLine.FindAllStringSubmatch(string(raw), -1); len(m) >= k {
			return m[k-1][1], nil
		}
		if !s.alive() {
			return "", fmt.Errorf("privgate exited: %s", s.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("no audit pass %d within %s:\n%s", k, timeout, s.tail())
}

// storeIngresses creates n Ingresses spread over 50 namespaces, 16 at a time.
func storeIngresses(client kubernetes.Interface, n int) error {
	ctx := context.Background()
	for i := range 50 {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%02d", i)}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ing := sample(i)
				if _, err := client.NetworkingV1().Ingresses(ing.Namespace).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			return err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// sample is the i-th Ingress: most protected as privgate leaves them, some public, some bare.
func sample(i int) *networkingv1.Ingress {
	class, prefix := "nginx", networkingv1.PathTypePrefix
	host := fmt.Sprintf("app-%05d.private.example.com", i)
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%05d", i), Namespace: fmt.Sprintf("team-%02d", i%50)},
		Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "app", Port: networkingv1.ServiceBackendPort{Number: 80}},
			}}}},
		}}}},
	}
	switch i % 10 {
	case 8: // public
		ing.Spec.Rules[0].Host = fmt.Sprintf("app-%05d.example.com", i)
	case 9: // private, nobody protected it
	default:
		ing.Annotations = map[string]string{
			"nginx.ingress.kubernetes.io/auth-url":    "https://oauth2.private.example.com/oauth2/auth?allowed_groups=/developers",
			"nginx.ingress.kubernetes.io/auth-signin": "https://oauth2.private.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri",
			"cert-manager.io/cluster-issuer":          "letsencrypt-production",
			"privgate.io/allowed-groups":              "/developers",
		}
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: ing.Name + "-privgate-tls"}}
	}
	return ing
}
