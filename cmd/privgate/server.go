package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/privgate/privgate/certs"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/webhook"
)

// serverOptions are serve's flags.
type serverOptions struct {
	config      string
	policyDir   string
	certs       string
	certDir     string
	certSecret  string
	webhookName string
	certSANs    []string
	certValid   time.Duration
	caValid     time.Duration
	certCheck   time.Duration
	host        string
	port        int
	metricsAddr string
	namespace   string
	cacheSize   resource.QuantityValue
	inFlight    int
	lastGoodDir string
	bodyBudget  resource.QuantityValue
	maxWait     time.Duration
	kubeconfig  string
	auditEvery  time.Duration
	// discoverEvery is how often the cluster view looks for CRDs installed after start.
	discoverEvery time.Duration
}

func (o *serverOptions) validate() error {
	switch {
	case o.inFlight < 1 || o.maxWait <= 0:
		return fmt.Errorf("--max-in-flight %d --max-wait %s: want at least 1 and a positive wait", o.inFlight, o.maxWait)
	case o.bodyBudget.Value() < webhook.MaxBody:
		return fmt.Errorf("--max-body-bytes-in-flight %s: want at least %d bytes, one review of the largest size the API server sends", o.bodyBudget.String(), webhook.MaxBody)
	case o.cacheSize.Sign() < 0:
		return fmt.Errorf("--decision-cache-size %s: want 0 (off) or a size such as 8Mi", o.cacheSize.String())
	case o.auditEvery <= 0:
		return fmt.Errorf("--audit-interval %s: want a positive interval, such as 10m", o.auditEvery)
	case o.discoverEvery <= 0:
		return fmt.Errorf("--discovery-interval %s: want a positive interval, such as 15s", o.discoverEvery)
	case o.certs != "files" && o.certs != "self-managed":
		return fmt.Errorf("--certs %q: want files or self-managed", o.certs)
	case o.certs == "self-managed" && o.namespace == "":
		return errors.New("--certs self-managed: --namespace (or POD_NAMESPACE) is required: the Secret lives in privgate's namespace")
	}
	return nil
}

// server is privgate serve: the two webhooks over HTTPS, readiness, metrics, and what keeps them
// current (policy watch, group sync, certificate rotation).
type server struct {
	opts serverOptions
}

func newServer(o serverOptions) *server { return &server{opts: o} }

// Run serves until ctx ends. A setup error (config, policy, certificates) is the user's to fix
// and ends with exit code 2; a failure while serving, with 1.
func (s *server) Run(ctx context.Context) error {
	o := s.opts
	log := ctrl.Log.WithName("privgate")
	setMemoryLimit(log)
	setup, err := s.loadPolicy(ctx, log)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	setup.reviewer.Cache = policy.NewDecisionCache(o.cacheSize.Value())
	restCfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return &exitError{exitUsage, err}
	}
	var cluster *clusterView
	if restCfg == nil {
		log.Info("no cluster (no --kubeconfig, $KUBECONFIG or service account): cross-object rules and audit are off")
	} else {
		if cluster, err = newClusterView(ctx, restCfg, setup.reviewer, o.namespace, o.auditEvery, o.discoverEvery, log.WithName("cluster")); err != nil {
			return &exitError{exitUsage, fmt.Errorf("cluster view: %w", err)}
		}
	}

	checks := map[string]healthz.Checker{
		"groups": func(*http.Request) error {
			if setup.source.Snapshot().Synced.IsZero() {
				return errors.New("groups not loaded yet")
			}
			return nil
		},
	}
	if cluster != nil {
		checks["cluster"] = func(*http.Request) error { return cluster.Ready() }
	}
	serverOpts := crwebhook.Options{Host: o.host, Port: o.port, CertDir: o.certDir, TLSOpts: []func(*tls.Config){http1Only}}
	var certSource certs.Source
	if o.certs == "self-managed" {
		if certSource, err = s.selfManagedCerts(); err != nil {
			return &exitError{exitUsage, fmt.Errorf("--certs self-managed: %w", err)}
		}
		serverOpts.TLSOpts = append(serverOpts.TLSOpts, func(c *tls.Config) { c.GetCertificate = certSource.GetCertificate })
		checks["certificate"] = func(*http.Request) error { return certSource.Ready() }
	}
	srv := crwebhook.NewServer(serverOpts)
	gate := webhook.NewGate(o.inFlight, o.maxWait).WithBodyBudget(o.bodyBudget.Value())
	srv.Register("/mutate", &webhook.Handler{Kind: webhook.Mutate, Reviewer: setup.reviewer, Log: log.WithName("mutate"), Gate: gate})
	srv.Register("/validate", &webhook.Handler{Kind: webhook.Validate, Reviewer: setup.reviewer, Log: log.WithName("validate"), Gate: gate})
	srv.Register("/healthz", http.StripPrefix("/healthz", &healthz.Handler{Checks: map[string]healthz.Checker{"ping": healthz.Ping}}))
	ready := withLastGoodNote(http.StripPrefix("/readyz", &healthz.Handler{Checks: checks}))
	srv.Register("/readyz", ready)
	srv.Register("/readyz/", ready)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Start(ctx) })
	if o.metricsAddr != "0" {
		ms, err := metricsserver.NewServer(metricsserver.Options{BindAddress: o.metricsAddr}, nil, nil)
		if err != nil {
			return &exitError{exitUsage, fmt.Errorf("metrics: %w", err)}
		}
		g.Go(func() error { return ms.Start(ctx) })
	}
	if certSource != nil {
		g.Go(func() error { return certSource.Start(ctx) })
	}
	if cluster != nil {
		g.Go(func() error { return cluster.Start(ctx) })
	}
	if runner, ok := setup.source.(interface{ Run(context.Context) error }); ok {
		g.Go(func() error { return runner.Run(ctx) })
	}
	if o.policyDir != "" {
		g.Go(func() error { return policy.Watch(ctx, o.policyDir, setup.engine, log.WithName("policy")) })
	}
	log.Info("serving", "port", o.port, "certDir", o.certDir, "policyDir", orDefault(o.policyDir), "groups", setup.cfg.Groups.Source)
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error(err, "stopped")
		return exit(exitDenied)
	}
	return nil
}

// loadPolicy loads config, groups and policy; when the policy directory does not load and a
// last good copy of it was kept (--policy-last-good-dir, from an earlier start or reload in this
// pod), serves that copy rather than crash-looping, and says so (log, metric, /readyz?verbose).
// The directory is still watched and taken as soon as it loads.
func (s *server) loadPolicy(ctx context.Context, log logr.Logger) (*setup, error) {
	o := s.opts
	st, err := load(ctx, o.config, o.policyDir, neverIntercepted(o.namespace), false)
	var refused *policyError
	if err != nil && errors.As(err, &refused) && o.policyDir != "" && policy.HasLastGood(o.lastGoodDir) {
		st, err = load(ctx, o.config, o.lastGoodDir, neverIntercepted(o.namespace), false)
		if err != nil {
			return nil, fmt.Errorf("%w; its last good copy in %s does not load either: %v", refused, o.lastGoodDir, err)
		}
		why := fmt.Sprintf("the policy directory did not load at start (%v): serving its last good copy from %s until it loads", refused, o.lastGoodDir)
		log.Error(refused, "serving the last good policy", "dir", o.policyDir, "lastGood", o.lastGoodDir)
		policy.ServeLastGood(why)
		st.engine.KeepLastGood(o.lastGoodDir)
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if o.lastGoodDir != "" {
		st.engine.KeepLastGood(o.lastGoodDir)
		if err := st.engine.SaveLastGood(o.policyDir); err != nil {
			log.Error(err, "cannot keep a copy of the policy for a restart")
		}
	}
	return st, nil
}

// withLastGoodNote adds to /readyz?verbose that the last good policy copy serves, when it does:
// the replica is ready (it judges with a policy that passed its tests), but not as configured.
func withLastGoodNote(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		why, serving := policy.LastGoodServing()
		if !serving || !r.URL.Query().Has("verbose") {
			h.ServeHTTP(w, r)
			return
		}
		buf := &bufferedResponse{header: w.Header()}
		h.ServeHTTP(buf, r)
		w.WriteHeader(cmp.Or(buf.code, http.StatusOK))
		_, _ = w.Write(buf.body.Bytes())
		fmt.Fprintf(w, "[!]policy: %s\n", why)
	})
}

// bufferedResponse holds a handler's answer so that more can be written after it.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(code int)        { b.code = cmp.Or(b.code, code) }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }

// http1Only offers HTTP/1.1 alone on the webhook port. The API server calls webhooks over
// HTTP/1.1; HTTP/2 would only give any client that reaches the port (a webhook's port must
// accept every client) the stream multiplexing behind the rapid-reset and CONTINUATION-flood
// CVEs, as controller-runtime's scaffolding warns.
func http1Only(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }

// selfManagedCerts builds the Secret-backed certificate source with the pod's own identity (or
// --kubeconfig / $KUBECONFIG outside a cluster).
func (s *server) selfManagedCerts() (certs.Source, error) {
	o := s.opts
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errors.New("no cluster to keep the Secret in: run in a pod, or give --kubeconfig")
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return certs.NewSelfManaged(certs.SelfManagedOptions{
		Client: client, Namespace: o.namespace, SecretName: o.certSecret, WebhookConfiguration: o.webhookName,
		SANs: o.certSANs, CertValidity: o.certValid, CAValidity: o.caValid, CheckInterval: o.certCheck,
		Log: ctrl.Log.WithName("privgate").WithName("certs"),
	}), nil
}
