package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gomodules.xyz/jsonpatch/v2"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/crdschema"
)

// checkResult is one judged object, as -o json prints it.
type checkResult struct {
	Kind       string                `json:"kind"`
	Namespace  string                `json:"namespace"`
	Name       string                `json:"name"`
	File       string                `json:"file,omitempty"` // check: where the manifest is
	Line       int                   `json:"line,omitempty"`
	Allowed    bool                  `json:"allowed"`
	Error      string                `json:"error,omitempty"`   // unreadable or not judged: why (exit 2)
	Skipped    bool                  `json:"skipped,omitempty"` // never judged: note says why
	Note       string                `json:"note,omitempty"`    // why an admitted object needed nothing
	Protected  bool                  `json:"-"`                 // it answers private hosts that need login
	Violations []policy.Violation    `json:"violations"`
	Warnings   []policy.Violation    `json:"warnings"`
	Audited    []policy.Violation    `json:"audited"` // admitted in audit mode; the audit reports them
	Patch      []jsonpatch.Operation `json:"patch"`
	Mutated    json.RawMessage       `json:"mutated"`

	// Defaulted says what the API server's own admission plugins set on the object before
	// privgate sees it (an Ingress's default IngressClass), as check applied it.
	Defaulted string `json:"defaulted,omitempty"`
}

func newCheckCommand() *cobra.Command {
	var (
		files                     []string
		config, policyDir, output string
		namespace                 string
	)
	cmd := &cobra.Command{
		Use:   "check --config FILE -f PATH [-f PATH...]",
		Short: "Judge manifests offline, exactly as the two webhooks would",
		Long: "Read manifests (files and folders, recursively: *.yaml, *.yml, *.json; - for standard input;\n" +
			"multi-document YAML and kind: List) and judge every object privgate judges as the webhooks\n" +
			"would: mutate, then validate. Exit 0 when everything is admitted, 1 when something is\n" +
			"denied, 2 on unreadable input or bad config.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			s, err := load(cmd.Context(), config, policyDir, neverIntercepted(namespace), true)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			objs := readManifests(files, cmd.InOrStdin(), config)
			s.reviewer.Cluster = indexManifests(s.reviewer, objs)
			results, others := []checkResult{}, 0
			for _, o := range objs {
				r := judge(cmd.Context(), s.reviewer, o)
				if r == nil {
					others++
					continue
				}
				results = append(results, *r)
			}
			if err := printResults(cmd.OutOrStdout(), output, results, others); err != nil {
				return &exitError{exitUsage, err}
			}
			return verdictExit(cmd, results, func(r checkResult) bool { return !r.Allowed })
		},
	}
	f := cmd.Flags()
	f.StringVar(&config, "config", "", "privgate.yaml")
	f.StringVar(&policyDir, "policy-dir", "", "directory of .rego files laid over the embedded policy")
	f.StringVarP(&output, "output", "o", "text", "output: text, json (one array of results) or yaml (the mutated objects)")
	f.StringArrayVarP(&files, "filename", "f", nil, "manifest file or folder (repeatable; - for standard input)")
	f.StringVar(&namespace, "namespace", "privgate", "privgate's own namespace in the cluster, never intercepted (as serve's --namespace)")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// checkOutput refuses an -o check and audit do not print.
func checkOutput(output string) error {
	switch output {
	case "text", "json", "yaml":
		return nil
	}
	return usageError("-o %s: want text, json or yaml", output)
}

// verdictExit prints each result's error and ends the command: exit 2 when any object could not
// be judged, else 1 when any failed (as failed says), else 0.
func verdictExit(cmd *cobra.Command, results []checkResult, failed func(checkResult) bool) error {
	code := exitOK
	for _, r := range results {
		switch {
		case r.Error != "":
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", cmd.CommandPath(), r.Error)
			code = exitUsage
		case failed(r) && code == exitOK:
			code = exitDenied
		}
	}
	if code != exitOK {
		return exit(code)
	}
	return nil
}

// indexManifests is the cluster as the files describe it, for cross-object rules: who claims
// which host (manifests carry no creation time, so the first in input order is the oldest) and
// which IngressClasses exist, and the objects routes are judged against (gateways,
// AuthorizationPolicies).
func indexManifests(rev *policy.Reviewer, objs []object) *policy.Index {
	x := policy.NewIndex()
	first := time.Unix(0, 0)
	for i, o := range objs {
		if o.Err != nil {
			continue
		}
		gvk := schema.FromAPIVersionAndKind(o.APIVersion, o.Kind)
		// An unreadable one gets its error when judged.
		_ = rev.Store(x, gvk, namespaceOf(rev, o), first.Add(time.Duration(i)*time.Second), o.Raw)
	}
	return x
}

// namespaceOf is where kubectl would create an object: its namespace, "default" when it names
// none, none for a cluster-scoped kind (as the targets declare the kinds they read).
func namespaceOf(rev *policy.Reviewer, o object) string {
	switch {
	case rev.ClusterScoped(schema.FromAPIVersionAndKind(o.APIVersion, o.Kind).GroupKind()):
		return ""
	case o.Namespace == "":
		return "default"
	}
	return o.Namespace
}

// judge runs one object through the same path as the two webhooks, mutation then validation.
// It returns nil for an object of a kind privgate does not judge, and a result with Error for
// one it cannot read or judge.
func judge(ctx context.Context, rev *policy.Reviewer, o object) *checkResult {
	if o.Err != nil {
		return &checkResult{File: o.File, Line: o.Line, Error: o.Err.Error()}
	}
	kind := schema.FromAPIVersionAndKind(o.APIVersion, o.Kind)
	ns := namespaceOf(rev, o)
	failed := func(err error) *checkResult {
		return &checkResult{Kind: o.Kind, Namespace: ns, Name: o.Name, File: o.File, Line: o.Line,
			Error: fmt.Sprintf("%s: %s %s: %v", o.where(), o.Kind, policy.ObjectName(ns, o.Name), err)}
	}
	// The Go types of Istio and Gateway API drop what they do not know, so a field at the wrong
	// level would pass unseen: such objects are first held to their CRD's schema, as the API
	// server does with kubectl's strict field validation.
	if errs, known := crdschema.Validate(kind, o.Raw); known && len(errs) > 0 {
		return failed(fmt.Errorf("does not match the %s CRD's schema: %w", o.Kind, errs.ToAggregate()))
	}
	if !rev.Judges(kind) {
		return nil
	}
	// What the API server's own admission plugins do before any webhook (check judges every
	// object as created).
	req, defaulted := rev.Defaults(policy.Request{Kind: kind, Operation: "CREATE", Namespace: ns, Name: o.Name, Object: o.Raw})
	d, err := rev.Review(ctx, req)
	if err != nil {
		return failed(err)
	}
	mutated, err := policy.ApplyPatch(req.Object, d.Patch)
	if err != nil {
		return failed(err)
	}
	return &checkResult{
		Kind: o.Kind, Namespace: ns, Name: o.Name, File: o.File, Line: o.Line,
		Allowed: d.Allowed, Skipped: d.Skipped, Violations: orEmpty(d.Violations), Warnings: orEmpty(d.Warnings),
		Audited: orEmpty(d.Audited), Patch: orEmpty(d.Patch), Mutated: mutated, Note: d.Note, Protected: d.Protected, Defaulted: defaulted,
	}
}

// from says where a result's object was read: " (file:line)", nothing for a stored object.
func (r checkResult) from() string {
	if r.File == "" {
		return ""
	}
	return fmt.Sprintf(" (%s:%d)", r.File, r.Line)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func printResults(w io.Writer, format string, results []checkResult, others int) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	case "yaml":
		for i, r := range results {
			if r.Error != "" {
				continue // on stderr
			}
			y, err := yaml.JSONToYAML(r.Mutated)
			if err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(w, "---")
			}
			fmt.Fprintf(w, "# %s/%s from %s:%d: %s\n", r.Namespace, r.Name, r.File, r.Line, verdict(r))
			_, _ = w.Write(y)
		}
		return nil
	}
	admitted, mutated, denied, skipped, unreadable := 0, 0, 0, 0, 0
	for _, r := range results {
		name := policy.ObjectName(r.Namespace, r.Name)
		switch {
		case r.Error != "":
			unreadable++ // the reason goes to stderr
			continue
		case r.Skipped:
			skipped++
			fmt.Fprintf(w, "SKIPPED   %s%s: %s\n", name, r.from(), r.Note)
		case !r.Allowed:
			denied++
			fmt.Fprintf(w, "DENIED    %s%s\n", name, r.from())
			for _, line := range policy.Messages(name, r.Violations) {
				fmt.Fprintf(w, "          %s\n", line)
			}
		case len(r.Patch) > 0:
			admitted++
			mutated++
			fmt.Fprintf(w, "ADMITTED  %s%s, mutated:\n", name, r.from())
			for _, op := range r.Patch {
				v, _ := json.Marshal(op.Value)
				if op.Operation == "remove" {
					v = nil
				}
				fmt.Fprintf(w, "          %s %s %s\n", op.Operation, op.Path, v)
			}
		default:
			admitted++
			why := "as written, untouched"
			if r.Protected {
				why = "protected as written, untouched"
			}
			if r.Note != "" {
				why = r.Note + ", untouched"
			}
			fmt.Fprintf(w, "ADMITTED  %s%s: %s\n", name, r.from(), why)
		}
		if r.Defaulted != "" {
			fmt.Fprintf(w, "          %s\n", r.Defaulted)
		}
		for _, line := range policy.Messages(name, r.Warnings) {
			fmt.Fprintf(w, "          warning: %s\n", line)
		}
		for _, line := range policy.Messages(name, r.Audited) {
			fmt.Fprintf(w, "          audit: %s\n", line)
		}
	}
	judged := len(results) - unreadable
	fmt.Fprintf(w, "%d %s: %d admitted (%d mutated), %d denied", judged, noun(results, judged), admitted, mutated, denied)
	if unreadable > 0 {
		fmt.Fprintf(w, ", %d unreadable", unreadable)
	}
	if skipped > 0 {
		fmt.Fprintf(w, ", %d skipped", skipped)
	}
	if others > 0 {
		fmt.Fprintf(w, "; other objects not judged: %d", others)
	}
	fmt.Fprintln(w)
	return nil
}

func verdict(r checkResult) string {
	if !r.Allowed {
		return "DENIED: " + strings.Join(policy.Messages(r.Namespace+"/"+r.Name, r.Violations), "; ")
	}
	return "admitted"
}

// noun names what was judged: the kind when every result is of one (Ingresses, as most runs
// judge), objects otherwise.
func noun(results []checkResult, n int) string {
	kind := ""
	for _, r := range results {
		switch {
		case r.Kind == "":
			continue // unreadable: of no kind
		case kind != "" && r.Kind != kind:
			return "object" + plural(n)
		}
		kind = r.Kind
	}
	if kind == "" {
		kind = "object"
	}
	if n == 1 {
		return kind
	}
	if strings.HasSuffix(kind, "s") {
		return kind + "es"
	}
	// SecurityPolicy, AuthorizationPolicy: policies; Gateway: gateways.
	if n := len(kind); n > 1 && kind[n-1] == 'y' && !strings.ContainsRune("aeiou", rune(kind[n-2])) {
		return kind[:n-1] + "ies"
	}
	return kind + "s"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
