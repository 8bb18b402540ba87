package istio

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/gatewayapi"
)

// Settings are privgate.yaml's istio section: the mesh config settings privgate must know to
// tell whether a CUSTOM AuthorizationPolicy sends a gateway's requests to login
// (docs/istio.md).
type Settings struct {
	// ExtensionProviders are meshConfig.extensionProviders names that enforce login
	// (oauth2-proxy as envoyExtAuthzHttp). None by default: then no private host published
	// through a gateway is covered, and every one is refused until it is set.
	ExtensionProviders []string `json:"extensionProviders"`
	// GroupLogins are extension providers whose oauth2-proxy lets in only some groups (run
	// with --allowed-group): the login of routes that allow only those groups (their groups
	// annotation). Each is a login too, narrower, for a route allowing everyone who logs in.
	GroupLogins []GroupLogin `json:"groupLogins"`
	// RootNamespace is meshConfig.rootNamespace (default istio-system): its policies apply
	// mesh-wide.
	RootNamespace string `json:"rootNamespace,omitempty"`
	// GatewayWorkloads are the ingress gateways' pods, by namespace and labels (default Istio's
	// own: istio-system, app=istio-ingressgateway, istio=ingressgateway).
	GatewayWorkloads []GatewayWorkload `json:"gatewayWorkloads"`
	// AllowedNotPaths are paths a login rule may leave out (notPaths), such as a health check.
	AllowedNotPaths []string `json:"allowedNotPaths"`
	// RuleModes set the modes of this target's rules.
	RuleModes map[string]policy.Mode `json:"rules,omitempty"`
}

// GroupLogin is a meshConfig.extensionProviders entry whose oauth2-proxy lets in only Groups.
type GroupLogin struct {
	Groups   []string `json:"groups"`
	Provider string   `json:"provider"`
}

// AllowedGroups are the groups its oauth2-proxy lets in.
func (g GroupLogin) AllowedGroups() []string { return g.Groups }

// GroupLoginsKey is where group logins are configured, for messages.
const GroupLoginsKey = name + ".groupLogins"

// GroupLogins says, under cfg, why routes allowing a set of groups have no login (none of its
// group logins lets in exactly those), nil when they have one: for privgate migrate.
func GroupLogins(cfg *policy.Config) func(groups []string) error {
	return gatewayapi.MissingGroupLogin(configOf(cfg).GroupLogins, GroupLoginsKey)
}

// GatewayWorkload is one set of gateway pods.
type GatewayWorkload struct {
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

// name names the target in the registry and config.
const name = "istio"

// Key is istio.
func (*Settings) Key() string { return name }

// Rules are istio.rules.
func (s *Settings) Rules() map[string]policy.Mode { return s.RuleModes }

// Default fills in Istio's own defaults.
func (s *Settings) Default(*policy.Config) {
	if s.RootNamespace == "" {
		s.RootNamespace = "istio-system"
	}
	if s.ExtensionProviders == nil {
		s.ExtensionProviders = []string{}
	}
	if s.GroupLogins == nil {
		s.GroupLogins = []GroupLogin{}
	}
	if s.AllowedNotPaths == nil {
		s.AllowedNotPaths = []string{}
	}
	if s.GatewayWorkloads == nil {
		s.GatewayWorkloads = []GatewayWorkload{{Namespace: "istio-system", Labels: map[string]string{"app": "istio-ingressgateway", "istio": "ingressgateway"}}}
	}
}

// Validate reports every problem of the section.
func (s *Settings) Validate(_ *policy.Config, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	fail := func(fld *field.Path, format string, args ...any) {
		errs = append(errs, policy.Problem(fld, format, args...))
	}
	for n, p := range s.ExtensionProviders {
		if p == "" {
			fail(fld.Child("extensionProviders").Index(n), "must name a meshConfig.extensionProviders entry")
		}
	}
	errs = append(errs, gatewayapi.ValidateGroupLogins(s.GroupLogins, fld.Child("groupLogins"))...)
	for n, g := range s.GroupLogins {
		f := fld.Child("groupLogins").Index(n).Child("provider")
		switch {
		case g.Provider == "":
			fail(f, "must name the meshConfig.extensionProviders entry of an oauth2-proxy letting in only these groups")
		case slices.Contains(s.ExtensionProviders, g.Provider):
			fail(f, "%q is in istio.extensionProviders, a login for everyone who logs in: a group login needs a provider of its own (an oauth2-proxy run with --allowed-group)", g.Provider)
		case slices.ContainsFunc(s.GroupLogins[:n], func(o GroupLogin) bool { return o.Provider == g.Provider }):
			fail(f, "%q is the provider of another group login: one provider lets in one set of groups", g.Provider)
		}
	}
	if e := validation.IsDNS1123Label(s.RootNamespace); len(e) > 0 {
		fail(fld.Child("rootNamespace"), "%q is not a namespace: %s", s.RootNamespace, e[0])
	}
	for n, w := range s.GatewayWorkloads {
		wf := fld.Child("gatewayWorkloads").Index(n)
		if e := validation.IsDNS1123Label(w.Namespace); len(e) > 0 {
			fail(wf.Child("namespace"), "%q is not a namespace: %s", w.Namespace, e[0])
		}
		if len(w.Labels) == 0 {
			fail(wf.Child("labels"), "must name the gateway pods' labels, such as istio: ingressgateway")
		}
		for _, k := range slices.Sorted(maps.Keys(w.Labels)) {
			if e := validation.IsQualifiedName(k); len(e) > 0 {
				fail(wf.Child("labels"), "%q is not a label key: %s", k, e[0])
			}
			if e := validation.IsValidLabelValue(w.Labels[k]); len(e) > 0 {
				fail(wf.Child("labels").Child(k), "%q is not a label value: %s", w.Labels[k], e[0])
			}
		}
	}
	for n, p := range s.AllowedNotPaths {
		if !strings.HasPrefix(p, "/") {
			fail(fld.Child("allowedNotPaths").Index(n), "%q is not a path (starts with /)", p)
		}
	}
	return errs
}

// config is what the target reads: the shared keys and its own.
type config struct {
	*policy.Config
	*Settings
}

func configOf(cfg *policy.Config) config {
	s, ok := policy.Settings[*Settings](cfg, name)
	if !ok {
		s = &Settings{}
		s.Default(cfg)
	}
	return config{cfg, s}
}

// Plugin is the istio target as the registry lists it.
var Plugin = policy.Plugin{
	Name:    name,
	Section: func() policy.Section { return &Settings{} },
	Modules: modules,
	New:     func(cfg *policy.Config) policy.Target { return New(cfg) },
	Fixes: &policy.Help{
		Short: "Print the CUSTOM AuthorizationPolicies that would put login in front of every uncovered private host",
		Long: "Read the gateways, routes and AuthorizationPolicies of manifests (-f) or of a cluster (--kubeconfig),\n" +
			"and print, for each gateway workload publishing private hosts that no enforced login policy covers,\n" +
			"the CUSTOM AuthorizationPolicy that would: the hosts and their host:* forms, or no hosts at all when\n" +
			"the gateway publishes only private hosts. Pipe it to kubectl apply -f -. Prints nothing when every\n" +
			"private host is covered.",
	},
}

// input is the istio target's part of the policy input.
type input struct {
	// Exposures are the private hosts the object publishes through shared gateways: one per
	// host and gateway workload, with the login in front of each.
	Exposures []Exposure `json:"exposures,omitempty"`
	// Groups are the groups a route's groups annotation allows, as privgate read it
	// (gatewayapi.Publication.Groups), when the route publishes a private host: the policy
	// checks each as an Ingress's (privgate.allowedgroups).
	Groups []string `json:"groups,omitempty"`
	// Uncovered are published private hosts (of any stored object) that were behind login
	// before the object's change and are not after it: an AuthorizationPolicy deleted, narrowed
	// or pointed at another provider.
	Uncovered []Exposure `json:"uncovered,omitempty"`
	// Conflicts are gateway workloads the change leaves with more than one login provider,
	// which Istio refuses.
	Conflicts []Conflict `json:"conflicts,omitempty"`
	// Gateways are the gateway workloads publishing hosts that an AuthorizationPolicy applies
	// to, as stored or as written (none: the policy is a sidecar's, not a login in front of a
	// gateway).
	Gateways []string `json:"gateways,omitempty"`
	// Policy is what the target reads of a judged AuthorizationPolicy (nil for other kinds):
	// the same facts every host's coverage is computed from, so that the policy never reads
	// them again from input.object.
	Policy *PolicyFacts `json:"policy,omitempty"`
}

// PolicyFacts are an AuthorizationPolicy's settings as Istio reads them (authz.go).
type PolicyFacts struct {
	// Custom is action CUSTOM: the one action that sends requests to a login provider.
	Custom bool `json:"custom"`
	// Provider is spec.provider.name ("" when unset); ProviderKnown, whether it is one of
	// istio.extensionProviders.
	Provider      string `json:"provider"`
	ProviderKnown bool   `json:"providerKnown"`
	// DryRun is the istio.io/dry-run annotation read as Istio reads it (strconv.ParseBool):
	// the policy only logs.
	DryRun bool `json:"dryRun"`
	// SelectorAndTargetRefs: the policy sets a selector and targetRef or targetRefs, which Istio
	// refuses: it applies nowhere. TargetRefFields name those set, for messages.
	SelectorAndTargetRefs bool     `json:"selectorAndTargetRefs"`
	TargetRefFields       []string `json:"targetRefFields,omitempty"`
}

// Exposure is one private host published on one gateway workload, and what login covers it
// there (see docs/istio.md).
type Exposure = gatewayapi.Exposure

// Conflict is a gateway workload with more than one login provider.
type Conflict struct {
	Workload  string   `json:"workload"`
	Providers []string `json:"providers"`
	Policies  []string `json:"policies"`
}
