// Package webhook adapts HTTP admission requests to the policy core: it decodes the
// AdmissionReview, calls policy.Reviewer, and encodes the answer. It holds no policy.
package webhook
