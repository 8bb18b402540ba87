// Package testutil holds what privgate's tests share: a reviewer over a config file, admission
// reviews as the API server sends them, objects as it stores them with a fake API server and
// informer cache over them (cluster.go), the reference request of the benchmarks, free ports and
// a buffer safe for concurrent writers. It is imported by tests and the load harness only.
package testutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/targets"
)

// IngressKind is networking.k8s.io/v1 Ingress.
var IngressKind = schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Reviewer is the decision core over a config file and its groups file, with the embedded
// default policy and kube-system and privgate never intercepted, as privgate serve builds it.
func Reviewer(t testing.TB, config string) *policy.Reviewer {
	t.Helper()
	r, err := NewReviewer(config, "")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ReviewerEdited is Reviewer over dir's privgate.yaml edited by edit (beside a copy of dir's
// groups.txt): a config variant without a file of its own.
func ReviewerEdited(t testing.TB, dir string, edit *strings.Replacer) *policy.Reviewer {
	t.Helper()
	tmp := t.TempDir()
	for _, f := range []string{"privgate.yaml", "groups.txt"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "privgate.yaml" {
			b = []byte(edit.Replace(string(b)))
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return Reviewer(t, filepath.Join(tmp, "privgate.yaml"))
}

// NewReviewer is Reviewer for callers without a testing.TB (the load harness), with an optional
// policy directory laid over the defaults.
func NewReviewer(config, policyDir string) (*policy.Reviewer, error) {
	cfg, err := targets.LoadConfig(config)
	if err != nil {
		return nil, err
	}
	names, err := groups.ReadFile(cfg.Path(cfg.Groups.File), cfg.Groups.ClaimFormat == policy.ClaimFormatPath)
	if err != nil {
		return nil, err
	}
	ts := targets.For(cfg)
	engine, err := policy.NewEngine(context.Background(), cfg, policyDir, ts...)
	if err != nil {
		return nil, err
	}
	return &policy.Reviewer{
		Config: cfg, Engine: engine, Groups: groups.NewStatic(names), Targets: ts,
		NeverIntercepted: []string{"kube-system", "privgate"},
	}, nil
}

// ReadYAML reads a YAML manifest as JSON.
// ReadYAMLDocuments reads a multi-document YAML file as JSON documents, in file order.
func ReadYAMLDocuments(t testing.TB, path string) [][]byte {
	t.Helper()
	y, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, doc := range strings.Split(string(y), "\n---\n") {
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs = append(docs, j)
	}
	return docs
}

func ReadYAML(t testing.TB, path string) []byte {
	t.Helper()
	y, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return j
}

// AdmissionReview wraps an object (JSON) in an AdmissionReview as kube-apiserver sends it, from
// user alice, for the object's namespace and name (as oldObject for a DELETE).
func AdmissionReview(t testing.TB, op string, gvk schema.GroupVersionKind, obj []byte) []byte {
	t.Helper()
	var meta struct {
		Metadata struct{ Name, Namespace string }
	}
	_ = json.Unmarshal(obj, &meta)
	resource := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: lowerPlural(gvk.Kind)}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       "00000000-0000-4000-8000-000000000042",
			Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Resource:  metav1.GroupVersionResource{Group: resource.Group, Version: resource.Version, Resource: resource.Resource},
			Name:      meta.Metadata.Name,
			Namespace: meta.Metadata.Namespace,
			Operation: admissionv1.Operation(op),
		},
	}
	review.Request.UserInfo.Username = "alice"
	if op == "DELETE" {
		review.Request.OldObject.Raw = obj // the API server sends the stored object, and no new one
	} else {
		review.Request.Object.Raw = obj
	}
	b, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func lowerPlural(kind string) string {
	b := []byte(kind)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	if len(b) > 0 && b[len(b)-1] == 's' {
		return string(b) + "es"
	}
	return string(b) + "s"
}

// ReferenceReview is the benchmarks' reference request (issue 7), built from a real
// AdmissionReview of the Argo CD Ingress (path; "" for webhook/testdata/create-argocd.json):
// three hosts in zone, the groups annotation naming /developers and /sre, and the managedFields
// a few controllers and kubectl edits leave behind (~5 KB).
func ReferenceReview(path, zone, groupsAnnotation string) (*admissionv1.AdmissionReview, error) {
	if path == "" {
		path = filepath.Join(Root(), "webhook", "testdata", "create-argocd.json")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	review := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(raw, review); err != nil || review.Request == nil {
		return nil, fmt.Errorf("%s: not an AdmissionReview: %v", path, err)
	}
	ing := &networkingv1.Ingress{}
	if err := json.Unmarshal(review.Request.Object.Raw, ing); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	class, prefix := "nginx", networkingv1.PathTypePrefix
	ing.Spec = networkingv1.IngressSpec{IngressClassName: &class}
	for _, sub := range []string{"argocd", "cd", "deploy"} {
		backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: "argocd-server", Port: networkingv1.ServiceBackendPort{Number: 443},
		}}
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{
			Host: sub + "." + zone,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: backend}},
			}},
		})
	}
	if ing.Annotations == nil {
		ing.Annotations = map[string]string{}
	}
	ing.Annotations[groupsAnnotation] = "/developers,/sre"
	edited := metav1.NewTime(time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC))
	for i := range 12 {
		ing.ManagedFields = append(ing.ManagedFields, metav1.ManagedFieldsEntry{
			Manager: fmt.Sprintf("controller-%d", i), Operation: metav1.ManagedFieldsOperationUpdate,
			APIVersion: "networking.k8s.io/v1", Time: &edited, FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(fmt.Sprintf(`{"f:metadata":{"f:labels":{"f:team-%d":{}}}}`, i)),
		})
	}
	if review.Request.Object.Raw, err = json.Marshal(ing); err != nil {
		return nil, err
	}
	return review, nil
}

// Request is the core's view of an AdmissionRequest, as the webhook builds it.
func Request(r *admissionv1.AdmissionRequest) policy.Request {
	return policy.Request{
		Kind:      schema.GroupVersionKind{Group: r.Kind.Group, Version: r.Kind.Version, Kind: r.Kind.Kind},
		Operation: string(r.Operation), Namespace: r.Namespace, Name: r.Name,
		DryRun: r.DryRun != nil && *r.DryRun, Username: r.UserInfo.Username, Object: r.Object.Raw,
	}
}

// FreePort is a TCP port on 127.0.0.1 nobody listens on (yet).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Port is FreePort for callers without a testing.TB (TestMain, the load harness).
func Port() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// LockedBuffer is a bytes.Buffer for a process's output read while it runs.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ApplyPatch applies a webhook's JSON patch (as the response carries it) to doc, as the API
// server does.
func ApplyPatch(t testing.TB, doc, patch []byte) []byte {
	t.Helper()
	out, err := ApplyPatchJSON(doc, patch)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ApplyPatchJSON is ApplyPatch for callers without a testing.TB (the load harness).
func ApplyPatchJSON(doc, patch []byte) ([]byte, error) {
	var ops []jsonpatch.Operation
	if len(patch) > 0 {
		if err := json.Unmarshal(patch, &ops); err != nil {
			return nil, fmt.Errorf("patch %s: %w", patch, err)
		}
	}
	return policy.ApplyPatch(doc, ops)
}

// FastPathAgrees fails t when a target's cheap partial read (SurelyPublic) lets raw through
// while the full decode finds something to judge: the fuzz targets' property.
func FastPathAgrees(t *testing.T, target policy.Target, raw []byte) {
	t.Helper()
	if !target.SurelyPublic(raw) {
		return
	}
	o, err := target.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f := o.Facts(""); f.Judged() {
		t.Fatalf("the fast path lets %s through, the full decode judges hosts %+v, input %+v", raw, f.Hosts, f.Input)
	}
}

// RegoTests runs a target's Rego unit tests (rego/*_test.rego) through OPA's tester, so that
// `go test ./...` covers them, and fails when fewer than atLeast ran (a suite silently skipped).
func RegoTests(t *testing.T, modules policy.Modules, atLeast int) {
	t.Helper()
	n := 0
	err := policy.TestModules(context.Background(), modules, func(r policy.TestResult) {
		n++
		if !r.Passed {
			t.Errorf("%s: %s", r.Name, r.Detail)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < atLeast {
		t.Fatalf("ran %d Rego tests, want the whole suite (at least %d)", n, atLeast)
	}
}

// IDs are the rule ids of violations, in order, joined with ",".
func IDs(vs []policy.Violation) string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return strings.Join(out, ",")
}

// Store records stored objects (JSON manifests naming their apiVersion and kind) in x as the
// doors holding objects do (Reviewer.Store).
func Store(t testing.TB, r *policy.Reviewer, x *policy.Index, docs ...[]byte) {
	t.Helper()
	for _, doc := range docs {
		var head struct{ APIVersion, Kind string }
		if err := json.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		if err := r.Store(x, schema.FromAPIVersionAndKind(head.APIVersion, head.Kind), "", time.Time{}, doc); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchValidate judges req in b's loop, failing on an error or a verdict other than allowed.
func BenchValidate(b *testing.B, r *policy.Reviewer, req policy.Request, allowed bool) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		if d, err := r.Validate(context.Background(), req); err != nil || d.Allowed != allowed {
			b.Fatal(err, d)
		}
	}
}
