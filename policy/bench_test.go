package policy

import (
	"context"
	"testing"
)

// referenceIngress is issue 7's reference private Ingress (3 hosts, two groups) after mutation.
func referenceIngress(b *testing.B, r *Reviewer) Request {
	b.Helper()
	raw := []byte(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"argocd","namespace":"argocd",
	"annotations":{"privgate.io/allowed-groups":"/developers,/sre","nginx.ingress.kubernetes.io/backend-protocol":"HTTPS"}},
	"spec":{"ingressClassName":"nginx","rules":[{"host":"argocd.private.example.com"},{"host":"cd.private.example.com"},{"host":"deploy.private.example.com"}]}}`)
	req := Request{Operation: "CREATE", Namespace: "argocd", Name: "argocd", Object: raw}
	m, err := r.Mutate(req)
	if err != nil {
		b.Fatal(err)
	}
	req.Object = applyPatch(b, raw, m.Patch)
	return req
}

// BenchmarkEval is the Rego evaluation alone, on a prebuilt input.
func BenchmarkEval(b *testing.B) {
	r := testReviewer(b)
	req := referenceIngress(b, r)
	ing, _ := DecodeIngress(req.Object)
	input, err := buildInput(req, ing, r.Config.Inspect(ing, ""), false)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Engine.setGroups(ctx, r.Groups.Snapshot().Set); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		v, err := r.Engine.Eval(ctx, input)
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
