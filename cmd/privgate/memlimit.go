package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/go-logr/logr"
)

// memoryLimitShare is the share of the container's memory limit given to the Go runtime as its
// soft limit (GOMEMLIMIT): the rest is what the limit does not hold back (pages freed but not
// yet returned to the OS, a review being decoded when the collector starts) and must still fit.
// Measured (docs/performance.md, "Memory under large reviews"): at 90% a mix of large reviews
// peaked 8 MiB under deploy/'s 192 MiB, at 80% 20 MiB under.
const memoryLimitShare = 0.8

// cgroup files holding the container's memory limit: v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// setMemoryLimit gives the Go runtime a soft memory limit of memoryLimitShare (80%) of the container's,
// read from its cgroup at start, unless GOMEMLIMIT is set (the runtime has applied it). Without
// it the collector lets the heap grow to twice the live data (GOGC=100) whatever the container
// allows, and a burst of large reviews OOM-kills a webhook whose failurePolicy is Fail.
//
// The cgroup, not an environment variable from the downward API (resourceFieldRef), is the
// source: it is the limit the kernel enforces, it is there however privgate is deployed (chart,
// kustomize, a plain pod), and GOMEMLIMIT needs a share of the limit, which the downward API
// cannot compute.
func setMemoryLimit(log logr.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit from GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
		return
	}
	for _, f := range cgroupMemoryFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		limit, ok := parseMemoryLimit(string(raw))
		if !ok {
			log.Info("no container memory limit: the Go runtime has none either", "cgroup", f)
			return
		}
		soft := int64(float64(limit) * memoryLimitShare)
		debug.SetMemoryLimit(soft)
		log.Info("memory limit from the container's", "cgroup", f, "container", limit, "goRuntime", soft)
		return
	}
	log.Info("no cgroup memory limit readable: the Go runtime has no memory limit (set GOMEMLIMIT)")
}

// parseMemoryLimit reads a cgroup memory limit: a byte count, or none ("max" in v2; v1's
// "unlimited" is the largest page-aligned int64).
func parseMemoryLimit(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
