package policy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCacheBudget: the cache holds at most its budget of estimated bytes, keeps nothing over a
// 64th of it, and counts a decision kept twice (two misses racing) once.
func TestCacheBudget(t *testing.T) {
	small := Decision{Allowed: true, Violations: []Violation{{ID: "x", Message: strings.Repeat("m", 100)}}}
	big := Decision{Violations: []Violation{{ID: "x", Message: strings.Repeat("m", 4<<10)}}}
	const budget = 64 << 10
	c := NewDecisionCache(budget)
	for i := range 1000 {
		c.put(cacheKey{byte(i), byte(i >> 8)}, small)
		if c.Bytes() > budget {
			t.Fatalf("after %d puts: %d bytes, budget %d", i+1, c.Bytes(), budget)
		}
	}
	if n := c.lru.Len(); n == 0 || int64(n)*decisionSize(small) != c.Bytes() {
		t.Errorf("%d entries of %d bytes counted as %d", n, decisionSize(small), c.Bytes())
	}
	if g := testutil.ToFloat64(cacheBytes); g != float64(c.Bytes()) {
		t.Errorf("privgate_decision_cache_bytes = %v, want %d", g, c.Bytes())
	}
	c = NewDecisionCache(budget)
	c.put(cacheKey{1}, big)
	if c.lru.Len() != 0 {
		t.Errorf("a %d-byte decision was kept in a %d-byte cache", decisionSize(big), budget)
	}
	c.put(cacheKey{2}, small)
	c.put(cacheKey{2}, small)
	if c.Bytes() != decisionSize(small) {
		t.Errorf("one decision kept twice counts %d bytes, want %d", c.Bytes(), decisionSize(small))
	}
	got, _ := c.get("validate", cacheKey{2})
	if !reflect.DeepEqual(got, small) {
		t.Errorf("kept %+v, want %+v", got, small)
	}
}
