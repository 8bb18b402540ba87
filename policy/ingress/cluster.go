package ingress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/privgate/privgate/policy"
)

// input is the Ingress target's part of the policy input.
type input struct {
	// ACMESolver is set for cert-manager's own HTTP-01 solver Ingress (see isACMESolver).
	ACMESolver bool `json:"acmeSolver"`
	// Owners are the private hosts of the Ingress that an older Ingress in another namespace
	// answers (hostOwnership), with that Ingress.
	Owners map[string]policy.Ref `json:"owners,omitempty"`
	// Classes are the classes the Ingress names that exist in the cluster, with their
	// controller (IngressClass spec.controller).
	Classes map[string]string `json:"classes,omitempty"`

	named []string // the classes the Ingress names
}

// The kinds the target reads, and the index of Ingresses by the private hosts they claim.
var (
	ingressKind      = networkingv1.SchemeGroupVersion.WithKind("Ingress")
	ingressClassKind = networkingv1.SchemeGroupVersion.WithKind("IngressClass")
)

const hostIndex = "privgate.io/private-host"

// Reads are Ingresses (judged, and indexed by the private hosts they claim) and IngressClasses.
func (t *Target) Reads() []policy.Kind {
	return []policy.Kind{
		{GVK: ingressKind, Judged: true, Indexes: map[string]policy.IndexFunc{hostIndex: t.claims}},
		{GVK: ingressClassKind, ClusterScoped: true},
	}
}

// AddToScheme registers networking.k8s.io/v1.
func (*Target) AddToScheme(s *runtime.Scheme) error { return networkingv1.AddToScheme(s) }

// Typed decodes an Ingress or an IngressClass.
func (*Target) Typed(gvk schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	var obj runtime.Object
	switch gvk.GroupKind() {
	case ingressKind.GroupKind():
		obj = &networkingv1.Ingress{}
	case ingressClassKind.GroupKind():
		obj = &networkingv1.IngressClass{}
	default:
		return nil, fmt.Errorf("kind %s is not one the ingress target reads", gvk)
	}
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(obj); err != nil {
		return nil, fmt.Errorf("object is not a valid %s: %w", gvk.Kind, err)
	}
	return obj, nil
}

// claims are the named private hosts a stored Ingress answers: what host ownership compares.
func (t *Target) claims(obj runtime.Object) []string {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return nil
	}
	var hosts []string
	for _, h := range t.facts(ing, "").Hosts {
		if h.Private && !h.Any {
			hosts = append(hosts, h.Host)
		}
	}
	return hosts
}

// Relate fills in what the stored objects make of the Ingress: the owner of each private host
// another namespace owns, and the controller of each class it names that exists.
func (o *object) Relate(c policy.Cluster, in *policy.Input) {
	mine, ok := in.Target.(*input)
	if c == nil || !ok {
		return
	}
	if o.t.cfg.HostOwnership.On() {
		self := policy.Ref{Kind: "Ingress", Namespace: in.Request.Namespace, Name: in.Request.Name}
		for _, h := range in.Hosts {
			if !h.Private || h.Any {
				continue
			}
			if owner, ok := o.t.owner(c, h.Host, self); ok && owner.Namespace != self.Namespace {
				if mine.Owners == nil {
					mine.Owners = map[string]policy.Ref{}
				}
				mine.Owners[h.Host] = owner
			}
		}
	}
	for _, name := range mine.named {
		if class, ok := c.Get(ingressClassKind.GroupKind(), "", name).(*networkingv1.IngressClass); ok {
			if mine.Classes == nil {
				mine.Classes = map[string]string{}
			}
			mine.Classes[name] = class.Spec.Controller
		}
	}
}

// owner is the oldest claim on host outside the shared namespaces (they neither own hosts nor
// are refused them), when it is not the object being judged. Only a stored claim's age counts:
// an object that does not claim the host yet (a new one, or an old one adding the host) is the
// newest, whatever its creationTimestamp says.
func (t *Target) owner(c policy.Cluster, host string, self policy.Ref) (policy.Ref, bool) {
	stored := c.Indexed(ingressKind.GroupKind(), hostIndex, host)
	claims := make([]policy.Ref, 0, len(stored))
	for _, obj := range stored {
		claims = append(claims, policy.RefOf("Ingress", obj))
	}
	policy.SortClaims(claims)
	for _, claim := range claims {
		if slices.Contains(t.cfg.HostOwnership.SharedNamespaces, claim.Namespace) {
			continue
		}
		if claim.Namespace == self.Namespace && claim.Name == self.Name {
			return policy.Ref{}, false // the oldest claim is the object's own stored one: it owns the host
		}
		return claim, true
	}
	return policy.Ref{}, false
}
