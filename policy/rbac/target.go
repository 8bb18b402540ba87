// Package rbac is the target for RBAC bindings: every group a RoleBinding or ClusterRoleBinding
// grants must exist, in the form the API server's tokens carry it. The same Keycloak groups
// that gate private hosts grant Kubernetes access; a binding to a group nobody is in is accepted
// by the API server and matches no one (users get 403, and nobody is told why).
package rbac

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
)

//go:embed rego/*.rego
var rego embed.FS

// Target judges rbac.authorization.k8s.io/v1 RoleBindings and ClusterRoleBindings.
type Target struct{ cfg *Settings }

// New is the RBAC target over the config; nil when the config has no rbac section.
func New(cfg *policy.Config) *Target {
	s, ok := policy.Settings[*Settings](cfg, name)
	if !ok {
		return nil
	}
	return &Target{cfg: s}
}

// Name is "rbac": privgate.yaml's rbac.rules set its rules' modes.
func (*Target) Name() string { return name }

const name = "rbac"

// Kinds are the two bindings, in the only served version.
func (*Target) Kinds() []schema.GroupVersionKind { return kinds }

// Retired are the pre-1.22 versions of the bindings.
func (*Target) Retired() []schema.GroupVersionKind { return retired }

// Built once: the core asks for them on every request.
var (
	kinds   = []schema.GroupVersionKind{rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding")}
	retired = []schema.GroupVersionKind{
		{Group: rbacv1.GroupName, Version: "v1beta1", Kind: "RoleBinding"}, {Group: rbacv1.GroupName, Version: "v1beta1", Kind: "ClusterRoleBinding"},
		{Group: rbacv1.GroupName, Version: "v1alpha1", Kind: "RoleBinding"}, {Group: rbacv1.GroupName, Version: "v1alpha1", Kind: "ClusterRoleBinding"},
	}
)

// Package is privgate.rbac.
func (*Target) Package() string { return "privgate.rbac" }

// Modules are rego/rbac.rego and its tests.
func (*Target) Modules() policy.Modules { return policy.ModulesIn(rego) }

// Quiet is why a binding with no judged group needs nothing.
func (*Target) Quiet() string { return "no group subject under rbac.groupsPrefix" }

// subjectsOnly is the part of a binding that says whether it names a judged group.
type subjectsOnly struct {
	Subjects []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
	} `json:"subjects"`
}

// SurelyPublic reports that a binding names no group privgate judges (most bind service
// accounts, users or system: groups).
func (t *Target) SurelyPublic(raw []byte) bool {
	var s subjectsOnly
	if json.Unmarshal(raw, &s) != nil {
		return false
	}
	for _, sub := range s.Subjects {
		if _, ok := t.group(sub.Kind, sub.Name); ok {
			return false
		}
	}
	return true
}

// group is the group a subject names as the token carries it, when privgate judges it: a Group
// under the prefix, never a system: group (the API server's own, and never from a token).
func (t *Target) group(kind, name string) (string, bool) {
	if kind != rbacv1.GroupKind || strings.HasPrefix(name, "system:") {
		return "", false
	}
	g, ok := strings.CutPrefix(name, t.cfg.GroupsPrefix)
	return g, ok && g != ""
}

// Suggestion is a known group (in the source's form) as a subject should name it: prefixed, and
// its last path segment when tokens carry bare names.
func (t *Target) Suggestion(group string) string {
	if t.cfg.ClaimFormat == policy.ClaimFormatName {
		group = group[strings.LastIndex(group, "/")+1:]
	}
	return t.cfg.GroupsPrefix + group
}

// Decode parses a binding: both kinds share the fields privgate reads.
func (t *Target) Decode(raw []byte) (policy.Object, error) {
	var b binding
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&b); err != nil {
		return nil, fmt.Errorf("object is not a valid binding: %w", err)
	}
	b.t = t
	return &b, nil
}

// binding is a RoleBinding or a ClusterRoleBinding.
type binding struct {
	rbacv1.RoleBinding
	t *Target
}

func (b *binding) Namespace() string { return b.RoleBinding.Namespace }
func (b *binding) Name() string      { return b.RoleBinding.Name }

// Facts are the judged group subjects, named as written and as the token carries them.
func (b *binding) Facts(string) policy.Facts {
	in := &input{}
	for i, s := range b.Subjects {
		if g, ok := b.t.group(s.Kind, s.Name); ok {
			in.Subjects = append(in.Subjects, Subject{Name: s.Name, Group: g, Field: fmt.Sprintf("subjects[%d].name", i)})
		}
	}
	return policy.Facts{Always: len(in.Subjects) > 0, Input: in}
}

// Mutate: privgate never changes a binding.
func (b *binding) Mutate(policy.Facts) (policy.Object, bool) { return nil, false }

// JSON leaves the API server's bookkeeping out.
func (b *binding) JSON() ([]byte, error) {
	c := b.RoleBinding
	c.ManagedFields = nil
	return json.Marshal(c)
}
