package main

import (
	goflag "flag"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/privgate/privgate/webhook"
)

func newServeCommand() *cobra.Command {
	o := serverOptions{cacheSize: resource.QuantityValue{Quantity: resource.MustParse("8Mi")},
		bodyBudget: resource.QuantityValue{Quantity: *resource.NewQuantity(webhook.DefaultBodyBudget, resource.BinarySI)}}
	zapOpts := zap.Options{}
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Serve the mutating and validating webhooks over HTTPS",
		Long: "Serve /mutate and /validate over HTTPS, with /healthz, /readyz (policy compiled, groups loaded,\n" +
			"certificate served) and Prometheus metrics. The policy directory is watched: an edit that\n" +
			"compiles and passes its tests takes effect without restart; any other keeps the last good one.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts), zap.WriteTo(cmd.ErrOrStderr())))
			if err := o.validate(); err != nil {
				return &exitError{exitUsage, err}
			}
			return newServer(o).Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "privgate.yaml")
	f.StringVar(&o.policyDir, "policy-dir", "", "directory of .rego files laid over the embedded policy, watched for edits")
	f.StringVar(&o.lastGoodDir, "policy-last-good-dir", "", "writable directory where a copy of --policy-dir is kept each time it loads; when the directory does not load at start, the copy serves instead (said in /readyz?verbose and privgate_policy_serving_last_good) until it does. deploy/ and the chart use an emptyDir, which outlives container restarts")
	f.StringVar(&o.certs, "certs", "files", "where the serving certificate comes from: files (--cert-dir, reloaded on change; cert-manager) or self-managed (a CA and certificate privgate keeps in a Secret)")
	f.StringVar(&o.certDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "files: directory holding tls.crt and tls.key")
	f.StringVar(&o.certSecret, "cert-secret", "privgate-tls", "self-managed: the Secret (in --namespace) shared by every replica")
	f.StringVar(&o.webhookName, "webhook-configuration", "privgate", "self-managed: the Mutating/ValidatingWebhookConfiguration whose caBundle privgate keeps current")
	f.StringArrayVar(&o.certSANs, "cert-san", nil, "self-managed: an extra DNS name or IP of the serving certificate (repeatable)")
	f.DurationVar(&o.certValid, "cert-validity", 365*24*time.Hour, "self-managed: serving certificate lifetime (renewed at two thirds)")
	f.DurationVar(&o.caValid, "ca-validity", 10*365*24*time.Hour, "self-managed: CA lifetime (renewed at two thirds)")
	f.DurationVar(&o.certCheck, "cert-check-interval", time.Minute, "self-managed: how often the Secret is checked")
	f.StringVar(&o.host, "host", "", "address to serve the webhook on (all when empty)")
	f.IntVar(&o.port, "port", 9443, "HTTPS port of the webhook, /healthz and /readyz")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint (0 disables it)")
	f.Var(&o.cacheSize, "decision-cache-size", "memory for decisions remembered for requests seen before (Argo CD's repeated dry-runs), a quantity such as 8Mi; 0 disables")
	f.IntVar(&o.inFlight, "max-in-flight", 2*runtime.GOMAXPROCS(0), "admission requests decided at once; more wait (default: twice the usable cores)")
	f.Var(&o.bodyBudget, "max-body-bytes-in-flight", "bytes of large admission request bodies read, waiting or decided at once, charged by Content-Length before reading (the maximum body size when unknown); more wait as for a slot. Small reviews (up to 64Ki) have a pool of their own. Memory per large review is a few times its body (docs/performance.md)")
	f.DurationVar(&o.maxWait, "max-wait", 2*time.Second, "longest a request waits for a slot before it is refused with 429 (never allowed); at most half the API server's timeout")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster for the cluster view, audit and self-managed certificates (default $KUBECONFIG, else the pod's service account; without any, the webhook judges each object alone)")
	f.DurationVar(&o.auditEvery, "audit-interval", 10*time.Minute, "how often every stored object is judged again, besides on every change of it (or, for gateways and routes, of a related kind), of the policy and of the groups")
	f.DurationVar(&o.discoverEvery, "discovery-interval", 15*time.Second, "how often to look for Istio and Gateway API CRDs installed after start")
	f.StringVar(&o.namespace, "namespace", os.Getenv("POD_NAMESPACE"), "privgate's own namespace, never intercepted (default $POD_NAMESPACE)")
	logFlags := goflag.NewFlagSet("log", goflag.ContinueOnError)
	zapOpts.BindFlags(logFlags)
	f.AddGoFlagSet(logFlags)
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
