package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/istio"
)

func newIstioCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "istio", Short: "Hosts published through Istio and Gateway API gateways"}
	var files []string
	var config, kubeconfig string
	suggest := &cobra.Command{
		Use:   "policy --config FILE (-f PATH... | --kubeconfig FILE)",
		Short: "Print the CUSTOM AuthorizationPolicies that would put login in front of every uncovered private host",
		Long: "Read the gateways, routes and AuthorizationPolicies of manifests (-f) or of a cluster (--kubeconfig),\n" +
			"and print, for each gateway workload publishing private hosts that no enforced login policy covers,\n" +
			"the CUSTOM AuthorizationPolicy that would: the hosts and their host:* forms, or no hosts at all when\n" +
			"the gateway publishes only private hosts. Pipe it to kubectl apply -f -. Prints nothing when every\n" +
			"private host is covered.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (len(files) == 0) == (kubeconfig == "") {
				return usageError("give either -f (manifests) or --kubeconfig (a cluster)")
			}
			s, err := load(cmd.Context(), config, "", nil, false)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			var index *policy.Index
			if len(files) > 0 {
				objs := readManifests(files, cmd.InOrStdin(), config)
				for _, o := range objs {
					if o.Err != nil {
						return &exitError{exitUsage, o.Err}
					}
				}
				index = indexManifests(s.reviewer, objs)
			} else {
				cfg, err := restConfig(kubeconfig)
				if err != nil || cfg == nil {
					return &exitError{exitUsage, fmt.Errorf("--kubeconfig %s: %v", kubeconfig, err)}
				}
				index = policy.NewIndex()
				if _, err := storedRelated(cmd.Context(), cfg, s.reviewer, index); err != nil {
					return &exitError{exitUsage, err}
				}
			}
			out := cmd.OutOrStdout()
			for i, sg := range istio.Suggest(s.cfg, index) {
				doc, err := yaml.Marshal(sg.Policy)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(out, "---")
				}
				fmt.Fprintf(out, "# Login for %s on pods %s\n%s", strings.Join(sg.Hosts, ", "), sg.Workload, doc)
			}
			return nil
		},
	}
	f := suggest.Flags()
	f.StringVar(&config, "config", "", "privgate.yaml")
	f.StringArrayVarP(&files, "filename", "f", nil, "manifest file or folder (repeatable; - for standard input)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "read the cluster instead of manifests")
	_ = suggest.MarkFlagRequired("config")
	cmd.AddCommand(suggest)
	return cmd
}
