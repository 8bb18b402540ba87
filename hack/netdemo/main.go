// Command netdemo stands in, for the demo, for what a cluster's network gives a controller: an
// app behind every Service (-app: answers 200 "app" to anything), and DNS for the login's
// public name (-connect: an HTTP CONNECT proxy that opens HOST:PORT as the -route says, so that
// Traefik, given HTTPS_PROXY, reaches https://oauth2.private.example.com/oauth2/auth, the
// auth-url privgate writes, at oauth2-proxy on this machine). Development only.
//
//	go run ./hack/netdemo -app 0.0.0.0:PORT -connect 127.0.0.1:PORT -route oauth2.private.example.com:443=127.0.0.1:PORT
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	app := flag.String("app", "", "address the app listens on")
	connect := flag.String("connect", "", "address the CONNECT proxy listens on")
	var routes routeFlag
	flag.Var(&routes, "route", "HOST:PORT=ADDR the proxy opens (repeatable); any other is refused")
	flag.Parse()
	if *app == "" && *connect == "" {
		fmt.Fprintln(os.Stderr, "netdemo: -app or -connect is required")
		os.Exit(2)
	}
	errs := make(chan error, 2)
	if *app != "" {
		go func() {
			errs <- serve(*app, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "app %s\n", r.Host)
			}))
		}()
	}
	if *connect != "" {
		go func() { errs <- serve(*connect, proxy(routes)) }()
	}
	log.Fatal(<-errs)
}

func serve(addr string, h http.Handler) error {
	return (&http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}).ListenAndServe()
}

type routeFlag map[string]string

func (r *routeFlag) String() string { return fmt.Sprint(map[string]string(*r)) }

func (r *routeFlag) Set(v string) error {
	from, to, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("%q: want HOST:PORT=ADDR", v)
	}
	if *r == nil {
		*r = routeFlag{}
	}
	(*r)[from] = to
	return nil
}

// proxy answers CONNECT for the routes only, and splices the two connections.
func proxy(routes routeFlag) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to, ok := routes[r.Host]
		if r.Method != http.MethodConnect || !ok {
			http.Error(w, "netdemo: not a route", http.StatusForbidden)
			return
		}
		up, err := net.DialTimeout("tcp", to, 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = io.Copy(up, buf); _ = up.(*net.TCPConn).CloseWrite() }()
		go func() { defer wg.Done(); _, _ = io.Copy(conn, up) }()
		wg.Wait()
		conn.Close()
		up.Close()
	})
}
