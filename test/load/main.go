// Command load is issue 7's load harness (`make bench`): it starts privgate serve, a floor
// handler (HTTPS + JSON and nothing else) and opa run --server on the same policy and data, drives
// each with vegeta over HTTPS keep-alive, and prints one table of latency, CPU and memory.
//
//	load --privgate bin/privgate --opa ~/.cache/privgate/opa-v1.22.2/opa [--quick] [--out docs/performance.md]
//	load floor --cert-dir DIR --port N   (the floor server; the harness starts it as its own process)
//	load audit --privgate bin/privgate [--ingresses 5000] [--out docs/performance.md]   (the audit's cost)
//	load memory --privgate bin/privgate [--out docs/performance.md]   (peak memory under ~7 MiB reviews)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "audit" {
		if err := runAudit(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "load audit: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "memory" {
		if err := runMemory(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "load memory: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		if err := runFloor(os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "floor: %v\n", err)
			os.Exit(1)
		}
		return
	}
	o := options{}
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	fs.StringVar(&o.privgate, "privgate", "bin/privgate", "privgate binary")
	fs.StringVar(&o.opa, "opa", "", "opa binary (hack/bench.sh builds it)")
	fs.StringVar(&o.config, "config", "examples/privgate.yaml", "privgate config; its groups file is replaced by one of --groups groups")
	fs.StringVar(&o.review, "review", "webhook/testdata/create-argocd.json", "AdmissionReview the reference Ingress is built from")
	fs.IntVar(&o.groups, "groups", 10000, "number of known groups")
	fs.BoolVar(&o.quick, "quick", false, "2 s windows, no docs/performance.md (a smoke test for CI)")
	fs.StringVar(&o.out, "out", "", "markdown report to write (default docs/performance.md, none with --quick)")
	fs.StringVar(&o.revision, "revision", "unknown", "privgate revision, for the report")
	fs.BoolVar(&o.http2, "http2", false, "speak HTTP/2 to every server instead of HTTP/1.1")
	_ = fs.Parse(os.Args[1:])
	if o.out == "" && !o.quick {
		o.out = "docs/performance.md"
	}
	if o.opa == "" {
		fmt.Fprintln(os.Stderr, "load: --opa is required (hack/bench.sh builds it)")
		os.Exit(2)
	}

	// The whole run is bounded: whatever happens, every server is stopped within budget.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, stop := context.WithTimeout(ctx, 5*time.Minute)
	defer stop()
	err := run(ctx, o) // run stops every server it started before it returns
	stop()
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	privgate, opa, config, review, out, revision string
	groups                                       int
	quick, http2                                 bool
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
}
