package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
)

// Exit codes shared by every command.
const (
	exitOK     = 0
	exitDenied = 1 // check: an Ingress is denied; policy test: a test failed
	exitUsage  = 2 // bad flags, bad config, unreadable input
)

const usage = `privgate keeps private Ingresses behind login.

Usage:
  privgate serve --config FILE [--policy-dir DIR] [--cert-dir DIR] [--port N]
  privgate check --config FILE -f PATH [-f PATH...] [-o text|json|yaml] [--policy-dir DIR]
  privgate policy test DIR
  privgate certs generate --dir DIR --san NAME [--san NAME...]
  privgate version

Run "privgate COMMAND -h" for a command's flags.
`

var version = "dev"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stderr)
	case "check":
		return runCheck(ctx, args[1:], stdout, stderr)
	case "policy":
		if len(args) < 2 || args[1] != "test" {
			fmt.Fprintln(stderr, "usage: privgate policy test DIR")
			return exitUsage
		}
		return runPolicyTest(ctx, args[2:], stdout, stderr)
	case "certs":
		return runCerts(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version)
		return exitOK
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "privgate: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("privgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and reports whether to go on, and with which exit code if not.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return 0, true
}

// listFlag collects a repeated flag (-f a -f b).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// setup loads what every decision needs: config, groups, policy. Its errors are the user's to fix
// (exit 2).
type setup struct {
	cfg      *policy.Config
	reviewer *policy.Reviewer
	source   policy.GroupSource
	engine   *policy.Engine
}

// load reads config, groups and policy. With syncGroups, a remote group source (Keycloak) is read
// once before returning, as a one-shot command needs; serve instead starts unready and syncs in
// the background, so that Keycloak being down never stops privgate from starting.
func load(ctx context.Context, configPath, policyDir string, neverBlock []string, syncGroups bool) (*setup, error) {
	if configPath == "" {
		return nil, errors.New("--config is required (the path of privgate.yaml)")
	}
	cfg, err := policy.LoadConfig(configPath)
	if err != nil {
		return nil, err
	}
	source, err := newGroupSource(ctx, cfg, syncGroups)
	if err != nil {
		return nil, err
	}
	mods, err := policy.WithOverrides(policyDir)
	if err != nil {
		return nil, err
	}
	engine, err := policy.NewEngine(ctx, cfg, mods)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", orDefault(policyDir), err)
	}
	return &setup{
		cfg:    cfg,
		source: source,
		engine: engine,
		reviewer: &policy.Reviewer{
			Config: cfg, Engine: engine, Groups: source, NeverBlock: neverBlock,
		},
	}, nil
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
