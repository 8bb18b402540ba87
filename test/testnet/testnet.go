// Package testnet has network peers for tests, with no dependency on privgate's packages: the
// packages they test (probe, which policy imports) can use it without an import cycle.
package testnet

import (
	"net"
	"testing"
)

// Dropping is the address of a listener that closes every connection it accepts, before
// reading anything: a peer that never answers. Unlike a port closed after listening, nobody
// else can take the address while the test runs (parallel packages listen too).
func Dropping(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			conn.Close()
		}
	}()
	return ln.Addr().String()
}
