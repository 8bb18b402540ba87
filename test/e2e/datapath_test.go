//go:build e2e

package e2e

// The real data path the seeds describe, run against the suite's API server: Traefik (built from
// the Go module proxy by hack/build-traefik.sh) reading Ingresses and its CRDs through
// KUBECONFIG, oauth2-proxy (hack/build-oauth2-proxy.sh) behind Traefik's forwardAuth, and the
// Keycloak fake as oauth2-proxy's OpenID Connect provider. Started once, on first use, and
// stopped by TestMain. What a test puts in front of it (Ingresses, Middlewares, backends) it
// writes itself with the helpers below, and removes when it ends.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privgate/privgate/groups/keycloakfake"
	"github.com/privgate/privgate/test/testutil"
)

// The login's namespace and objects, as an admin installs oauth2-proxy next to Traefik.
const (
	loginNamespace = "oauth2-proxy"
	loginHost      = "oauth2.private.example.com"
	// readyHost is a public host Traefik routes only once both its providers have read the
	// cluster (see startDataPath).
	readyHost = "datapath-ready.example.com"
	// signinMiddleware turns oauth2-proxy's 401 into its sign-in: Traefik's errors middleware,
	// as oauth2-proxy documents for Traefik ("ForwardAuth with 401 errors middleware",
	// https://oauth2-proxy.github.io/oauth2-proxy/configuration/integrations/traefik), with the
	// 401 rewritten to a 302 (statusRewrites, Traefik v3.4+): the errors middleware answers
	// with the status of the error it caught, and oauth2-proxy's /oauth2/sign_in (with
	// --skip-provider-button) answers a redirect to the provider, whose Location and CSRF cookie
	// the middleware passes on. Without the rewrite, a browser would see a 401 carrying a
	// Location it never follows.
	signinMiddleware = "signin"
)

// dataPath is the running data path.
type dataPath struct {
	ip      string // this machine's non-loopback address: EndpointSlices refuse 127.0.0.0/8
	traefik string // Traefik's web entrypoint, 127.0.0.1:PORT
	oauth2  int    // oauth2-proxy's port, on every address
	idp     *keycloakfake.Server
	procs   []*process
}

type process struct {
	name string
	cmd  *exec.Cmd
	logs *testutil.LockedBuffer
}

var (
	dataPathOnce sync.Once
	dp           *dataPath
	dpErr        error
)

// dataPath starts the data path on first use (failing the test when it cannot, with why).
func (c *cluster) dataPath(t *testing.T) *dataPath {
	t.Helper()
	// startDataPath sets dp itself as soon as it starts anything, so that stopDataPath stops it
	// even when a later step fails.
	dataPathOnce.Do(func() { _, dpErr = c.startDataPath() })
	if dpErr != nil {
		t.Fatalf("data path: %v", dpErr)
	}
	return dp
}

// stopDataPath stops what startDataPath started; TestMain calls it.
func stopDataPath() {
	if dp == nil {
		return
	}
	for _, p := range dp.procs {
		terminate(p.cmd)
	}
	dp.idp.Close()
}

// binary is a tool's path: $ENV (the Makefile sets it), else what its hack/ build script prints
// (cached after the first build).
func (c *cluster) binary(env, script string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	out, err := exec.Command("bash", filepath.Join(c.root, "hack", script)).Output()
	if err != nil {
		return "", fmt.Errorf("no $%s and hack/%s failed: %w", env, script, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], nil
}

func (c *cluster) startDataPath() (*dataPath, error) {
	traefik, err := c.binary("TRAEFIK", "build-traefik.sh")
	if err != nil {
		return nil, err
	}
	oauth2, err := c.binary("OAUTH2_PROXY", "build-oauth2-proxy.sh")
	if err != nil {
		return nil, err
	}
	d := &dataPath{idp: keycloakfake.New(keycloakfake.Since23)}
	dp = d // stopped by TestMain whatever happens next
	if d.ip, err = externalIP(); err != nil {
		return nil, err
	}
	// Traefik's CRDs (Middleware, IngressRoute...), server-side: the file is too large for
	// client-side apply's annotation.
	if _, stderr, code := c.run("", "apply", "--server-side", "-f", filepath.Join(filepath.Dir(traefik), "crds.yml")); code != 0 {
		return nil, fmt.Errorf("apply Traefik's CRDs: %s", stderr)
	}
	// Served before Traefik starts: its CRD provider lists them once at start, and after a
	// failed list client-go's reflector backs off for up to a minute, long past any wait below
	// (CI saw a route whose Middleware Traefik had not read yet answer 404).
	if _, stderr, code := c.run("", "wait", "--for", "condition=established", "--timeout", "60s",
		"-f", filepath.Join(filepath.Dir(traefik), "crds.yml")); code != 0 {
		return nil, fmt.Errorf("Traefik's CRDs not established: %s", stderr)
	}
	if err := c.eventually(30*time.Second, func() error {
		if _, stderr, code := c.run("", "get", "middlewares.traefik.io,ingressroutes.traefik.io", "-A"); code != 0 {
			return errors.New(stderr)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("Traefik's CRDs not served: %v", err)
	}
	if d.oauth2, err = testutil.Port(); err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	if err := d.start("oauth2-proxy", oauth2, nil,
		"--http-address", fmt.Sprintf("0.0.0.0:%d", d.oauth2),
		"--provider", "oidc", "--oidc-issuer-url", d.idp.Issuer(),
		"--client-id", keycloakfake.OIDCClientID, "--client-secret", keycloakfake.OIDCClientSecret,
		"--redirect-url", "http://"+loginHost+"/oauth2/callback",
		"--cookie-secret", base64.RawURLEncoding.EncodeToString(secret), "--cookie-secure=false",
		"--cookie-domain", ".private.example.com", "--whitelist-domain", ".private.example.com",
		"--email-domain", "*", "--reverse-proxy", "--skip-provider-button", "--upstream", "static://202",
		"--silence-ping-logging"); err != nil {
		return nil, err
	}
	if err := c.eventually(20*time.Second, func() error { return ping(fmt.Sprintf("http://127.0.0.1:%d/ping", d.oauth2)) }); err != nil {
		return nil, fmt.Errorf("oauth2-proxy not answering: %v\n%s", err, d.logs("oauth2-proxy"))
	}
	// The login's objects: its Service (the errors middleware's and the callback's backend), its
	// own host's Ingress, the sign-in middleware; the IngressClass Traefik serves.
	if err := c.applyUnjudged(backendObjects(loginNamespace, "oauth2-proxy", d.ip, d.oauth2) +
		ingressManifest(loginNamespace, "traefik-login", loginHost, "oauth2-proxy", "") + fmt.Sprintf(`---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik}
spec: {controller: traefik.io/ingress-controller}
---
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: %s, namespace: %s}
spec:
  errors:
    status: ["401"]
    statusRewrites: {"401": 302}
    service: {name: oauth2-proxy, port: 80}
    query: /oauth2/sign_in?rd={url}
---
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: ready, namespace: %[2]s}
spec:
  headers: {customResponseHeaders: {X-Data-Path: ready}}
`, signinMiddleware, loginNamespace) + ingressManifest(loginNamespace, "ready", readyHost, "oauth2-proxy", loginNamespace+"-ready@kubernetescrd")); err != nil {
		return nil, err
	}
	web, err := testutil.Port()
	if err != nil {
		return nil, err
	}
	pingPort, err := testutil.Port()
	if err != nil {
		return nil, err
	}
	d.traefik = fmt.Sprintf("127.0.0.1:%d", web)
	if err := d.start("traefik", traefik, []string{"KUBECONFIG=" + c.kubeconfig},
		"--entryPoints.web.address="+d.traefik, fmt.Sprintf("--entryPoints.ping.address=127.0.0.1:%d", pingPort),
		"--ping.entryPoint=ping", "--providers.kubernetesingress", "--providers.kubernetescrd",
		"--experimental.kubernetesingressnginx", "--providers.kubernetesingressnginx", "--log.level=INFO"); err != nil {
		return nil, err
	}
	if err := c.eventually(60*time.Second, func() error { return ping(fmt.Sprintf("http://127.0.0.1:%d/ping", pingPort)) }); err != nil {
		return nil, fmt.Errorf("traefik not answering: %v\n%s", err, d.logs("traefik"))
	}
	// Ready when both providers have read what they serve: the login's own host (an Ingress) and
	// readyHost, whose router Traefik builds only once its CRD provider has read the Middleware
	// it names.
	for _, h := range []string{loginHost, readyHost} {
		if err := c.eventually(60*time.Second, func() error {
			status, _, err := d.get(nil, "http://"+h+"/ping")
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("%s/ping: %d", h, status)
			}
			return err
		}); err != nil {
			return nil, fmt.Errorf("traefik does not route %s: %v\n%s", h, err, d.logs("traefik"))
		}
	}
	return d, nil
}

func (d *dataPath) start(name, bin string, env []string, args ...string) error {
	p := &process{name: name, cmd: exec.Command(bin, args...), logs: &testutil.LockedBuffer{}}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	d.procs = append(d.procs, p)
	return nil
}

// logs are a process's output, for a failure's message.
func (d *dataPath) logs(name string) string {
	for _, p := range d.procs {
		if p.name == name {
			return p.logs.String()
		}
	}
	return ""
}

func ping(u string) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %d", u, resp.StatusCode)
	}
	return nil
}

// externalIP is this machine's first non-loopback IPv4 address.
func externalIP() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address: EndpointSlices cannot point at this machine")
}

// backendObjects are a headless Service and its EndpointSlice pointing at ip:port: a backend
// without pods, on this machine.
func backendObjects(ns, name, ip string, port int) string {
	return fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  clusterIP: None
  ports: [{name: http, port: 80, targetPort: %[4]d}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %[2]s
  namespace: %[1]s
  labels: {kubernetes.io/service-name: %[2]s}
addressType: IPv4
ports: [{name: http, port: %[4]d, protocol: TCP}]
endpoints: [{addresses: ["%[3]s"], conditions: {ready: true}}]
`, ns, name, ip, port)
}

// ingressManifest is an Ingress of class traefik routing host to service (port 80), with
// Traefik's router.middlewares annotation when middlewares is not empty.
func ingressManifest(ns, name, host, service, middlewares string) string {
	annotations := ""
	if middlewares != "" {
		annotations = fmt.Sprintf("\n  annotations: {traefik.ingress.kubernetes.io/router.middlewares: %q}", middlewares)
	}
	return fmt.Sprintf(`---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: %[2]s
  namespace: %[1]s%[5]s
spec:
  ingressClassName: traefik
  rules:
    - host: %[3]s
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: %[4]s, port: {number: 80}}}}
`, ns, name, host, service, annotations)
}

// login is the Middleware chain protecting a host for groups, as the value of Traefik's
// router.middlewares annotation: the sign-in for anonymous requests, then a forwardAuth to
// oauth2-proxy's /oauth2/auth?allowed_groups= (202 in the groups, 401 without a session, 403
// in another group), written as authMiddleware makes it.
func loginChain(name string) string {
	return fmt.Sprintf("%[1]s-%[2]s@kubernetescrd,%[1]s-auth-%[3]s@kubernetescrd", loginNamespace, signinMiddleware, name)
}

// authMiddleware is the forwardAuth Middleware for groups (comma-separated, as the Ingress's
// privgate.io/allowed-groups says them).
func (d *dataPath) authMiddleware(name, groups string) string {
	return fmt.Sprintf(`---
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: auth-%s, namespace: %s}
spec:
  forwardAuth:
    address: http://127.0.0.1:%d/oauth2/auth?allowed_groups=%s
    trustForwardHeader: true
    maxResponseBodySize: 65536
`, name, loginNamespace, d.oauth2, url.QueryEscape(groups))
}

// backend starts an app answering 200 "app NAME" on every address and returns the objects that
// publish it as Service NAME in ns. It stops when the test ends.
func (d *dataPath) backend(t *testing.T, ns, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "app %s\n", name)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return backendObjects(ns, name, d.ip, ln.Addr().(*net.TCPAddr).Port)
}

// client is a browser without redirects: every *.example.com name resolves to Traefik (as
// curl --resolve), others (the provider) as they are. jar nil: no cookies.
func (d *dataPath) client(jar http.CookieJar) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		Transport: &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, _ := net.SplitHostPort(addr); strings.HasSuffix(host, ".example.com") {
				addr = d.traefik
			}
			return dialer.DialContext(ctx, network, addr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// tlsClient is client for https: Traefik serves a router with router.tls over TLS only, with
// its default certificate (the Secret cert-manager would issue is not there).
func (d *dataPath) tlsClient(jar http.CookieJar) *http.Client {
	client := d.client(jar)
	client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // Traefik's default certificate
	return client
}

// routed requests u until Traefik routes it (past the 404 it answers for a router it has not
// built yet) and returns the status and the body's first bytes.
func (c *cluster) routed(t *testing.T, d *dataPath, client *http.Client, u string) (int, string) {
	t.Helper()
	var status int
	var body string
	if err := c.eventually(30*time.Second, func() error {
		var err error
		status, body, err = d.get(client, u)
		if err == nil && status == http.StatusNotFound {
			err = fmt.Errorf("%s: not routed yet: 404", u)
		}
		return err
	}); err != nil {
		t.Fatalf("%v\n%s", err, d.logs("traefik"))
	}
	return status, strings.TrimSpace(body)
}

// get requests u with a fresh client without cookies (or client) and returns the status, the
// Location and the body's first bytes.
func (d *dataPath) get(client *http.Client, u string) (int, string, error) {
	if client == nil {
		client = d.client(nil)
	}
	resp, err := client.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc, nil
	}
	return resp.StatusCode, string(bytes.TrimSpace(body)), nil
}

// login signs user in through the whole flow, as a browser does, starting from an anonymous
// request to u, and returns the status of u once signed in and the browser (with its session).
func (d *dataPath) login(t *testing.T, user, u string) (int, *http.Client) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := d.client(jar)
	status, loc, err := d.get(browser, u)
	if err != nil || status != http.StatusFound || !strings.HasPrefix(loc, d.idp.Issuer()+"/protocol/openid-connect/auth") {
		t.Fatalf("anonymous %s: %d %q %v, want a redirect to the provider", u, status, loc, err)
	}
	// The provider's form, submitted as user, redirects to oauth2-proxy's callback, which sets
	// the session and redirects back to u.
	for range 3 {
		if strings.HasPrefix(loc, d.idp.Issuer()) {
			loc += "&username=" + url.QueryEscape(user)
		}
		if status, loc, err = d.get(browser, loc); err != nil {
			t.Fatal(err)
		}
		if status != http.StatusFound || loc == u {
			break
		}
	}
	if loc != u {
		t.Fatalf("%s's sign-in ended with %d %q, not a redirect back to %s\n%s", user, status, loc, u, d.logs("oauth2-proxy"))
	}
	status, _, err = d.get(browser, u)
	if err != nil {
		t.Fatal(err)
	}
	return status, browser
}

// waitRoute waits until Traefik routes host past the 404 it answers for unknown hosts.
func (c *cluster) waitRoute(t *testing.T, d *dataPath, host string) {
	t.Helper()
	if err := c.eventually(30*time.Second, func() error {
		status, body, err := d.get(nil, "http://"+host+"/")
		if err == nil && status == http.StatusNotFound {
			err = fmt.Errorf("%s: 404 %s", host, body)
		}
		return err
	}); err != nil {
		t.Fatalf("Traefik does not route %s: %v\n%s", host, err, d.logs("traefik"))
	}
}

// applyUnjudged applies manifests with privgate's webhooks removed, as an admin bypassing it
// would (or as objects stored before privgate was installed), and registers them again.
func (c *cluster) applyUnjudged(manifests string) error {
	ctx := context.Background()
	ar := c.client.AdmissionregistrationV1()
	// registerWebhooks (re)creates deploy/webhooks' configurations, both named privgate.
	_ = ar.MutatingWebhookConfigurations().Delete(ctx, "privgate", deleteOpts)
	_ = ar.ValidatingWebhookConfigurations().Delete(ctx, "privgate", deleteOpts)
	// The API server stops calling them within about a second: then it admits what privgate
	// denies.
	if err := c.eventually(10*time.Second, func() error {
		if _, stderr, code := c.run("", "apply", "--dry-run=server", "-f", c.example("denied/headlamp-traefik.yaml")); code != 0 {
			return errors.New(stderr)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("privgate's webhooks still called once removed: %v", err)
	}
	_, stderr, code := c.run(manifests, "apply", "-f", "-")
	if err := c.registerWebhooks(); err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("kubectl apply: %s", stderr)
	}
	return c.webhooksActive()
}
