package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/privgate/privgate/policy"
)

// Kind says which of the two webhooks a Handler serves.
type Kind string

const (
	Mutate   Kind = "mutate"
	Validate Kind = "validate"
)

// maxBody bounds a request: an AdmissionReview carries at most two objects of etcd's 3 MiB
// limit, plus the envelope (the bound controller-runtime uses too).
const maxBody = 7 << 20

// Handler serves one webhook (/mutate or /validate). It is an http.Handler rather than
// controller-runtime's admission.Webhook because a malformed AdmissionReview must get HTTP 400,
// where admission.Webhook answers 200 with an error inside the body.
type Handler struct {
	Kind     Kind
	Reviewer *policy.Reviewer
	Log      logr.Logger
	// Gate, when set, bounds the requests decided at once (shared by both webhooks).
	Gate *Gate
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	review, status, err := decode(w, r)
	if err != nil {
		observe(h.Kind, "bad-request", start)
		h.Log.Info("rejected malformed admission request", "status", status, "error", err.Error())
		http.Error(w, err.Error(), status)
		return
	}
	resp, result := h.decide(r, review.Request)
	// Complete sets the UID and serializes the patch, as admission.Webhook would.
	if err := resp.Complete(admission.Request{AdmissionRequest: *review.Request}); err != nil {
		resp, result = admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode patch: %w", err)), "error"
		resp.UID = review.Request.UID
	}
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: &resp.AdmissionResponse}
	if out.APIVersion == "" {
		out.TypeMeta = metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}
	}
	body, err := json.Marshal(out)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
	observe(h.Kind, result, start)
}

// decide answers one request once the gate lets it in, or refuses it (429, never allowed) when
// no slot frees up in time. A never-blocked namespace takes no slot: it is answered at once
// without a decision, since shedding it would lock the cluster out of repairing itself exactly
// when privgate is struggling.
func (h *Handler) decide(r *http.Request, req *admissionv1.AdmissionRequest) (admission.Response, string) {
	if !slices.Contains(h.Reviewer.NeverBlock, req.Namespace) {
		if !h.Gate.enter(r) {
			return admission.Errored(http.StatusTooManyRequests, fmt.Errorf("privgate: Ingress %s: privgate is overloaded and could not judge it in time, so it is not admitted; retry", objectName(req))), "shed"
		}
		defer h.Gate.leave()
	}
	return h.respond(r.Context(), req)
}

// bodyTimeout bounds the reading of a request's body: the API server's default webhook timeout.
// The server itself bounds only the headers, and the body is read before the gate, so a client
// sending it slowly holds its own connection and nothing else.
const bodyTimeout = 10 * time.Second

// decode reads an AdmissionReview, or says with which HTTP status it cannot.
func decode(w http.ResponseWriter, r *http.Request) (*admissionv1.AdmissionReview, int, error) {
	if r.Method != http.MethodPost {
		return nil, http.StatusMethodNotAllowed, fmt.Errorf("method %s: an AdmissionReview is POSTed", r.Method)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: an AdmissionReview is application/json", r.Header.Get("Content-Type"))
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", maxBody)
	}
	review := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(body, review); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("malformed AdmissionReview: %w", err)
	}
	switch {
	case review.Request == nil:
		return nil, http.StatusBadRequest, fmt.Errorf("malformed AdmissionReview: no request")
	case review.Request.UID == "":
		return nil, http.StatusBadRequest, fmt.Errorf("malformed AdmissionReview: request.uid is empty")
	}
	return review, 0, nil
}

// readBody reads at most maxBody+1 bytes, within bodyTimeout or the API server's ?timeout=, into
// one buffer sized from Content-Length when the client sends one (the API server does):
// io.ReadAll would grow its buffer five times for a 5 KB review, and that garbage is a fifth of
// a public Ingress's cost. The size is trusted only up to maxPresize: a header alone must not
// reserve megabytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	timeout := bodyTimeout
	if t, ok := apiTimeout(r); ok {
		timeout = min(timeout, t)
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(timeout)) // unsupported only by test recorders
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 {
		buf.Grow(int(min(n, maxPresize)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, maxBody+1)); err != nil {
		// The deadline stays: net/http drains an unread body before it answers, and must give
		// up on this one too.
		return nil, err
	}
	_ = rc.SetReadDeadline(time.Time{})
	return buf.Bytes(), nil
}

// apiTimeout is the time the API server gives the call, from its ?timeout= parameter.
func apiTimeout(r *http.Request) (time.Duration, bool) {
	t, err := time.ParseDuration(r.URL.Query().Get("timeout"))
	return t, err == nil && t > 0
}

// maxPresize is the most readBody allocates before the bytes arrive: the largest reviews seen
// in practice, a few objects with long annotations, fit.
const maxPresize = 64 << 10

// respond decides one request. It never panics into the server: a panic becomes a refusal
// (failing closed), with the cause logged.
func (h *Handler) respond(ctx context.Context, req *admissionv1.AdmissionRequest) (resp admission.Response, result string) {
	defer func() {
		if p := recover(); p != nil {
			h.Log.Error(fmt.Errorf("%v", p), "panic while deciding; refusing the request", "object", objectName(req))
			resp, result = admission.Errored(http.StatusInternalServerError, fmt.Errorf("privgate failed on this request and refuses it to stay safe")), "error"
		}
	}()
	if req.Kind.Group != "networking.k8s.io" || req.Kind.Kind != "Ingress" ||
		(req.Operation != admissionv1.Create && req.Operation != admissionv1.Update) {
		return admission.Allowed(""), "ignored"
	}
	if req.Kind.Version != "v1" {
		return admission.Denied(fmt.Sprintf("privgate: Ingress %s: apiVersion networking.k8s.io/%s is not judged; use networking.k8s.io/v1", objectName(req), req.Kind.Version)), "denied"
	}
	in := policy.Request{
		Operation: string(req.Operation),
		Namespace: req.Namespace,
		Name:      req.Name,
		DryRun:    req.DryRun != nil && *req.DryRun,
		Username:  req.UserInfo.Username,
		Object:    req.Object.Raw,
	}
	if h.Kind == Mutate {
		d, err := h.Reviewer.Mutate(in)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, fmt.Errorf("privgate: Ingress %s: %w", objectName(req), err)), "error"
		}
		if len(d.Patch) == 0 {
			return admission.Allowed(""), "allowed"
		}
		return admission.Patched("", d.Patch...), "patched"
	}
	d, err := h.Reviewer.Validate(ctx, in)
	if err != nil {
		h.Log.Error(err, "cannot judge; refusing", "object", objectName(req))
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("privgate: Ingress %s: %w", objectName(req), err)), "error"
	}
	name := objectName(req)
	var out admission.Response
	if d.Allowed {
		out, result = admission.Allowed(""), "allowed"
	} else {
		out, result = admission.Denied(DenialMessage(name, d.Violations)), "denied"
		h.Log.Info("denied", "object", name, "violations", len(d.Violations), "dryRun", in.DryRun)
	}
	out.Warnings = policy.Messages(name, d.Warnings)
	return out, result
}

// DenialMessage is what kubectl prints after "denied the request: ", and what Argo CD shows as
// the sync error: a headline, then one violation a line.
func DenialMessage(name string, vs []policy.Violation) string {
	lines := policy.Messages(name, vs)
	problems := "problems"
	if len(vs) == 1 {
		problems = "problem"
	}
	return fmt.Sprintf("privgate: Ingress %s exposes private hosts unprotected (%d %s):\n%s", name, len(vs), problems, strings.Join(lines, "\n"))
}

func objectName(req *admissionv1.AdmissionRequest) string {
	name := req.Name
	if name == "" {
		var meta struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if json.Unmarshal(req.Object.Raw, &meta) == nil {
			name = meta.Metadata.Name
			if name == "" {
				name = meta.Metadata.GenerateName + "*"
			}
		}
	}
	return req.Namespace + "/" + name
}
