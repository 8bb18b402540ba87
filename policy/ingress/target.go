package ingress

import (
	"embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/allowedgroups"
	"github.com/privgate/privgate/policy/traefik/router"
)

//go:embed rego/*.rego
var rego embed.FS

// Target judges networking.k8s.io/v1 Ingresses served by ingress-nginx (or a controller reading
// its annotations): private hosts must carry external auth through oauth2-proxy, a certificate,
// and a class whose controller enforces it.
type Target struct {
	cfg     config
	zones   policy.Zones
	traefik *router.Settings // Traefik's classes are judged as Traefik serves them (traefik.go)
}

// New is the Ingress target over the config: its own settings are the config's ingress
// section, or their defaults when the config was parsed without it.
func New(cfg *policy.Config) *Target {
	s, ok := policy.Settings[*Settings](cfg, name)
	if !ok {
		s = &Settings{}
		s.Default(cfg)
	}
	traefik, _ := router.Of(cfg)
	return &Target{cfg: config{cfg, s}, zones: cfg.Zones(), traefik: traefik}
}

// Name is "ingress": the top-level rules of privgate.yaml set its rules' modes.
func (*Target) Name() string { return name }

// name names the target in the registry and config.
const name = "ingress"

// Kinds is networking.k8s.io/v1 Ingress, the only version Kubernetes has served since 1.22.
func (*Target) Kinds() []schema.GroupVersionKind { return kinds }

// Retired are the Ingress versions before 1.22: a manifest still written in one is refused.
func (*Target) Retired() []schema.GroupVersionKind { return retired }

// Built once: the core asks for them on every request.
var (
	kinds   = []schema.GroupVersionKind{networkingv1.SchemeGroupVersion.WithKind("Ingress")}
	retired = []schema.GroupVersionKind{
		{Group: "extensions", Version: "v1beta1", Kind: "Ingress"},
		{Group: "networking.k8s.io", Version: "v1beta1", Kind: "Ingress"},
	}
)

// Package is privgate: admins' extension files write `package privgate`.
func (*Target) Package() string { return "privgate" }

// Modules are rego/privgate.rego, its tests and privgate.allowedgroups, the group checks it
// shares with Gateway API routes.
func (*Target) Modules() policy.Modules {
	m := policy.ModulesIn(rego)
	maps.Copy(m, allowedgroups.Modules())
	return m
}

// hostsOnly is the part of an Ingress that says whether it can be private. Decoding only this
// (encoding/json skips the rest, managedFields included) lets public Ingresses, most of a
// cluster's, through without the full decode.
type hostsOnly struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		DefaultBackend json.RawMessage `json:"defaultBackend"`
		Rules          []struct {
			Host string `json:"host"`
		} `json:"rules"`
	} `json:"spec"`
}

// SurelyPublic reports whether an Ingress answers no private host, from a partial decode. When
// it cannot tell (a decode error), it says no and the full path decides.
func (t *Target) SurelyPublic(raw []byte) bool {
	var h hostsOnly
	if json.Unmarshal(raw, &h) != nil {
		return false
	}
	hostless := len(h.Spec.DefaultBackend) > 0 && string(h.Spec.DefaultBackend) != "null" && len(h.Spec.Rules) == 0
	for _, rule := range h.Spec.Rules {
		// Normalized exactly as Facts does: " " is a catch-all there, so it must be here.
		if host := policy.NormalizeHost(rule.Host); host == "" {
			hostless = true
		} else if t.zones.Private(host) {
			return false
		}
	}
	for alias := range strings.SplitSeq(h.Metadata.Annotations[aliasKey(t.cfg)], ",") {
		// As Facts judges it: a regular expression is private whatever hostlessRules says.
		if host := policy.NormalizeHost(alias); host != "" && t.zones.PrivateServerName(host) {
			return false
		}
	}
	return !hostless || t.cfg.HostlessRules != "private"
}

// Webhooks: both webhooks receive Ingress writes, failing closed (deploy/webhooks).
func (*Target) Webhooks() []policy.Webhook {
	ingresses := []schema.GroupVersionResource{networkingv1.SchemeGroupVersion.WithResource("ingresses")}
	ops := []string{"CREATE", "UPDATE"} // DELETE cannot expose anything
	return []policy.Webhook{
		{Name: "mutate.privgate.io", FailurePolicy: "Fail", Resources: ingresses, Operations: ops},
		{Name: "validate.privgate.io", FailurePolicy: "Fail", Resources: ingresses, Operations: ops},
	}
}

// Refusal heads a denial: an Ingress left as it is would publish its private hosts.
func (*Target) Refusal() string { return "exposes private hosts unprotected" }

// Quiet is why a public Ingress needs no judgement.
func (*Target) Quiet() string { return "no private host" }

// Decode parses an Ingress, naming what is wrong when it cannot.
func (t *Target) Decode(raw []byte) (policy.Object, error) {
	ing := &networkingv1.Ingress{}
	if err := json.Unmarshal(raw, ing); err != nil {
		return nil, fmt.Errorf("object is not a valid Ingress: %w", err)
	}
	return &object{Ingress: ing, t: t}, nil
}

// object is one decoded Ingress.
type object struct {
	*networkingv1.Ingress
	t *Target
}

func (o *object) Namespace() string { return o.Ingress.Namespace }
func (o *object) Name() string      { return o.Ingress.Name }

// Paths are the paths the Ingress's rules for host route (the network probe; policy.Router).
func (o *object) Paths(host string) []string {
	var out []string
	for _, r := range o.Ingress.Spec.Rules {
		if h := policy.NormalizeHost(r.Host); (h == host || h == "" && host == "*") && r.HTTP != nil {
			for _, p := range r.HTTP.Paths {
				if p.Path != "" && !slices.Contains(out, p.Path) {
					out = append(out, p.Path)
				}
			}
		}
	}
	return out
}

// Facts classifies the hosts of the Ingress (see facts.go).
func (o *object) Facts(username string) policy.Facts { return o.t.facts(o.Ingress, username) }

// Mutate injects what a private Ingress needs into a copy (see mutate.go).
func (o *object) Mutate(f policy.Facts) (policy.Object, bool) {
	c := o.DeepCopy()
	if !o.t.mutate(c, f) {
		return nil, false
	}
	return &object{Ingress: c, t: o.t}, true
}

// JSON leaves metadata.managedFields out: they are the API server's bookkeeping, large, and say
// nothing about exposure; mutation never touches them.
func (o *object) JSON() ([]byte, error) {
	ing := o.Ingress
	if len(ing.ManagedFields) > 0 {
		c := *ing
		c.ManagedFields = nil
		ing = &c
	}
	return json.Marshal(ing)
}
