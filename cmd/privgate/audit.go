package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/privgate/privgate/audit"
	"github.com/privgate/privgate/policy"
)

func newAuditCommand() *cobra.Command {
	var kubeconfig, config, policyDir, output, namespace string
	cmd := &cobra.Command{
		Use:   "audit --kubeconfig FILE --config FILE",
		Short: "Judge every Ingress, gateway route and policy (and RBAC binding) stored in a cluster, read-only, as the validating webhook would",
		Long: "List every Ingress (and IngressClass; the Istio and Gateway API routes, gateways and\n" +
			"AuthorizationPolicies of the kinds installed; RBAC bindings with the config's rbac section) of the\n" +
			"cluster and judge each as the validating webhook would if it were written as it is now, with the\n" +
			"cross-object rules against what is stored.\n" +
			"Read-only. With --policy-dir, preview a policy edit against the cluster before rolling it out.\n" +
			"Exit 0 when nothing violates, 1 when something does (in any mode), 2 on error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := restConfig(kubeconfig)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			if cfg == nil {
				return usageError("--kubeconfig (or $KUBECONFIG) is required: the cluster to audit")
			}
			s, err := load(cmd.Context(), config, policyDir, neverIntercepted(namespace), true)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			ctx := cmd.Context()
			index := policy.NewIndex()
			objs, err := storedObjects(ctx, cfg, s.reviewer, index)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			s.reviewer.Cluster = index
			results, others, zone := auditStored(ctx, s.reviewer, objs)
			out := cmd.OutOrStdout()
			if err := printResults(out, output, results, others); err != nil {
				return &exitError{exitUsage, err}
			}
			if output == "text" {
				printHosts(out, zone)
			}
			return verdictExit(cmd, results, func(r checkResult) bool { return len(r.Violations)+len(r.Warnings)+len(r.Audited) > 0 })
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to audit (default $KUBECONFIG; never ~/.kube/config implicitly)")
	f.StringVar(&config, "config", "", "privgate.yaml")
	f.StringVar(&policyDir, "policy-dir", "", "directory of .rego files laid over the embedded policy (preview an edit)")
	f.StringVarP(&output, "output", "o", "text", "output: text (verdicts, then every private host), json (check's array) or yaml (the objects as stored)")
	f.StringVar(&namespace, "namespace", "privgate", "privgate's own namespace in the cluster, never intercepted")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// stored is one stored object of a kind a target judges, as listed.
type stored struct {
	kind policy.Kind
	obj  *unstructured.Unstructured
}

// storedObjects lists every stored object of the kinds the targets read whose CRDs (if any)
// are installed, each in its preferred version: into the index, and those the core judges in
// the order the targets declare their kinds.
func storedObjects(ctx context.Context, cfg *rest.Config, rev *policy.Reviewer, index *policy.Index) ([]stored, error) {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	var out []stored
	for _, k := range rev.Reads() {
		gk := k.GVK.GroupKind()
		mapping, err := mapper.RESTMapping(gk)
		if meta.IsNoMatchError(err) {
			continue // not installed
		} else if err != nil {
			return nil, fmt.Errorf("find %s: %w", gk, err)
		}
		list, err := dc.Resource(mapping.Resource).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", gk, err)
		}
		for i := range list.Items {
			item := &list.Items[i]
			item.SetManagedFields(nil)
			raw, err := item.MarshalJSON()
			if err != nil {
				return nil, err
			}
			gvk := item.GroupVersionKind()
			if err := rev.Store(index, gvk, "", time.Time{}, raw); err != nil {
				return nil, fmt.Errorf("%s %s: %w", gvk.Kind, policy.ObjectName(item.GetNamespace(), item.GetName()), err)
			}
			if k.Judged && rev.Judges(gvk) {
				out = append(out, stored{k, item})
			}
		}
	}
	return out, nil
}

// auditStored judges each stored object (audit.Judge, as the in-cluster audit does) into the
// results listed, the count of quiet objects of kinds not Listed, and the zone's private hosts.
func auditStored(ctx context.Context, rev *policy.Reviewer, objs []stored) (results []checkResult, others int, zone *audit.Zone) {
	results, zone = make([]checkResult, 0, len(objs)), audit.NewZone(rev.Config)
	for _, o := range objs {
		v := audit.Judge(ctx, rev, o.obj.GroupVersionKind(), o.obj)
		req, d := v.Request, v.Decision
		r := checkResult{Kind: req.Kind.Kind, Namespace: req.Namespace, Name: req.Name, Mutated: req.Object}
		r.Patch = orEmpty(r.Patch)
		if v.Err != nil {
			r.Error = fmt.Sprintf("%s %s: %v", req.Kind.Kind, policy.ObjectName(req.Namespace, req.Name), v.Err)
		} else {
			r.Allowed, r.Skipped, r.Note, r.Protected = d.Allowed, d.Skipped, d.Note, d.Protected
			r.Violations, r.Warnings, r.Audited = orEmpty(d.Violations), orEmpty(d.Warnings), orEmpty(d.Audited)
		}
		if !o.kind.Listed && r.Error == "" && r.Note != "" && len(r.Violations)+len(r.Warnings)+len(r.Audited) == 0 {
			others++ // a binding granting no judged group (most: the system's own), a route publishing no private host
			continue
		}
		zone.Add(req.Namespace+"/"+req.Name, v)
		results = append(results, r)
	}
	return results, others, zone
}

// printHosts is the zone at a glance: every private host, who serves it, protected or not.
func printHosts(w io.Writer, zone *audit.Zone) {
	hosts := zone.Hosts()
	fmt.Fprintf(w, "\nPrivate hosts (%d):\n", len(hosts))
	for _, h := range hosts {
		var by, states []string
		for _, c := range zone.Claims(h) {
			by = append(by, c.By)
			if !slices.Contains(states, c.State) {
				states = append(states, c.State)
			}
		}
		fmt.Fprintf(w, "  %-40s %-12s served by %s\n", h, strings.Join(states, ","), strings.Join(by, ", "))
	}
}
