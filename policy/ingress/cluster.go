package ingress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

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

	// NGINXProvider is set when Traefik's NGINX provider executes a class the Ingress names
	// (servedBy): decided here once, for the aliases Go reads and the annotations Rego judges.
	NGINXProvider bool `json:"nginxProvider,omitempty"`
	// Traefik is set for an Ingress of a Traefik class: the routers Traefik builds (traefik.go).
	Traefik *traefikInput `json:"traefik,omitempty"`

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
		{GVK: ingressKind, Judged: true, Listed: true, Indexes: map[string]policy.IndexFunc{hostIndex: t.claims}},
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

// Relate fills in what the stored objects make of the Ingress: Traefik's chains, the owner of
// each private host another namespace owns, and the controller of each class it names that
// exists. Without a cluster (c nil) the chains still resolve, to Middlewares that are missing:
// Traefik's routers are judged, never left out.
func (o *object) Relate(c policy.Cluster, in *policy.Input) {
	mine, ok := in.Target.(*input)
	if !ok {
		return
	}
	if mine.Traefik != nil {
		mine.Traefik.relate(o.t.traefik, c)
	}
	if c == nil {
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

// Defaults applies what kube-apiserver's DefaultIngressClass admission plugin (on by default)
// does before any webhook: on CREATE, an Ingress with neither spec.ingressClassName nor the
// kubernetes.io/ingress.class annotation (whatever their values) gets the default class
// (plugin/pkg/admission/network/defaultingressclass, admission.go, getDefaultClass): among the
// stored IngressClasses annotated ingressclass.kubernetes.io/is-default-class "true" (exactly
// that string), the newest by creationTimestamp, a tie going to the first name. None stored:
// the config's defaultIngressClass, if any.
func (t *Target) Defaults(raw []byte, operation string, c policy.Cluster) ([]byte, string) {
	if operation != "CREATE" {
		return raw, ""
	}
	name, from := t.defaultClass(c)
	if name == "" {
		return raw, ""
	}
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return raw, "" // judged, and its error reported, as it is
	}
	meta, _ := doc["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	if _, ok := annotations[AnnotationIngressClass]; ok {
		return raw, ""
	}
	spec, _ := doc["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
		doc["spec"] = spec
	}
	if class, ok := spec["ingressClassName"]; ok && class != nil {
		return raw, ""
	}
	spec["ingressClassName"] = name
	out, err := json.Marshal(doc)
	if err != nil {
		return raw, ""
	}
	return out, "spec.ingressClassName " + name + ": " + from
}

// defaultClass is the class the API server gives a created Ingress naming none, and where it
// comes from.
func (t *Target) defaultClass(c policy.Cluster) (name, from string) {
	var best *networkingv1.IngressClass
	if c != nil {
		for _, obj := range c.Stored(ingressClassKind.GroupKind()) {
			class, ok := obj.(*networkingv1.IngressClass)
			if !ok || class.Annotations[networkingv1.AnnotationIsDefaultIngressClass] != "true" {
				continue
			}
			at, bestAt := class.CreationTimestamp.Time, time.Time{}
			if best != nil {
				bestAt = best.CreationTimestamp.Time
			}
			if best == nil || at.After(bestAt) || at.Equal(bestAt) && class.Name < best.Name {
				best = class
			}
		}
	}
	switch {
	case best != nil:
		return best.Name, "the cluster's default IngressClass, set by the API server before privgate sees the Ingress"
	case t.cfg.DefaultIngressClass != "":
		return t.cfg.DefaultIngressClass, "the cluster's default IngressClass (defaultIngressClass), set by the API server before privgate sees the Ingress"
	}
	return "", ""
}
