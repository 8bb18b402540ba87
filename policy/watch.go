package policy

import (
	"context"
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
)

func init() {
	metrics.Registry.MustRegister(reloads, lastReload)
	lastReload.Set(1)
}

// Watch reloads the engine from dir (over the embedded defaults) whenever a file there changes,
// until ctx ends. A ConfigMap volume changes by swapping a symlink, so every event in the
// directory counts; events are coalesced for a short quiet period. A reload that does not
// compile or fails its tests is logged and counted, and the last good policy keeps serving.
func Watch(ctx context.Context, dir string, e *Engine, log logr.Logger) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		return err
	}
	const quiet = 300 * time.Millisecond
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.Events:
			log.V(1).Info("policy directory changed", "event", ev.String())
			timer.Reset(quiet)
		case err := <-w.Errors:
			log.Error(err, "watching policy directory", "dir", dir)
		case <-timer.C:
			Reload(ctx, dir, e, log)
		}
	}
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
	log.Info("policy reloaded", "dir", dir, "files", len(mods))
}
