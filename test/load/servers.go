package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/privgate/privgate/test/testutil"
)

// server is one server under test, run as its own process so that /proc tells its CPU and
// memory apart from the load generator's.
type server struct {
	name  string
	base  string // https://127.0.0.1:PORT
	ready string // path answering 200 once the server can take requests
	log   string // its stdout and stderr
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process has exited
	err   error         // why it exited, once done is closed
}

// startServer starts bin with args; port is filled into args where "{port}" appears.
func startServer(name, dir, ready, bin string, args ...string) (*server, error) {
	port, err := testutil.Port()
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{port}", strconv.Itoa(port))
	}
	s := &server{name: name, base: "https://127.0.0.1:" + strconv.Itoa(port), ready: ready, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	out, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// Own process group, so a ^C reaches the harness only and it stops the servers in order;
	// Pdeathsig, so that they die with the harness even if it is killed outright.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		out.Close()
		close(s.done)
	}()
	return s, nil
}

// waitReady polls the readiness path until it answers 200, the process exits or ctx ends.
func (s *server) waitReady(ctx context.Context, client *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+s.ready, nil)
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready (%v); see %s:\n%s", s.name, s.err, s.log, s.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last answer: %s); see %s:\n%s", s.name, ctx.Err(), last, s.log, s.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// alive reports whether the process is still running.
func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop asks the server to shut down and kills it if it has not within a few seconds.
func (s *server) stop() {
	if !s.alive() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// tail is the end of the server's log, for error messages.
func (s *server) tail() string {
	raw, _ := os.ReadFile(s.log)
	if len(raw) > 2000 {
		raw = raw[len(raw)-2000:]
	}
	return string(raw)
}

// userHZ is the unit of utime and stime in /proc/PID/stat: USER_HZ, fixed at 100 in Linux's
// user-space ABI whatever the kernel's own tick rate.
const userHZ = 100

// cpu is the CPU time (user + system) the process has used so far, from /proc/PID/stat. It
// includes threads that have exited.
func (s *server) cpu() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(raw))
}

func parseStatCPU(stat string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat: no command name")
	}
	fields := strings.Fields(stat[i+1:]) // fields[0] is field 3 (state)
	if len(fields) < 13 {
		return 0, errors.New("/proc/PID/stat: too few fields")
	}
	var ticks int64
	for _, f := range fields[11:13] { // fields 14 and 15: utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// peakRSS is the process's peak resident set size so far (VmHWM), in bytes.
func (s *server) peakRSS() (uint64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	return parseHWM(string(raw))
}

// resetPeakRSS starts the process's VmHWM over from its resident set now (Linux's clear_refs
// 5), so that a window's peak is its own, not an earlier window's.
func (s *server) resetPeakRSS() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
}

func parseHWM(status string) (uint64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/status: VmHWM: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("/proc/PID/status: no VmHWM")
}

// selfCPU is the harness's own CPU time (the load generator's share of the machine).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
