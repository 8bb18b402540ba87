package policy

import (
	"bytes"
	"encoding/json"
	"maps"

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

// Router is an Object that says which paths it routes on one of its hosts (normalized, "*" for a
// catch-all), for the network probe; none when it routes everything ("/" then). Asked only by
// Reviewer.PrivateHosts, never while admitting.
type Router interface {
	Paths(host string) []string
}

// Deletions is a Target whose objects' deletion is judged too: removing an AuthorizationPolicy
// can uncover a host as surely as writing a route can. A DELETE is judged on the stored object
// (Request.OldObject); the input's request.operation says DELETE.
type Deletions interface {
	JudgesDelete() bool
}

// Reader is a Target that reads stored objects: those it judges, listed and judged by the audit,
// and those it judges them against (an Istio route against the gateways serving it and the
// AuthorizationPolicies in front of them; an Ingress against the others claiming its hosts).
// Every door's Cluster holds these kinds, typed, for Related objects to read; the doors learn
// which kinds exist from here alone.
type Reader interface {
	// Reads are the kinds the target reads.
	Reads() []Kind
	// AddToScheme registers their Go types (what the cluster view's client decodes into).
	AddToScheme(*runtime.Scheme) error
	// Typed decodes a stored object of a kind it reads (any served version) into the Go type
	// the Cluster holds for its kind.
	Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error)
}

// Kind is one kind of stored object a target reads.
type Kind struct {
	// GVK is the version listed and cached.
	GVK schema.GroupVersionKind
	// Judged: the target judges stored objects of the kind, so the audit lists and judges
	// each (with a Report), and privgate audit lists them.
	Judged bool
	// CRD marks a kind that exists only once its CRD is installed: the cluster view looks for it
	// at start and every --discovery-interval, and judges objects of it in full passes, which
	// any change of such a kind requests (a policy or gateway change moves what covers every
	// route).
	CRD bool
	// Listed: privgate audit lists every judged object of the kind, even one with nothing to
	// say (each Ingress, public ones too: the zone's inventory). Of the other judged kinds it
	// lists those with a finding or a host judged, and only counts the rest, which merely carry
	// a note (most bindings grant the system's own groups).
	Listed bool
	// With, when set, holds the kind back until that kind is installed (Services matter only
	// for Gateway API's hand-deployed gateways).
	With schema.GroupKind
	// Indexes are the lookups Cluster.Indexed answers for the kind, by name.
	Indexes map[string]IndexFunc
	// ClusterScoped marks kinds without a namespace (IngressClass, GatewayClass,
	// ClusterRoleBinding): check then never gives their manifests a namespace.
	ClusterScoped bool
}

// IndexFunc gives the values under which a stored object is indexed.
type IndexFunc func(runtime.Object) []string

// merge is k read by two targets: judged, listed, and indexed, if either says so.
func (k Kind) merge(o Kind) Kind {
	k.Judged = k.Judged || o.Judged
	k.Listed = k.Listed || o.Listed
	if len(o.Indexes) > 0 {
		k.Indexes = maps.Clone(k.Indexes)
		if k.Indexes == nil {
			k.Indexes = map[string]IndexFunc{}
		}
		maps.Copy(k.Indexes, o.Indexes)
	}
	return k
}

// Defaulter is a Target whose objects the API server's own admission plugins change before any
// webhook sees them (kube-apiserver's DefaultIngressClass sets an Ingress's class on CREATE).
// The webhooks receive objects after that; privgate check, which reads manifests, applies the
// same from what it knows of the cluster, so that it judges what the webhooks will.
type Defaulter interface {
	// Defaults is raw as the API server hands it to the webhooks on operation, and what it
	// set, worded for a person ("spec.ingressClassName nginx: ..."); note is "" when nothing
	// changes.
	Defaults(raw []byte, operation string, c Cluster) (out []byte, note string)
}

// Registered is a Target that says where the API server must send its objects: the webhooks
// deploy/webhooks and the chart register (TestWebhooksMatchTargets holds both to these).
type Registered interface {
	Webhooks() []Webhook
}

// Webhook is one admission webhook of privgate and what a target needs it to receive.
type Webhook struct {
	// Name is the webhook's name: mutate.privgate.io, validate.privgate.io, or one of its own
	// where the failure policy differs (validate-istio-policy.privgate.io).
	Name string
	// FailurePolicy is Fail (a private host is never admitted unchecked) or Ignore (a kind whose
	// writes must go through with privgate down: the audit reports them).
	FailurePolicy string
	// Resources are the resources, by group and version, and Operations the operations sent.
	Resources  []schema.GroupVersionResource
	Operations []string
}

// Refuser is a Target that words its denials' headline ("exposes private hosts unprotected"
// for an Ingress); others' read "is refused".
type Refuser interface {
	Refusal() string
}

// Related is an Object judged against stored objects: Relate fills in its part of the input
// (in.Target, as its Facts made it) from what the Cluster holds (c is nil when the door knows
// no other object: then nothing is known to protect it, and nobody else claims its hosts).
type Related interface {
	Relate(c Cluster, in *Input)
}

// WithoutManagedFields is an object as written, the API server's bookkeeping
// (metadata.managedFields) left out: what a target that reads the object as written, rather
// than as its Go types print it back, gives the policy (Object.JSON).
func WithoutManagedFields(raw []byte) ([]byte, error) {
	if !bytes.Contains(raw, []byte(`"managedFields"`)) {
		return raw, nil // nothing to leave out: no decode
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if m, ok := doc["metadata"].(map[string]any); ok {
		delete(m, "managedFields")
	}
	return json.Marshal(doc)
}
