package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/targets"
	"github.com/privgate/privgate/test/testutil"
)

// fixture is what the three servers are given: privgate's config and groups, the policy and
// data for opa, and the request bodies.
type fixture struct {
	configPath string // privgate.yaml beside a groups file of n groups
	reviewer   *policy.Reviewer
	policyDir  string // the policy privgate serves, without its tests, for opa
	dataPath   string // data.json for opa: config and known groups, as privgate evaluates them

	original *admissionv1.AdmissionReview // the reference, as kubectl sends it (before mutation)
	admit    []byte                       // AdmissionReview for /validate, after mutation: admitted
	deny     []byte                       // the same with a configuration-snippet: denied
	opaAdmit []byte                       // {"input": ...} of admit for opa
	opaDeny  []byte                       // {"input": ...} of deny for opa
}

const (
	admitUID types.UID = "00000000-0000-4000-8000-00000000a0a0"
	denyUID  types.UID = "00000000-0000-4000-8000-00000000dede"
)

// newFixture writes the config with n groups and the policy into dir and builds the reference
// request (issue 7: a private Ingress of 3 hosts naming two groups, ~5 KB with managedFields).
func newFixture(dir, configPath, reviewPath string, n int) (*fixture, error) {
	f := &fixture{configPath: filepath.Join(dir, "privgate.yaml"), policyDir: filepath.Join(dir, "policy"), dataPath: filepath.Join(dir, "data.json")}
	if err := writeConfig(configPath, f.configPath, n); err != nil {
		return nil, err
	}
	var err error
	if f.reviewer, err = testutil.NewReviewer(f.configPath, ""); err != nil {
		return nil, err
	}
	cfg := f.reviewer.Config
	if got := f.reviewer.Groups.Snapshot().Set.Len(); got != n {
		return nil, fmt.Errorf("%s: %d groups, want %d", cfg.Path(cfg.Groups.File), got, n)
	}
	if err := os.MkdirAll(f.policyDir, 0o755); err != nil {
		return nil, err
	}
	for name, src := range policy.DefaultModules(f.reviewer.Targets...) {
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		if err := os.WriteFile(filepath.Join(f.policyDir, name), []byte(src), 0o644); err != nil {
			return nil, err
		}
	}
	if f.original, err = testutil.ReferenceReview(reviewPath, cfg.PrivateDomains[0], cfg.Groups.Annotation); err != nil {
		return nil, err
	}
	_, data, err := f.reviewer.InputDocument(testutil.Request(f.original.Request))
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return f, os.WriteFile(f.dataPath, raw, 0o644)
}

// writeConfig copies the config to path, its groups file replaced by one of n groups: the
// groups the examples use, then /team-NNNNN up to n.
func writeConfig(from, to string, n int) error {
	src, err := targets.LoadConfig(from)
	if err != nil {
		return err
	}
	if src.Groups.Source != policy.SourceFile {
		return fmt.Errorf("%s: groups.source must be file for the load harness", from)
	}
	names, err := groups.ReadFile(src.Path(src.Groups.File), src.Groups.ClaimFormat == policy.ClaimFormatPath)
	if err != nil {
		return err
	}
	for i := len(names); i < n; i++ {
		names = append(names, fmt.Sprintf("/team-%05d", i))
	}
	raw, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	// groups.file is relative to the config, so the copy reads the groups file beside it.
	dir := filepath.Dir(to)
	if err := os.WriteFile(to, raw, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, src.Groups.File), []byte(strings.Join(names[:n], "\n")+"\n"), 0o644)
}

// mutated asks privgate's /mutate for the patch of the reference and applies it, as the API
// server does before it calls /validate. It then builds both request bodies for privgate and,
// from the same objects, opa's inputs.
func (f *fixture) mutated(client *http.Client, base string) error {
	body, err := json.Marshal(f.original)
	if err != nil {
		return err
	}
	var out admissionv1.AdmissionReview
	if err := postJSON(client, base+"/mutate?timeout=5s", body, &out); err != nil {
		return fmt.Errorf("mutate the reference: %w", err)
	}
	if out.Response == nil || !out.Response.Allowed || len(out.Response.Patch) == 0 {
		return fmt.Errorf("mutate the reference: want an allowed response with a patch, got %+v", out.Response)
	}
	obj, err := testutil.ApplyPatchJSON(f.original.Request.Object.Raw, out.Response.Patch)
	if err != nil {
		return fmt.Errorf("apply the reference's patch: %w", err)
	}
	ing := &networkingv1.Ingress{}
	if err := json.Unmarshal(obj, ing); err != nil {
		return err
	}
	// The annotation prefix is the Ingress target's setting, read as its policy reads it.
	var settings struct {
		AnnotationPrefix string `json:"annotationPrefix"`
	}
	if b, err := json.Marshal(f.reviewer.Config); err != nil || json.Unmarshal(b, &settings) != nil {
		return fmt.Errorf("read the config's annotationPrefix: %v", err)
	}
	bad := ing.DeepCopy()
	bad.Annotations[settings.AnnotationPrefix+"/configuration-snippet"] = `more_set_headers "X-Debug: 1";`
	if f.admit, f.opaAdmit, err = f.bodies(ing, admitUID); err != nil {
		return err
	}
	f.deny, f.opaDeny, err = f.bodies(bad, denyUID)
	return err
}

// bodies returns the AdmissionReview for privgate's /validate and opa's {"input": ...} for one
// Ingress; opa's input is exactly the document privgate's policy evaluates.
func (f *fixture) bodies(ing *networkingv1.Ingress, uid types.UID) (review, opaInput []byte, err error) {
	obj, err := json.Marshal(ing)
	if err != nil {
		return nil, nil, err
	}
	r := f.original.DeepCopy()
	r.Request.UID = uid
	r.Request.Object.Raw = obj
	if review, err = json.Marshal(r); err != nil {
		return nil, nil, err
	}
	input, _, err := f.reviewer.InputDocument(testutil.Request(r.Request))
	if err != nil {
		return nil, nil, err
	}
	opaInput, err = json.Marshal(map[string]any{"input": input})
	return review, opaInput, err
}

// postJSON POSTs body and decodes a 200 answer into out.
func postJSON(client *http.Client, url string, body []byte, out any) error {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, bytes.TrimSpace(raw))
	}
	return json.Unmarshal(raw, out)
}
