// Package probe checks from the network what privgate predicts from manifests: it sends
// unauthenticated requests (the plain path and the variants known bypasses use) to private hosts
// and says of each answer whether the login met it, the app answered, or nothing did.
package probe
