package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// MaxBody is the largest request body privgate reads (the API server's limit).
const MaxBody = maxBody

// Handler serves one webhook (/mutate or /validate). Its decision is controller-runtime's
// admission.Handler contract (Handle); ServeHTTP is its own rather than admission.Webhook's
// because a malformed AdmissionReview must get HTTP 400, where admission.Webhook answers 200
// with an error inside the body, and because the admission gate must sit between reading the
// body and deciding. Either way the body is decoded once.
type Handler struct {
	Kind     Kind
	Reviewer *policy.Reviewer
	Log      logr.Logger
	// Gate, when set, bounds the requests decided at once (shared by both webhooks).
	Gate *Gate
}

var _ admission.Handler = (*Handler)(nil)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r = waitsFrom(r, start)
	status, err := checkRequest(r)
	if err == nil {
		// The body's bytes are charged before it is read (budget.go), and given back once the
		// answer is written.
		release, ok := h.Gate.reserve(r)
		if !ok {
			observe(h.Kind, "shed", start)
			h.Log.V(1).Info("shed before reading: no room for the body in time", "contentLength", r.ContentLength)
			// No body, so no UID to answer in an AdmissionReview: a plain 429 is a failed call,
			// and the webhook's failurePolicy (Fail for what privgate protects) refuses the object.
			http.Error(w, "privgate is overloaded and could not read this request in time, so it is not admitted; retry", http.StatusTooManyRequests)
			return
		}
		defer release()
	}
	var body []byte
	if err == nil {
		body, status, err = readReview(w, r, h.Gate != nil && h.Gate.bytes != nil)
	}
	var a answer
	if err == nil {
		a = h.gated(r, body)
		status, err = a.status, a.err
	}
	if err != nil {
		observe(h.Kind, "bad-request", start)
		h.Log.Info("rejected malformed admission request", "status", status, "error", err.Error())
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(a.body)
	observe(h.Kind, a.result, start)
}

// answer is what ServeHTTP sends: the encoded AdmissionReview and its result for the metrics, or
// the HTTP status and error of a request that is not a well-formed AdmissionReview.
type answer struct {
	body   []byte
	result string
	status int
	err    error
}

// gated answers body once the gate lets it in, or refuses it (429, never allowed) when no slot
// frees up in time. A never-intercepted namespace never waits for a slot (it uses a free one, if
// any, for the microseconds it takes): shedding it would lock the cluster out of repairing itself
// exactly when privgate is struggling.
//
// A request that must wait has only its namespace read (peekNamespace) and waits holding its
// body alone; it is decoded and decided once in, on the gate's goroutine (Gate.decide). With
// hundreds of connections queueing, what each holds while it waits is most of privgate's memory.
func (h *Handler) gated(r *http.Request, body []byte) answer {
	if !h.Gate.tryEnter() {
		if ns, ok := peekNamespace(body); !ok || !h.Reviewer.Intercepts(ns) {
			return h.respond(r.Context(), body, false) // malformed, or never intercepted: at once
		}
		if !h.Gate.wait(r) {
			return h.respond(r.Context(), body, true)
		}
	}
	defer h.Gate.leave()
	return h.Gate.decide(func() answer { return h.respond(r.Context(), body, false) })
}

// respond decodes an AdmissionReview, decides it (or sheds it) and encodes the answer.
func (h *Handler) respond(ctx context.Context, body []byte, shed bool) answer {
	review, status, err := decode(body)
	if err != nil {
		return answer{status: status, err: err}
	}
	req := admission.Request{AdmissionRequest: *review.Request}
	var resp admission.Response
	if shed {
		resp = admission.Errored(http.StatusTooManyRequests, fmt.Errorf("privgate: %s %s: privgate is overloaded and could not judge it in time, so it is not admitted; retry", req.Kind.Kind, objectName(req.AdmissionRequest)))
	} else {
		resp = h.Handle(ctx, req)
	}
	// Complete sets the UID and serializes the patch, as admission.Webhook would.
	if err := resp.Complete(req); err != nil {
		resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode patch: %w", err))
		resp.UID = req.UID
	}
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: &resp.AdmissionResponse}
	b, err := json.Marshal(out)
	if err != nil {
		return answer{status: http.StatusInternalServerError, err: fmt.Errorf("encode response: %w", err)}
	}
	return answer{body: b, result: result(resp)}
}

// peekNamespace reads only request.namespace of an AdmissionReview, for the gate: the little
// struct leaves the rest of the review unread and nothing of it alive.
func peekNamespace(body []byte) (string, bool) {
	var peek struct {
		Request *struct {
			Namespace string `json:"namespace"`
		} `json:"request"`
	}
	if json.Unmarshal(body, &peek) != nil || peek.Request == nil {
		return "", false
	}
	return peek.Request.Namespace, true
}

// bodyTimeout bounds the reading of a request's body: the API server's default webhook timeout.
// The server itself bounds only the headers, and the body is read before the gate, so a client
// sending it slowly holds its own connection and nothing else.
const bodyTimeout = 10 * time.Second

// checkRequest refuses, from its headers alone, a request that cannot be an AdmissionReview.
func checkRequest(r *http.Request) (int, error) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, fmt.Errorf("method %s: an AdmissionReview is POSTed", r.Method)
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: an AdmissionReview is application/json", r.Header.Get("Content-Type"))
	}
	if r.ContentLength > maxBody {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", maxBody)
	}
	return 0, nil
}

// readReview reads the body of an AdmissionReview request, or says with which HTTP status it
// cannot.
func readReview(w http.ResponseWriter, r *http.Request, charged bool) ([]byte, int, error) {
	body, err := readBody(w, r, charged)
	if err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", maxBody)
	}
	return body, 0, nil
}

// decode parses an AdmissionReview, or says with which HTTP status it cannot.
func decode(body []byte) (*admissionv1.AdmissionReview, int, error) {
	review := &admissionv1.AdmissionReview{}
	if err := json.Unmarshal(body, review); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("malformed AdmissionReview: %w", err)
	}
	switch {
	case review.APIVersion != admissionv1.SchemeGroupVersion.String() || review.Kind != "AdmissionReview":
		// The webhook configurations ask for admission.k8s.io/v1 only: anything else was not
		// sent by the API server, and judging it would echo an envelope nobody asked for.
		return nil, http.StatusBadRequest, fmt.Errorf("malformed AdmissionReview: apiVersion %q kind %q, want admission.k8s.io/v1 AdmissionReview", review.APIVersion, review.Kind)
	case review.Request == nil:
		return nil, http.StatusBadRequest, fmt.Errorf("malformed AdmissionReview: no request")
	case review.Request.UID == "":
		return nil, http.StatusBadRequest, fmt.Errorf("malformed AdmissionReview: request.uid is empty")
	}
	return review, 0, nil
}

// readBody reads at most maxBody+1 bytes, within bodyTimeout or the API server's ?timeout=. When
// the client sends Content-Length (the API server does), the body is read into one buffer of
// exactly that size: io.ReadAll would grow its buffer five times for a 5 KB review, and that
// garbage is a fifth of a public Ingress's cost; and a request waiting at the gate holds its body,
// so under hundreds of connections every spare KB counts. net/http ends the body at
// Content-Length. The size is trusted up to maxBody when the gate has charged it (the header
// cannot reserve more than the budget), else only up to maxPresize.
func readBody(w http.ResponseWriter, r *http.Request, charged bool) ([]byte, error) {
	timeout := bodyTimeout
	if t, ok := apiTimeout(r); ok {
		timeout = min(timeout, t)
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(timeout)) // unsupported only by test recorders
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && (n <= maxPresize || n <= maxBody && charged) {
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	}
	if err != nil {
		// The deadline stays: net/http drains an unread body before it answers, and must give
		// up on this one too.
		return nil, err
	}
	_ = rc.SetReadDeadline(time.Time{})
	return body, nil
}

// apiTimeout is the time the API server gives the call, from its ?timeout= parameter.
func apiTimeout(r *http.Request) (time.Duration, bool) {
	t, err := time.ParseDuration(r.URL.Query().Get("timeout"))
	return t, err == nil && t > 0
}

// maxPresize is the most readBody allocates before the bytes arrive: the largest reviews seen
// in practice, a few objects with long annotations, fit.
const maxPresize = 64 << 10

// Handle decides one request through the core. It never panics into the server: a panic
// becomes a refusal (failing closed), with the cause logged.
func (h *Handler) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	name := objectName(req.AdmissionRequest)
	kind := req.Kind.Kind
	defer func() {
		if p := recover(); p != nil {
			h.Log.Error(fmt.Errorf("%v", p), "panic while deciding; refusing the request", "object", name)
			resp = admission.Errored(http.StatusInternalServerError, errors.New("privgate failed on this request and refuses it to stay safe"))
		}
	}()
	in := policy.Request{
		Kind:      schema.GroupVersionKind(req.Kind),
		Operation: string(req.Operation),
		Namespace: req.Namespace,
		Name:      req.Name,
		DryRun:    req.DryRun != nil && *req.DryRun,
		Username:  req.UserInfo.Username,
		Object:    req.Object.Raw,
		OldObject: req.OldObject.Raw,
	}
	var d policy.Decision
	var err error
	if h.Kind == Mutate {
		d, err = h.Reviewer.Mutate(in)
	} else {
		d, err = h.Reviewer.Validate(ctx, in)
	}
	switch {
	case err != nil:
		h.Log.Info("cannot judge; refusing", "object", name, "error", err.Error())
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("privgate: %s %s: %w", kind, name, err))
	case d.Skipped:
		return admission.Allowed(ignoredReason)
	case !d.Allowed:
		h.Log.Info("denied", "object", name, "violations", len(d.Violations), "dryRun", in.DryRun)
		resp = admission.Denied(DenialMessage(kind, name, d))
	case len(d.Patch) > 0:
		resp = admission.Patched("", d.Patch...)
	default:
		resp = admission.Allowed("")
	}
	resp.Warnings = policy.Messages(name, d.Warnings)
	return resp
}

// ignoredReason answers what the core does not judge; result() tells it from an allow by it.
const ignoredReason = "not judged by privgate"

// result names an answer for the metrics.
func result(r admission.Response) string {
	switch {
	case r.Result != nil && r.Result.Code == http.StatusTooManyRequests:
		return "shed"
	case r.Result != nil && r.Result.Code >= 400 && r.Result.Code != http.StatusForbidden:
		return "error"
	case !r.Allowed:
		return "denied"
	case len(r.Patches) > 0 || len(r.Patch) > 0:
		return "patched"
	case r.Result != nil && r.Result.Message == ignoredReason:
		return "ignored"
	}
	return "allowed"
}

// DenialMessage is what kubectl prints after "denied the request: ", and what Argo CD shows as
// the sync error: a headline, then one violation a line.
func DenialMessage(kind, name string, d policy.Decision) string {
	lines := policy.Messages(name, d.Violations)
	problems := "problems"
	if len(d.Violations) == 1 {
		problems = "problem"
	}
	return fmt.Sprintf("privgate: %s %s %s (%d %s):\n%s", kind, name, d.Refusal, len(d.Violations), problems, strings.Join(lines, "\n"))
}

func objectName(req admissionv1.AdmissionRequest) string {
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
	return policy.ObjectName(req.Namespace, name)
}
