package policy

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Target is one kind of object privgate judges (an Ingress; later Istio and Gateway API routes,
// RBAC bindings). It says what an object names and how it is mutated; the core does the rest
// (which requests are judged at all, the policy, the cache, enforcement), so every target and
// every door gets the same treatment. See docs/architecture.md.
type Target interface {
	// Name names the target in config and messages ("ingress").
	Name() string
	// Kinds are the apiVersions and kinds the target judges.
	Kinds() []schema.GroupVersionKind
	// Retired are former apiVersions of the same objects (extensions/v1beta1 Ingress). They,
	// and any other version of a judged group and kind, are refused with an UnsupportedError,
	// never let through unjudged.
	Retired() []schema.GroupVersionKind
	// Package is the Rego package whose deny and warn sets judge the target ("privgate").
	Package() string
	// Modules are the target's default Rego files and their tests, by file name.
	Modules() Modules
	// SurelyPublic reports, from a cheap partial read, that an object names nothing the policy
	// judges (no private host, no group), so that most of a cluster's objects skip the full
	// decode. When unsure it says false.
	SurelyPublic(raw []byte) bool
	// Quiet says why such an object needs no judgement ("no private host").
	Quiet() string
	// Decode parses an object, naming what is wrong when it cannot.
	Decode(raw []byte) (Object, error)
}

// Object is one decoded object of a target.
type Object interface {
	// Facts computes what the object names. username is the requester ("" when unknown).
	Facts(username string) Facts
	// Mutate returns a mutated copy and whether anything changed; the receiver is left as it is.
	// Targets that never mutate return (nil, false).
	Mutate(Facts) (Object, bool)
	// JSON is the object as the policy sees it and as patches are computed: the API server's
	// bookkeeping (metadata.managedFields) left out.
	JSON() ([]byte, error)
	// Namespace and Name, for messages when the request does not carry them.
	Namespace() string
	Name() string
}

// Deletions is a Target whose objects' deletion is judged too: removing an AuthorizationPolicy
// can uncover a host as surely as writing a route can. A DELETE is judged on the stored object
// (Request.OldObject); the input's request.operation says DELETE.
type Deletions interface {
	JudgesDelete() bool
}

// Relating is a Target whose objects are judged against stored objects of other kinds (an Istio
// route against the gateways serving it and the AuthorizationPolicies in front of them). Every
// door's Cluster holds those kinds, typed, for Related objects to read.
type Relating interface {
	// Related are the kinds the target's objects are judged against.
	Related() []schema.GroupKind
	// Typed decodes a stored object of a related kind (any served version) into the Go type
	// Cluster.Stored returns for its kind.
	Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error)
}

// Related is an Object of a Relating target: Relate fills in what the stored objects make of it
// (c is nil when the door knows no other object: then nothing is known to protect it).
type Related interface {
	Relate(c Cluster, in *Input)
}
