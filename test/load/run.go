package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
	"k8s.io/apimachinery/pkg/types"

	"github.com/privgate/privgate/certs"
)

// uncached names privgate serve run with --decision-cache-size 0.
const uncached = "privgate, no cache"

// plan is the run: the windows every server gets, then the overload window on privgate.
func plan(quick bool) (fixedRate, fixedWorkers, overload window) {
	fixedRate = window{name: "1,000 req/s", rate: 1000, duration: 15 * time.Second, warmup: time.Second}
	fixedWorkers = window{name: "8 workers", workers: 8, duration: 8 * time.Second, warmup: time.Second}
	overload = window{name: "overload 5,000 req/s", rate: 5000, duration: 5 * time.Second, ownPeak: true}
	if quick {
		for _, w := range []*window{&fixedRate, &fixedWorkers, &overload} {
			w.duration, w.warmup = 2*time.Second, min(w.warmup, 500*time.Millisecond)
		}
	}
	return fixedRate, fixedWorkers, overload
}

// crowdConns is the connections of the crowd window: the API servers of a large cluster (and
// its aggregated ones) keep hundreds open to a webhook, each holding buffers in privgate.
const crowdConns = 500

// crowd is the window of many connections: crowdConns workers, each on its own keep-alive
// connection, sending its next request when it has the last answer. The gate lets only a few
// be decided at once; the rest wait with their connection, body and goroutine.
func crowd(quick bool) window {
	w := window{name: "500 connections", workers: crowdConns, duration: 5 * time.Second, warmup: time.Second, ownPeak: true}
	if quick {
		w.duration, w.warmup = 2*time.Second, 500*time.Millisecond
	}
	return w
}

func run(ctx context.Context, o options) error {
	began := time.Now()
	dir, err := os.MkdirTemp("", "privgate-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certDir := filepath.Join(dir, "certs")
	ca, err := serving(certDir)
	if err != nil {
		return err
	}
	fx, err := newFixture(dir, o.config, o.review, o.groups)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, spec := range []struct {
		name, ready, bin string
		args             []string
	}{
		{"floor", "/healthz", self, []string{"floor", "--cert-dir", certDir, "--port", "{port}"}},
		{"privgate", "/readyz", o.privgate, []string{"serve", "--config", fx.configPath, "--cert-dir", certDir,
			"--host", "127.0.0.1", "--port", "{port}", "--metrics-bind-address", "0"}},
		// The same with its decision cache off: every request decoded and judged by the policy,
		// the cost of a manifest privgate has not seen before.
		{uncached, "/readyz", o.privgate, []string{"serve", "--config", fx.configPath, "--cert-dir", certDir,
			"--host", "127.0.0.1", "--port", "{port}", "--metrics-bind-address", "0", "--decision-cache-size", "0"}},
		// Requests are not logged (privgate logs none it admits); telemetry would reach the network.
		{"opa", "/health", o.opa, []string{"run", "--server", "--addr", "127.0.0.1:{port}",
			"--tls-cert-file", filepath.Join(certDir, "tls.crt"), "--tls-private-key-file", filepath.Join(certDir, "tls.key"),
			"--log-level", "error", "--skip-version-check", fx.dataPath, fx.policyDir}},
	} {
		s, err := startServer(spec.name, dir, spec.ready, spec.bin, spec.args...)
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	plain := &http.Client{Transport: newTransport(ca, false), Timeout: requestTimeout}
	for _, s := range servers {
		if err := s.waitReady(ctx, plain); err != nil {
			return err
		}
	}
	startRSS := map[string]uint64{}
	for _, s := range servers {
		if startRSS[s.name], err = s.peakRSS(); err != nil {
			return err
		}
	}
	floorSrv, privgateSrv, uncachedSrv, opaSrv := servers[0], servers[1], servers[2], servers[3]
	logf("servers ready: floor %s, privgate %s, %s %s, opa %s", floorSrv.base, privgateSrv.base, uncached, uncachedSrv.base, opaSrv.base)
	if err := fx.mutated(plain, privgateSrv.base); err != nil {
		return err
	}
	logf("reference AdmissionReview %d bytes after mutation, opa input %d bytes, %d groups", len(fx.admit), len(fx.opaAdmit), o.groups)

	verdicts := map[types.UID]bool{admitUID: true, denyUID: false}
	validate := privgateSrv.base + "/validate?timeout=5s"
	floor := &target{server: floorSrv, transport: newTransport(ca, o.http2),
		requests: []vegeta.Target{post(floorSrv.base+"/validate?timeout=5s", fx.admit)}, judge: judgeAdmission(verdicts)}
	pg := &target{server: privgateSrv, transport: newTransport(ca, o.http2),
		requests: []vegeta.Target{post(validate, fx.admit)}, judge: judgeAdmission(verdicts)}
	validateUncached := uncachedSrv.base + "/validate?timeout=5s"
	pgUncached := &target{server: uncachedSrv, transport: newTransport(ca, o.http2),
		requests: []vegeta.Target{post(validateUncached, fx.admit)}, judge: judgeAdmission(verdicts)}
	opa := &target{server: opaSrv, transport: newTransport(ca, o.http2),
		requests: []vegeta.Target{post(opaSrv.base+"/v1/data/privgate/deny", fx.opaAdmit)}, judge: judgeOPA}
	if err := agree(plain, fx, validate, opaSrv.base); err != nil {
		return err
	}
	if err := agree(plain, fx, validateUncached, ""); err != nil {
		return err
	}

	fixedRate, fixedWorkers, overload := plan(o.quick)
	var ms []measurement
	for _, w := range []window{fixedRate, fixedWorkers} {
		for _, t := range []*target{floor, pg, pgUncached, opa} {
			logf("%s: %s for %s", t.name, w.name, w.duration)
			m, err := t.load(ctx, w)
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
	}
	// Overload: three admissible requests to one that must be denied, faster than two cores
	// can answer, on the server without cache (with it, two requests would not overload it). Any
	// denied request answered allowed is counted.
	mixed := *pgUncached
	mixed.requests = []vegeta.Target{post(validateUncached, fx.admit), post(validateUncached, fx.admit), post(validateUncached, fx.admit), post(validateUncached, fx.deny)}
	logf("%s: %s for %s (1 in 4 must be denied)", uncached, overload.name, overload.duration)
	m, err := mixed.load(ctx, overload)
	if err != nil {
		return err
	}
	ms = append(ms, m)
	// Many connections: the same mix on crowdConns connections of their own.
	many := mixed
	many.transport = newTransportFor(ca, o.http2, crowdConns)
	crowded := crowd(o.quick)
	logf("%s: %s for %s", uncached, crowded.name, crowded.duration)
	if m, err = many.load(ctx, crowded); err != nil {
		return err
	}
	ms = append(ms, m)
	after := afterOverload{alive: uncachedSrv.alive()}
	if after.alive {
		after.err = agree(plain, fx, validateUncached, "")
	}

	rep := report{elapsed: time.Since(began), measurements: ms, after: after, options: o, machine: describeMachine(o), startRSS: startRSS, reviewBytes: len(fx.admit), inputBytes: len(fx.opaAdmit)}
	table := rep.table()
	fmt.Println(table)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.markdown(table)), 0o644); err != nil {
			return err
		}
		logf("wrote %s", o.out)
	}
	if !after.alive || after.err != nil {
		return fmt.Errorf("privgate after overload: alive %v, %v", after.alive, after.err)
	}
	return nil
}

// serving writes a CA and a serving certificate for 127.0.0.1, shared by the three servers.
func serving(dir string) (*x509.CertPool, error) {
	now := time.Now()
	ca, err := certs.NewCA("privgate-load-ca", time.Hour, now)
	if err != nil {
		return nil, err
	}
	cert, key, err := ca.Issue([]string{"127.0.0.1"}, time.Hour, now)
	if err != nil {
		return nil, err
	}
	if err := certs.WriteFiles(dir, ca.CertPEM, cert, key); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool, nil
}

// agree checks, before any load, that privgate admits the reference and denies the variant, and
// that opa (when opaBase is set) judges the same inputs the same way: the comparison is only
// fair if both decide the same thing.
func agree(client *http.Client, fx *fixture, validate, opaBase string) error {
	judge := judgeAdmission(map[types.UID]bool{admitUID: true, denyUID: false})
	for _, c := range []struct {
		name string
		body []byte
	}{{"reference", fx.admit}, {"snippet variant", fx.deny}} {
		var raw jsonRaw
		if err := postJSON(client, validate, c.body, &raw); err != nil {
			return fmt.Errorf("privgate, %s: %w", c.name, err)
		}
		if judge(raw) != right {
			return fmt.Errorf("privgate, %s: wrong answer %s", c.name, raw)
		}
	}
	if opaBase == "" {
		return nil
	}
	var raw jsonRaw
	if err := postJSON(client, opaBase+"/v1/data/privgate/deny", fx.opaAdmit, &raw); err != nil {
		return fmt.Errorf("opa, reference: %w", err)
	}
	if judgeOPA(raw) != right {
		return fmt.Errorf("opa denies the reference privgate admits: %s", raw)
	}
	if err := postJSON(client, opaBase+"/v1/data/privgate/deny", fx.opaDeny, &raw); err != nil {
		return fmt.Errorf("opa, snippet variant: %w", err)
	}
	if judgeOPA(raw) != refusedByMistake {
		return errors.New("opa admits the snippet variant privgate denies: " + string(raw))
	}
	return nil
}

// jsonRaw keeps a JSON answer as bytes for the judges.
type jsonRaw []byte

func (j *jsonRaw) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}

type afterOverload struct {
	alive bool
	err   error // privgate's answers to the reference and the variant after the overload
}
