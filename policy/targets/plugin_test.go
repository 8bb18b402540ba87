package targets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/privgate/privgate/audit"
	"github.com/privgate/privgate/groups"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/policy/targets"
	"github.com/privgate/privgate/test/testutil"
	"github.com/privgate/privgate/webhook"
)

// A target of the test's own, registered beside the real ones without touching a core file:
// ConfigMaps naming a host in data.host must say data.login: "yes", unless their section's
// trusted namespace holds them; a ConfigMap may name the "login" ConfigMap of its namespace, read
// from the Cluster. The proof that the core and the doors read everything from a target's
// declarations: its config section is decoded, validated and handed to its Rego, its rule modes
// apply, its input fields reach the policy, its stored kind is read, and check's path, the
// webhook and the audit give one verdict.

type noteSettings struct {
	Trusted   string                 `json:"trusted"`
	RuleModes map[string]policy.Mode `json:"rules,omitempty"`
}

func (*noteSettings) Key() string                     { return "note" }
func (s *noteSettings) Rules() map[string]policy.Mode { return s.RuleModes }
func (s *noteSettings) Default(*policy.Config)        {}
func (s *noteSettings) Validate(_ *policy.Config, fld *field.Path) field.ErrorList {
	if s.Trusted == "" {
		return field.ErrorList{policy.Problem(fld.Child("trusted"), "required")}
	}
	return nil
}

var configMapKind = corev1.SchemeGroupVersion.WithKind("ConfigMap")

type noteTarget struct{ cfg *policy.Config }

func (*noteTarget) Name() string                        { return "note" }
func (*noteTarget) Kinds() []schema.GroupVersionKind    { return []schema.GroupVersionKind{configMapKind} }
func (*noteTarget) Retired() []schema.GroupVersionKind  { return nil }
func (*noteTarget) Package() string                     { return "privgate.note" }
func (*noteTarget) Modules() policy.Modules             { return noteModules() }
func (*noteTarget) SurelyPublic([]byte) bool            { return false }
func (*noteTarget) Quiet() string                       { return "names no host" }
func (*noteTarget) Reads() []policy.Kind                { return []policy.Kind{{GVK: configMapKind, Judged: true}} }
func (*noteTarget) AddToScheme(s *runtime.Scheme) error { return corev1.AddToScheme(s) }
func (t *noteTarget) Typed(_ schema.GroupVersionKind, raw []byte) (runtime.Object, error) {
	cm := &corev1.ConfigMap{}
	return cm, json.Unmarshal(raw, cm)
}
func (t *noteTarget) Decode(raw []byte) (policy.Object, error) {
	cm := &corev1.ConfigMap{}
	if err := json.Unmarshal(raw, cm); err != nil {
		return nil, err
	}
	return &note{cm, t}, nil
}

func noteModules() policy.Modules {
	return policy.Modules{"note.rego": `package privgate.note

import rego.v1

deny contains {"id": "note-login", "host": h.host, "field": "data.login", "message": msg} if {
	some h in input.hosts
	h.private
	input.request.namespace != data.privgate.config.note.trusted
	input.object.data.login != "yes"
	not input.loginStored
	msg := "names a private host without login; set data.login: yes"
}
`}
}

type note struct {
	*corev1.ConfigMap
	t *noteTarget
}

type noteInput struct {
	LoginStored bool `json:"loginStored"`
}

func (n *note) Namespace() string                         { return n.ConfigMap.Namespace }
func (n *note) Name() string                              { return n.ConfigMap.Name }
func (n *note) JSON() ([]byte, error)                     { return json.Marshal(n.ConfigMap) }
func (n *note) Mutate(policy.Facts) (policy.Object, bool) { return nil, false }
func (n *note) Facts(string) policy.Facts {
	f := policy.Facts{Input: &noteInput{}}
	if h := policy.NormalizeHost(n.Data["host"]); h != "" {
		f.Hosts = []policy.HostFact{{Host: h, Field: "data.host", Private: n.t.cfg.Zones().Private(h), TLS: true}}
	}
	return f
}

// Relate: a stored ConfigMap "login" in the same namespace with data.login: yes protects it.
func (n *note) Relate(c policy.Cluster, in *policy.Input) {
	if c == nil {
		return
	}
	if login, ok := c.Get(configMapKind.GroupKind(), n.ConfigMap.Namespace, "login").(*corev1.ConfigMap); ok && login.Data["login"] == "yes" {
		in.Target.(*noteInput).LoginStored = true
	}
}

var notePlugin = policy.Plugin{
	Name:    "note",
	Section: func() policy.Section { return &noteSettings{} },
	New:     func(cfg *policy.Config) policy.Target { return &noteTarget{cfg} },
	Modules: noteModules,
}

func noteReviewer(t *testing.T, section string) (*policy.Reviewer, error) {
	t.Helper()
	data, err := os.ReadFile("../testdata/privgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plugins := append(targets.Plugins(), notePlugin)
	path, _ := filepath.Abs("../testdata/privgate.yaml")
	cfg, err := policy.ParseConfig(path, append(data, []byte("\n"+section)...), plugins...)
	if err != nil {
		return nil, err
	}
	var ts []policy.Target
	for _, p := range plugins {
		if tg := p.New(cfg); tg != nil {
			ts = append(ts, tg)
		}
	}
	engine, err := policy.NewEngine(context.Background(), cfg, "", ts...)
	if err != nil {
		t.Fatal(err)
	}
	return &policy.Reviewer{Config: cfg, Engine: engine, Groups: groups.NewStatic(nil), Targets: ts, NeverIntercepted: []string{"kube-system"}}, nil
}

func configMap(ns, name, host, login string) []byte {
	b, _ := json.Marshal(corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string]string{"host": host, "login": login},
	})
	return b
}

func TestAPluginOfItsOwn(t *testing.T) {
	if _, err := noteReviewer(t, "note: {}"); err == nil || !strings.Contains(err.Error(), "note.trusted: required") {
		t.Fatalf("the section's own validation: got %v", err)
	}
	if _, err := noteReviewer(t, "note: {trusted: ops, trustd: x}"); err == nil || !strings.Contains(err.Error(), "note.trustd: unknown key") {
		t.Fatalf("the section's unknown keys: got %v", err)
	}
	ctx := context.Background()
	cases := map[string]struct {
		section  string
		stored   []byte // in the Cluster
		obj      []byte
		deny     string
		warn     string
		headline string
	}{
		"denied":                       {"note: {trusted: ops}", nil, configMap("web", "a", "app.private.example.com", "no"), "note-login", "", "ConfigMap web/a is refused"},
		"login written":                {"note: {trusted: ops}", nil, configMap("web", "a", "app.private.example.com", "yes"), "", "", ""},
		"public host":                  {"note: {trusted: ops}", nil, configMap("web", "a", "app.example.com", "no"), "", "", ""},
		"its section read by its Rego": {"note: {trusted: web}", nil, configMap("web", "a", "app.private.example.com", "no"), "", "", ""},
		"its rule modes":               {"note: {trusted: ops, rules: {note-login: warn}}", nil, configMap("web", "a", "app.private.example.com", "no"), "", "note-login", ""},
		"a stored object it reads":     {"note: {trusted: ops}", configMap("web", "login", "", "yes"), configMap("web", "a", "app.private.example.com", "no"), "", "", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := noteReviewer(t, c.section)
			if err != nil {
				t.Fatal(err)
			}
			x := policy.NewIndex()
			if c.stored != nil {
				if err := r.Store(x, configMapKind, "", time.Time{}, c.stored); err != nil {
					t.Fatal(err)
				}
			}
			r.Cluster = x
			// check's door: mutate, then validate.
			d, err := r.Review(ctx, policy.Request{Kind: configMapKind, Operation: "CREATE", Namespace: "web", Object: c.obj})
			if err != nil {
				t.Fatal(err)
			}
			if got := testutil.IDs(d.Violations); got != c.deny {
				t.Errorf("check: denied %q, want %q", got, c.deny)
			}
			if got := testutil.IDs(d.Warnings); got != c.warn {
				t.Errorf("check: warned %q, want %q", got, c.warn)
			}
			// The webhook's door, as the API server calls it.
			h := &webhook.Handler{Kind: webhook.Validate, Reviewer: r, Log: logr.Discard()}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/validate", bytes.NewReader(testutil.AdmissionReview(t, "CREATE", configMapKind, c.obj)))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
				t.Fatalf("webhook answered %d %s", rec.Code, rec.Body)
			}
			if review.Response.Allowed != (c.deny == "") {
				t.Errorf("webhook: allowed %v, want denied %q", review.Response.Allowed, c.deny)
			}
			if c.headline != "" && !strings.Contains(review.Response.Result.Message, c.headline) {
				t.Errorf("webhook message %q does not say %q", review.Response.Result.Message, c.headline)
			}
			// The audit's door, on the object as stored.
			stored := &corev1.ConfigMap{}
			if err := json.Unmarshal(c.obj, stored); err != nil {
				t.Fatal(err)
			}
			v := audit.Judge(ctx, r, configMapKind, stored)
			if got := testutil.IDs(v.Decision.Violations); v.Err != nil || got != c.deny {
				t.Errorf("audit: denied %q (%v), want %q", got, v.Err, c.deny)
			}
		})
	}
}
