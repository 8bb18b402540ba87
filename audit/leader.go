package audit

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Election is how replicas pick the one that audits: a Lease, held while renewed.
//
// It is not the manager's leader election on purpose. The manager ends the process when the
// lease is lost ("leader election lost"), as a controller must when another may have taken over;
// but privgate's webhooks need no API server, and an API server away for longer than the renew
// deadline (a graceful restart is enough) would otherwise stop every replica that led, and with
// failurePolicy Fail, every Ingress write in the cluster. So losing the lease stops the audit
// only, and the replica stands again once the API server is back.
type Election struct {
	Lock resourcelock.Interface
	// Zero values take controller-runtime's defaults (15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Log                                       logr.Logger
}

// Run runs lead while this replica holds the lease, until ctx ends: lead's context ends when
// the lease is lost, and the replica stands for election again at once. It returns only when
// ctx ends.
func (e Election) Run(ctx context.Context, lead func(context.Context)) error {
	cfg := leaderelection.LeaderElectionConfig{
		Lock:            e.Lock,
		LeaseDuration:   orDuration(e.LeaseDuration, 15*time.Second),
		RenewDeadline:   orDuration(e.RenewDeadline, 10*time.Second),
		RetryPeriod:     orDuration(e.RetryPeriod, 2*time.Second),
		ReleaseOnCancel: true, // a replica stopping gives the lease back: the next need not wait
		Name:            e.Lock.Describe(),
	}
	for ctx.Err() == nil {
		started, led := make(chan struct{}), make(chan struct{})
		cfg.Callbacks = leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				close(started)
				defer close(led)
				e.Log.Info("leading: the audit runs here", "lease", e.Lock.Describe(), "identity", e.Lock.Identity())
				lead(ctx)
			},
			OnStoppedLeading: func() {},
		}
		le, err := leaderelection.NewLeaderElector(cfg)
		if err != nil {
			return err
		}
		le.Run(ctx) // returns once the lease is lost, or when ctx ends
		select {
		case <-started:
			<-led // lead's context has ended: the lost term's audit stops before the next term
			if ctx.Err() == nil {
				e.Log.Info("lost the lease (API server unreachable or slow?): the audit stopped, the webhooks keep serving; standing again", "lease", e.Lock.Describe())
			}
		default:
		}
	}
	return nil
}

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
