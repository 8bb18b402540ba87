package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"sigs.k8s.io/yaml"

	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/test/testutil"
)

func testReviewer(t testing.TB) *policy.Reviewer {
	t.Helper()
	return testutil.Reviewer(t, "../examples/privgate.yaml")
}

// reviewOf wraps a manifest (YAML file) in an AdmissionReview as kube-apiserver sends it.
func reviewOf(t testing.TB, op, kind, manifest string) []byte {
	t.Helper()
	gvk := testutil.IngressKind
	if kind == "ConfigMap" {
		gvk = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	}
	var obj []byte
	if manifest != "" {
		obj = testutil.ReadYAML(t, manifest)
	}
	return testutil.AdmissionReview(t, op, gvk, obj)
}

func post(t testing.TB, h http.Handler, body []byte, contentType string) (*httptest.ResponseRecorder, *admissionv1.AdmissionReview) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/x?timeout=5s", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec, nil
	}
	out := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v\n%s", err, rec.Body)
	}
	return rec, out
}

func TestHandlers(t *testing.T) {
	r := testReviewer(t)
	mutate := &Handler{Kind: Mutate, Reviewer: r, Log: logr.Discard()}
	validate := &Handler{Kind: Validate, Reviewer: r, Log: logr.Discard()}
	// The same core with class-foreign in warn mode (privgate.yaml's rules): admitted, told.
	warning := testutil.ReviewerEdited(t, "../examples", strings.NewReplacer("ingressClasses: [nginx]", "ingressClasses: [nginx]\nrules: {class-foreign: warn}"))
	warned := &Handler{Kind: Validate, Reviewer: warning, Log: logr.Discard()}
	realReview, err := os.ReadFile("testdata/create-argocd.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		handler  *Handler
		body     []byte
		allowed  bool
		patchOps int
		message  []string // substrings of the denial
		warnings int
	}{
		{"real review from kube-apiserver is patched", mutate, realReview, true, 5, nil, 0},
		{"bare private ingress patched", mutate, reviewOf(t, "CREATE", "Ingress", "../examples/admitted/argocd-server.yaml"), true, 5, nil, 0},
		{"update is patched too", mutate, reviewOf(t, "UPDATE", "Ingress", "../examples/admitted/grafana.yaml"), true, 4, nil, 0},
		{"mutate never denies", mutate, reviewOf(t, "CREATE", "Ingress", "../examples/denied/grafana-snippet.yaml"), true, 4, nil, 0},
		{"public untouched", mutate, reviewOf(t, "CREATE", "Ingress", "../examples/admitted/public-blog.yaml"), true, 0, nil, 0},
		{"delete allowed at once", validate, reviewOf(t, "DELETE", "Ingress", ""), true, 0, nil, 0},
		{"other kinds allowed at once", validate, reviewOf(t, "CREATE", "ConfigMap", "../examples/privgate.yaml"), true, 0, nil, 0},
		{"snippet denied", validate, reviewOf(t, "CREATE", "Ingress", "../examples/denied/grafana-snippet.yaml"), false, 0,
			[]string{"privgate: Ingress monitoring/grafana-snippet", "[annotation-risky]", "configuration-snippet", "[auth-missing]"}, 0},
		{"wrong group denied with a hint", validate, reviewOf(t, "CREATE", "Ingress", "../examples/denied/prometheus-wrong-group.yaml"), false, 0,
			[]string{"did you mean /developers?"}, 0},
		{"warning travels to kubectl", warned, reviewOf(t, "CREATE", "Ingress", "testdata/headlamp-traefik-mutated.yaml"), true, 0, nil, 1},
		{"exempt allowed", validate, reviewOf(t, "CREATE", "Ingress", "../examples/admitted/oauth2-proxy.yaml"), true, 0, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, out := post(t, c.handler, c.body, "application/json")
			if out == nil {
				t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
			}
			resp := out.Response
			if resp.UID == "" || out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
				t.Errorf("response envelope: %+v", out.TypeMeta)
			}
			if resp.Allowed != c.allowed {
				t.Fatalf("allowed = %v, want %v: %+v", resp.Allowed, c.allowed, resp.Result)
			}
			var ops []map[string]any
			if len(resp.Patch) > 0 {
				if err := json.Unmarshal(resp.Patch, &ops); err != nil {
					t.Fatal(err)
				}
				if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
					t.Error("patch without patchType JSONPatch")
				}
			}
			if len(ops) != c.patchOps {
				t.Errorf("patch has %d ops, want %d: %s", len(ops), c.patchOps, resp.Patch)
			}
			for _, m := range c.message {
				if resp.Result == nil || !strings.Contains(resp.Result.Message, m) {
					t.Errorf("denial does not mention %q: %+v", m, resp.Result)
				}
			}
			if len(resp.Warnings) != c.warnings {
				t.Errorf("warnings %q, want %d", resp.Warnings, c.warnings)
			}
			if !c.allowed && resp.Result.Code != http.StatusForbidden {
				t.Errorf("denial code %d, want 403", resp.Result.Code)
			}
		})
	}
}

// TestPolicyDeletion: a DELETE reaches the core with the stored object (oldObject), and deleting
// the AuthorizationPolicy a published private host relies on is refused, naming the host.
func TestPolicyDeletion(t *testing.T) {
	r := testutil.Reviewer(t, "../policy/istio/testdata/privgate.yaml")
	index := policy.NewIndex()
	var login []byte
	stored, err := os.ReadFile("../policy/istio/testdata/cases/authz-delete-uncovers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(stored), "\n---\n") {
		raw, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		testutil.Store(t, r, index, raw)
		login = raw // the policy is the last document
	}
	r.Cluster = index
	validate := &Handler{Kind: Validate, Reviewer: r, Log: logr.Discard()}
	authz := schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}
	_, out := post(t, validate, testutil.AdmissionReview(t, "DELETE", authz, login), "application/json")
	if out == nil || out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "[authz-uncovers] istio-system/login grafana.private.example.com") {
		t.Fatalf("deletion not refused: %+v", out)
	}
	// Updating it unchanged uncovers nothing.
	_, out = post(t, validate, testutil.AdmissionReview(t, "UPDATE", authz, login), "application/json")
	if out == nil || !out.Response.Allowed {
		t.Fatalf("unchanged update refused: %+v", out)
	}
}

// The patch from the real review, applied as the API server applies it, yields an object that
// the validating webhook admits: the two webhooks agree.
func TestMutateThenValidate(t *testing.T) {
	r := testReviewer(t)
	body, _ := os.ReadFile("testdata/create-argocd.json")
	_, out := post(t, &Handler{Kind: Mutate, Reviewer: r, Log: logr.Discard()}, body, "application/json")
	in := admissionv1.AdmissionReview{}
	_ = json.Unmarshal(body, &in)
	mutated := testutil.ApplyPatch(t, in.Request.Object.Raw, out.Response.Patch)
	if !bytes.Contains(mutated, []byte(`"managedFields"`)) {
		t.Error("the patch must leave managedFields alone")
	}
	in.Request.Object.Raw = mutated
	again, _ := json.Marshal(in)
	_, v := post(t, &Handler{Kind: Validate, Reviewer: r, Log: logr.Discard()}, again, "application/json")
	if !v.Response.Allowed {
		t.Fatalf("mutated object denied: %s", v.Response.Result.Message)
	}
	_, m := post(t, &Handler{Kind: Mutate, Reviewer: r, Log: logr.Discard()}, again, "application/json")
	if len(m.Response.Patch) != 0 {
		t.Fatalf("second mutation patches again: %s", m.Response.Patch)
	}
}

// privateRequest is a judged request (a bare private Ingress) for the envelope cases.
const privateRequest = `{"uid":"1","kind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"},"namespace":"web","operation":"CREATE","object":{"metadata":{"name":"x"},"spec":{"rules":[{"host":"a.private.example.com"}]}}}`

func TestMalformedRequests(t *testing.T) {
	h := &Handler{Kind: Validate, Reviewer: testReviewer(t), Log: logr.Discard()}
	cases := map[string]struct {
		body        string
		contentType string
		status      int
		message     string
	}{
		"not json":   {`{"request":`, "application/json", 400, "malformed AdmissionReview"},
		"no request": {`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, "application/json", 400, "no request"},
		"no uid":     {`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"}}}`, "application/json", 400, "request.uid is empty"},
		"wrong type": {`{"request":"x"}`, "application/json", 400, "malformed AdmissionReview"},
		// Only admission.k8s.io/v1 is asked for (admissionReviewVersions): another envelope is
		// refused, never judged and echoed back.
		"no apiVersion":     {`{"request":` + privateRequest + `}`, "application/json", 400, `apiVersion ""`},
		"v1beta1":           {`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":` + privateRequest + `}`, "application/json", 400, "admission.k8s.io/v1beta1"},
		"other group":       {`{"apiVersion":"evil.io/v1","kind":"AdmissionReview","request":` + privateRequest + `}`, "application/json", 400, "want admission.k8s.io/v1 AdmissionReview"},
		"wrong kind":        {`{"apiVersion":"admission.k8s.io/v1","kind":"ConversionReview","request":` + privateRequest + `}`, "application/json", 400, `kind "ConversionReview"`},
		"kind case":         {`{"apiVersion":"admission.k8s.io/v1","kind":"admissionreview","request":` + privateRequest + `}`, "application/json", 400, `kind "admissionreview"`},
		"wrong contenttype": {`{}`, "text/plain", 415, "application/json"},
		"empty body":        {``, "application/json", 400, "malformed AdmissionReview"},
		// Two etcd-sized objects plus the envelope is the most a real review carries.
		"body over limit": {`{"request":{"uid":"1","object":"` + strings.Repeat("x", maxBody) + `"}}`, "application/json", 413, "body over"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rec, _ := post(t, h, []byte(c.body), c.contentType)
			if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.message) {
				t.Errorf("HTTP %d %q, want %d containing %q", rec.Code, rec.Body, c.status, c.message)
			}
		})
	}
}

// An Ingress object the API server could never have sent still gets a refusal naming it, never
// an allow and never a crash.
func TestBrokenIngressRefused(t *testing.T) {
	r := testReviewer(t)
	body := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1",
	"kind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"},"namespace":"web","name":"x","operation":"CREATE",
	"object":{"metadata":{"name":"x"},"spec":{"rules":"oops"}}}}`)
	for _, kind := range []Kind{Mutate, Validate} {
		_, out := post(t, &Handler{Kind: kind, Reviewer: r, Log: logr.Discard()}, body, "application/json")
		if out == nil || out.Response.Allowed || !strings.Contains(out.Response.Result.Message, "Ingress web/x") {
			t.Errorf("%s: %+v", kind, out)
		}
	}
}

// FuzzHandler feeds arbitrary bodies to the validating webhook: it must answer 4xx or a review,
// never panic, and never allow a private Ingress that the policy would deny.
func FuzzHandler(f *testing.F) {
	seed, _ := os.ReadFile("testdata/create-argocd.json")
	f.Add(seed)
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"group":"networking.k8s.io","version":"v1","kind":"Ingress"},"operation":"CREATE","object":{"spec":{"rules":[{"host":"A.private.example.com"}]}}}}`))
	f.Add([]byte(`{}`))
	h := &Handler{Kind: Validate, Reviewer: testReviewer(f), Log: logr.Discard()}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("HTTP %d for %q", rec.Code, body)
		}
		if rec.Code != http.StatusOK {
			return
		}
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
			t.Fatalf("bad response %s", rec.Body)
		}
		var in admissionv1.AdmissionReview
		_ = json.Unmarshal(body, &in)
		if out.Response.Allowed && in.Request != nil && in.Request.Kind.Kind == "Ingress" &&
			in.Request.Kind.Group == "networking.k8s.io" && in.Request.Kind.Version == "v1" &&
			(in.Request.Operation == admissionv1.Create || in.Request.Operation == admissionv1.Update) &&
			in.Request.Namespace != "kube-system" && in.Request.Namespace != "privgate" {
			// An allowed Ingress must be one the core also allows: no path around the policy.
			d, err := h.Reviewer.Validate(context.Background(), testutil.Request(in.Request))
			if err != nil || !d.Allowed {
				t.Fatalf("webhook allowed what the core refuses (%v): %s", err, body)
			}
		}
	})
}
