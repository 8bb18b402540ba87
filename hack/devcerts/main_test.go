package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	now := time.Now()
	cases := map[string]struct {
		args       []string
		wantErr    bool
		wantUser   string
		wantGroups []string
		wantLife   time.Duration
	}{
		"admin of the local control plane": {
			args:     []string{"-cn", "admin", "-org", "system:masters"},
			wantUser: "admin", wantGroups: []string{"system:masters"}, wantLife: 24 * time.Hour,
		},
		"several groups, shorter life": {
			args:     []string{"-cn", "alice", "-org", "dev", "-org", "ops", "-validity", "1h"},
			wantUser: "alice", wantGroups: []string{"dev", "ops"}, wantLife: time.Hour,
		},
		"no groups": {args: []string{"-cn", "bob"}, wantUser: "bob", wantLife: 24 * time.Hour},
		"no user":   {args: []string{"-org", "system:masters"}, wantErr: true},
		"stray arg": {args: []string{"-cn", "admin", "extra"}, wantErr: true},
		"bad flag":  {args: []string{"-cn", "admin", "-client-cn", "admin"}, wantErr: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "admin")
			err := run(append([]string{"-dir", dir}, c.args...), io.Discard, now)
			if c.wantErr {
				if err == nil {
					t.Fatal("accepted")
				}
				if _, statErr := os.Stat(dir); statErr == nil {
					t.Error("wrote files despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
			if err != nil {
				t.Fatal(err)
			}
			leaf, _ := x509.ParseCertificate(pair.Certificate[0])
			caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
			roots := x509.NewCertPool()
			if !roots.AppendCertsFromPEM(caPEM) {
				t.Fatal("ca.crt holds no certificate")
			}
			// What kube-apiserver's --client-ca-file check does: a client certificate from this CA.
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Fatal(err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now.Add(c.wantLife + time.Minute), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Errorf("still valid after %v", c.wantLife)
			}
			if leaf.Subject.CommonName != c.wantUser {
				t.Errorf("user %q, want %q", leaf.Subject.CommonName, c.wantUser)
			}
			if !slices.Equal(leaf.Subject.Organization, c.wantGroups) {
				t.Errorf("groups %v, want %v", leaf.Subject.Organization, c.wantGroups)
			}
			if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) || leaf.IsCA {
				t.Error("a client certificate must not serve TLS or sign")
			}
		})
	}
}
