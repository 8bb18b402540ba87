package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "privgate_decision_cache_lookups_total",
	Help: "Decision cache lookups, by webhook (mutate, validate) and result (hit, miss).",
}, []string{"webhook", "result"})

var cacheBytes = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "privgate_decision_cache_bytes",
	Help: "Estimated memory held by the decision cache (bounded by --decision-cache-size).",
})

func init() { metrics.Registry.MustRegister(cacheLookups, cacheBytes) }

// maxCachedObject bounds the objects whose decisions are kept: hashing a larger one on every
// request would cost more than remembering such rare requests saves.
const maxCachedObject = 64 << 10

// entryOverhead is what an entry costs beyond its strings and patch: the key, the LRU's list
// element and map slot, the Decision's headers.
const entryOverhead = 512

// DecisionCache remembers recent decisions by everything they were computed from. Argo CD's
// refreshes and server-side diffs dry-run every manifest again every few minutes, and a re-applied
// file sends the same object: judging those again would give the same answer, so a hit costs one
// hash instead of a decode and a policy evaluation.
//
// The key is a SHA-256 of the request (operation, namespace, name, requester, dry-run, object
// bytes) and, for validation, the serving policy's generation and the group set's identity and
// staleness; the request's UID is left out, it differs on every call. A new policy, a new group
// set or a group source turning stale therefore never meets an old answer.
//
// It is bounded by the bytes its decisions take, estimated, not by their number: a denial
// quotes the annotations it judges, so anyone who may dry-run an Ingress could otherwise fill
// the pod's memory with a few thousand large ones.
type DecisionCache struct {
	lru    *lru.Cache
	budget int64

	mu    sync.Mutex // serializes put, so that every kept entry is counted exactly once
	bytes int64      // estimated size of the entries kept; guarded by mu (eviction runs only inside put)
}

type entry struct {
	d    Decision
	size int64
}

// NewDecisionCache keeps decisions up to budget bytes (estimated); 0 disables caching (nil is a
// valid, empty cache).
func NewDecisionCache(budget int64) *DecisionCache {
	if budget <= 0 {
		return nil
	}
	c := &DecisionCache{budget: budget}
	// Eviction runs inside put (RemoveOldest, Remove), with mu held.
	c.lru = lru.NewWithEvictionFunc(int(max(budget/entryOverhead, 1)), func(_ lru.Key, v any) { c.bytes -= v.(entry).size })
	return c
}

type cacheKey [sha256.Size]byte

// version is what a verdict was judged with besides the request: the policy's generation, the
// group set and whether its source is stale, and the cluster's generation (cross-object facts).
// Mutation depends on none of them (the zero version).
type version struct {
	policy, groups, cluster uint64
	stale                   bool
}

// key hashes what a decision depends on. Variable-length fields are length-prefixed, so that no
// two different requests can write the same byte stream.
func (c *DecisionCache) key(webhook string, req Request, v version) (cacheKey, bool) {
	if c == nil || len(req.Object) > maxCachedObject {
		return cacheKey{}, false
	}
	h := sha256.New()
	var buf [8]byte
	for _, s := range []string{webhook, req.Kind.String(), req.Operation, req.Namespace, req.Name, req.Username} {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	for _, n := range []uint64{v.policy, v.groups, v.cluster, uint64(len(req.Object))} {
		binary.BigEndian.PutUint64(buf[:], n)
		h.Write(buf[:])
	}
	h.Write([]byte{bit(req.DryRun), bit(v.stale)})
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
	return v.(entry).d, true
}

// put keeps d under k. The decoded object is dropped: the webhooks answer from the patch and
// the verdict alone. A decision over 1/64 of the budget is not kept, so that a few outsized ones
// cannot crowd out the many ordinary ones.
func (c *DecisionCache) put(k cacheKey, d Decision) {
	d.mutated = nil
	size := decisionSize(d)
	if size > c.budget/64 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(k) // a concurrent miss may have kept it already: count it once
	c.lru.Add(k, entry{d: d, size: size})
	c.bytes += size
	for c.bytes > c.budget && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
	cacheBytes.Set(float64(c.bytes))
}

// decisionSize estimates the memory a kept decision holds. Patch values are decoded JSON (maps,
// slices, strings) and cost about twice their encoding.
func decisionSize(d Decision) int64 {
	n := entryOverhead + len(d.Note)
	for _, vs := range [][]Violation{d.Violations, d.Warnings, d.Audited} {
		for _, v := range vs {
			n += 96 + len(v.ID) + len(v.Host) + len(v.Field) + len(v.Message) + len(v.Group)
		}
	}
	for _, op := range d.Patch {
		b, _ := json.Marshal(op.Value)
		n += 64 + len(op.Operation) + len(op.Path) + 2*len(b)
	}
	return int64(n)
}

// Bytes is the estimated size of what the cache holds.
func (c *DecisionCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// cached answers from the cache when it can, else computes, and keeps what may be kept.
// Errors are never kept.
func (r *Reviewer) cached(webhook string, req Request, v version, compute func() (d Decision, keep bool, err error)) (Decision, error) {
	key, cacheable := r.Cache.key(webhook, req, v)
	if cacheable {
		if d, ok := r.Cache.get(webhook, key); ok {
			return d, nil
		}
	}
	d, keep, err := compute()
	if err == nil && keep && cacheable {
		r.Cache.put(key, d)
	}
	d.mutated = nil // a hit has none either: the webhooks answer from the patch and verdict
	return d, err
}
