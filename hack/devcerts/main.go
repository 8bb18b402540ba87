// Command devcerts writes a fresh CA and a client certificate it signed (ca.crt, tls.crt,
// tls.key) for the local control plane of hack/: the API server trusts the CA, kubectl presents
// the certificate. Client certificates are for development only, so this lives here and not in
// the privgate binary, which issues serving certificates alone.
//
//	go run ./hack/devcerts -dir DIR -cn admin -org system:masters [-validity 24h]
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/privgate/privgate/certs"
)

func main() {
	err := run(os.Args[1:], os.Stderr, time.Now())
	switch {
	case errors.Is(err, flag.ErrHelp): // -h: the usage was what was asked for
	case err != nil:
		fmt.Fprintln(os.Stderr, "devcerts:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("devcerts", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory to write ca.crt, tls.crt and tls.key into")
	user := fs.String("cn", "", "the user: the certificate's common name")
	var groups stringList
	fs.Var(&groups, "org", "a group of the user: an organization of the certificate (repeatable)")
	validity := fs.Duration("validity", 24*time.Hour, "lifetime of the client certificate (the CA lives 10x longer)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || *user == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("-dir and -cn are required, and nothing else")
	}
	ca, err := certs.NewCA("privgate-dev-client-ca", 10**validity, now)
	if err != nil {
		return err
	}
	cert, key, err := issueClient(ca, *user, groups, *validity, now)
	if err != nil {
		return err
	}
	return certs.WriteFiles(*dir, ca.CertPEM, cert, key)
}

// issueClient signs a client certificate; Kubernetes reads the user from the common name and the
// groups from the organizations.
func issueClient(ca *certs.Authority, user string, groups []string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: user, Organization: groups},
		NotBefore:    now.Add(-5 * time.Minute), // valid at once where clocks lag a little
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
