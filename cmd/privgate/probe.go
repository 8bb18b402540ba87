package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/probe"
)

type probeOptions struct {
	kubeconfig, config, output, namespace, address, scheme string
	files, hosts, signin, noAuth                           []string
	rate                                                   float64
	concurrency, maxPaths                                  int
	timeout                                                time.Duration
	insecure                                               bool
}

func newProbeCommand() *cobra.Command {
	var o probeOptions
	cmd := &cobra.Command{
		Use:   "probe --config FILE (--kubeconfig FILE | -f PATH... | --host HOST[/PATH]...) [--address IP:PORT]",
		Short: "Request every private host without credentials and say whether the login answers",
		Long: "Send unauthenticated GET requests to every private host (the hosts privgate audit lists, from\n" +
			"the cluster with --kubeconfig or from manifests with -f; or those named with --host) and each path\n" +
			"its objects route: the plain path and the variants known bypasses use. Redirects are never\n" +
			"followed, no cookie or credential is ever sent; requests are rate-limited and bounded (README,\n" +
			"\"privgate probe\"). Verdict per request: login (a redirect to the sign-in, or the login's 401/403),\n" +
			"open (anything else that answered 2xx/3xx: the app), unreachable.\n" +
			"Exit 0 when no request was open and every host's plain request met the login, 1 when something\n" +
			"is open, 2 when it could not run or a host's plain request got no answer.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runProbe(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster whose private hosts are probed (default $KUBECONFIG unless -f or --host)")
	f.StringVar(&o.config, "config", "", "privgate.yaml (the private zones, the sign-in)")
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifest file or folder whose private hosts are probed (repeatable; - for standard input)")
	f.StringArrayVar(&o.hosts, "host", nil, "a host to probe, HOST or HOST/PATH (repeatable)")
	f.StringVar(&o.address, "address", "", "IP:PORT every request is sent to, whatever its host (as curl --resolve); default: each host's DNS")
	f.StringVar(&o.scheme, "scheme", "https", "http or https")
	f.BoolVar(&o.insecure, "insecure", false, "https: do not verify the certificate")
	f.StringArrayVar(&o.signin, "signin", nil, "a further URL prefix that is the login (an identity provider's authorize URL); auth.signin's and auth.url's hosts always are")
	f.StringArrayVar(&o.noAuth, "no-auth-location", probe.DefaultNoAuthLocations, "a location the controller serves without login (repeatable)")
	f.Float64Var(&o.rate, "rate", probe.DefaultRate, "requests per second")
	f.IntVar(&o.concurrency, "concurrency", probe.DefaultConcurrency, "requests in flight at once")
	f.IntVar(&o.maxPaths, "max-paths", probe.DefaultMaxPaths, "paths probed per host")
	f.DurationVar(&o.timeout, "timeout", probe.DefaultTimeout, "per request")
	f.StringVarP(&o.output, "output", "o", "text", "output: text or json (one entry per request)")
	f.StringVar(&o.namespace, "namespace", "privgate", "privgate's own namespace in the cluster, never intercepted")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func runProbe(cmd *cobra.Command, o probeOptions) error {
	ctx := cmd.Context()
	if o.output != "text" && o.output != "json" {
		return usageError("-o %s: probe prints text or json", o.output)
	}
	if o.scheme != "http" && o.scheme != "https" {
		return usageError("--scheme %s: http or https", o.scheme)
	}
	if o.address != "" {
		if _, _, err := net.SplitHostPort(o.address); err != nil {
			return usageError("--address %s: IP:PORT: %v", o.address, err)
		}
	}
	if o.rate <= 0 || o.concurrency <= 0 || o.maxPaths <= 0 || o.timeout <= 0 {
		return usageError("--rate, --concurrency, --max-paths and --timeout must be positive")
	}
	s, err := load(ctx, o.config, "", neverIntercepted(o.namespace), false)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	targets, err := probeTargets(ctx, o, s.reviewer, cmd.InOrStdin())
	if err != nil {
		return &exitError{exitUsage, err}
	}
	signin := probe.NewSignIn(s.cfg.Auth.Signin, s.cfg.Auth.URL, o.signin)
	plan := probe.NewPlan(signin, o.noAuth, o.maxPaths)
	var reqs []probe.Request
	for _, t := range targets {
		reqs = append(reqs, plan.Requests(t)...)
	}
	p := &probe.Prober{Address: o.address, Scheme: o.scheme, Insecure: o.insecure, Rate: o.rate,
		Concurrency: o.concurrency, Timeout: o.timeout, SignIn: signin}
	results := p.Run(ctx, reqs)
	out := cmd.OutOrStdout()
	if o.output == "json" {
		results = orEmpty(results)
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return &exitError{exitUsage, err}
		}
	} else {
		printProbe(out, targets, results)
	}
	switch {
	case len(probe.OpenHosts(results)) > 0:
		return exit(exitDenied)
	case len(probe.Unchecked(results)) > 0:
		return exit(exitUsage)
	}
	return nil
}

// probeTargets are the private hosts to probe and their paths: those named with --host, or the
// zone privgate audit shows but its exempt hosts (audit.Zone over the stored objects, or over the manifests of -f).
func probeTargets(ctx context.Context, o probeOptions, rev *policy.Reviewer, stdin io.Reader) ([]probe.Target, error) {
	if len(o.hosts) > 0 {
		if len(o.files) > 0 || o.kubeconfig != "" {
			return nil, fmt.Errorf("--host, -f and --kubeconfig: one source of hosts")
		}
		return namedTargets(o.hosts), nil
	}
	var objs []stored
	index := policy.NewIndex()
	if len(o.files) > 0 {
		if o.kubeconfig != "" {
			return nil, fmt.Errorf("-f and --kubeconfig: one source of hosts")
		}
		manifests := readManifests(o.files, stdin, o.config)
		var err error
		if objs, err = manifestObjects(rev, manifests); err != nil {
			return nil, err
		}
		index = indexManifests(rev, manifests)
	} else {
		cfg, err := restConfig(o.kubeconfig)
		if err != nil {
			return nil, err
		}
		if cfg == nil {
			return nil, fmt.Errorf("--kubeconfig (or $KUBECONFIG), -f or --host is required: what to probe")
		}
		if objs, err = storedObjects(ctx, cfg, rev, index); err != nil {
			return nil, err
		}
	}
	rev.Cluster = index
	_, _, zone := auditStored(ctx, rev, objs)
	var out []probe.Target
	for _, h := range zone.Hosts() {
		if zone.Probed(h) {
			out = append(out, zone.ProbeTarget(h))
		}
	}
	return out, nil
}

// namedTargets reads --host values: HOST or HOST/PATH, a host named twice probed once.
func namedTargets(hosts []string) []probe.Target {
	var out []probe.Target
	at := map[string]int{}
	for _, h := range hosts {
		host, path, _ := strings.Cut(h, "/")
		host = probe.Name(policy.NormalizeHost(host))
		i, ok := at[host]
		if !ok {
			i, at[host] = len(out), len(out)
			out = append(out, probe.Target{Host: host})
		}
		if path != "" || strings.HasSuffix(h, "/") {
			if p := "/" + path; !slices.Contains(out[i].Paths, p) {
				out[i].Paths = append(out[i].Paths, p)
			}
		}
	}
	return out
}

// manifestObjects are the manifests' objects a target judges, as audit.Judge reads stored ones.
func manifestObjects(rev *policy.Reviewer, objs []object) ([]stored, error) {
	kinds := map[schema.GroupKind]policy.Kind{}
	for _, k := range rev.Reads() {
		kinds[k.GVK.GroupKind()] = k
	}
	var out []stored
	for _, o := range objs {
		if o.Err != nil {
			return nil, o.Err
		}
		gvk := schema.FromAPIVersionAndKind(o.APIVersion, o.Kind)
		k, ok := kinds[gvk.GroupKind()]
		if !ok || !k.Judged || !rev.Judges(gvk) {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(o.Raw); err != nil {
			return nil, fmt.Errorf("%s: %w", o.where(), err)
		}
		u.SetNamespace(namespaceOf(rev, o))
		out = append(out, stored{k, u})
	}
	return out, nil
}

func printProbe(w io.Writer, targets []probe.Target, results []probe.Result) {
	for _, r := range results {
		fmt.Fprintln(w, r.Line())
	}
	c := probe.Summary(results)
	fmt.Fprintf(w, "\n%d private host%s, %d request%s: %d login, %d open, %d unreachable\n",
		len(targets), plural(len(targets)), len(results), plural(len(results)), c[probe.Login], c[probe.Open], c[probe.Unreachable])
	for _, h := range probe.OpenHosts(results) {
		fmt.Fprintf(w, "OPEN: %s answers without the login\n", h)
	}
	for _, h := range probe.Unchecked(results) {
		fmt.Fprintf(w, "UNCHECKED: %s: its plain request got no answer from the login or the app\n", h)
	}
}
