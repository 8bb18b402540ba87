package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/privgate/privgate/probe"
	"github.com/privgate/privgate/test/testnet"
)

// controller is a controller in front of the examples' hosts: the login answers every host but
// those in open, whose app answers.
func controller(t *testing.T, open ...string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := strings.Cut(strings.TrimSuffix(strings.ToLower(r.Host), "."), ":")
		if slices.Contains(open, strings.TrimSuffix(host, ".")) {
			_, _ = w.Write([]byte("the app"))
			return
		}
		http.Redirect(w, r, "https://oauth2.private.example.com/oauth2/start?rd=x", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func TestProbe(t *testing.T) {
	examples, _ := filepath.Abs("../../examples")
	config := filepath.Join(examples, "privgate.yaml")
	tests := map[string]struct {
		args  func() []string
		code  int
		hosts []string // hosts probed, in order
		open  []string
		err   string
	}{
		"every host behind the login": {
			args: func() []string {
				return []string{"-f", filepath.Join(examples, "admitted"), "--address", controller(t)}
			},
			code: 0, hosts: []string{"argocd.private.example.com", "grafana.private.example.com"},
		},
		"a host open": {
			args: func() []string {
				return []string{"-f", filepath.Join(examples, "admitted"), "--address", controller(t, "grafana.private.example.com")}
			},
			code: 1, hosts: []string{"argocd.private.example.com", "grafana.private.example.com"}, open: []string{"grafana.private.example.com"},
		},
		"named hosts": {
			args: func() []string {
				return []string{"--host", "a.private.example.com/api", "--host", "a.private.example.com/", "--host", "*.private.example.com", "--address", controller(t)}
			},
			code: 0, hosts: []string{"a.private.example.com", "privgate-probe.private.example.com"},
		},
		"nothing answers": {
			args: func() []string { return []string{"--host", "a.private.example.com", "--address", testnet.Dropping(t)} },
			code: 2, hosts: []string{"a.private.example.com"},
		},
		"two sources": {
			args: func() []string { return []string{"--host", "a", "-f", examples, "--address", "127.0.0.1:1"} },
			code: 2, err: "one source of hosts",
		},
		"bad address": {
			args: func() []string { return []string{"--host", "a", "--address", "somewhere"} },
			code: 2, err: "--address somewhere",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"probe", "--config", config, "--scheme", "http", "--rate", "1000", "-o", "json"}, tc.args()...)
			code := run(context.Background(), args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.err) {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, stderr.String())
			}
			if tc.err != "" {
				return
			}
			var results []probe.Result
			if err := json.Unmarshal(stdout.Bytes(), &results); err != nil {
				t.Fatalf("%v: %s", err, stdout.String())
			}
			var hosts, open []string
			for _, r := range results {
				if !slices.Contains(hosts, r.Host) {
					hosts = append(hosts, r.Host)
				}
				if r.Verdict == probe.Open && !slices.Contains(open, r.Host) {
					open = append(open, r.Host)
				}
			}
			if !slices.Equal(hosts, tc.hosts) || !slices.Equal(open, tc.open) {
				t.Errorf("hosts %v open %v, want %v %v", hosts, open, tc.hosts, tc.open)
			}
			// The documented bound: hosts × (7 + paths × (6 + 2 × no-auth locations)).
			if plan := (probe.Plan{NoAuth: []string{"/.well-known/acme-challenge"}}); len(results) > plan.Bound(len(tc.hosts)) {
				t.Errorf("%d requests for %d hosts, over the bound %d", len(results), len(tc.hosts), plan.Bound(len(tc.hosts)))
			}
			var raw []map[string]any
			_ = json.Unmarshal(stdout.Bytes(), &raw)
			for _, key := range []string{"host", "path", "variant", "status", "location", "verdict"} {
				if _, ok := raw[0][key]; !ok {
					t.Errorf("JSON entry without %q: %v", key, raw[0])
				}
			}
		})
	}
}

// TestProbeHostsAreAudits: probe's hosts are the zone privgate audit prints (less the exempt
// login host), with the paths the objects route.
func TestProbeHostsAreAudits(t *testing.T) {
	examples, _ := filepath.Abs("../../examples")
	s, err := load(context.Background(), filepath.Join(examples, "privgate.yaml"), "", neverIntercepted("privgate"), false)
	if err != nil {
		t.Fatal(err)
	}
	targets, err := probeTargets(context.Background(), probeOptions{files: []string{filepath.Join(examples, "admitted"), filepath.Join(examples, "denied")}, config: filepath.Join(examples, "privgate.yaml")}, s.reviewer, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range targets {
		got = append(got, tg.Host+" "+strings.Join(tg.Paths, ","))
	}
	want := []string{
		"argocd.private.example.com /",
		"grafana.private.example.com /",
		"headlamp.private.example.com /",
		"prometheus.private.example.com /",
	}
	if !slices.Equal(got, want) {
		t.Errorf("targets\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The same hosts privgate audit prints, less the exempt one.
	objs, err := manifestObjects(s.reviewer, readManifests([]string{filepath.Join(examples, "admitted"), filepath.Join(examples, "denied")}, nil, ""))
	if err != nil {
		t.Fatal(err)
	}
	_, _, zone := auditStored(context.Background(), s.reviewer, objs)
	var printed bytes.Buffer
	printHosts(&printed, zone)
	var listed []string
	for _, line := range strings.Split(printed.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.Contains(f[0], ".") && f[1] != "exempt" {
			listed = append(listed, f[0]+" /")
		}
	}
	if !slices.Equal(listed, want) {
		t.Errorf("privgate audit lists\n%s\nprobe probes\n%s", strings.Join(listed, "\n"), strings.Join(got, "\n"))
	}
}
