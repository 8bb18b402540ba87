package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

type testClock struct{ t atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *testClock) advance(d time.Duration) { c.t.Add(int64(d)) }

func webhookConfigs(name string) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	return &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "mutate.privgate.io"}}},
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "validate.privgate.io"}}}
}

func newReplica(client *fake.Clientset, clk *testClock, log logr.Logger) *SelfManaged {
	return NewSelfManaged(SelfManagedOptions{
		Client: client, Namespace: "privgate", SecretName: "privgate-tls", WebhookConfiguration: "privgate",
		CertValidity: 3 * time.Hour, CAValidity: 30 * time.Hour, Now: clk.now, Log: log,
	})
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

func TestSelfManaged(t *testing.T) {
	ctx := context.Background()
	m, v := webhookConfigs("privgate")
	other, _ := webhookConfigs("someone-else")
	client := fake.NewClientset(m, v, other)
	clk := &testClock{}
	clk.t.Store(time.Now().UnixNano())
	var logs strings.Builder
	log := funcr.New(func(p, a string) { logs.WriteString(a + "\n") }, funcr.Options{})

	first := newReplica(client, clk, log)
	if first.Ready() == nil {
		t.Fatal("ready before any certificate")
	}
	if _, err := first.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	secret, _ := client.CoreV1().Secrets("privgate").Get(ctx, "privgate-tls", metav1.GetOptions{})
	if secret.Type != corev1.SecretTypeTLS || len(secret.Data["ca.crt"]) == 0 {
		t.Fatalf("secret: %+v", secret)
	}
	leaf := served(t, first)
	for _, san := range []string{"privgate.privgate.svc", "privgate.privgate.svc.cluster.local"} {
		if !bytes.Contains([]byte(strings.Join(leaf.DNSNames, ",")), []byte(san)) {
			t.Errorf("serving certificate lacks %s: %v", san, leaf.DNSNames)
		}
	}
	gotM, _ := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "privgate", metav1.GetOptions{})
	gotV, _ := client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "privgate", metav1.GetOptions{})
	if !bytes.Equal(gotM.Webhooks[0].ClientConfig.CABundle, secret.Data["ca.crt"]) || !bytes.Equal(gotV.Webhooks[0].ClientConfig.CABundle, secret.Data["ca.crt"]) {
		t.Error("caBundle not set on privgate's webhook configurations")
	}
	untouched, _ := client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "someone-else", metav1.GetOptions{})
	if len(untouched.Webhooks[0].ClientConfig.CABundle) != 0 {
		t.Error("patched a webhook configuration that is not privgate's")
	}

	// A second replica serves the same pair and writes nothing.
	second := newReplica(client, clk, log)
	if _, err := second.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	again, _ := client.CoreV1().Secrets("privgate").Get(ctx, "privgate-tls", metav1.GetOptions{})
	if again.ResourceVersion != secret.ResourceVersion || !served(t, second).Equal(leaf) {
		t.Error("second replica rewrote the secret or serves another certificate")
	}

	// Two thirds into the serving certificate's life: renewed from the same CA.
	clk.advance(2*time.Hour + time.Minute)
	if _, err := first.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	renewed := served(t, first)
	if renewed.Equal(leaf) || renewed.Issuer.String() != leaf.Issuer.String() {
		t.Error("serving certificate not renewed from the same CA")
	}
	if !strings.Contains(logs.String(), "two thirds") {
		t.Errorf("renewal not logged: %s", logs.String())
	}

	// A corrupted secret is regenerated, with a log line, and the caBundle follows.
	bad, _ := client.CoreV1().Secrets("privgate").Get(ctx, "privgate-tls", metav1.GetOptions{})
	bad.Data["ca.key"] = []byte("garbage")
	if _, err := client.CoreV1().Secrets("privgate").Update(ctx, bad, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "corrupt or missing CA: regenerating") {
		t.Errorf("regeneration not logged: %s", logs.String())
	}
	fixed, _ := client.CoreV1().Secrets("privgate").Get(ctx, "privgate-tls", metav1.GetOptions{})
	gotM, _ = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "privgate", metav1.GetOptions{})
	if bytes.Equal(fixed.Data["ca.crt"], secret.Data["ca.crt"]) || !bytes.Equal(gotM.Webhooks[0].ClientConfig.CABundle, fixed.Data["ca.crt"]) {
		t.Error("new CA not in the secret or the caBundle")
	}

	// Two thirds into the CA's life: a new CA, with the old one kept in the bundle.
	oldCA := firstPEM(fixed.Data["ca.crt"])
	clk.advance(21 * time.Hour)
	if _, err := first.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	rotated, _ := client.CoreV1().Secrets("privgate").Get(ctx, "privgate-tls", metav1.GetOptions{})
	if bytes.Equal(firstPEM(rotated.Data["ca.crt"]), oldCA) || !bytes.Contains(rotated.Data["ca.crt"], oldCA) {
		t.Error("CA renewal must put a new CA first and keep the old one in the bundle")
	}
}
