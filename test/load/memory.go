package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/privgate/privgate/webhook"
)

// containerLimit is the memory limit of privgate's container in deploy/ and the chart.
const containerLimit = 192 << 20

// memoryMix is one mix of concurrent large reviews, each worker sending its next when it has
// the last answer, beside a few workers sending small ones.
type memoryMix struct {
	large, small int
}

// memoryResult is what one mix did to privgate.
type memoryResult struct {
	mix                  memoryMix
	peak                 uint64
	largeOK, largeShed   int // large reviews judged; refused with 429 (never admitted)
	largeOther           int // anything else (a timeout, a broken connection)
	smallOK, smallFailed int // small reviews judged; not judged in time
	smallP99             time.Duration
}

// runMemory is `load memory`: privgate serve under mixes of concurrent reviews of the largest
// size the API server sends (~7 MiB) plus small ones, with the Go memory limit privgate derives
// from deploy/'s 192 MiB container limit; it records each mix's peak RSS and fails when one
// reaches the container limit or a small review goes unanswered.
func runMemory(args []string) error {
	fs := flag.NewFlagSet("load memory", flag.ExitOnError)
	bin := fs.String("privgate", "bin/privgate", "privgate binary")
	config := fs.String("config", "examples/privgate.yaml", "privgate config")
	reviewPath := fs.String("review", "webhook/testdata/create-argocd.json", "AdmissionReview the large and small reviews are made of")
	window := fs.Duration("window", 10*time.Second, "how long each mix runs")
	out := fs.String("out", "", "markdown file to add the results to (replacing an earlier memory section)")
	label := fs.String("label", "", "what is measured, for the report (default: the binary)")
	_ = fs.Parse(args)
	if *label == "" {
		*label = *bin
	}

	dir, err := os.MkdirTemp("", "privgate-memory-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ca, err := serving(filepath.Join(dir, "certs"))
	if err != nil {
		return err
	}
	small, large, err := memoryReviews(*reviewPath)
	if err != nil {
		return err
	}
	// The limit privgate sets itself from a 192 MiB cgroup (cmd/privgate/memlimit.go): set
	// here through GOMEMLIMIT, as no cgroup limit can be set for a process of this harness.
	os.Setenv("GOMEMLIMIT", fmt.Sprint(containerLimit*8/10))
	defer os.Unsetenv("GOMEMLIMIT")
	s, err := startServer("memory", dir, "/readyz", *bin, "serve", "--config", *config, "--cert-dir", filepath.Join(dir, "certs"),
		"--host", "127.0.0.1", "--port", "{port}", "--metrics-bind-address", "0")
	if err != nil {
		return err
	}
	defer s.stop()
	client := &http.Client{Transport: newTransportFor(ca, false, 64), Timeout: requestTimeout}
	if err := s.waitReady(context.Background(), client); err != nil {
		return err
	}
	idle, _ := s.peakRSS()
	logf("memory: privgate ready at %s, large review %d bytes, small %d", mib(idle), len(large), len(small))
	var results []memoryResult
	for _, mix := range []memoryMix{{3, 4}, {6, 4}, {40, 4}} {
		if err := s.resetPeakRSS(); err != nil {
			return err
		}
		r := runMix(s.base+"/validate?timeout=5s", client, mix, large, small, *window)
		if r.peak, err = s.peakRSS(); err != nil {
			return fmt.Errorf("privgate gone after %d large at once: %w\n%s", mix.large, err, s.tail())
		}
		logf("memory: %d large + %d small workers: peak %s; large %d judged, %d shed, %d other; small %d judged, %d not, p99 %s",
			mix.large, mix.small, mib(r.peak), r.largeOK, r.largeShed, r.largeOther, r.smallOK, r.smallFailed, dur(r.smallP99))
		results = append(results, r)
		if !s.alive() {
			return fmt.Errorf("privgate died under %d large reviews at once:\n%s", mix.large, s.tail())
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## Memory under large reviews\n\n")
	fmt.Fprintf(&b, "Measured by `hack/bench.sh` (`load memory`, test/load/memory.go) on %s, %s: `privgate serve` with the Go memory limit it derives from deploy/'s %s container limit (80%%), default gate (`--max-in-flight` twice the cores, `--max-body-bytes-in-flight` %s). Each mix runs %s: workers each sending a %s AdmissionReview (a private Ingress with one %s annotation: the largest the API server sends), each its next when answered, beside %d workers sending the small reference review. Peak RSS is the process's VmHWM, started over for each mix.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), *label, mib(containerLimit), mib(uint64(webhook.DefaultBodyBudget)), *window, mib(uint64(len(large))), mib(uint64(len(large)-len(small))), results[0].mix.small)
	fmt.Fprintf(&b, "| large reviews at once | peak RSS | large judged | large refused (429) | large other | small judged | small not judged | small p99 |\n|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var failures []string
	for _, r := range results {
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %d | %d | %d | %s |\n", r.mix.large, mib(r.peak), r.largeOK, r.largeShed, r.largeOther, r.smallOK, r.smallFailed, dur(r.smallP99))
		if r.peak >= containerLimit {
			failures = append(failures, fmt.Sprintf("%d large at once: peak %s, at or over the %s limit", r.mix.large, mib(r.peak), mib(containerLimit)))
		}
		if r.smallFailed > 0 || r.smallOK == 0 {
			failures = append(failures, fmt.Sprintf("%d large at once: %d small reviews not judged", r.mix.large, r.smallFailed))
		}
	}
	fmt.Fprintf(&b, "\nIdle (ready, before the first mix): %s. A large review refused with 429 is never admitted: the API server applies the webhook's failurePolicy (Fail). The harness fails when a peak reaches the limit or a small review goes unjudged. Before the byte budget and the memory limit (issue 25), bodies were read in full before the gate: 3 large reviews at once peaked at 198 MiB, 6 at 257 MiB, 40 at over 700 MiB.\n", mib(idle))
	fmt.Print(b.String())
	if *out != "" {
		if err := replaceSection(*out, "\n## Memory under large reviews", b.String()); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "; "))
	}
	return nil
}

// replaceSection writes section into the markdown file in place of the one starting with heading
// (up to the next second-level heading), or at its end.
func replaceSection(path, heading, section string) error {
	old, _ := os.ReadFile(path)
	doc := string(old)
	rest := ""
	if i := strings.Index(doc, heading); i >= 0 {
		if j := strings.Index(doc[i+len(heading):], "\n## "); j >= 0 {
			rest = doc[i+len(heading)+j:]
		}
		doc = doc[:i+1]
	}
	return os.WriteFile(path, []byte(strings.TrimRight(doc, "\n")+"\n\n"+section+rest), 0o644)
}

// memoryReviews are the small reference review and a large one: the same private Ingress with
// an annotation filling the body to just under the API server's limit.
func memoryReviews(path string) (small, large []byte, err error) {
	if small, err = os.ReadFile(path); err != nil {
		return nil, nil, err
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(small, &review); err != nil {
		return nil, nil, err
	}
	var obj map[string]any
	if err := json.Unmarshal(review.Request.Object.Raw, &obj); err != nil {
		return nil, nil, err
	}
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		ann = map[string]any{}
		meta["annotations"] = ann
	}
	const limit = 7 << 20
	ann["example.com/padding"] = strings.Repeat("x", limit-len(small)-4096)
	if review.Request.Object.Raw, err = json.Marshal(obj); err != nil {
		return nil, nil, err
	}
	large, err = json.Marshal(review)
	return small, large, err
}

// runMix sends the mix for window and tallies the answers.
func runMix(url string, client *http.Client, mix memoryMix, large, small []byte, window time.Duration) memoryResult {
	r := memoryResult{mix: mix}
	var mu sync.Mutex
	var latencies []time.Duration
	deadline := time.Now().Add(window)
	var wg sync.WaitGroup
	for i := range mix.large + mix.small {
		isLarge := i < mix.large
		wg.Go(func() {
			for time.Now().Before(deadline) {
				body := small
				if isLarge {
					body = large
				}
				start := time.Now()
				code := postStatus(client, url, body)
				took := time.Since(start)
				mu.Lock()
				switch {
				case isLarge && code == http.StatusOK:
					r.largeOK++
				case isLarge && code == http.StatusTooManyRequests:
					r.largeShed++
				case isLarge:
					r.largeOther++
				case code == http.StatusOK:
					r.smallOK++
					latencies = append(latencies, took)
				default:
					r.smallFailed++
				}
				mu.Unlock()
				if isLarge && code != http.StatusOK {
					time.Sleep(50 * time.Millisecond) // a refused API server call is not retried at once
				}
			}
		})
	}
	wg.Wait()
	if len(latencies) > 0 {
		slices.Sort(latencies)
		r.smallP99 = latencies[len(latencies)*99/100]
	}
	return r
}

// postStatus posts body and returns the HTTP status, 200 only for an AdmissionReview answer that
// is not a 429 inside (the gate sheds waiting reviews with one); 0 when no answer came.
func postStatus(client *http.Client, url string, body []byte) int {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		return -1
	}
	if out.Response.Result != nil && out.Response.Result.Code == http.StatusTooManyRequests {
		return http.StatusTooManyRequests
	}
	return http.StatusOK
}
