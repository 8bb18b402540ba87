package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIssueVerifies(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("privgate-ca", 24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue([]string{"privgate.privgate.svc", "privgate.privgate.svc.cluster.local", "127.0.0.1"}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	cases := map[string]struct {
		name string
		at   time.Time
		ok   bool
	}{
		"service name":         {"privgate.privgate.svc", now, true},
		"cluster-local name":   {"privgate.privgate.svc.cluster.local", now, true},
		"loopback IP":          {"127.0.0.1", now, true},
		"other name":           {"evil.privgate.svc", now, false},
		"after leaf lifetime":  {"privgate.privgate.svc", now.Add(2 * time.Hour), false},
		"with a lagging clock": {"privgate.privgate.svc", now.Add(-time.Minute), true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: c.name, Roots: roots, CurrentTime: c.at})
			if (err == nil) != c.ok {
				t.Errorf("verify: %v, want ok=%v", err, c.ok)
			}
		})
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || leaf.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Error("leaf key is not ECDSA P-256")
	}
	if leaf.IsCA || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Error("leaf must be a server certificate, not a CA")
	}
}

func TestParseAuthorityRoundTrip(t *testing.T) {
	ca, _ := NewCA("privgate-ca", time.Hour, time.Now())
	back, err := ParseAuthority(ca.CertPEM, ca.KeyPEM)
	if err != nil || !back.Cert.Equal(ca.Cert) {
		t.Fatalf("round trip: %v", err)
	}
	other, _ := NewCA("other", time.Hour, time.Now())
	cases := map[string]struct{ cert, key []byte }{
		"mismatched key": {ca.CertPEM, other.KeyPEM},
		"garbage cert":   {[]byte("not pem"), ca.KeyPEM},
		"garbage key":    {ca.CertPEM, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")},
	}
	for name, c := range cases {
		if _, err := ParseAuthority(c.cert, c.key); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	ca, _ := NewCA("privgate-ca", time.Hour, time.Now())
	c, k, _ := ca.Issue([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err := WriteFiles(dir, ca.CertPEM, c, k); err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(filepath.Join(dir, "tls.key"))
	if info.Mode().Perm() != 0o600 {
		t.Errorf("tls.key mode %v", info.Mode())
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if b, _ := pem.Decode(caPEM); b == nil {
		t.Error("ca.crt is not PEM")
	}
}
