package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/privgate/privgate/certs"
)

func newCertsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "certs", Short: "Serving certificates for the webhook"}
	var (
		dir      string
		sans     []string
		validity time.Duration
	)
	generate := &cobra.Command{
		Use:   "generate --dir DIR --san NAME [--san NAME...]",
		Short: "Write a fresh CA and a serving certificate (ca.crt, tls.crt, tls.key)",
		Long: "Write a fresh CA and a serving certificate signed by it into DIR: for a local control plane,\n" +
			"or a first install by hand. In a cluster, prefer serve --certs self-managed or cert-manager.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			ca, err := certs.NewCA("privgate-ca", 10*validity, now)
			if err != nil {
				return &exitError{exitDenied, err}
			}
			cert, key, err := ca.Issue(sans, validity, now)
			if err == nil {
				err = certs.WriteFiles(dir, ca.CertPEM, cert, key)
			}
			if err != nil {
				return &exitError{exitDenied, err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s/{ca.crt,tls.crt,tls.key} for %v\n", dir, sans)
			return nil
		},
	}
	f := generate.Flags()
	f.StringVar(&dir, "dir", "", "directory to write ca.crt, tls.crt and tls.key into")
	f.StringArrayVar(&sans, "san", nil, "a DNS name or IP address the certificate is for (repeatable)")
	f.DurationVar(&validity, "validity", 24*time.Hour, "lifetime of the serving certificate (the CA lives 10x longer)")
	_ = generate.MarkFlagRequired("dir")
	_ = generate.MarkFlagRequired("san")
	cmd.AddCommand(generate)
	return cmd
}
