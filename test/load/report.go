package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

type machine struct {
	cpus                          int
	model, kernel, memory, goVers string
	opa, vegeta, date             string
}

func describeMachine(o options) machine {
	m := machine{cpus: runtime.NumCPU(), goVers: runtime.Version(), date: time.Now().UTC().Format("2006-01-02 15:04 MST")}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.model = procField(string(raw), "model name")
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb uint64
		if _, err := fmt.Sscanf(procField(string(raw), "MemTotal"), "%d kB", &kb); err == nil {
			m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(raw))
	}
	if out, err := exec.Command(o.opa, "version").Output(); err == nil {
		m.opa = "v" + procField(string(out), "Version")
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/tsenart/vegeta/v12" {
				m.vegeta = d.Version
			}
		}
	}
	return m
}

// procField is the value of the first "key: value" line for key.
func procField(text, key string) string {
	for line := range strings.Lines(text) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

type report struct {
	measurements []measurement
	after        afterOverload
	options      options
	machine      machine
	elapsed      time.Duration     // the whole run, builds left out
	startRSS     map[string]uint64 // each server's VmHWM once ready, before any load
	reviewBytes  int               // the AdmissionReview privgate and the floor receive
	inputBytes   int               // opa's {"input": ...}
}

func (r report) find(server, window string) (measurement, bool) {
	for _, m := range r.measurements {
		if m.server == server && m.window.name == window {
			return m, true
		}
	}
	return measurement{}, false
}

// table is the markdown table of every window, with privgate's ratios to opa and to the floor
// under each window all three servers ran.
func (r report) table() string {
	var b strings.Builder
	b.WriteString("| window | server | req/s | p50 | p99 | max | errors | wrong | CPU/req | peak RSS | load gen CPU/req |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	var last string
	for _, m := range r.measurements {
		if last != "" && m.window.name != last {
			r.ratios(&b, last)
		}
		last = m.window.name
		l := m.metrics.Latencies
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %d | %d | %s | %s | %s |\n",
			m.window.name, m.server, thousands(int(m.metrics.Throughput+0.5)), dur(l.P50), dur(l.P99), dur(l.Max),
			m.tally.errors, m.tally.wrong(), dur(m.perRequest(m.cpu)), mib(m.rss), dur(m.perRequest(m.gen)))
	}
	r.ratios(&b, last)
	return b.String()
}

func (r report) ratios(b *strings.Builder, window string) {
	for _, name := range []string{"privgate", uncached} {
		r.ratiosOf(b, name, window)
	}
}

func (r report) ratiosOf(b *strings.Builder, name, window string) {
	pg, ok := r.find(name, window)
	if !ok {
		return
	}
	for _, other := range []string{"opa", "floor"} {
		o, ok := r.find(other, window)
		if !ok {
			continue
		}
		lp, lo := pg.metrics.Latencies, o.metrics.Latencies
		fmt.Fprintf(b, "| %s | *%s / %s* | %s | %s | %s | %s | | | %s | %s | |\n", window, name, other,
			ratio(pg.metrics.Throughput, o.metrics.Throughput), ratio(float64(lp.P50), float64(lo.P50)),
			ratio(float64(lp.P99), float64(lo.P99)), ratio(float64(lp.Max), float64(lo.Max)),
			ratio(float64(pg.perRequest(pg.cpu)), float64(o.perRequest(o.cpu))), ratio(float64(pg.rss), float64(o.rss)))
	}
}

func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// thousands writes n with comma separators, as the issue writes its numbers.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// targets judges issue 7's targets from the run, one line each: the serving targets for privgate
// as deployed (repeated requests answered by its cache) and without cache (every request judged),
// then the overload target, run without cache.
func (r report) targets() []string {
	fixedRate, fixedWorkers, overload := plan(r.options.quick)
	var lines []string
	add := func(met bool, format string, args ...any) { lines = append(lines, verdictLine(met, format, args...)) }
	opa, ok1 := r.find("opa", fixedRate.name)
	opaW, ok2 := r.find("opa", fixedWorkers.name)
	over, ok3 := r.find(uncached, overload.name)
	if !ok1 || !ok2 || !ok3 {
		return []string{"- the run is incomplete"}
	}
	for _, v := range []struct{ name, what string }{
		{"privgate", "privgate, the same request again (answered by the decision cache, as Argo CD's repeated dry-runs are)"},
		{uncached, "privgate without cache (every request decoded and judged by the policy)"},
	} {
		pg, ok1 := r.find(v.name, fixedRate.name)
		pgW, ok2 := r.find(v.name, fixedWorkers.name)
		if !ok1 || !ok2 {
			return []string{"- the run is incomplete"}
		}
		lines = append(lines, "", "**"+v.what+"**", "")
		cpu, cpuW := pg.perRequest(pg.cpu), pgW.perRequest(pgW.cpu)
		add(cpu <= 250*time.Microsecond, "CPU per admission ≤ 250 µs: %s at %s (%s at %s)", dur(cpu), fixedRate.name, dur(cpuW), fixedWorkers.name)
		x, xW := float64(opa.perRequest(opa.cpu))/float64(cpu), float64(opaW.perRequest(opaW.cpu))/float64(cpuW)
		add(x >= 3, "≥ 3× less CPU than opa run --server on the same policy and data: opa spends %.2f× privgate's CPU per request at %s (%.2f× at %s)", x, fixedRate.name, xW, fixedWorkers.name)
		l := pg.metrics.Latencies
		add(l.P99 <= 2*time.Millisecond && pg.tally.errors+pg.tally.wrong() == 0 && pg.metrics.Rate >= 0.98*float64(fixedRate.rate),
			"p99 ≤ 2 ms at 1,000 req/s for %s with 0 errors: p99 %s (p50 %s, max %s), %s requests sent at %.0f req/s, %d errors, %d wrong answers",
			fixedRate.duration, dur(l.P99), dur(l.P50), dur(l.Max), thousands(int(pg.metrics.Requests)), pg.metrics.Rate, pg.tally.errors, pg.tally.wrong())
		peak := max(pg.rss, pgW.rss)
		if v.name == uncached {
			peak = max(peak, over.rss)
		}
		add(peak <= 64<<20, "peak memory ≤ 64 MiB with %s groups: VmHWM %s over the whole run%s (%s once ready, before any load)",
			thousands(r.options.groups), mib(peak), map[bool]string{true: ", overload included", false: ""}[v.name == uncached], mib(r.startRSS[v.name]))
	}
	lines = append(lines, "", "**Overload (privgate without cache)**", "")
	crowded, ok := r.find(uncached, crowd(r.options.quick).name)
	if !ok {
		return []string{"- the run is incomplete"}
	}
	lo := over.metrics.Latencies
	safe := over.tally.allowedByMistake == 0 && r.after.alive && r.after.err == nil
	add(safe, "under overload privgate stays correct: %d of %s requests allowed by mistake, %d refused by mistake, %d malformed, %d shed (refused with 429 after waiting --max-wait for a slot); still running and answering correctly after it: %v",
		over.tally.allowedByMistake, thousands(int(over.metrics.Requests)), over.tally.refusedByMistake, over.tally.bad, over.tally.shed, r.after.alive && r.after.err == nil)
	lines = append(lines, fmt.Sprintf("  - what happens: offered %s req/s for %s, sent %.0f req/s, answered %.0f req/s; p50 %s, p99 %s, max %s; %d errors%s",
		thousands(overload.rate), overload.duration, over.metrics.Rate, over.metrics.Throughput, dur(lo.P50), dur(lo.P99), dur(lo.Max), over.tally.errors, errorList(over.metrics.Errors)))
	lc := crowded.metrics.Latencies
	add(crowded.tally.allowedByMistake == 0, "with %d connections privgate stays correct: %d of %s requests allowed by mistake, %d refused by mistake, %d malformed, %d shed; p50 %s, p99 %s, max %s; %d errors%s",
		crowdConns, crowded.tally.allowedByMistake, thousands(int(crowded.metrics.Requests)), crowded.tally.refusedByMistake, crowded.tally.bad, crowded.tally.shed,
		dur(lc.P50), dur(lc.P99), dur(lc.Max), crowded.tally.errors, errorList(crowded.metrics.Errors))
	return append(lines, r.missTargets()...)
}

// missTargets judges issue 16's targets, the miss path's: privgate without cache against opa
// and the floor in the same windows, and its memory under overload and many connections.
func (r report) missTargets() []string {
	fixedRate, fixedWorkers, overload := plan(r.options.quick)
	crowded := crowd(r.options.quick)
	var lines []string
	add := func(met bool, format string, args ...any) { lines = append(lines, verdictLine(met, format, args...)) }
	lines = append(lines, "", "**Issue 16's targets: the miss path (privgate without cache)**", "")
	var toOPA, toFloor []float64
	for _, w := range []window{fixedRate, fixedWorkers} {
		pg, ok1 := r.find(uncached, w.name)
		opa, ok2 := r.find("opa", w.name)
		floor, ok3 := r.find("floor", w.name)
		if !ok1 || !ok2 || !ok3 {
			return []string{"- the run is incomplete"}
		}
		cpu := float64(pg.perRequest(pg.cpu))
		toOPA = append(toOPA, cpu/float64(opa.perRequest(opa.cpu)))
		toFloor = append(toFloor, cpu/float64(floor.perRequest(floor.cpu)))
	}
	add(max(toOPA[0], toOPA[1]) <= 0.5, "CPU per admission ≤ 0.5× opa run --server's in the same run: %.2f× at %s, %.2f× at %s",
		toOPA[0], fixedRate.name, toOPA[1], fixedWorkers.name)
	add(max(toFloor[0], toFloor[1]) <= 2.5, "CPU per admission ≤ 2.5× the floor's: %.2f× at %s, %.2f× at %s",
		toFloor[0], fixedRate.name, toFloor[1], fixedWorkers.name)
	over, _ := r.find(uncached, overload.name)
	many, _ := r.find(uncached, crowded.name)
	add(max(over.rss, many.rss) <= 100<<20, "peak RSS ≤ 100 MiB under overload: %s in the %s window, %s in the %s window (each window's own peak)",
		mib(over.rss), overload.name, mib(many.rss), crowded.name)
	return lines
}

// verdictLine is one target's line: met or not, and what the run measured.
func verdictLine(met bool, format string, args ...any) string {
	mark := "**not met**"
	if met {
		mark = "met"
	}
	return fmt.Sprintf("- %s: %s", mark, fmt.Sprintf(format, args...))
}

func errorList(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	if len(errs) > 3 {
		errs = append(errs[:3:3], "…")
	}
	return " (" + strings.Join(errs, "; ") + ")"
}

// markdown is docs/performance.md.
func (r report) markdown(table string) string {
	m := r.machine
	fixedRate, fixedWorkers, overload := plan(r.options.quick)
	crowded := crowd(r.options.quick)
	proto := "HTTP/1.1"
	if r.options.http2 {
		proto = "HTTP/2"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Performance

Generated by `+"`make bench`"+` (hack/bench.sh, test/load) on %s, a run of %s. Do not edit by hand: rerun
it. `+"`hack/bench.sh --quick`"+` runs 2 s windows and writes nothing, as a smoke test.

**Issue 7's targets**: privgate should be the fastest way to enforce this policy, close to what HTTPS + JSON
alone cost, and prove it side by side in one run.

## Results

%s
%s
## Targets

%s

## Machine

- %d CPUs (%s), %s RAM, Linux %s. **The load generator and the four servers share these cores**:
  every number includes the contention, and the load generator's own CPU is in the last column.
- %s; opa %s built from the Go module proxy; vegeta %s; privgate %s.

## What runs

On 127.0.0.1, each its own process, all over HTTPS (one self-signed CA, ECDSA P-256, TLS 1.3, %s keep-alive):

- **privgate**: `+"`privgate serve`"+` with examples/privgate.yaml and a groups file of %s groups, receiving issue 7's
  reference request on /validate: a private Ingress of 3 hosts naming two groups, with the managedFields
  a real apply carries, %s bytes of AdmissionReview, as the API server sends it after /mutate (the patch
  privgate returned, applied). One admission here is that one /validate call; the API server also calls
  /mutate, not measured here. Every request is the same, as Argo CD's refreshes and diffs send the
  same manifests again and again: after the first, privgate answers from its decision cache.
- **privgate, no cache**: the same, started with `+"`--decision-cache-size 0`"+`: every request is decoded
  and judged by the policy, the cost of a manifest privgate has not seen before. The overload window
  runs on this one.
- **floor**: a Go server that decodes the same AdmissionReview with encoding/json into the same Kubernetes
  type and answers allowed. It is what any webhook costs before deciding anything.
- **opa**: `+"`opa run --server`"+` loaded with privgate's policy (policy/ingress/rego, tests left out) and a data.json
  holding exactly the data privgate evaluates with (config and the %s groups), answering
  `+"`POST /v1/data/privgate/deny`"+` with `+"`{\"input\": ...}`"+`, the input privgate builds for the same request
  (policy.Reviewer.InputDocument; %s bytes). opa therefore does less than privgate: no AdmissionReview to
  decode, no managedFields, no mutation facts to compute, only deny (privgate also evaluates warn).
  Before any load the harness checks that privgate and opa both admit the reference and both deny its
  variant with a configuration-snippet.

Load: vegeta %s as a library, one keep-alive transport per server.

- **%s**: a fixed rate for %s after %s of warm-up; vegeta adds workers when responses lag, up to %d
  in flight (the API server's default --max-mutating-requests-inflight). With all of them waiting, the
  next request is sent only when one is answered: the rate then falls to what the server answers, and
  that wait is not in the latency (the API server would have turned the surplus away with 429).
- **%s**: %d workers, each sending its next request as soon as it has the last answer, for %s after
  %s of warm-up: the most the server answers with the load generator beside it.
- **%s**: privgate without cache only, for %s, up to %d in flight: more than two cores can answer. One request in
  four is the denied variant; every answer is checked.
- **%s**: privgate without cache only, the same mix from %d workers, each on its own keep-alive connection
  and sending its next request when it has the last answer, for %s after %s of warm-up (the connections
  opened): hundreds of callers at once, as a large cluster's API servers hold. The admission gate decides a
  few at a time; the rest wait.

## Columns

- **req/s**: answers with HTTP 200 per second over the window.
- **p50, p99, max**: latency seen by the load generator, from sending the request to the last byte of the
  answer (vegeta's percentiles, a t-digest estimate).
- **errors**: transport errors, timeouts (%s, the webhooks' timeoutSeconds) and non-200 answers.
- **wrong**: 200 answers that are not the expected decision (a request shed with 429 under overload is
  counted apart, in the targets: it is refused, never admitted): for privgate and the floor, a well-formed
  AdmissionReview with the request's UID and allowed as that request deserves; for opa, a defined, empty
  deny. An error is not a wrong answer: with failurePolicy Fail the API server refuses the request.
- **CPU/req**: the server process's user + system CPU time (/proc/PID/stat utime + stime, read before and
  after the window, 10 ms resolution) divided by the requests of the window. It includes TLS, HTTP, JSON,
  the decision and the Go runtime (GC), everything the process does.
- **peak RSS**: the server's VmHWM (/proc/PID/status) at the end of the window: its peak resident memory
  since it started, startup included; for the overload and connections windows, since the window began
  (VmHWM started over through /proc/PID/clear_refs before it), so that each shows its own peak.
- **load gen CPU/req**: the harness's own CPU (getrusage) per request: what the load generator took from
  the same two cores.
- *privgate / opa*, *privgate / floor* (and the same for privgate without cache): privgate's value divided by the other's; below 1 means privgate spends
  less (or, for req/s, answers less).
`,
		m.date, r.elapsed.Round(time.Second), table, quickNote(r.options.quick), strings.Join(r.targets(), "\n"),
		m.cpus, m.model, m.memory, m.kernel, m.goVers, m.opa, m.vegeta, r.options.revision,
		proto, thousands(r.options.groups), thousands(r.reviewBytes), thousands(r.options.groups), thousands(r.inputBytes),
		m.vegeta,
		fixedRate.name, fixedRate.duration, fixedRate.warmup, inflightCap,
		fixedWorkers.name, fixedWorkers.workers, fixedWorkers.duration, fixedWorkers.warmup,
		overload.name, overload.duration, inflightCap,
		crowded.name, crowded.workers, crowded.duration, crowded.warmup,
		requestTimeout)
	return b.String()
}

func quickNote(quick bool) string {
	if quick {
		return "\n*Quick run (--quick): 2 s windows, not the measured run of record.*\n"
	}
	return ""
}
