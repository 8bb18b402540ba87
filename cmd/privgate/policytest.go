package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/privgate/privgate/policy"
)

// runPolicyTest runs the Rego tests of a policy directory laid over the defaults: the admin's
// tests and the defaults' (a replaced privgate.rego must come with its privgate_test.rego).
func runPolicyTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("policy test", stderr)
	verbose := fs.Bool("v", false, "print every test, not only failures")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: privgate policy test [-v] DIR")
		return exitUsage
	}
	mods, err := policy.WithOverrides(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "privgate policy test: %v\n", err)
		return exitUsage
	}
	passed, failed := 0, 0
	err = policy.TestModules(ctx, mods, func(r policy.TestResult) {
		if r.Passed {
			passed++
			if *verbose {
				fmt.Fprintf(stdout, "PASS %s\n", r.Name)
			}
			return
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s\n     %s\n", r.Name, r.Detail)
	})
	var tf *policy.TestFailure
	if err != nil && !errors.As(err, &tf) {
		fmt.Fprintf(stderr, "privgate policy test: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "policy: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitDenied
	}
	return exitOK
}
