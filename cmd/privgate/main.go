// Command privgate is a Kubernetes admission webhook that keeps private Ingresses behind login.
//
//	privgate serve --config privgate.yaml [--policy-dir DIR]   the HTTPS admission webhook
//	privgate check --config privgate.yaml -f manifests/          the same decisions, offline
//	privgate policy test DIR                                     a policy directory's Rego tests
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
