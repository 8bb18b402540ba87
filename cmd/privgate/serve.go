package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"

	"golang.org/x/sync/errgroup"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/privgate/privgate/certs"
	"github.com/privgate/privgate/policy"
	"github.com/privgate/privgate/webhook"
)

type serveOptions struct {
	config      string
	policyDir   string
	certs       string
	certDir     string
	certSecret  string
	webhookName string
	certSANs    listFlag
	certValid   time.Duration
	caValid     time.Duration
	certCheck   time.Duration
	host        string
	port        int
	metricsAddr string
	namespace   string
	cacheSize   resource.QuantityValue
	inFlight    int
	maxWait     time.Duration
}

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	o := serveOptions{cacheSize: resource.QuantityValue{Quantity: resource.MustParse("8Mi")}}
	fs.StringVar(&o.config, "config", "", "privgate.yaml")
	fs.StringVar(&o.policyDir, "policy-dir", "", "directory of .rego files laid over the embedded policy, watched for edits")
	fs.StringVar(&o.certs, "certs", "files", "where the serving certificate comes from: files (--cert-dir, reloaded on change; cert-manager) or self-managed (a CA and certificate privgate keeps in a Secret)")
	fs.StringVar(&o.certDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "files: directory holding tls.crt and tls.key")
	fs.StringVar(&o.certSecret, "cert-secret", "privgate-tls", "self-managed: the Secret (in --namespace) shared by every replica")
	fs.StringVar(&o.webhookName, "webhook-configuration", "privgate", "self-managed: the Mutating/ValidatingWebhookConfiguration whose caBundle privgate keeps current")
	fs.Var(&o.certSANs, "cert-san", "self-managed: an extra DNS name or IP of the serving certificate (repeatable)")
	fs.DurationVar(&o.certValid, "cert-validity", 365*24*time.Hour, "self-managed: serving certificate lifetime (renewed at two thirds)")
	fs.DurationVar(&o.caValid, "ca-validity", 10*365*24*time.Hour, "self-managed: CA lifetime (renewed at two thirds)")
	fs.DurationVar(&o.certCheck, "cert-check-interval", time.Minute, "self-managed: how often the Secret is checked")
	fs.StringVar(&o.host, "host", "", "address to serve the webhook on (all when empty)")
	fs.IntVar(&o.port, "port", 9443, "HTTPS port of the webhook, /healthz and /readyz")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint (0 disables it)")
	fs.Var(&o.cacheSize, "decision-cache-size", "memory for decisions remembered for requests seen before (Argo CD's repeated dry-runs), a quantity such as 8Mi; 0 disables")
	fs.IntVar(&o.inFlight, "max-in-flight", 2*runtime.GOMAXPROCS(0), "admission requests decided at once; more wait (default: twice the usable cores)")
	fs.DurationVar(&o.maxWait, "max-wait", 2*time.Second, "longest a request waits for a slot before it is refused with 429 (never allowed); at most half the API server's timeout")
	fs.StringVar(&o.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "privgate's own namespace, never intercepted (default $POD_NAMESPACE)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts), zap.WriteTo(stderr)))
	log := ctrl.Log.WithName("privgate")

	neverBlock := []string{"kube-system"}
	if o.namespace != "" {
		neverBlock = append(neverBlock, o.namespace)
	}
	s, err := load(ctx, o.config, o.policyDir, neverBlock, false)
	if err != nil {
		fmt.Fprintf(stderr, "privgate serve: %v\n", err)
		return exitUsage
	}
	if o.inFlight < 1 || o.maxWait <= 0 {
		fmt.Fprintf(stderr, "privgate serve: --max-in-flight %d --max-wait %s: want at least 1 and a positive wait\n", o.inFlight, o.maxWait)
		return exitUsage
	}
	if o.cacheSize.Sign() < 0 {
		fmt.Fprintf(stderr, "privgate serve: --decision-cache-size %s: want 0 (off) or a size such as 8Mi\n", o.cacheSize.String())
		return exitUsage
	}
	s.reviewer.Cache = policy.NewDecisionCache(o.cacheSize.Value())

	checks := map[string]func() error{
		"groups": func() error {
			if s.source.Snapshot().Synced.IsZero() {
				return errors.New("groups not loaded yet")
			}
			return nil
		},
	}
	serverOpts := crwebhook.Options{Host: o.host, Port: o.port, CertDir: o.certDir}
	var certSource certs.Source
	switch o.certs {
	case "files":
	case "self-managed":
		if certSource, err = selfManagedCerts(o, log); err != nil {
			fmt.Fprintf(stderr, "privgate serve: --certs self-managed: %v\n", err)
			return exitUsage
		}
		serverOpts.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.GetCertificate = certSource.GetCertificate }}
		checks["certificate"] = certSource.Ready
	default:
		fmt.Fprintf(stderr, "privgate serve: --certs %q: want files or self-managed\n", o.certs)
		return exitUsage
	}
	srv := crwebhook.NewServer(serverOpts)
	gate := webhook.NewGate(o.inFlight, o.maxWait)
	srv.Register("/mutate", &webhook.Handler{Kind: webhook.Mutate, Reviewer: s.reviewer, Log: log.WithName("mutate"), Gate: gate})
	srv.Register("/validate", &webhook.Handler{Kind: webhook.Validate, Reviewer: s.reviewer, Log: log.WithName("validate"), Gate: gate})
	srv.Register("/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }))
	srv.Register("/readyz", readiness(checks))

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Start(ctx) })
	if o.metricsAddr != "0" {
		ms, err := metricsserver.NewServer(metricsserver.Options{BindAddress: o.metricsAddr}, nil, nil)
		if err != nil {
			fmt.Fprintf(stderr, "privgate serve: metrics: %v\n", err)
			return exitUsage
		}
		g.Go(func() error { return ms.Start(ctx) })
	}
	if certSource != nil {
		g.Go(func() error { return certSource.Start(ctx) })
	}
	if runner, ok := s.source.(interface{ Run(context.Context) error }); ok {
		g.Go(func() error { return runner.Run(ctx) })
	}
	if o.policyDir != "" {
		g.Go(func() error { return policy.Watch(ctx, o.policyDir, s.engine, log.WithName("policy")) })
	}
	log.Info("serving", "port", o.port, "certDir", o.certDir, "policyDir", orDefault(o.policyDir), "groups", s.cfg.Groups.Source)
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error(err, "stopped")
		return 1
	}
	return exitOK
}

// readiness answers 200 when every check passes, else 503 naming the failing ones.
func readiness(checks map[string]func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var failed []string
		for name, check := range checks {
			if err := check(); err != nil {
				failed = append(failed, name+": "+err.Error())
			}
		}
		if len(failed) > 0 {
			http.Error(w, strings.Join(failed, "\n"), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
}

// selfManagedCerts builds the Secret-backed certificate source with the pod's own identity (or
// KUBECONFIG outside a cluster).
func selfManagedCerts(o serveOptions, log logr.Logger) (certs.Source, error) {
	if o.namespace == "" {
		return nil, errors.New("--namespace (or POD_NAMESPACE) is required: the Secret lives in privgate's namespace")
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return certs.NewSelfManaged(certs.SelfManagedOptions{
		Client: client, Namespace: o.namespace, SecretName: o.certSecret, WebhookConfiguration: o.webhookName,
		SANs: o.certSANs, CertValidity: o.certValid, CAValidity: o.caValid, CheckInterval: o.certCheck,
		Log: log.WithName("certs"),
	}), nil
}
