package main

import (
	"fmt"
	"io"
	"time"

	"github.com/privgate/privgate/certs"
)

// runCerts: `privgate certs generate --dir DIR --san NAME...` writes a fresh CA and a serving
// certificate (ca.crt, tls.crt, tls.key), for a local control plane or a first install by hand;
// with --client-cn, a client certificate instead (the local control plane's admin user).
func runCerts(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "generate" {
		fmt.Fprintln(stderr, "usage: privgate certs generate --dir DIR --san NAME [--san NAME...] [--validity 24h]")
		return exitUsage
	}
	fs := newFlags("certs generate", stderr)
	var sans listFlag
	dir := fs.String("dir", "", "directory to write ca.crt, tls.crt and tls.key into")
	validity := fs.Duration("validity", 24*time.Hour, "lifetime of the serving certificate (the CA lives 10x longer)")
	fs.Var(&sans, "san", "a DNS name or IP address the certificate is for (repeatable)")
	var orgs listFlag
	clientCN := fs.String("client-cn", "", "issue a client certificate for this user instead of a serving certificate")
	fs.Var(&orgs, "client-org", "a group of the client certificate's user (repeatable)")
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	if *dir == "" || (len(sans) == 0) == (*clientCN == "") {
		fmt.Fprintln(stderr, "privgate certs generate: --dir and either --san (serving) or --client-cn (client) are required")
		return exitUsage
	}
	now := time.Now()
	ca, err := certs.NewCA("privgate-ca", 10**validity, now)
	if err != nil {
		fmt.Fprintf(stderr, "privgate certs generate: %v\n", err)
		return 1
	}
	var cert, key []byte
	if *clientCN != "" {
		cert, key, err = ca.IssueClient(*clientCN, orgs, *validity, now)
		sans = listFlag{"client " + *clientCN}
	} else {
		cert, key, err = ca.Issue(sans, *validity, now)
	}
	if err == nil {
		err = certs.WriteFiles(*dir, ca.CertPEM, cert, key)
	}
	if err != nil {
		fmt.Fprintf(stderr, "privgate certs generate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s/{ca.crt,tls.crt,tls.key} for %v\n", *dir, []string(sans))
	return exitOK
}
