package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/policy"
)

// newFixCommand is `privgate <target> policy` for a target that suggests the objects
// putting login in front of what is uncovered (policy.Plugin.Fixes).
func newFixCommand(p policy.Plugin) *cobra.Command {
	cmd := &cobra.Command{Use: p.Name, Short: "The " + p.Name + " target's own commands"}
	var files []string
	var config, kubeconfig string
	suggest := &cobra.Command{
		Use:   "policy --config FILE (-f PATH... | --kubeconfig FILE)",
		Short: p.Fixes.Short,
		Long:  p.Fixes.Long,
		Args:  cobra.NoArgs,
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
				if _, err := storedObjects(cmd.Context(), cfg, s.reviewer, index); err != nil {
					return &exitError{exitUsage, err}
				}
			}
			var fixer policy.Fixer
			for _, t := range s.reviewer.Targets {
				if x, ok := t.(policy.Fixer); ok && t.Name() == p.Name {
					fixer = x
				}
			}
			if fixer == nil {
				return usageError("the %s target is off under %s", p.Name, config)
			}
			out := cmd.OutOrStdout()
			for i, sg := range fixer.Fixes(index) {
				doc, err := yaml.Marshal(sg.Object)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Fprintln(out, "---")
				}
				fmt.Fprintf(out, "# %s\n%s", sg.Comment, doc)
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
