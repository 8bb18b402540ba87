package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/migrate"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
	"github.com/privgate/privgate/policy/targets"
)

func newMigrateCommand() *cobra.Command {
	var (
		files                                  []string
		config, kubeconfig, to, gateway, class string
	)
	cmd := &cobra.Command{
		Use:   "migrate --to " + strings.Join(migrationNames(), "|") + " --config FILE (-f PATH... | --kubeconfig FILE)",
		Short: "Move Ingresses to Gateway API, with their login, judged before it is printed",
		Long: "Write, for every Ingress (as privgate's mutation stores it), the HTTPRoutes serving its hosts\n" +
			"and paths, the Gateway and listeners they need (HTTPS where the Ingress has TLS; unless\n" +
			"--gateway names one), and the objects that keep the login on the chosen implementation (what\n" +
			"`privgate <target> policy` suggests). The output is judged with privgate's rules first: exit 1,\n" +
			"printing nothing, when an Ingress cannot move without losing its login or the output would\n" +
			"leave a private host without one; annotations left behind are listed per Ingress on standard\n" +
			"error. docs/migrate.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (len(files) == 0) == (kubeconfig == "") {
				return usageError("give either -f (manifests) or --kubeconfig (a cluster)")
			}
			opts := migrate.Options{GatewayClass: class}
			if gateway != "" {
				ns, name, ok := strings.Cut(gateway, "/")
				if !ok || ns == "" || name == "" {
					return usageError("--gateway %q: want namespace/name", gateway)
				}
				opts.Gateway = &types.NamespacedName{Namespace: ns, Name: name}
			}
			s, err := load(cmd.Context(), config, "", nil, false)
			if err != nil {
				return &exitError{exitUsage, err}
			}
			if opts.To, err = migrate.Lookup(targets.Migrations(s.cfg), to); err != nil {
				return usageError("--to %s: %v", to, err)
			}
			opts.AnnotationPrefix = targets.IngressSettings(s.cfg).AnnotationPrefix
			opts.GroupsAnnotation = s.cfg.Groups.Annotation
			opts.Private = func(host string) bool { return gatewayapi.Private(s.cfg, host) }
			var inputs []object
			if len(files) > 0 {
				inputs = readManifests(files, cmd.InOrStdin(), config)
			} else if inputs, err = clusterObjects(cmd.Context(), kubeconfig, s.reviewer); err != nil {
				return &exitError{exitUsage, err}
			}
			return runMigration(cmd.Context(), s.reviewer, inputs, opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the implementation: "+strings.Join(migrationNames(), ", "))
	f.StringVar(&config, "config", "", "privgate.yaml")
	f.StringArrayVarP(&files, "filename", "f", nil, "manifest file or folder (repeatable; - for standard input)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "read the cluster's Ingresses instead of manifests")
	f.StringVar(&gateway, "gateway", "", "attach every route to this existing Gateway (namespace/name) instead of generating one per namespace")
	f.StringVar(&class, "gateway-class", "", "the GatewayClass of generated Gateways (default: the one the implementation installs)")
	_ = cmd.MarkFlagRequired("to")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

var ingressKind = networkingv1.SchemeGroupVersion.WithKind("Ingress")

// runMigration migrates the Ingresses among inputs and judges the output beside the other
// inputs (the cluster's objects, or the files' others: what already covers a host counts).
func runMigration(ctx context.Context, rev *policy.Reviewer, inputs []object, opts migrate.Options, stdout, stderr io.Writer) error {
	var ings []*networkingv1.Ingress
	var context []object
	for _, o := range inputs {
		if o.Err != nil {
			return &exitError{exitUsage, o.Err}
		}
		if schema.FromAPIVersionAndKind(o.APIVersion, o.Kind) != ingressKind {
			context = append(context, o)
			continue
		}
		// As stored: what privgate's mutation makes of it (its TLS entry, its auth-url).
		raw := o.Raw
		if r := judge(ctx, rev, o); r != nil && r.Error == "" && len(r.Mutated) > 0 {
			raw = r.Mutated
		}
		ing := &networkingv1.Ingress{}
		if err := json.Unmarshal(raw, ing); err != nil {
			return &exitError{exitUsage, fmt.Errorf("%s: Ingress %s: %v", o.where(), o.Name, err)}
		}
		ing.Namespace = namespaceOf(rev, o)
		ings = append(ings, ing)
	}
	opts.PortNumber = servicePorts(rev, context)
	res := migrate.Ingresses(ings, opts)
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	out, err := migratedObjects(res)
	if err != nil {
		return err
	}
	for _, l := range res.Logins {
		raw, err := json.Marshal(l)
		if err != nil {
			return err
		}
		meta := l["metadata"].(map[string]any)
		ns := meta["namespace"].(string)
		out = append([]object{{File: "Login for the migrated routes of namespace " + ns + ": their rules name it first (ExtensionRef)",
			Kind: l["kind"].(string), APIVersion: l["apiVersion"].(string), Namespace: ns, Name: meta["name"].(string), Raw: raw}}, out...)
	}
	// The output judged as the cluster will hold it: beside the other inputs, the GatewayClass
	// the implementation installs (unless one of that name is in view), and the login the
	// implementation's target suggests for what the routes leave uncovered.
	// The GatewayClass the implementation installs is printed too when none of that name is in
	// view, so that the output is judged, by migrate and by privgate check alike, as what it is.
	class, assumed := gatewayClass(context, opts)
	if assumed {
		out = append([]object{class}, out...)
	}
	judged := append(append([]object{}, context...), out...)
	if !assumed {
		judged = append(judged, class)
	}
	// The login first: kubectl apply -f creates in order, and privgate's webhook refuses a route
	// published before what covers it.
	logins := fixes(rev, indexManifests(rev, judged))
	judged = append(judged, logins...)
	out = append(logins, out...)
	index := indexManifests(rev, judged)
	saved := rev.Cluster
	rev.Cluster = index
	defer func() { rev.Cluster = saved }()
	failed := len(res.Refused) > 0
	for _, n := range res.Refused {
		fmt.Fprintf(stderr, "refused: %s\n", n)
	}
	for _, o := range out {
		r := judge(ctx, rev, o)
		if r == nil {
			continue
		}
		findings := append(append(append([]policy.Violation{}, r.Violations...), r.Audited...), r.Warnings...)
		if r.Error != "" {
			fmt.Fprintf(stderr, "refused: %s %s: %s\n", o.Kind, policy.ObjectName(r.Namespace, r.Name), r.Error)
			failed = true
		}
		for _, m := range policy.Messages(policy.ObjectName(r.Namespace, r.Name), findings) {
			fmt.Fprintf(stderr, "refused: %s %s\n", o.Kind, m)
			failed = true
		}
	}
	if failed {
		fmt.Fprintf(stderr, "privgate migrate --to %s: nothing printed: the Ingresses above cannot move without losing their login, or the output would leave a private host without one\n", opts.To.Name)
		return exit(exitDenied)
	}
	for i, o := range out {
		doc, err := yaml.JSONToYAML(o.Raw)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(stdout, "---")
		}
		fmt.Fprintf(stdout, "# %s\n%s", o.File, doc)
	}
	return nil
}

// migratedObjects are a migration's Gateways and routes as objects to judge and print; File
// holds the comment printed above each.
func migratedObjects(res migrate.Result) ([]object, error) {
	var out []object
	add := func(kind, ns, name, comment string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		// What the Go types write of status and of metadata the API server fills: not ours.
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		delete(m, "status")
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		if raw, err = json.Marshal(m); err != nil {
			return err
		}
		out = append(out, object{File: comment, Kind: kind, APIVersion: "gateway.networking.k8s.io/v1", Namespace: ns, Name: name, Raw: raw})
		return nil
	}
	for _, g := range res.Gateways {
		if err := add("Gateway", g.Namespace, g.Name, fmt.Sprintf("Gateway %s/%s: a listener per migrated host", g.Namespace, g.Name), g); err != nil {
			return nil, err
		}
	}
	for _, r := range res.Routes {
		if err := add("HTTPRoute", r.Route.Namespace, r.Route.Name, fmt.Sprintf("HTTPRoute %s/%s, from Ingress %s", r.Route.Namespace, r.Route.Name, r.From), r.Route); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// gatewayClass is the GatewayClass generated Gateways name: the one of that name among the
// inputs, else (assumed) the one the implementation installs, as it installs it (applying it
// again changes nothing where it exists: its controllerName is the same).
func gatewayClass(inputs []object, opts migrate.Options) (object, bool) {
	name := opts.GatewayClass
	if name == "" {
		name = opts.To.GatewayClass
	}
	raw, _ := json.Marshal(map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"controllerName": opts.To.Controller},
	})
	for _, o := range inputs {
		if o.Kind == "GatewayClass" && o.Name == name {
			return o, false
		}
	}
	return object{File: fmt.Sprintf("GatewayClass %s, as %s installs it (its controllerName: %s)", name, opts.To.Name, opts.To.Controller),
		Kind: "GatewayClass", APIVersion: "gateway.networking.k8s.io/v1", Name: name, Raw: raw}, true
}

// fixes are the login objects every target that suggests some (policy.Fixer) would add to the
// cluster index describes.
func fixes(rev *policy.Reviewer, index *policy.Index) []object {
	var out []object
	for _, t := range rev.Targets {
		fixer, ok := t.(policy.Fixer)
		if !ok {
			continue
		}
		for _, f := range fixer.Fixes(index) {
			raw, err := json.Marshal(f.Object)
			if err != nil {
				continue
			}
			var meta struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct{ Name, Namespace string }
			}
			_ = json.Unmarshal(raw, &meta)
			out = append(out, object{File: f.Comment, Kind: meta.Kind, APIVersion: meta.APIVersion, Namespace: meta.Metadata.Namespace, Name: meta.Metadata.Name, Raw: raw})
		}
	}
	return out
}

// clusterObjects are the stored objects of every kind the targets read, as objects (the
// cluster's Ingresses to migrate, and what the output is judged beside).
func clusterObjects(ctx context.Context, kubeconfig string, rev *policy.Reviewer) ([]object, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil || cfg == nil {
		return nil, fmt.Errorf("--kubeconfig %s: %v", kubeconfig, err)
	}
	index := policy.NewIndex()
	if _, err := storedObjects(ctx, cfg, rev, index); err != nil {
		return nil, err
	}
	var out []object
	for _, k := range rev.Reads() {
		for _, obj := range index.Stored(k.GVK.GroupKind()) {
			raw, err := json.Marshal(obj)
			if err != nil {
				return nil, err
			}
			var meta struct {
				Metadata struct{ Name, Namespace string }
			}
			_ = json.Unmarshal(raw, &meta)
			// Typed objects carry no TypeMeta: the kind is the one listed.
			raw, err = withKind(raw, k.GVK)
			if err != nil {
				return nil, err
			}
			out = append(out, object{File: "cluster", Kind: k.GVK.Kind, APIVersion: k.GVK.GroupVersion().String(), Namespace: meta.Metadata.Namespace, Name: meta.Metadata.Name, Raw: raw})
		}
	}
	return out, nil
}

// withKind sets apiVersion and kind on an object's JSON.
func withKind(raw []byte, gvk schema.GroupVersionKind) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return json.Marshal(m)
}

// servicePorts finds a named port's number in the Services among objs.
func servicePorts(rev *policy.Reviewer, objs []object) func(namespace, service, port string) (int32, bool) {
	ports := map[string]int32{}
	for _, o := range objs {
		if o.APIVersion != "v1" || o.Kind != "Service" {
			continue
		}
		var svc corev1.Service
		if json.Unmarshal(o.Raw, &svc) != nil {
			continue
		}
		ns := namespaceOf(rev, o)
		for _, p := range svc.Spec.Ports {
			ports[ns+"/"+svc.Name+"/"+p.Name] = p.Port
		}
	}
	return func(namespace, service, port string) (int32, bool) {
		n, ok := ports[namespace+"/"+service+"/"+port]
		return n, ok
	}
}

// migrationNames are what --to takes, as the registry lists them.
func migrationNames() []string {
	var names []string
	for _, i := range targets.Migrations(&policy.Config{}) {
		names = append(names, i.Name)
	}
	return names
}
