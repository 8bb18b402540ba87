package envoygateway

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The fields of gateway.envoyproxy.io/v1alpha1 SecurityPolicy privgate reads, in its own small
// types rather than Envoy Gateway's module (docs/gateway-api.md has the measurements); the
// object is held to the CRD's schema by policy/crdschema in check, and by the API server
// everywhere else. A field privgate does not read is kept in Spec's document, for the fixes it
// prints.

// GroupVersion is SecurityPolicy's group and version.
var GroupVersion = schema.GroupVersion{Group: "gateway.envoyproxy.io", Version: "v1alpha1"}

// SecurityPolicy is the part of an Envoy Gateway SecurityPolicy privgate reads.
type SecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec `json:"spec"`
}

// Spec is what a SecurityPolicy targets and the login it sets.
type Spec struct {
	TargetRef       *TargetRef       `json:"targetRef,omitempty"`
	TargetRefs      []TargetRef      `json:"targetRefs,omitempty"`
	TargetSelectors []TargetSelector `json:"targetSelectors,omitempty"`
	MergeType       *string          `json:"mergeType,omitempty"`
	ExtAuth         *ExtAuth         `json:"extAuth,omitempty"`
	OIDC            *OIDC            `json:"oidc,omitempty"`
	JWT             *JWT             `json:"jwt,omitempty"`
	// doc is the spec as written, every field, for a fix that keeps what privgate does not read.
	doc map[string]any
}

// TargetRef is a target in the policy's namespace: a Gateway (sectionName: a listener) or a
// route (sectionName: a rule).
type TargetRef = gatewayv1.LocalPolicyTargetReferenceWithSectionName

// TargetSelector selects targets of a kind by labels.
type TargetSelector struct {
	Group            *string                           `json:"group,omitempty"`
	Kind             string                            `json:"kind"`
	Namespaces       *TargetNamespaces                 `json:"namespaces,omitempty"`
	MatchLabels      map[string]string                 `json:"matchLabels,omitempty"`
	MatchExpressions []metav1.LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// TargetNamespaces says where a selector looks: Same (unset), All, Selector.
type TargetNamespaces struct {
	From string `json:"from"`
}

// ExtAuth is external authorization: every request checked by a service first.
type ExtAuth struct {
	HTTP             *ExtAuthService `json:"http,omitempty"`
	GRPC             *ExtAuthService `json:"grpc,omitempty"`
	HeadersToExtAuth []string        `json:"headersToExtAuth,omitempty"`
	FailOpen         *bool           `json:"failOpen,omitempty"`
}

// ExtAuthService is where the check goes.
type ExtAuthService struct {
	BackendRef  *BackendRef  `json:"backendRef,omitempty"`
	BackendRefs []BackendRef `json:"backendRefs,omitempty"`
}

// BackendRef is a backend, a Service unless said otherwise, in the policy's namespace unless
// said otherwise.
type BackendRef struct {
	Group     *string `json:"group,omitempty"`
	Kind      *string `json:"kind,omitempty"`
	Name      string  `json:"name"`
	Namespace *string `json:"namespace,omitempty"`
	Port      *int32  `json:"port,omitempty"`
}

// OIDC is Envoy's own OAuth2 login.
type OIDC struct {
	Provider struct {
		Issuer string `json:"issuer"`
	} `json:"provider"`
	PassThroughAuthHeader *bool `json:"passThroughAuthHeader,omitempty"`
}

// JWT is what passThroughAuthHeader needs: providers reading a header.
type JWT struct {
	Providers []struct {
		ExtractFrom *struct {
			Headers []json.RawMessage `json:"headers,omitempty"`
		} `json:"extractFrom,omitempty"`
	} `json:"providers"`
}

// UnmarshalJSON reads the fields and keeps the document.
func (s *Spec) UnmarshalJSON(b []byte) error {
	type fields Spec
	if err := json.Unmarshal(b, (*fields)(s)); err != nil {
		return err
	}
	return json.Unmarshal(b, &s.doc)
}

// MarshalJSON writes the document as read (the fields, for a Spec built in Go).
func (s Spec) MarshalJSON() ([]byte, error) {
	if s.doc != nil {
		return json.Marshal(s.doc)
	}
	type fields Spec
	return json.Marshal(fields(s))
}

// Doc is a copy of the spec as written.
func (s Spec) Doc() map[string]any {
	var out map[string]any
	b, _ := s.MarshalJSON()
	_ = json.Unmarshal(b, &out)
	return out
}

// refs are targetRef and targetRefs.
func (s Spec) refs() []TargetRef {
	var out []TargetRef
	if s.TargetRef != nil {
		out = append(out, *s.TargetRef)
	}
	return append(out, s.TargetRefs...)
}

// DeepCopyObject copies through JSON: the informer cache copies what it hands out.
func (p *SecurityPolicy) DeepCopyObject() runtime.Object {
	out := &SecurityPolicy{}
	b, _ := json.Marshal(p)
	_ = json.Unmarshal(b, out)
	return out
}

// SecurityPolicyList is a list of SecurityPolicies, as the API server lists them.
type SecurityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecurityPolicy `json:"items"`
}

// DeepCopyObject copies through JSON.
func (l *SecurityPolicyList) DeepCopyObject() runtime.Object {
	out := &SecurityPolicyList{}
	b, _ := json.Marshal(l)
	_ = json.Unmarshal(b, out)
	return out
}

// AddToScheme registers the types.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &SecurityPolicy{}, &SecurityPolicyList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
