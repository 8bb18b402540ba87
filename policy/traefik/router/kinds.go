package router

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Traefik's CRD kinds privgate reads (traefik.io/v1alpha1), decoded into small types of
// privgate's own: Traefik's Go module does not import cleanly, and privgate reads few fields.
// Objects are held to Traefik's published CRD schemas by policy/crdschema.
var (
	GroupVersion        = schema.GroupVersion{Group: "traefik.io", Version: "v1alpha1"}
	MiddlewareKind      = GroupVersion.WithKind("Middleware")
	IngressRouteKind    = GroupVersion.WithKind("IngressRoute")
	IngressRouteTCPKind = GroupVersion.WithKind("IngressRouteTCP")
)

// Middleware is a traefik.io Middleware: its spec is one middleware type (Traefik refuses more).
type Middleware struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              MiddlewareSpec `json:"spec"`
}

// MiddlewareSpec holds the types privgate reads; the others are kept by name in Types.
type MiddlewareSpec struct {
	ForwardAuth *ForwardAuth `json:"forwardAuth,omitempty"`
	Errors      *ErrorPage   `json:"errors,omitempty"`
	Chain       *ChainSpec   `json:"chain,omitempty"`
	// Types are the spec's keys, sorted: the middleware types it sets.
	Types []string `json:"-"`
	raw   map[string]json.RawMessage
}

// UnmarshalJSON reads the types privgate knows and remembers every key.
func (s *MiddlewareSpec) UnmarshalJSON(b []byte) error {
	type known MiddlewareSpec
	var k known
	if err := json.Unmarshal(b, &k); err != nil {
		return err
	}
	*s = MiddlewareSpec(k)
	if err := json.Unmarshal(b, &s.raw); err != nil {
		return err
	}
	for t, v := range s.raw {
		if string(v) != "null" {
			s.Types = append(s.Types, t)
		}
	}
	slices.Sort(s.Types)
	return nil
}

// MarshalJSON writes the spec as read.
func (s MiddlewareSpec) MarshalJSON() ([]byte, error) {
	if s.raw != nil {
		return json.Marshal(s.raw)
	}
	type known MiddlewareSpec
	return json.Marshal(known(s))
}

// ForwardAuth is the forwardAuth middleware: requests go on only when Address answers 2xx.
type ForwardAuth struct {
	Address string `json:"address"`
}

// ErrorPage is the errors middleware: the statuses in Status are answered from Service.
type ErrorPage struct {
	Status  []string   `json:"status,omitempty"`
	Service ServiceRef `json:"service"`
	Query   string     `json:"query,omitempty"`
}

// ServiceRef is a Service an object names (its namespace defaults to the object's).
type ServiceRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Kind      string `json:"kind,omitempty"`
}

// ChainSpec is the chain middleware: its middlewares run in order.
type ChainSpec struct {
	Middlewares []MiddlewareRef `json:"middlewares"`
}

// MiddlewareRef names a Middleware: name (or name@provider) and namespace.
type MiddlewareRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// IngressRoute is a traefik.io IngressRoute: HTTP routers, one per route.
type IngressRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              IngressRouteSpec `json:"spec"`
}

// IngressRouteSpec is what privgate reads of an IngressRoute.
type IngressRouteSpec struct {
	EntryPoints []string    `json:"entryPoints,omitempty"`
	Routes      []Route     `json:"routes"`
	TLS         *RouteTLS   `json:"tls,omitempty"`
	ParentRefs  []ParentRef `json:"parentRefs,omitempty"`
}

// Route is one router of an IngressRoute.
type Route struct {
	Match       string          `json:"match"`
	Kind        string          `json:"kind,omitempty"`
	Priority    int             `json:"priority,omitempty"`
	Middlewares []MiddlewareRef `json:"middlewares,omitempty"`
	Services    []ServiceRef    `json:"services,omitempty"`
}

// RouteTLS is an IngressRoute's or IngressRouteTCP's tls.
type RouteTLS struct {
	SecretName  string `json:"secretName,omitempty"`
	Passthrough bool   `json:"passthrough,omitempty"`
}

// ParentRef names a parent IngressRoute, whose middlewares run before the child's.
type ParentRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// IngressRouteTCP is a traefik.io IngressRouteTCP: TCP routers matched on SNI.
type IngressRouteTCP struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              IngressRouteTCPSpec `json:"spec"`
}

// IngressRouteTCPSpec is what privgate reads of an IngressRouteTCP.
type IngressRouteTCPSpec struct {
	EntryPoints []string   `json:"entryPoints,omitempty"`
	Routes      []RouteTCP `json:"routes"`
	TLS         *RouteTLS  `json:"tls,omitempty"`
}

// RouteTCP is one TCP router.
type RouteTCP struct {
	Match    string       `json:"match"`
	Priority int          `json:"priority,omitempty"`
	Services []ServiceRef `json:"services,omitempty"`
}

// Lists, for the informer cache.
type MiddlewareList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Middleware `json:"items"`
}

// IngressRouteList is a list of IngressRoutes.
type IngressRouteList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IngressRoute `json:"items"`
}

// IngressRouteTCPList is a list of IngressRouteTCPs.
type IngressRouteTCPList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IngressRouteTCP `json:"items"`
}

// deepCopy copies through JSON: these objects are small and read, never written.
func deepCopy[T any](in *T) *T {
	b, err := json.Marshal(in)
	if err != nil {
		panic(fmt.Sprintf("copy %T: %v", in, err)) // our own types always marshal
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(fmt.Sprintf("copy %T: %v", in, err))
	}
	return out
}

func (m *Middleware) DeepCopyObject() runtime.Object          { return deepCopy(m) }
func (r *IngressRoute) DeepCopyObject() runtime.Object        { return deepCopy(r) }
func (r *IngressRouteTCP) DeepCopyObject() runtime.Object     { return deepCopy(r) }
func (l *MiddlewareList) DeepCopyObject() runtime.Object      { return deepCopy(l) }
func (l *IngressRouteList) DeepCopyObject() runtime.Object    { return deepCopy(l) }
func (l *IngressRouteTCPList) DeepCopyObject() runtime.Object { return deepCopy(l) }

// AddToScheme registers the kinds.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Middleware{}, &MiddlewareList{}, &IngressRoute{}, &IngressRouteList{}, &IngressRouteTCP{}, &IngressRouteTCPList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Decode decodes a traefik.io object of kind into its type, naming the kind when it cannot.
func Decode(kind schema.GroupKind, raw []byte) (runtime.Object, error) {
	var obj runtime.Object
	switch kind {
	case MiddlewareKind.GroupKind():
		obj = &Middleware{}
	case IngressRouteKind.GroupKind():
		obj = &IngressRoute{}
	case IngressRouteTCPKind.GroupKind():
		obj = &IngressRouteTCP{}
	default:
		return nil, fmt.Errorf("kind %s is not a Traefik kind privgate reads", kind)
	}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("object is not a valid %s: %s", kind.Kind, strings.TrimPrefix(err.Error(), "json: "))
	}
	return obj, nil
}
