package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	arv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const (
	testNamespace = "privgate"
	testSecret    = "privgate-tls"
)

var (
	secretsGVR    = corev1.SchemeGroupVersion.WithResource("secrets")
	mutatingGVR   = arv1.SchemeGroupVersion.WithResource("mutatingwebhookconfigurations")
	validatingGVR = arv1.SchemeGroupVersion.WithResource("validatingwebhookconfigurations")
)

type testClock struct{ t atomic.Int64 }

func newClock() *testClock {
	c := &testClock{}
	c.t.Store(time.Now().UnixNano())
	return c
}

func (c *testClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *testClock) advance(d time.Duration) { c.t.Add(int64(d)) }

// apiServer holds one cluster's objects; every replica gets a client of its own over them, as
// two pods each talk to the one API server, so that each replica's requests can be counted and
// intercepted apart. The fake tracker neither sets nor checks resourceVersion on Secrets; the
// clients do it here as the API server does, since optimistic concurrency is what lets replicas
// settle on one Secret.
type apiServer struct {
	tracker k8stesting.ObjectTracker
	version atomic.Int64
}

func newAPIServer(objects ...runtime.Object) *apiServer {
	return &apiServer{tracker: fake.NewClientset(objects...).Tracker()}
}

func (s *apiServer) client() *fake.Clientset {
	c := &fake.Clientset{}
	c.AddReactor("create", "secrets", s.writeSecret)
	c.AddReactor("update", "secrets", s.writeSecret)
	c.AddReactor("*", "*", k8stesting.ObjectReaction(s.tracker))
	return c
}

func (s *apiServer) writeSecret(action k8stesting.Action) (bool, runtime.Object, error) {
	secret := action.(interface{ GetObject() runtime.Object }).GetObject().(*corev1.Secret).DeepCopy()
	if action.GetVerb() == "create" {
		secret.ResourceVersion = strconv.FormatInt(s.version.Add(1), 10)
		return true, secret, s.tracker.Create(secretsGVR, secret, secret.Namespace)
	}
	current, err := s.secret()
	if err != nil {
		return true, nil, err
	}
	if current.ResourceVersion != secret.ResourceVersion {
		return true, nil, apierrors.NewConflict(secretsGVR.GroupResource(), secret.Name, errors.New("the object has been modified"))
	}
	secret.ResourceVersion = strconv.FormatInt(s.version.Add(1), 10)
	return true, secret, s.tracker.Update(secretsGVR, secret, secret.Namespace)
}

// secret reads the Secret past every client, so that no replica's requests are counted.
func (s *apiServer) secret() (*corev1.Secret, error) {
	obj, err := s.tracker.Get(secretsGVR, testNamespace, testSecret)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Secret), nil
}

func (s *apiServer) mustSecret(t *testing.T) *corev1.Secret {
	t.Helper()
	secret, err := s.secret()
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// caBundles lists the caBundle of each webhook of a configuration, in order.
func (s *apiServer) caBundles(t *testing.T, gvr schema.GroupVersionResource, name string) [][]byte {
	t.Helper()
	obj, err := s.tracker.Get(gvr, "", name)
	if err != nil {
		t.Fatal(err)
	}
	var bundles [][]byte
	switch c := obj.(type) {
	case *arv1.MutatingWebhookConfiguration:
		for _, w := range c.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
	case *arv1.ValidatingWebhookConfiguration:
		for _, w := range c.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
	}
	return bundles
}

func mutating(name string, hooks ...string) *arv1.MutatingWebhookConfiguration {
	c := &arv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, h := range hooks {
		c.Webhooks = append(c.Webhooks, arv1.MutatingWebhook{Name: h})
	}
	return c
}

func validating(name string, hooks ...string) *arv1.ValidatingWebhookConfiguration {
	c := &arv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, h := range hooks {
		c.Webhooks = append(c.Webhooks, arv1.ValidatingWebhook{Name: h})
	}
	return c
}

// installed is privgate's two configurations plus someone else's, which privgate must not touch.
func installed() []runtime.Object {
	return []runtime.Object{
		mutating("privgate", "mutate.privgate.io"), validating("privgate", "validate.privgate.io"),
		mutating("someone-else", "mutate.example.org"), validating("someone-else", "validate.example.org"),
	}
}

func newReplica(client *fake.Clientset, clk *testClock, log logr.Logger, extraSANs ...string) *SelfManaged {
	return NewSelfManaged(SelfManagedOptions{
		Client: client, Namespace: testNamespace, SecretName: testSecret, WebhookConfiguration: "privgate",
		SANs: extraSANs, CertValidity: 3 * time.Hour, CAValidity: 30 * time.Hour, Now: clk.now, Log: log,
	})
}

func reconcile(t *testing.T, s *SelfManaged) {
	t.Helper()
	if _, err := s.Reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func logTo(b *strings.Builder) logr.Logger {
	return funcr.New(func(_, args string) { b.WriteString(args + "\n") }, funcr.Options{})
}

func served(t *testing.T, s *SelfManaged) *x509.Certificate {
	t.Helper()
	if err := s.Ready(); err != nil {
		t.Fatal(err)
	}
	c, _ := s.GetCertificate(&tls.ClientHelloInfo{})
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	return leaf
}

func stored(t *testing.T, secret *corev1.Secret) *x509.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	return leaf
}

// writes lists a client's requests other than reads, as "verb resource".
func writes(c *fake.Clientset) []string {
	var out []string
	for _, a := range c.Actions() {
		if v := a.GetVerb(); v != "get" && v != "list" && v != "watch" {
			out = append(out, v+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestReplicasSettleOnOneSecret(t *testing.T) {
	cases := map[string]struct {
		// race runs the first replica while the second is between reading the Secret and writing it.
		race        bool
		dueRenewal  time.Duration
		wantFirst   []string
		wantSecond  []string
		wantRenewed bool
	}{
		"the second starts after the first": {
			wantFirst: []string{"create secrets", "patch mutatingwebhookconfigurations", "patch validatingwebhookconfigurations"},
		},
		"both find no Secret; the second's create loses": {
			race:       true,
			wantFirst:  []string{"create secrets", "patch mutatingwebhookconfigurations", "patch validatingwebhookconfigurations"},
			wantSecond: []string{"create secrets"}, // AlreadyExists, then it reads the first's
		},
		"both find the Secret due for renewal; the second's update loses": {
			race: true, dueRenewal: 2*time.Hour + time.Minute, wantRenewed: true,
			wantFirst:  []string{"update secrets"},
			wantSecond: []string{"update secrets"}, // Conflict, then it reads the renewed one
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			api, clk := newAPIServer(installed()...), newClock()
			firstClient, secondClient := api.client(), api.client()
			first, second := newReplica(firstClient, clk, logr.Discard()), newReplica(secondClient, clk, logr.Discard())
			var before *x509.Certificate
			if c.dueRenewal > 0 {
				reconcile(t, first)
				before = served(t, first)
				clk.advance(c.dueRenewal)
				firstClient.ClearActions()
			}
			if c.race {
				raced := false
				secondClient.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
					if raced {
						return false, nil, nil
					}
					raced = true
					secret, err := api.secret() // what the second sees, before the first writes
					if _, err := first.Reconcile(context.Background()); err != nil {
						t.Error(err)
					}
					return true, secret, err
				})
			} else {
				reconcile(t, first)
			}
			reconcile(t, second)

			want := stored(t, api.mustSecret(t))
			if !served(t, first).Equal(want) || !served(t, second).Equal(want) {
				t.Error("the replicas do not both serve the stored certificate")
			}
			if c.wantRenewed && want.Equal(before) {
				t.Error("not renewed")
			}
			if got := writes(firstClient); !slices.Equal(got, c.wantFirst) {
				t.Errorf("first replica wrote %q, want %q", got, c.wantFirst)
			}
			if got := writes(secondClient); !slices.Equal(got, c.wantSecond) {
				t.Errorf("second replica wrote %q, want %q", got, c.wantSecond)
			}
		})
	}
}

func TestSecretLifecycle(t *testing.T) {
	type caWant int
	const (
		sameCA caWant = iota
		newCA
		newCAKeepingOld
	)
	corrupt := func(key string) func(*testing.T, *apiServer, *testClock) {
		return func(t *testing.T, api *apiServer, _ *testClock) {
			secret := api.mustSecret(t)
			secret.Data[key] = []byte("garbage")
			if err := api.tracker.Update(secretsGVR, secret, testNamespace); err != nil {
				t.Fatal(err)
			}
		}
	}
	advance := func(d time.Duration) func(*testing.T, *apiServer, *testClock) {
		return func(_ *testing.T, _ *apiServer, clk *testClock) { clk.advance(d) }
	}
	cases := map[string]struct {
		change    func(*testing.T, *apiServer, *testClock)
		extraSANs []string // of the replica that reconciles after the change
		wantLog   string   // empty: the Secret is kept as it is
		wantCA    caWant
	}{
		"valid: kept as it is": {},
		"serving certificate at two thirds of its life: renewed from the same CA": {
			change:  advance(2*time.Hour + time.Minute),
			wantLog: "serving certificate at two thirds of its lifetime: renewing",
		},
		"serving certificate lacks a name this replica needs: reissued from the same CA": {
			extraSANs: []string{"privgate.example.org"},
			wantLog:   "serving certificate invalid for privgate.example.org: reissuing",
		},
		"corrupt serving certificate: reissued from the same CA": {
			change:  corrupt(corev1.TLSCertKey),
			wantLog: "corrupt serving certificate: regenerating",
		},
		"corrupt CA key: a new CA, the old one dropped": {
			change:  corrupt(keyCAKey),
			wantLog: "corrupt or missing CA: regenerating",
			wantCA:  newCA,
		},
		"CA at two thirds of its life: a new CA first, the old one kept in the bundle": {
			change:  advance(20*time.Hour + time.Minute),
			wantLog: caRenewal,
			wantCA:  newCAKeepingOld,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			api, clk := newAPIServer(installed()...), newClock()
			var logs strings.Builder
			reconcile(t, newReplica(api.client(), clk, logr.Discard()))
			before := api.mustSecret(t)
			if c.change != nil {
				c.change(t, api, clk)
			}
			client := api.client()
			replica := newReplica(client, clk, logTo(&logs), c.extraSANs...)
			reconcile(t, replica)

			after := api.mustSecret(t)
			leaf := served(t, replica)
			if !leaf.Equal(stored(t, after)) {
				t.Error("serves another certificate than the Secret's")
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(after.Data[keyCACert])
			for _, san := range replica.opts.SANs {
				if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: san, CurrentTime: clk.now()}); err != nil {
					t.Errorf("serving certificate for %s: %v", san, err)
				}
			}
			if c.wantLog == "" {
				if got := writes(client); len(got) != 0 {
					t.Errorf("wrote %q to a valid Secret", got)
				}
			} else {
				if !strings.Contains(logs.String(), c.wantLog) {
					t.Errorf("log lacks %q:\n%s", c.wantLog, logs.String())
				}
				if leaf.Equal(stored(t, before)) {
					t.Error("serving certificate not rewritten")
				}
			}
			oldCA, newFirst := firstPEM(before.Data[keyCACert]), firstPEM(after.Data[keyCACert])
			kept := bytes.Contains(after.Data[keyCACert], oldCA)
			switch c.wantCA {
			case sameCA:
				if !bytes.Equal(newFirst, oldCA) {
					t.Error("CA replaced, want it kept")
				}
			case newCA:
				if bytes.Equal(newFirst, oldCA) || kept {
					t.Error("want a new CA alone in the bundle")
				}
			case newCAKeepingOld:
				if bytes.Equal(newFirst, oldCA) || !kept {
					t.Error("want a new CA first and the old one after it")
				}
			}
			for _, bundle := range append(api.caBundles(t, mutatingGVR, "privgate"), api.caBundles(t, validatingGVR, "privgate")...) {
				if !bytes.Equal(bundle, after.Data[keyCACert]) {
					t.Error("caBundle does not follow the Secret's CA")
				}
			}
		})
	}
}

func TestLostRaceRetried(t *testing.T) {
	conflict := apierrors.NewConflict(secretsGVR.GroupResource(), testSecret, errors.New("the object has been modified"))
	exists := apierrors.NewAlreadyExists(secretsGVR.GroupResource(), testSecret)
	forbidden := apierrors.NewForbidden(secretsGVR.GroupResource(), testSecret, errors.New("no"))
	cases := map[string]struct {
		verb       string // the write that fails
		err        error
		times      int // how many times in a row; -1: always
		wantWrites int // retry.DefaultRetry makes five attempts at most
		wantErr    string
	}{
		"update conflicts once":       {verb: "update", err: conflict, times: 1, wantWrites: 2},
		"create finds it exists once": {verb: "create", err: exists, times: 1, wantWrites: 2},
		"update conflicts four times": {verb: "update", err: conflict, times: 4, wantWrites: 5},
		"update conflicts every time": {verb: "update", err: conflict, times: -1, wantWrites: 5, wantErr: "secret privgate/privgate-tls kept changing under concurrent writers: update secret privgate/privgate-tls: Operation cannot be fulfilled"},
		"forbidden update: no retry":  {verb: "update", err: forbidden, times: 1, wantWrites: 1, wantErr: "update secret privgate/privgate-tls: secrets \"privgate-tls\" is forbidden"},
		"forbidden create: no retry":  {verb: "create", err: forbidden, times: 1, wantWrites: 1, wantErr: "create secret privgate/privgate-tls: secrets \"privgate-tls\" is forbidden"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			api, clk := newAPIServer(installed()...), newClock()
			if c.verb == "update" { // a Secret due for renewal, so that the replica updates it
				reconcile(t, newReplica(api.client(), clk, logr.Discard()))
				clk.advance(2*time.Hour + time.Minute)
			}
			client := api.client()
			failed := 0
			client.PrependReactor(c.verb, "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
				if c.times >= 0 && failed >= c.times {
					return false, nil, nil
				}
				failed++
				return true, nil, c.err
			})
			_, err := newReplica(client, clk, logr.Discard()).Reconcile(context.Background())
			if c.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want it to start with %q", err, c.wantErr)
			}
			var secretWrites int
			for _, w := range writes(client) {
				if w == c.verb+" secrets" {
					secretWrites++
				}
			}
			if secretWrites != c.wantWrites {
				t.Errorf("%d %ss of the Secret, want %d", secretWrites, c.verb, c.wantWrites)
			}
		})
	}
}

func TestCABundle(t *testing.T) {
	// apply is one server-side apply privgate must send: to which configuration, for which webhooks.
	type apply struct {
		resource string
		webhooks []string
	}
	cases := map[string]struct {
		objects []runtime.Object
		// before runs against the cluster before the replica under test reconciles.
		before func(*testing.T, *apiServer, *testClock)
		// failVerb on failResource is refused, as RBAC would.
		failVerb, failResource string
		want                   []apply
		wantErr                string
	}{
		"both installed, no caBundle yet": {
			objects: installed(),
			want: []apply{
				{"mutatingwebhookconfigurations", []string{"mutate.privgate.io"}},
				{"validatingwebhookconfigurations", []string{"validate.privgate.io"}},
			},
		},
		"not installed yet: skipped": {},
		"only the validating one installed": {
			objects: []runtime.Object{validating("privgate", "validate.privgate.io"), mutating("someone-else", "mutate.example.org")},
			want:    []apply{{"validatingwebhookconfigurations", []string{"validate.privgate.io"}}},
		},
		"already current: nothing applied": {
			objects: installed(),
			before: func(t *testing.T, api *apiServer, clk *testClock) {
				reconcile(t, newReplica(api.client(), clk, logr.Discard()))
			},
		},
		"several webhooks, one changed by someone else: all named, so none loses its caBundle": {
			objects: []runtime.Object{mutating("privgate", "a.privgate.io", "b.privgate.io"), validating("privgate", "validate.privgate.io")},
			before: func(t *testing.T, api *apiServer, clk *testClock) {
				reconcile(t, newReplica(api.client(), clk, logr.Discard()))
				obj, _ := api.tracker.Get(mutatingGVR, "", "privgate")
				m := obj.(*arv1.MutatingWebhookConfiguration)
				m.Webhooks[1].ClientConfig.CABundle = []byte("stale")
				if err := api.tracker.Update(mutatingGVR, m, "", metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
					t.Fatal(err)
				}
			},
			want: []apply{{"mutatingwebhookconfigurations", []string{"a.privgate.io", "b.privgate.io"}}},
		},
		"reading a configuration fails: the error names it": {
			objects:  installed(),
			failVerb: "get", failResource: "mutatingwebhookconfigurations",
			wantErr: "read mutatingwebhookconfiguration privgate: mutatingwebhookconfigurations.admissionregistration.k8s.io \"privgate\" is forbidden",
		},
		"applying fails: the error names it": {
			objects:  installed(),
			failVerb: "patch", failResource: "validatingwebhookconfigurations",
			want: []apply{
				{"mutatingwebhookconfigurations", []string{"mutate.privgate.io"}},
				{"validatingwebhookconfigurations", []string{"validate.privgate.io"}},
			},
			wantErr: "apply caBundle to validatingwebhookconfiguration privgate: validatingwebhookconfigurations.admissionregistration.k8s.io \"privgate\" is forbidden",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			api, clk := newAPIServer(c.objects...), newClock()
			if c.before != nil {
				c.before(t, api, clk)
			}
			wasInstalled := map[schema.GroupVersionResource]bool{}
			for _, gvr := range []schema.GroupVersionResource{mutatingGVR, validatingGVR} {
				_, err := api.tracker.Get(gvr, "", "privgate")
				wasInstalled[gvr] = err == nil
			}
			client := api.client()
			if c.failVerb != "" {
				client.PrependReactor(c.failVerb, c.failResource, func(a k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(a.GetResource().GroupResource(), "privgate", errors.New("no"))
				})
			}
			_, err := newReplica(client, clk, logr.Discard()).Reconcile(context.Background())
			if c.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if c.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want it to start with %q", err, c.wantErr)
			}
			ca := api.mustSecret(t).Data[keyCACert]

			var applies []k8stesting.PatchActionImpl
			for _, a := range client.Actions() {
				if p, ok := a.(k8stesting.PatchActionImpl); ok {
					applies = append(applies, p)
				}
			}
			if len(applies) != len(c.want) {
				t.Fatalf("%d applies, want %d: %v", len(applies), len(c.want), client.Actions())
			}
			for i, p := range applies {
				checkApply(t, p, c.want[i].resource, c.want[i].webhooks, ca)
			}
			if err != nil {
				return
			}
			for gvr, was := range wasInstalled {
				_, err := api.tracker.Get(gvr, "", "privgate")
				if !was {
					if !apierrors.IsNotFound(err) {
						t.Errorf("%s privgate: created, want it left for the installer (%v)", gvr.Resource, err)
					}
					continue
				}
				for i, bundle := range api.caBundles(t, gvr, "privgate") {
					if !bytes.Equal(bundle, ca) {
						t.Errorf("%s privgate webhook %d: caBundle is not the Secret's CA", gvr.Resource, i)
					}
				}
				if _, err := api.tracker.Get(gvr, "", "someone-else"); err == nil {
					for _, bundle := range api.caBundles(t, gvr, "someone-else") {
						if len(bundle) != 0 {
							t.Errorf("%s someone-else: caBundle set on a configuration that is not privgate's", gvr.Resource)
						}
					}
				}
			}
		})
	}
}

// checkApply checks that p is a forced server-side apply by privgate to privgate's configuration
// of that resource, naming exactly these webhooks and setting their caBundle, nothing else.
func checkApply(t *testing.T, p k8stesting.PatchActionImpl, resource string, webhooks []string, ca []byte) {
	t.Helper()
	if got := p.GetResource().Resource; got != resource || p.GetName() != "privgate" {
		t.Errorf("applied to %s %s, want %s privgate", got, p.GetName(), resource)
		return
	}
	if opts := p.PatchOptions; p.GetPatchType() != types.ApplyPatchType || opts.FieldManager != "privgate" || opts.Force == nil || !*opts.Force {
		t.Errorf("%s: patch type %s, options %+v; want a forced server-side apply by privgate", resource, p.GetPatchType(), opts)
	}
	kind := map[string]string{
		"mutatingwebhookconfigurations":   "MutatingWebhookConfiguration",
		"validatingwebhookconfigurations": "ValidatingWebhookConfiguration",
	}[resource]
	var hooks []string
	for _, w := range webhooks {
		hooks = append(hooks, fmt.Sprintf(`{"name": %q, "clientConfig": {"caBundle": %q}}`, w, base64.StdEncoding.EncodeToString(ca)))
	}
	want := fmt.Sprintf(`{"apiVersion": "admissionregistration.k8s.io/v1", "kind": %q, "metadata": {"name": "privgate"}, "webhooks": [%s]}`,
		kind, strings.Join(hooks, ", "))
	var gotV, wantV any
	if err := json.Unmarshal(p.GetPatch(), &gotV); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &wantV); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotV, wantV) {
		t.Errorf("applied\n%s\nwant\n%s", p.GetPatch(), want)
	}
}

func TestSteadyStateWritesNothing(t *testing.T) {
	api, clk := newAPIServer(installed()...), newClock()
	clients := []*fake.Clientset{api.client(), api.client()}
	replicas := []*SelfManaged{newReplica(clients[0], clk, logr.Discard()), newReplica(clients[1], clk, logr.Discard())}
	for _, r := range replicas {
		reconcile(t, r) // the first creates the Secret and sets the caBundles
	}
	read := []string{"get secrets", "get mutatingwebhookconfigurations", "get validatingwebhookconfigurations"}
	for i, r := range replicas {
		clients[i].ClearActions()
		for range 3 {
			reconcile(t, r)
		}
		var got []string
		for _, a := range clients[i].Actions() {
			got = append(got, a.GetVerb()+" "+a.GetResource().Resource)
		}
		if want := slices.Concat(read, read, read); !slices.Equal(got, want) {
			t.Errorf("replica %d in steady state: %q, want %q", i+1, got, want)
		}
	}
}

func TestStart(t *testing.T) {
	api := newAPIServer(installed()...)
	s := NewSelfManaged(SelfManagedOptions{
		Client: api.client(), Namespace: testNamespace, SecretName: testSecret, WebhookConfiguration: "privgate",
		CheckInterval: time.Hour, Log: logr.Discard(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Start(ctx) }()
	// Start reconciles at once, not after CheckInterval.
	for s.Ready() != nil {
		select {
		case err := <-done:
			t.Fatalf("Start returned early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start after cancel: %v", err)
	}
}
