package policy

import "time"

// What the external tests (package policy_test, which judge real Ingresses through the ingress
// target) read of the core's insides.

var CacheLookups = cacheLookups

func CacheLen(c *DecisionCache) int { return c.lru.Len() }

var HasUnknownGroup = hasUnknownGroup

// SetResync shortens Watch's resync for a test, and returns the undo.
func SetResync(d time.Duration) func() {
	old := resync
	resync = d
	return func() { resync = old }
}

var WatchLost, Watching = watchLost, watching
