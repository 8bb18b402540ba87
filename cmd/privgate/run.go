package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/targets"
)

// Exit codes shared by every command.
const (
	exitOK     = 0
	exitDenied = 1 // check: an object is denied; policy test: a test failed; serve: stopped on an error
	exitUsage  = 2 // bad flags, bad config, unreadable input
)

var version = "dev"

// exitError carries a command's exit code; its message, if any, is printed after the command's
// name.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageError(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

// exit ends a command with code and no further message (what it had to say is printed).
func exit(code int) error { return &exitError{code: code} }

// run executes privgate with args, as main does, and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var e *exitError
	if !errors.As(err, &e) {
		// cobra's own: an unknown command or flag, a missing argument.
		fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd.CommandPath(), err, cmd.CommandPath())
		return exitUsage
	}
	if e.err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), e.err)
	}
	return e.code
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "privgate",
		Short:         "privgate keeps private hosts behind login",
		Long:          "privgate is a Kubernetes admission webhook: Ingresses whose hosts lie in your private zone are\nmutated to carry oauth2-proxy external auth, TLS and an ingress class, and validated by a Rego\npolicy that rejects anything still unprotected or weakened.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCommand(), newCheckCommand(), newAuditCommand(), newProbeCommand(), newMigrateCommand(), newPolicyCommand(), newCertsCommand(), &cobra.Command{
		Use:   "version",
		Short: "Print privgate's version",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), version) },
	})
	for _, p := range targets.Plugins() {
		if p.Fixes != nil {
			root.AddCommand(newFixCommand(p))
		}
	}
	return root
}

// setup is what every decision needs: config, groups, policy, the core. Its errors are the
// user's to fix (exit 2).
type setup struct {
	cfg      *policy.Config
	reviewer *policy.Reviewer
	source   policy.GroupSource
	engine   *policy.Engine
}

// load reads config, groups and policy. With syncGroups, a remote group source (Keycloak) is read
// once before returning, as a one-shot command needs; serve instead starts unready and syncs in
// the background, so that Keycloak being down never stops privgate from starting.
func load(ctx context.Context, configPath, policyDir string, neverIntercepted []string, syncGroups bool) (*setup, error) {
	if configPath == "" {
		return nil, errors.New("--config is required (the path of privgate.yaml)")
	}
	cfg, err := targets.LoadConfig(configPath)
	if err != nil {
		return nil, err
	}
	source, err := newGroupSource(ctx, cfg, syncGroups)
	if err != nil {
		return nil, err
	}
	ts := targets.For(cfg)
	engine, err := policy.NewEngine(ctx, cfg, policyDir, ts...)
	if err != nil {
		return nil, &policyError{fmt.Errorf("policy %s: %w", orDefault(policyDir), err)}
	}
	return &setup{
		cfg:    cfg,
		source: source,
		engine: engine,
		reviewer: &policy.Reviewer{
			Config: cfg, Engine: engine, Groups: source, Targets: ts, NeverIntercepted: neverIntercepted,
		},
	}, nil
}

// policyError is a policy that does not load (compile, tests), as opposed to a config error.
type policyError struct{ err error }

func (e *policyError) Error() string { return e.err.Error() }
func (e *policyError) Unwrap() error { return e.err }

// neverIntercepted are the namespaces privgate never judges: kube-system and its own.
func neverIntercepted(namespace string) []string {
	if namespace == "" || namespace == "kube-system" {
		return []string{"kube-system"}
	}
	return []string{"kube-system", namespace}
}

func orDefault(dir string) string {
	if dir == "" {
		return "(embedded default)"
	}
	return dir
}

func newGroupSource(ctx context.Context, cfg *policy.Config, syncNow bool) (policy.GroupSource, error) {
	fullPath := cfg.Groups.ClaimFormat == policy.ClaimFormatPath
	switch cfg.Groups.Source {
	case policy.SourceFile:
		names, err := groups.ReadFile(cfg.Path(cfg.Groups.File), fullPath)
		if err != nil {
			return nil, &policy.ConfigError{File: cfg.File, Key: "groups.file", Msg: err.Error()}
		}
		return groups.NewStatic(names), nil
	case policy.SourceKeycloak:
		kc := cfg.Groups.Keycloak
		k, err := groups.NewKeycloak(groups.KeycloakOptions{
			URL: kc.URL, Realm: kc.Realm, ClientID: kc.ClientID, ClientSecretFile: cfg.Path(kc.ClientSecretFile),
			FullPath: fullPath, RefreshInterval: kc.RefreshInterval.Duration, MaxStaleness: kc.MaxStaleness.Duration,
			CAFile: cfg.Path(kc.CAFile), InsecureSkip: kc.InsecureSkipVerify,
		}, ctrl.Log.WithName("keycloak"))
		if err != nil {
			return nil, &policy.ConfigError{File: cfg.File, Key: "groups.keycloak", Msg: err.Error()}
		}
		if syncNow {
			if err := k.Sync(ctx); err != nil {
				return nil, fmt.Errorf("groups from keycloak: %w", err)
			}
		}
		return k, nil
	}
	return nil, &policy.ConfigError{File: cfg.File, Key: "groups.source", Msg: fmt.Sprintf("%q is not supported", cfg.Groups.Source)}
}
