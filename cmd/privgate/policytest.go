package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/targets"
)

func newPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Work on the Rego policy"}
	var verbose bool
	test := &cobra.Command{
		Use:   "test [-v] DIR",
		Short: "Run a policy directory's Rego tests, laid over the default policy",
		Long: "Run the Rego tests of DIR laid over the default policy: the admin's tests and the defaults'\n" +
			"(a replaced privgate.rego must come with its privgate_test.rego). Exit 1 when a test fails.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mods, err := policy.WithOverrides(targets.Modules(), args[0])
			if err != nil {
				return &exitError{exitUsage, err}
			}
			out := cmd.OutOrStdout()
			passed, failed := 0, 0
			err = policy.TestModules(cmd.Context(), mods, func(r policy.TestResult) {
				if r.Passed {
					passed++
					if verbose {
						fmt.Fprintf(out, "PASS %s\n", r.Name)
					}
					return
				}
				failed++
				fmt.Fprintf(out, "FAIL %s\n     %s\n", r.Name, r.Detail)
			})
			var tf *policy.TestFailure
			if err != nil && !errors.As(err, &tf) {
				return &exitError{exitUsage, err}
			}
			fmt.Fprintf(out, "policy: %d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return exit(exitDenied)
			}
			return nil
		},
	}
	test.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every test, not only failures")
	cmd.AddCommand(test)
	return cmd
}
