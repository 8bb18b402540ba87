//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/privgate/privgate/test/testutil"
)

// TestLeaderOutlivesAPIServer: the API server goes away (here: the connection to it is cut)
// for longer than the Lease's renew deadline while privgate leads the audit. privgate loses the
// Lease and stops its audit, but keeps running and serving, and leads again once the API server
// is back. (Before: "leader election lost", exit 1.)
func TestLeaderOutlivesAPIServer(t *testing.T) {
	if _, stderr, code := c.run("", "create", "namespace", "lease-test"); code != 0 && !strings.Contains(stderr, "AlreadyExists") {
		t.Fatal(stderr)
	}
	cfg, err := clientcmd.LoadFromFile(c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var apiserver string
	for _, cl := range cfg.Clusters {
		apiserver = strings.TrimPrefix(cl.Server, "https://")
	}
	proxy := newCuttableProxy(t, apiserver)
	for _, cl := range cfg.Clusters {
		cl.Server = "https://" + proxy.addr()
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}

	port := testutil.FreePort(t)
	logs := &testutil.LockedBuffer{}
	// Its own Lease (namespace lease-test): it leads whatever the shared privgate does.
	pg := exec.Command(c.privgate, "serve", "--config", c.example("privgate.yaml"), "--cert-dir", filepath.Join(c.work, "certs"),
		"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--metrics-bind-address", "0", "--namespace", "lease-test", "--audit-interval", "1m")
	pg.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	pg.Stdout, pg.Stderr = logs, logs
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = pg.Wait(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			_ = pg.Process.Kill()
			<-exited
		}
	}()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	https := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	alive := func() error {
		select {
		case <-exited:
			return fmt.Errorf("privgate exited (%v)", pg.ProcessState)
		default:
		}
		if code, body := get(fmt.Sprintf("https://127.0.0.1:%d/healthz", port), https); code != http.StatusOK {
			return fmt.Errorf("healthz: %d %s", code, body)
		}
		return nil
	}
	waitFor := func(what string, timeout time.Duration, ok func() bool) {
		t.Helper()
		if err := c.eventually(timeout, func() error {
			if err := alive(); err != nil {
				return err
			}
			if !ok() {
				return fmt.Errorf("not yet %s", what)
			}
			return nil
		}); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, logs.String())
		}
	}
	leading := func(n int) func() bool {
		return func() bool { return strings.Count(logs.String(), "leading: the audit runs here") >= n }
	}
	waitFor("leading", 60*time.Second, leading(1))

	proxy.cut()
	waitFor("lost the lease, still serving", 60*time.Second, func() bool { return strings.Contains(logs.String(), "lost the lease") })
	proxy.restore()
	waitFor("leading again", 60*time.Second, leading(2))

	_ = pg.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("privgate did not stop on SIGTERM")
	}
	if code := pg.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d after SIGTERM:\n%s", code, logs.String())
	}
}

// cuttableProxy forwards TCP connections to the API server until cut: then every connection is
// closed and new ones are refused, as when the API server is down, until restored.
type cuttableProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newCuttableProxy(t *testing.T, target string) *cuttableProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttableProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *cuttableProxy) addr() string { return p.ln.Addr().String() }

func (p *cuttableProxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			in.Close()
			out.Close()
			continue
		}
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for conn := range p.conns {
		conn.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
