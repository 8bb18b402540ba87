package rbac

import (
	"bytes"
	"encoding/json"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/policy"
)

// Settings are privgate.yaml's rbac section: how the API server turns a token's groups into
// RBAC subjects (--oidc-groups-prefix or an AuthenticationConfiguration's
// claimMappings.groups). One prefix for now; an AuthenticationConfiguration with several
// issuers would make it a list. Without the section, bindings are not judged.
type Settings struct {
	// GroupsPrefix is what the API server puts before each group of the token: only Group
	// subjects starting with it are judged ("" judges every Group subject outside system:).
	GroupsPrefix string `json:"groupsPrefix"`
	// ClaimFormat is the form of the groups in the API server's tokens (default
	// groups.claimFormat: its client may use another Keycloak mapper than oauth2-proxy's).
	ClaimFormat string `json:"claimFormat,omitempty"`
	// RuleModes set the modes of this target's rules (rule ids shared with the Ingress target).
	RuleModes map[string]policy.Mode `json:"rules,omitempty"`
}

// Key is rbac.
func (*Settings) Key() string { return name }

// Optional: bindings are judged only with the section.
func (*Settings) Optional() bool { return true }

// Rules are rbac.rules.
func (s *Settings) Rules() map[string]policy.Mode { return s.RuleModes }

// Default: the tokens' claim format is oauth2-proxy's unless said otherwise.
func (s *Settings) Default(core *policy.Config) {
	if s.ClaimFormat == "" {
		s.ClaimFormat = core.Groups.ClaimFormat
	}
}

// Validate checks the claim format against the group source's.
func (s *Settings) Validate(core *policy.Config, fld *field.Path) field.ErrorList {
	switch {
	case s.ClaimFormat != policy.ClaimFormatPath && s.ClaimFormat != policy.ClaimFormatName:
		return field.ErrorList{policy.Problem(fld.Child("claimFormat"), "must be path or name, not %q", s.ClaimFormat)}
	case s.ClaimFormat == policy.ClaimFormatPath && core.Groups.ClaimFormat == policy.ClaimFormatName:
		return field.ErrorList{policy.Problem(fld.Child("claimFormat"), "path needs groups.claimFormat path: the group source then reads full paths, from which names are derived, never the reverse")}
	}
	return nil
}

// Plugin is the RBAC target as the registry lists it.
var Plugin = policy.Plugin{
	Name:    name,
	Section: func() policy.Section { return &Settings{} },
	Modules: func() policy.Modules { return policy.ModulesIn(rego) },
	New: func(cfg *policy.Config) policy.Target {
		if t := New(cfg); t != nil {
			return t
		}
		return nil
	},
}

// input is the RBAC target's part of the policy input.
type input struct {
	// Subjects are the groups the binding grants access to, under the configured prefix.
	Subjects []Subject `json:"subjects,omitempty"`
}

// Subject is one group a binding grants access to, as written and as the token carries it.
type Subject struct {
	Name  string `json:"name"`  // as written in the object: oidc:/developers
	Group string `json:"group"` // as the token carries it, the prefix removed: /developers
	Field string `json:"field"` // where: subjects[2].name
}

// Reads are the two bindings, judged by the audit too.
func (*Target) Reads() []policy.Kind {
	return []policy.Kind{{GVK: kinds[0], Judged: true}, {GVK: kinds[1], Judged: true, ClusterScoped: true}}
}

// AddToScheme registers rbac.authorization.k8s.io/v1.
func (*Target) AddToScheme(s *runtime.Scheme) error { return rbacv1.AddToScheme(s) }

// Typed decodes a stored binding into its own type.
func (*Target) Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	var obj runtime.Object = &rbacv1.RoleBinding{}
	if gvk.Kind == "ClusterRoleBinding" {
		obj = &rbacv1.ClusterRoleBinding{}
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(obj); err != nil {
		return nil, fmt.Errorf("object is not a valid %s: %w", gvk.Kind, err)
	}
	return obj, nil
}

// Webhooks: bindings go to a webhook of their own that fails open: it must never stand in the
// way of repairing a cluster, and a wrong group exposes nothing (docs/rbac.md).
func (*Target) Webhooks() []policy.Webhook {
	return []policy.Webhook{{Name: "validate-rbac.privgate.io", FailurePolicy: "Ignore", Operations: []string{"CREATE", "UPDATE"},
		Resources: []schema.GroupVersionResource{rbacv1.SchemeGroupVersion.WithResource("rolebindings"), rbacv1.SchemeGroupVersion.WithResource("clusterrolebindings")}}}
}
