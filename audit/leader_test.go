package audit

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// TestElectionOutlivesAPIServer: with the API server away for longer than the renew deadline,
// the leader's audit stops but Run does not return (the process, and so the webhooks, keep
// going); once the API server is back, the replica leads again and the audit restarts.
func TestElectionOutlivesAPIServer(t *testing.T) {
	client := fake.NewClientset()
	var away atomic.Bool
	client.PrependReactor("*", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if away.Load() {
			return true, nil, errors.New("dial tcp 10.0.0.1:443: connect: connection refused")
		}
		return false, nil, nil
	})
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, "privgate", "privgate-audit", client.CoreV1(), client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: "replica-a"})
	if err != nil {
		t.Fatal(err)
	}
	e := Election{Lock: lock, LeaseDuration: time.Second, RenewDeadline: 500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond, Log: logr.Discard()}
	var terms, active atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- e.Run(ctx, func(ctx context.Context) {
			terms.Add(1)
			active.Add(1)
			defer active.Add(-1)
			<-ctx.Done()
		})
	}()
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			select {
			case err := <-done:
				t.Fatalf("%s: Run returned (%v): the process would exit", what, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("never %s (terms %d, active %d)", what, terms.Load(), active.Load())
			}
		}
	}
	eventually("led", func() bool { return terms.Load() == 1 && active.Load() == 1 })
	away.Store(true)
	eventually("stopped the audit with the API server away", func() bool { return active.Load() == 0 })
	away.Store(false)
	eventually("led again once the API server is back", func() bool { return terms.Load() == 2 && active.Load() == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if active.Load() != 0 {
		t.Error("the audit outlived Run")
	}
}
