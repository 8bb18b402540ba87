package policy

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "privgate_decision_cache_lookups_total",
	Help: "Decision cache lookups, by webhook (mutate, validate) and result (hit, miss).",
}, []string{"webhook", "result"})

func init() { metrics.Registry.MustRegister(cacheLookups) }

// maxCachedObject bounds the objects whose decisions are kept: the cache holds the mutated
// Ingress, and a few very large objects must not crowd out the many ordinary ones.
const maxCachedObject = 64 << 10

// DecisionCache remembers recent decisions by everything they were computed from. Argo CD's
// refreshes and server-side diffs dry-run every manifest again every few minutes, and a re-applied
// file sends the same object: judging those again would give the same answer, so a hit costs one
// hash instead of a decode and a policy evaluation.
//
// The key is a SHA-256 of the request (operation, namespace, name, requester, dry-run, object
// bytes) and, for validation, the serving policy's generation and the group set's identity and
// staleness; the request's UID is left out, it differs on every call. A new policy, a new group
// set or a group source turning stale therefore never meets an old answer.
type DecisionCache struct{ lru *lru.Cache }

// NewDecisionCache keeps up to size decisions; size 0 disables caching (nil is a valid, empty cache).
func NewDecisionCache(size int) *DecisionCache {
	if size <= 0 {
		return nil
	}
	return &DecisionCache{lru: lru.New(size)}
}

type cacheKey [sha256.Size]byte

// key hashes what a decision depends on. Variable-length fields are length-prefixed, so that no
// two different requests can write the same byte stream.
func (c *DecisionCache) key(webhook string, req Request, generation, groupSet uint64, stale bool) (cacheKey, bool) {
	if c == nil || len(req.Object) > maxCachedObject {
		return cacheKey{}, false
	}
	h := sha256.New()
	var buf [8]byte
	for _, s := range []string{webhook, req.Operation, req.Namespace, req.Name, req.Username} {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	for _, n := range []uint64{generation, groupSet, uint64(len(req.Object))} {
		binary.BigEndian.PutUint64(buf[:], n)
		h.Write(buf[:])
	}
	h.Write([]byte{bit(req.DryRun), bit(stale)})
	h.Write(req.Object)
	var k cacheKey
	h.Sum(k[:0])
	return k, true
}

func bit(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// get returns the decision kept under k. Decisions are shared: callers read them, never change them.
func (c *DecisionCache) get(webhook string, k cacheKey) (Decision, bool) {
	v, ok := c.lru.Get(k)
	result := "miss"
	if ok {
		result = "hit"
	}
	cacheLookups.WithLabelValues(webhook, result).Inc()
	if !ok {
		return Decision{}, false
	}
	return v.(Decision), true
}

func (c *DecisionCache) put(k cacheKey, d Decision) { c.lru.Add(k, d) }
