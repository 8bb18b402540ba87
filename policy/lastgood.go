package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The last good policy: a copy of the policy directory's .rego files as they last loaded, kept
// in a writable directory (deploy/ mounts an emptyDir, which outlives the container's restarts
// within its pod). A restarted privgate whose policy directory no longer loads (a broken edit
// refused while it ran, then a restart) serves that copy instead of crash-looping, says so, and
// takes the directory again once it loads. Without a copy (a new pod), a broken policy still
// stops privgate at start: the embedded default is not a stand-in, since a site's own rules may
// deny more than it does.

var servingLastGood = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "privgate_policy_serving_last_good",
	Help: "1 while privgate serves the last good copy of the policy directory because the directory did not load at start (see /readyz?verbose).",
})

func init() { metrics.Registry.MustRegister(servingLastGood) }

// KeepLastGood makes e save the policy directory's files into dir after every successful load
// from it (SaveLastGood).
func (e *Engine) KeepLastGood(dir string) { e.lastGood = dir }

// SaveLastGood copies the .rego files of policyDir into the engine's last-good directory (if
// any): written beside it, then renamed over it, so that a copy is always whole.
func (e *Engine) SaveLastGood(policyDir string) error {
	if e.lastGood == "" || policyDir == "" {
		return nil
	}
	mods, err := ReadModules(policyDir)
	if err != nil {
		return err
	}
	tmp := e.lastGood + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("save last good policy: %w", err)
	}
	for name, src := range mods {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(src), 0o600); err != nil {
			return fmt.Errorf("save last good policy: %w", err)
		}
	}
	_ = os.RemoveAll(e.lastGood)
	if err := os.Rename(tmp, e.lastGood); err != nil {
		return fmt.Errorf("save last good policy: %w", err)
	}
	return nil
}

// HasLastGood reports whether dir holds a saved policy.
func HasLastGood(dir string) bool {
	if dir == "" {
		return false
	}
	st, err := os.Stat(dir)
	return err == nil && st.IsDir()
}

var degraded struct {
	sync.Mutex
	why string
}

// ServeLastGood records that the last good copy serves because the directory did not load.
func ServeLastGood(why string) {
	degraded.Lock()
	defer degraded.Unlock()
	degraded.why = why
	servingLastGood.Set(1)
}

// LastGoodServing says why the last good copy serves, if it does.
func LastGoodServing() (string, bool) {
	degraded.Lock()
	defer degraded.Unlock()
	return degraded.why, degraded.why != ""
}

// loadedFromDir records a successful load from the policy directory: the copy no longer serves.
func loadedFromDir() {
	degraded.Lock()
	defer degraded.Unlock()
	degraded.why = ""
	servingLastGood.Set(0)
}
