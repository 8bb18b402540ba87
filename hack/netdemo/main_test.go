package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProxy: a CONNECT to a route reaches its address; any other host, or a plain request, is
// refused.
func TestProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "login") }))
	defer upstream.Close()
	p := httptest.NewServer(proxy(routeFlag{"oauth2.private.example.com:443": upstream.Listener.Addr().String()}))
	defer p.Close()
	cases := map[string]struct {
		request string
		status  string
	}{
		"a route":      {"CONNECT oauth2.private.example.com:443 HTTP/1.1\r\nHost: oauth2.private.example.com:443\r\n\r\n", "200"},
		"another host": {"CONNECT evil.example.com:443 HTTP/1.1\r\nHost: evil.example.com:443\r\n\r\n", "403"},
		"not CONNECT":  {"GET http://oauth2.private.example.com:443/ HTTP/1.1\r\nHost: oauth2.private.example.com:443\r\n\r\n", "403"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", p.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprint(conn, tc.request)
			r := bufio.NewReader(conn)
			line, _ := r.ReadString('\n')
			if f := strings.Fields(line); len(f) < 2 || f[1] != tc.status {
				t.Fatalf("answer %q, want %s", line, tc.status)
			}
			if tc.status != "200" {
				return
			}
			for l, _ := r.ReadString('\n'); l != "\r\n" && l != ""; l, _ = r.ReadString('\n') {
			}
			// Through the tunnel: the upstream itself.
			fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: oauth2.private.example.com\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(r, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("through the tunnel: %v %v", resp, err)
			}
		})
	}
}

func TestRouteFlag(t *testing.T) {
	var r routeFlag
	if err := r.Set("a:443=127.0.0.1:1"); err != nil || r["a:443"] != "127.0.0.1:1" {
		t.Errorf("Set: %v %v", err, r)
	}
	if err := r.Set("no-address"); err == nil {
		t.Error("a route without = accepted")
	}
}
