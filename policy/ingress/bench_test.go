package ingress_test

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/privgate/privgate/policy"
)

// referenceIngress is issue 7's reference private Ingress (3 hosts, two groups) after mutation.
func referenceIngress(b *testing.B, r *policy.Reviewer) policy.Request {
	b.Helper()
	raw := []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"argocd","namespace":"argocd",
	"annotations":{"privgate.io/allowed-groups":"/developers,/sre","nginx.ingress.kubernetes.io/backend-protocol":"HTTPS"}},
	"spec":{"ingressClassName":"nginx","rules":[{"host":"argocd.private.example.com"},{"host":"cd.private.example.com"},{"host":"deploy.private.example.com"}]}}`)
	req := create("argocd", raw)
	req.Name = "argocd"
	m, err := r.Mutate(req)
	if err != nil {
		b.Fatal(err)
	}
	req.Object = applyPatch(b, raw, m)
	return req
}

// BenchmarkEval is the Rego evaluation alone, on a prebuilt input.
func BenchmarkEval(b *testing.B) {
	r := testReviewer(b)
	req := referenceIngress(b, r)
	doc, _, err := r.InputDocument(req)
	if err != nil {
		b.Fatal(err)
	}
	input, err := ast.InterfaceToValue(doc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	set := r.Groups.Snapshot().Set
	b.ReportAllocs()
	for b.Loop() {
		v, _, err := r.Engine.EvalWith(ctx, "privgate", set, input)
		if err != nil || len(v.Deny) != 0 {
			b.Fatal(err, v.Deny)
		}
	}
}

// BenchmarkValidate is the core's validation from the object's JSON: decode, facts, input, eval.
func BenchmarkValidate(b *testing.B) {
	r := testReviewer(b)
	req := referenceIngress(b, r)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := r.Validate(ctx, req)
		if err != nil || !d.Allowed {
			b.Fatal(err, d.Violations)
		}
	}
}
