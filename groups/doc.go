// Package groups knows which groups exist: an immutable Snapshot the admission path reads without
// I/O, and the sources that produce snapshots (a file, or a Keycloak realm).
package groups
