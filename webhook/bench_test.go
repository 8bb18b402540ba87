package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

// referenceReview is issue 7's reference request: a private Ingress of 3 hosts naming two
// groups, with the managedFields a real apply carries (~5 KB); public, the same in a public zone.
func referenceReview(b *testing.B, private bool) []byte {
	b.Helper()
	zone := "private.example.com"
	if !private {
		zone = "example.com"
	}
	review, err := testutil.ReferenceReview("", zone, "privgate.io/allowed-groups")
	if err != nil {
		b.Fatal(err)
	}
	out, _ := json.Marshal(review)
	return out
}

func withGroups(b *testing.B, n int) *Handler {
	b.Helper()
	r := testReviewer(b)
	names := []string{"/developers", "/sre"}
	for i := len(names); i < n; i++ {
		names = append(names, fmt.Sprintf("/team-%05d", i))
	}
	r.Groups = groups.NewStatic(names)
	return &Handler{Kind: Validate, Reviewer: r, Log: logr.Discard()}
}

// BenchmarkDecision measures the whole decision path of one webhook call: raw AdmissionReview
// bytes in, response bytes out (no TLS, no network).
func BenchmarkDecision(b *testing.B) {
	cases := []struct {
		name    string
		kind    Kind
		private bool
		groups  int
		cached  bool // the same request again, answered by the decision cache
	}{
		{"validate/private/200-groups", Validate, true, 200, false},
		{"validate/private/10000-groups", Validate, true, 10000, false},
		{"mutate/private/200-groups", Mutate, true, 200, false},
		{"validate/public", Validate, false, 200, false},
		{"mutate/public", Mutate, false, 200, false},
		{"validate/private/cache-hit", Validate, true, 200, true},
		{"mutate/private/cache-hit", Mutate, true, 200, true},
		{"validate/public/cache-hit", Validate, false, 200, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := withGroups(b, c.groups)
			h.Kind = c.kind
			body := referenceReview(b, c.private)
			if c.kind == Validate && c.private {
				// Validate sees the object after mutation, as the API server sends it.
				body = mutatedReview(b, h, body)
			}
			if c.cached {
				h.Reviewer.Cache = policy.NewDecisionCache(1 << 20)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatal(rec.Body.String())
				}
			}
		})
	}
}

func mutatedReview(b *testing.B, h *Handler, body []byte) []byte {
	b.Helper()
	m := &Handler{Kind: Mutate, Reviewer: h.Reviewer, Log: logr.Discard()}
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, req)
	var out admissionv1.AdmissionReview
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	var in admissionv1.AdmissionReview
	_ = json.Unmarshal(body, &in)
	in.Request.Object.Raw = testutil.ApplyPatch(b, in.Request.Object.Raw, out.Response.Patch)
	d, err := h.Reviewer.Validate(context.Background(), testutil.Request(in.Request))
	if err != nil || !d.Allowed {
		b.Fatalf("reference Ingress must be admitted after mutation: %v %v", err, d.Violations)
	}
	res, _ := json.Marshal(in)
	return res
}
