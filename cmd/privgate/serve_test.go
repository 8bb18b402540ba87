package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/privgate/privgate/test/testutil"
)

// servedPrivgate runs `privgate serve` in-process on a free port with a fresh CA, waits until it
// is ready, and returns its base URL, an HTTPS client that trusts only that CA (as the API server
// would) and its logs. extraArgs come last and may override --config.
func servedPrivgate(t *testing.T, extraArgs ...string) (string, *http.Client, *testutil.LockedBuffer) {
	t.Helper()
	base, client, logs := servedPrivgateUnready(t, extraArgs...)
	waitReady(t, client, base, logs)
	return base, client, logs
}

// servedPrivgateUnready starts serve and waits only until it accepts connections.
func servedPrivgateUnready(t *testing.T, extraArgs ...string) (string, *http.Client, *testutil.LockedBuffer) {
	t.Helper()
	certDir := t.TempDir()
	if code, _, stderr := runCmd(t, "certs", "generate", "--dir", certDir, "--san", "127.0.0.1", "--validity", "1h"); code != 0 {
		t.Fatal(stderr)
	}
	caPEM, err := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testutil.LockedBuffer{}
	done := make(chan int, 1)
	args := append([]string{"serve", "--config", exampleConfig, "--cert-dir", certDir, "--host", "127.0.0.1",
		"--port", fmt.Sprint(port), "--metrics-bind-address", "0", "--namespace", "privgate"}, extraArgs...)
	go func() { done <- run(ctx, args, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d: %s", code, logs.String())
			}
		case <-time.After(70 * time.Second):
			t.Error("serve did not stop")
		}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return base, client, logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("privgate not serving: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitReady(t *testing.T, client *http.Client, base string, logs *testutil.LockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("privgate not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// admissionReview wraps a manifest as kube-apiserver does.
func admissionReview(t *testing.T, op, manifest string) []byte {
	t.Helper()
	return testutil.AdmissionReview(t, op, testutil.IngressKind, testutil.ReadYAML(t, manifest))
}

func postReview(t *testing.T, client *http.Client, url string, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	resp, err := client.Post(url+"?timeout=5s", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("HTTP %d: %s", resp.StatusCode, b)
	}
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Response
}

// TestServeHTTPS drives `privgate serve` over real HTTPS as the API server does: mutate, apply the
// returned patch, validate the result; denials come back with every violation.
func TestServeHTTPS(t *testing.T) {
	base, client, _ := servedPrivgate(t)
	cases := []struct {
		manifest string
		allowed  bool
		mutated  bool
		message  string
	}{
		{"../../examples/admitted/argocd-server.yaml", true, true, ""},
		{"../../examples/admitted/grafana.yaml", true, true, ""},
		{"../../examples/admitted/public-blog.yaml", true, false, ""},
		{"../../examples/admitted/oauth2-proxy.yaml", true, false, ""},
		{"../../examples/denied/grafana-snippet.yaml", false, true, "[annotation-risky]"},
		{"../../examples/denied/headlamp-traefik.yaml", false, true, "[class-foreign]"},
		{"../../examples/denied/prometheus-wrong-group.yaml", false, true, "did you mean /developers?"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.manifest), func(t *testing.T) {
			review := admissionReview(t, "CREATE", c.manifest)
			m := postReview(t, client, base+"/mutate", review)
			if !m.Allowed || (len(m.Patch) > 0) != c.mutated {
				t.Fatalf("mutate: allowed=%v patch=%s", m.Allowed, m.Patch)
			}
			if c.mutated {
				var in admissionv1.AdmissionReview
				_ = json.Unmarshal(review, &in)
				in.Request.Object.Raw = testutil.ApplyPatch(t, in.Request.Object.Raw, m.Patch)
				review, _ = json.Marshal(in)
			}
			v := postReview(t, client, base+"/validate", review)
			if v.Allowed != c.allowed {
				t.Fatalf("validate: allowed=%v %+v", v.Allowed, v.Result)
			}
			if c.message != "" && !strings.Contains(v.Result.Message, c.message) {
				t.Errorf("denial %q lacks %q", v.Result.Message, c.message)
			}
		})
	}

	resp, err := client.Post(base+"/validate", "application/json", strings.NewReader(`{"request":`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "malformed AdmissionReview") {
		t.Errorf("malformed review: HTTP %d %s", resp.StatusCode, body)
	}
}

// TestServeNoHTTP2: the webhook port offers HTTP/1.1 only, even to a client asking for h2 first,
// and an AdmissionReview of another version is refused with 400, never judged.
func TestServeNoHTTP2(t *testing.T) {
	base, client, _ := servedPrivgate(t)
	tr := client.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.NextProtos = []string{"h2", "http/1.1"}
	tr.ForceAttemptHTTP2 = true
	h2 := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := h2.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 1 || resp.TLS == nil || resp.TLS.NegotiatedProtocol == "h2" {
		t.Errorf("served %s (ALPN %q), want HTTP/1.1 only", resp.Proto, resp.TLS.NegotiatedProtocol)
	}

	var review admissionv1.AdmissionReview
	_ = json.Unmarshal(admissionReview(t, "CREATE", "../../examples/admitted/argocd-server.yaml"), &review)
	review.APIVersion = "admission.k8s.io/v1beta1"
	body, _ := json.Marshal(review)
	if code, b := httpDo(t, client, http.MethodPost, base+"/validate", body); code != http.StatusBadRequest || !strings.Contains(b, "admission.k8s.io/v1beta1") {
		t.Errorf("v1beta1 review: HTTP %d %s, want 400", code, b)
	}
}

// A config error stops serve at start with exit 2 and the key named.
func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/privgate.yaml", "privateDomains: [private.example.com]\nauth: {url: http://x}\n")
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--config", dir + "/privgate.yaml"}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "privgate.yaml: auth.url") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// TestParseMemoryLimit: the container's limit as cgroup v2 and v1 write it; none when unlimited.
func TestParseMemoryLimit(t *testing.T) {
	cases := map[string]struct {
		file  string
		bytes int64
		ok    bool
	}{
		"v2 limit":     {"201326592\n", 201326592, true},
		"v2 unlimited": {"max\n", 0, false},
		"v1 limit":     {"201326592\n", 201326592, true},
		"v1 unlimited": {"9223372036854771712\n", 0, false},
		"empty":        {"", 0, false},
		"garbage":      {"192Mi\n", 0, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			n, ok := parseMemoryLimit(c.file)
			if n != c.bytes || ok != c.ok {
				t.Errorf("parseMemoryLimit(%q) = %d, %v; want %d, %v", c.file, n, ok, c.bytes, c.ok)
			}
		})
	}
}

// TestServeLastGoodPolicy: a policy directory broken while privgate ran (the edit refused) must
// not crash-loop the restarted process when a last good copy was kept: it serves the copy and
// says so in /readyz?verbose. Without a copy, a broken policy still stops it at start (exit 2).
func TestServeLastGoodPolicy(t *testing.T) {
	dir, lastGood := t.TempDir(), filepath.Join(t.TempDir(), "last-good")
	writeFile(t, dir+"/site.rego", "package privgate.site\n\nversion := \"v1\"\n")
	servedPrivgate(t, "--policy-dir", dir, "--policy-last-good-dir", lastGood) // keeps a copy at start
	writeFile(t, dir+"/broken.rego", "package privgate\n\ndeny contains x if {\n")

	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--config", exampleConfig, "--policy-dir", dir, "--policy-last-good-dir", t.TempDir() + "/none"}, io.Discard, &stderr); code != 2 {
		t.Errorf("a broken policy without a last good copy: exit %d, want 2: %s", code, stderr.String())
	}

	base, client, logs := servedPrivgate(t, "--policy-dir", dir, "--policy-last-good-dir", lastGood)
	code, body := httpDo(t, client, http.MethodGet, base+"/readyz?verbose", nil)
	if code != http.StatusOK || !strings.Contains(body, "[!]policy: the policy directory did not load at start") || !strings.Contains(body, lastGood) {
		t.Errorf("/readyz?verbose: HTTP %d\n%s\nlogs:\n%s", code, body, logs.String())
	}
	m := postReview(t, client, base+"/validate", admissionReview(t, "CREATE", "../../examples/denied/grafana-snippet.yaml"))
	if m.Allowed {
		t.Error("the last good policy admits what the default denies")
	}
}

// httpDo sends a request (a POST of JSON when body is set) and returns the status and body.
func httpDo(t *testing.T, client *http.Client, method, url string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
