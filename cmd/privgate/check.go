package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/policy"
)

// checkResult is one judged Ingress, as -o json prints it.
type checkResult struct {
	Kind       string                `json:"kind"`
	Namespace  string                `json:"namespace"`
	Name       string                `json:"name"`
	File       string                `json:"file"`
	Line       int                   `json:"line"`
	Allowed    bool                  `json:"allowed"`
	Violations []policy.Violation    `json:"violations"`
	Warnings   []policy.Violation    `json:"warnings"`
	Patch      []jsonpatch.Operation `json:"patch"`
	Mutated    json.RawMessage       `json:"mutated"`

	note string
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	var files listFlag
	configPath := fs.String("config", "", "privgate.yaml")
	policyDir := fs.String("policy-dir", "", "directory of .rego files laid over the embedded policy")
	output := fs.String("o", "text", "output: text, json (one array of results) or yaml (the mutated Ingresses)")
	fs.Var(&files, "f", "manifest file or folder (repeatable; - for standard input)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	switch *output {
	case "text", "json", "yaml":
	default:
		fmt.Fprintf(stderr, "privgate check: -o %s: want text, json or yaml\n", *output)
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "privgate check: -f is required (a manifest file or folder)")
		return exitUsage
	}
	s, err := load(ctx, *configPath, *policyDir, nil, true)
	if err != nil {
		fmt.Fprintf(stderr, "privgate check: %v\n", err)
		return exitUsage
	}
	objs, err := readManifests(files, os.Stdin)
	if err != nil {
		fmt.Fprintf(stderr, "privgate check: %v\n", err)
		return exitUsage
	}
	results := []checkResult{}
	for _, o := range objs {
		if o.Kind != "Ingress" {
			continue
		}
		if o.APIVersion != "networking.k8s.io/v1" {
			fmt.Fprintf(stderr, "privgate check: %s: Ingress apiVersion %q is not served by current Kubernetes; use networking.k8s.io/v1\n", o.where(), o.APIVersion)
			return exitUsage
		}
		r, err := judge(ctx, s.reviewer, o)
		if err != nil {
			fmt.Fprintf(stderr, "privgate check: %s: %v\n", o.where(), err)
			return exitUsage
		}
		results = append(results, r)
	}
	if err := printResults(stdout, *output, results); err != nil {
		fmt.Fprintf(stderr, "privgate check: %v\n", err)
		return exitUsage
	}
	for _, r := range results {
		if !r.Allowed {
			return exitDenied
		}
	}
	return exitOK
}

// judge runs one Ingress through the same path as the two webhooks, mutation then validation.
func judge(ctx context.Context, rev *policy.Reviewer, o object) (checkResult, error) {
	ns := o.Namespace
	if ns == "" {
		ns = "default" // where kubectl would create it
	}
	d, err := rev.Review(ctx, policy.Request{Operation: "CREATE", Namespace: ns, Name: o.Name, Object: o.Raw})
	if err != nil {
		return checkResult{}, err
	}
	mutated := o.Raw
	if len(d.Patch) > 0 {
		ops, _ := json.Marshal(d.Patch)
		p, err := jsonpatchapply.DecodePatch(ops)
		if err != nil {
			return checkResult{}, err
		}
		if mutated, err = p.Apply(o.Raw); err != nil {
			return checkResult{}, fmt.Errorf("apply privgate's patch: %w", err)
		}
	}
	return checkResult{
		Kind: "Ingress", Namespace: ns, Name: o.Name, File: o.File, Line: o.Line,
		Allowed: d.Allowed, Violations: orEmpty(d.Violations), Warnings: orEmpty(d.Warnings),
		Patch: orEmpty(d.Patch), Mutated: mutated, note: d.Note,
	}, nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func printResults(w io.Writer, format string, results []checkResult) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	case "yaml":
		for i, r := range results {
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
	admitted, mutated, denied := 0, 0, 0
	for _, r := range results {
		name := r.Namespace + "/" + r.Name
		switch {
		case !r.Allowed:
			denied++
			fmt.Fprintf(w, "DENIED    %s (%s:%d)\n", name, r.File, r.Line)
			for _, line := range policy.Messages(name, r.Violations) {
				fmt.Fprintf(w, "          %s\n", line)
			}
		case len(r.Patch) > 0:
			admitted++
			mutated++
			fmt.Fprintf(w, "ADMITTED  %s (%s:%d), mutated:\n", name, r.File, r.Line)
			for _, op := range r.Patch {
				v, _ := json.Marshal(op.Value)
				if op.Operation == "remove" {
					v = nil
				}
				fmt.Fprintf(w, "          %s %s %s\n", op.Operation, op.Path, v)
			}
		default:
			admitted++
			why := "protected as written, untouched"
			if r.note != "" {
				why = r.note + ", untouched"
			}
			fmt.Fprintf(w, "ADMITTED  %s (%s:%d): %s\n", name, r.File, r.Line, why)
		}
		for _, line := range policy.Messages(name, r.Warnings) {
			fmt.Fprintf(w, "          warning: %s\n", line)
		}
	}
	fmt.Fprintf(w, "%d Ingress%s: %d admitted (%d mutated), %d denied\n", len(results), plural(len(results)), admitted, mutated, denied)
	return nil
}

func verdict(r checkResult) string {
	if !r.Allowed {
		return "DENIED: " + strings.Join(policy.Messages(r.Namespace+"/"+r.Name, r.Violations), "; ")
	}
	return "admitted"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
}
