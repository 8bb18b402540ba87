package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	arv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	acv1 "k8s.io/client-go/applyconfigurations/admissionregistration/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// Source is where the webhook server's certificate comes from.
type Source interface {
	// GetCertificate serves the current certificate (tls.Config.GetCertificate).
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Ready reports nil once a valid certificate is being served.
	Ready() error
	// Start keeps the certificate current until ctx ends.
	Start(ctx context.Context) error
}

// SelfManagedOptions configures SelfManaged.
type SelfManagedOptions struct {
	Client     kubernetes.Interface
	Namespace  string
	SecretName string // one Secret shared by every replica
	// WebhookConfiguration names the Mutating- and ValidatingWebhookConfiguration whose caBundle
	// privgate keeps current (only these two, found by name; only caBundle is written).
	WebhookConfiguration string
	// SANs of the serving certificate; privgate.<ns>.svc and privgate.<ns>.svc.cluster.local are
	// always included.
	SANs          []string
	CertValidity  time.Duration // default 1 year; renewed at two thirds
	CAValidity    time.Duration // default 10 years; renewed at two thirds
	CheckInterval time.Duration // default 1 minute
	Now           func() time.Time
	Log           logr.Logger
}

// Secret keys: the kubernetes.io/tls pair plus the CA.
const (
	keyCACert = "ca.crt"
	keyCAKey  = "ca.key"
)

// SelfManaged creates a CA and a serving certificate, keeps them in one Secret so that every
// replica serves the same pair, renews them at two thirds of their lifetime, and keeps the
// caBundle of privgate's own webhook configurations current. Replicas do not coordinate beyond
// the Secret: writes carry its resourceVersion, so when two race, one wins and the other reads
// the winner's certificate (optimistic concurrency, no leader).
type SelfManaged struct {
	opts SelfManagedOptions
	cert atomic.Pointer[tls.Certificate]
}

// NewSelfManaged returns the source; nothing is read or written before Start.
func NewSelfManaged(opts SelfManagedOptions) *SelfManaged {
	if opts.CertValidity <= 0 {
		opts.CertValidity = 365 * 24 * time.Hour
	}
	if opts.CAValidity <= 0 {
		opts.CAValidity = 10 * 365 * 24 * time.Hour
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	svc := "privgate." + opts.Namespace + ".svc"
	for _, s := range []string{svc, svc + ".cluster.local"} {
		if !slices.Contains(opts.SANs, s) {
			opts.SANs = append(opts.SANs, s)
		}
	}
	return &SelfManaged{opts: opts}
}

// GetCertificate serves the pair last read from the Secret.
func (s *SelfManaged) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := s.cert.Load()
	if c == nil {
		return nil, errors.New("no serving certificate yet")
	}
	return c, nil
}

// Ready is nil once a certificate is served.
func (s *SelfManaged) Ready() error {
	if s.cert.Load() == nil {
		return errors.New("no serving certificate yet")
	}
	return nil
}

// Start reconciles at once, then every CheckInterval (sooner when a renewal is due), until ctx
// ends. Errors are logged and retried; the certificate being served stays.
func (s *SelfManaged) Start(ctx context.Context) error {
	var next time.Duration
	// A DelayFunc rather than a fixed period: each reconcile says when the next is due. Sliding,
	// so that the wait starts after a reconcile, however long the API server took.
	_ = wait.DelayFunc(func() time.Duration { return next }).Until(ctx, true, true, func(ctx context.Context) (bool, error) {
		var err error
		if next, err = s.Reconcile(ctx); err != nil {
			s.opts.Log.Error(err, "serving certificate reconcile failed; retrying", "secret", s.secretRef())
			next = min(s.opts.CheckInterval, 5*time.Second)
		}
		return false, nil // never done: only ctx ends the loop
	})
	return nil
}

// Reconcile makes the Secret hold a valid, current pair, serves it, and points the webhooks'
// caBundle at its CA. It returns when to check again.
func (s *SelfManaged) Reconcile(ctx context.Context) (time.Duration, error) {
	var secret *corev1.Secret
	err := retry.OnError(retry.DefaultRetry, lostRace, func() (err error) {
		secret, err = s.ensureSecret(ctx)
		return err
	})
	if lostRace(err) {
		return 0, fmt.Errorf("secret %s kept changing under concurrent writers: %w", s.secretRef(), err)
	}
	if err != nil {
		return 0, err
	}
	pair, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return 0, fmt.Errorf("load serving certificate from secret %s: %w", s.secretRef(), err)
	}
	s.cert.Store(&pair)
	if err := s.applyCABundles(ctx, secret.Data[keyCACert]); err != nil {
		return 0, err
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	return min(s.opts.CheckInterval, max(time.Second, time.Until(renewAt(leaf)))), nil
}

// lostRace is another replica having written the Secret first (Conflict on update, AlreadyExists
// on create); reading again picks up what it wrote.
func lostRace(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}

func (s *SelfManaged) secretRef() string { return s.opts.Namespace + "/" + s.opts.SecretName }

// ensureSecret returns the Secret once it holds a valid pair that is not due for renewal,
// creating, repairing or renewing it as needed. A lost race (see lostRace) is returned for the
// caller to read again.
func (s *SelfManaged) ensureSecret(ctx context.Context) (*corev1.Secret, error) {
	secrets := s.opts.Client.CoreV1().Secrets(s.opts.Namespace)
	secret, err := secrets.Get(ctx, s.opts.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		data, err := s.issue(nil, nil)
		if err != nil {
			return nil, err
		}
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.opts.SecretName, Namespace: s.opts.Namespace,
				Labels: map[string]string{"app.kubernetes.io/name": "privgate"}},
			Type: corev1.SecretTypeTLS,
			Data: data,
		}
		created, err := secrets.Create(ctx, secret, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create secret %s: %w", s.secretRef(), err)
		}
		s.opts.Log.Info("created serving certificate", "secret", s.secretRef())
		return created, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", s.secretRef(), err)
	}
	ca, problem := s.check(secret.Data)
	if problem == "" {
		return secret, nil
	}
	var keep []byte
	if ca == nil && problem == caRenewal {
		keep = firstPEM(secret.Data[keyCACert]) // still trusted until what it signed expires
	}
	data, err := s.issue(ca, keep)
	if err != nil {
		return nil, err
	}
	updated := secret.DeepCopy()
	updated.Data = data
	updated, err = secrets.Update(ctx, updated, metav1.UpdateOptions{}) // carries resourceVersion
	if err != nil {
		return nil, fmt.Errorf("update secret %s: %w", s.secretRef(), err)
	}
	s.opts.Log.Info("rewrote serving certificate", "reason", problem, "secret", s.secretRef())
	return updated, nil
}

const caRenewal = "CA at two thirds of its lifetime: renewing"

// check says what, if anything, is wrong with the Secret's pair, and returns its CA when the CA
// itself can be kept.
func (s *SelfManaged) check(data map[string][]byte) (*Authority, string) {
	ca, err := ParseAuthority(firstPEM(data[keyCACert]), data[keyCAKey])
	if err != nil {
		return nil, "corrupt or missing CA: regenerating"
	}
	now := s.opts.Now()
	if now.After(renewAt(ca.Cert)) {
		return nil, caRenewal
	}
	pair, err := tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return ca, "corrupt serving certificate: regenerating"
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return ca, "corrupt serving certificate: regenerating"
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, san := range s.opts.SANs {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: san, CurrentTime: now}); err != nil {
			return ca, fmt.Sprintf("serving certificate invalid for %s: reissuing", san)
		}
	}
	if now.After(renewAt(leaf)) {
		return ca, "serving certificate at two thirds of its lifetime: renewing"
	}
	return ca, ""
}

// issue makes the Secret's data: a serving certificate from ca (a new CA when nil). keep is an
// outgoing CA that stays in ca.crt behind the new one, so that a replica still serving a
// certificate it signed stays trusted during the change.
func (s *SelfManaged) issue(ca *Authority, keep []byte) (map[string][]byte, error) {
	now := s.opts.Now()
	if ca == nil {
		var err error
		if ca, err = NewCA("privgate-ca", s.opts.CAValidity, now); err != nil {
			return nil, err
		}
	}
	bundle := append(slices.Clone(ca.CertPEM), keep...)
	cert, key, err := ca.Issue(s.opts.SANs, s.opts.CertValidity, now)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key,
		keyCACert: bundle, keyCAKey: ca.KeyPEM,
	}, nil
}

// fieldManager is privgate's name under server-side apply: it owns caBundle of the webhooks in
// its two configurations and nothing else there, so whoever installed them keeps the rest.
const fieldManager = "privgate"

// applyCABundles sets caBundle on every webhook of privgate's two configurations, found by name.
func (s *SelfManaged) applyCABundles(ctx context.Context, caPEM []byte) error {
	name := s.opts.WebhookConfiguration
	if name == "" {
		return nil
	}
	ar := s.opts.Client.AdmissionregistrationV1()
	clientConfig := acv1.WebhookClientConfig().WithCABundle(caPEM...)
	err := applyCABundle(ctx, ar.MutatingWebhookConfigurations(), "mutatingwebhookconfiguration", name,
		func(c *arv1.MutatingWebhookConfiguration) (*acv1.MutatingWebhookConfigurationApplyConfiguration, bool) {
			cfg, stale := acv1.MutatingWebhookConfiguration(name), false
			for _, w := range c.Webhooks {
				stale = stale || !bytes.Equal(w.ClientConfig.CABundle, caPEM)
				cfg.WithWebhooks(acv1.MutatingWebhook().WithName(w.Name).WithClientConfig(clientConfig))
			}
			return cfg, stale
		})
	if err != nil {
		return err
	}
	return applyCABundle(ctx, ar.ValidatingWebhookConfigurations(), "validatingwebhookconfiguration", name,
		func(c *arv1.ValidatingWebhookConfiguration) (*acv1.ValidatingWebhookConfigurationApplyConfiguration, bool) {
			cfg, stale := acv1.ValidatingWebhookConfiguration(name), false
			for _, w := range c.Webhooks {
				stale = stale || !bytes.Equal(w.ClientConfig.CABundle, caPEM)
				cfg.WithWebhooks(acv1.ValidatingWebhook().WithName(w.Name).WithClientConfig(clientConfig))
			}
			return cfg, stale
		})
}

// webhookConfigurations is the part of either typed client that applyCABundle uses.
type webhookConfigurations[T, A any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Apply(ctx context.Context, cfg A, opts metav1.ApplyOptions) (T, error)
}

// applyCABundle reads a configuration and applies desired's caBundles only when one differs, so
// that a steady state writes nothing. desired names every webhook, not only the stale ones: under
// server-side apply, a field privgate applied before and leaves out now is removed. A
// configuration not installed yet is skipped; the next reconcile after it is installed sets it.
func applyCABundle[T, A any](ctx context.Context, client webhookConfigurations[T, A], kind, name string, desired func(T) (A, bool)) error {
	current, err := client.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s %s: %w", kind, name, err)
	}
	cfg, stale := desired(current)
	if !stale {
		return nil
	}
	// Force: caBundle may still belong to whoever set it before (kubectl, an older privgate that
	// patched it); privgate is its owner from now on.
	if _, err := client.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("apply caBundle to %s %s: %w", kind, name, err)
	}
	return nil
}

// renewAt is two thirds into a certificate's lifetime.
func renewAt(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// firstPEM is the first PEM block of a bundle.
func firstPEM(b []byte) []byte {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil
	}
	return pem.EncodeToMemory(block)
}
