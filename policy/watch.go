package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "privgate_policy_reloads_total",
		Help: "Policy directory reloads, by result (success, failure). A failure keeps the last good policy serving.",
	}, []string{"result"})
	lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "privgate_policy_last_reload_success",
		Help: "1 if the last policy reload succeeded, 0 if the last good policy is serving after a failed edit.",
	})
	watchLost = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "privgate_policy_watch_lost_total",
		Help: "Times the policy directory went away and its watch was lost (re-established when it is back).",
	})
	watching = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "privgate_policy_watching",
		Help: "1 while the policy directory is watched, 0 while it is gone (the serving policy stays).",
	})
)

func init() {
	metrics.Registry.MustRegister(reloads, lastReload, watchLost, watching)
	lastReload.Set(1)
}

// resync is how often Watch looks at the directory whatever fsnotify says: the events are an
// early notice, this is what makes a change certain to be seen. Directory swaps send no event
// to a watch on the old directory (git-sync moves a symlink to another one; a directory
// removed and recreated ends its inotify watch), and inotify may drop events on overflow.
var resync = 2 * time.Second

// Watch reloads the engine from dir (over the embedded defaults) whenever its policy changes,
// until ctx ends. A ConfigMap volume changes by swapping its ..data symlink inside dir, git-sync
// by swapping a symlink to dir itself, a hand edit by writing files: fsnotify events on the
// directory dir resolves to and on its parent wake it at once (coalesced for a short quiet
// period), and every resync it compares where dir resolves and what its .rego files hold with
// what it last loaded. A reload that does not compile or fails its tests is logged and counted,
// and the last good policy keeps serving. When dir goes away the watch is lost: that is logged
// and counted (privgate_policy_watch_lost_total, privgate_policy_watching 0), the serving policy
// stays, and the watch comes back with the directory.
func Watch(ctx context.Context, dir string, e *Engine, log logr.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	const quiet = 300 * time.Millisecond
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	tick := time.NewTicker(resync)
	defer tick.Stop()
	d := dirState{dir: dir, watcher: w, log: log}
	d.loaded = fingerprint(dir) // what the engine was started with
	d.check()
	reload := func() {
		if now := fingerprint(dir); now != d.loaded && now != "" {
			d.loaded = now
			Reload(ctx, dir, e, log)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.Events:
			log.V(1).Info("policy directory changed", "event", ev.String())
			timer.Reset(quiet)
		case err := <-w.Errors:
			// An overflow drops events: look again rather than trust the watch.
			log.Error(err, "watching policy directory", "dir", dir)
			timer.Reset(quiet)
		case <-tick.C:
			d.check()
			reload()
		case <-timer.C:
			d.check()
			reload()
		}
	}
}

// dirState is where Watch's directory resolves and what it watches.
type dirState struct {
	dir     string
	watcher *fsnotify.Watcher
	log     logr.Logger
	real    string // the directory dir resolved to when watched; "" while it is gone
	watched []string
	lost    bool
	loaded  string // fingerprint of the policy last loaded (or tried)
}

// check (re)arms the watch on where dir resolves now and its parent, or reports it lost.
func (d *dirState) check() {
	real, err := filepath.EvalSymlinks(d.dir)
	if err != nil {
		if !d.lost {
			d.lost = true
			d.real = ""
			watchLost.Inc()
			watching.Set(0)
			d.log.Error(err, "policy directory gone: watch lost; the serving policy stays until it is back", "dir", d.dir)
		}
		return
	}
	if real != d.real {
		for _, p := range d.watched {
			_ = d.watcher.Remove(p)
		}
		d.watched = nil
		// The parent sees dir itself replaced (removed and recreated, or a symlink swapped).
		for _, p := range []string{real, filepath.Dir(d.dir)} {
			if err := d.watcher.Add(p); err == nil {
				d.watched = append(d.watched, p)
			}
		}
		if d.lost || d.real != "" {
			d.log.Info("policy directory moved or back: watch re-established", "dir", d.dir, "resolved", real)
		}
		d.real, d.lost = real, false
		watching.Set(1)
	}
}

// fingerprint is a digest of dir's .rego files as ReadModules reads them; "" when unreadable.
func fingerprint(dir string) string {
	mods, err := ReadModules(dir)
	if err != nil {
		return ""
	}
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(mods)) {
		fmt.Fprintf(h, "%d:%s%d:%s", len(name), name, len(mods[name]), mods[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Reload loads dir over the defaults into e, keeping the serving policy when that fails.
func Reload(ctx context.Context, dir string, e *Engine, log logr.Logger) {
	mods, err := e.Reload(ctx, dir)
	if err != nil {
		reloads.WithLabelValues("failure").Inc()
		lastReload.Set(0)
		log.Error(err, "policy edit refused; the last good policy keeps serving", "dir", dir)
		return
	}
	reloads.WithLabelValues("success").Inc()
	lastReload.Set(1)
	loadedFromDir()
	log.Info("policy reloaded", "dir", dir, "files", len(mods))
	if err := e.SaveLastGood(dir); err != nil {
		log.Error(err, "cannot keep a copy of the policy for a restart")
	}
}
