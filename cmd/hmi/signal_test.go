package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/store"
)

// TestSignal builds the hmi binary and checks that hmi serve and hmi sim
// stop cleanly, with exit status 0, on SIGTERM and SIGINT: what main does
// with signal.NotifyContext, which the tests that call run cannot see.
func TestSignal(t *testing.T) {
	bin := buildHMI(t)
	t.Run("serve SIGTERM", func(t *testing.T) { testServeSignal(t, bin, false) })
	t.Run("serve SIGTERM, outside RTU", func(t *testing.T) { testServeSignal(t, bin, true) })
	t.Run("sim SIGINT", func(t *testing.T) { testSimSignal(t, bin) })
}

// proc is a started hmi process with its output.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr simBuffer
	done           chan error // gets Wait's result
	ended          bool       // Wait's result was taken from done
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if !p.ended {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitFor polls until match finds what it wants in the output, or fails
// after d or when the process ends.
func (p *proc) waitFor(t *testing.T, d time.Duration, what string, match func(stdout, stderr string) bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !match(p.stdout.String(), p.stderr.String()) {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("hmi ended (%v) before %s\nstdout:\n%s\nstderr:\n%s", err, what, p.stdout.String(), p.stderr.String())
		case <-deadline.C:
			t.Fatalf("no %s within %v\nstdout:\n%s\nstderr:\n%s", what, d, p.stdout.String(), p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends sig and checks that the process exits 0 within 15 s.
func (p *proc) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case err := <-p.done:
		p.ended = true
		if err != nil {
			t.Fatalf("after %v: %v, want exit status 0\nstdout:\n%s\nstderr:\n%s", sig, err, p.stdout.String(), p.stderr.String())
		}
		t.Logf("stopped %v after the signal", time.Since(start).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.ended = true
		t.Fatalf("still running 15s after %v\nstdout:\n%s\nstderr:\n%s", sig, p.stdout.String(), p.stderr.String())
	}
}

// simAddr finds the address in hmi sim's first line.
var simAddr = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+) `)

// logRecords parses JSON log lines; t nil skips the lines that do not
// parse (a line still being written), else they are errors.
func logRecords(t *testing.T, stderr string) []map[string]any {
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			if t != nil {
				t.Errorf("log line %q is not JSON: %v", l, err)
			}
			continue
		}
		recs = append(recs, m)
	}
	return recs
}

// linkState reports whether recs hold a "link state" record of link
// with the given attributes.
func linkState(recs []map[string]any, link string, attrs map[string]string) bool {
	for _, r := range recs {
		if r["msg"] != "link state" || r["link"] != link {
			continue
		}
		ok := true
		for k, v := range attrs {
			ok = ok && r[k] == v
		}
		if ok {
			return true
		}
	}
	return false
}

// testServeSignal runs hmi serve on a configuration with one link and
// stops it with SIGTERM. Its RTU is a simulator of the configuration, or
// with outside set an hmi sim process, which then tells whether the
// link's STOPDT arrived (a simulator of the configuration stops with the
// links, and may close the connection before the STOPDT is sent).
func testServeSignal(t *testing.T, bin string, outside bool) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	text := fmt.Sprintf("data_dir: %s\nhttp:\n  listen: 127.0.0.1:0\n", data)
	var rtu *proc
	if outside {
		rtu = startProc(t, bin, "sim", "--listen", "127.0.0.1:0", "--points", "8", "--rate", "0", "--log-level", "debug", "--log-format", "json")
		rtu.waitFor(t, 15*time.Second, "listening line", func(out, _ string) bool { return simAddr.MatchString(out) })
		addr := simAddr.FindStringSubmatch(rtu.stdout.String())[1]
		// The generated station's first single and float points.
		text += fmt.Sprintf(`links:
  - name: rtu1
    addresses: [%s]
    ca: 1
points:
  - {id: rtu1.switch, name: Switch, link: rtu1, ioa: 1000, kind: single}
  - {id: rtu1.current, name: Current, link: rtu1, ioa: 7000, kind: float, unit: A}
`, addr)
	} else {
		addr := freePort(t)
		text += fmt.Sprintf(`links:
  - name: rtu1
    addresses: [%s]
    ca: 1
points:
  - {id: rtu1.breaker, name: Breaker, link: rtu1, ioa: 100, kind: double}
  - {id: rtu1.current, name: Current, link: rtu1, ioa: 200, kind: float, unit: A}
simulators:
  - link: rtu1
    listen: %s
`, addr, addr)
	}
	conf := filepath.Join(dir, "hmi.yaml")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	p := startProc(t, bin, "serve", "--config", conf, "--log-format", "json")
	p.waitFor(t, 15*time.Second, `"hmi: serving"`, func(out, _ string) bool { return strings.Contains(out, "hmi: serving http://127.0.0.1:") })
	p.waitFor(t, 15*time.Second, "active link", func(_, errOut string) bool {
		return linkState(logRecords(nil, errOut), "rtu1", map[string]string{"state": "active"})
	})
	p.stop(t, syscall.SIGTERM)

	// The links were stopped: each logged that it left the active state.
	recs := logRecords(t, p.stderr.String())
	if !linkState(recs, "rtu1", map[string]string{"from": "active"}) {
		t.Errorf("no log of the link leaving the active state:\n%s", p.stderr.String())
	}
	for _, r := range recs {
		if r["level"] == "ERROR" || (outside && r["msg"] == "STOPDT at shutdown") {
			t.Errorf("logged: %v", r)
		}
	}
	if outside {
		// The station saw the STOPDT: its connection went from active
		// to stopped before it was closed.
		rtu.waitFor(t, 15*time.Second, "the station's connection stopped, then closed", func(_, errOut string) bool {
			var states []string
			for _, r := range logRecords(nil, errOut) {
				if r["msg"] == "sim: state" {
					states = append(states, fmt.Sprint(r["state"]))
				}
			}
			// The JSON handler writes an iec104.State as its number.
			seq := strings.Join(states, " ")
			want := []iec104.State{iec104.StateActive, iec104.StateStopped, iec104.StateClosed}
			return strings.Contains(seq, fmt.Sprintf("%d %d %d", want[0], want[1], want[2])) ||
				strings.Contains(seq, fmt.Sprintf("%v %v %v", want[0], want[1], want[2]))
		})
		rtu.stop(t, os.Interrupt)
	}

	// The journal is complete: the link's events before the signal, and
	// the one of its stop, written while stopping.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, data, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, _, err := st.Events(ctx, store.EventQuery{Kind: "link"})
	if err != nil {
		t.Fatal(err)
	}
	var active, left bool
	for _, e := range evs {
		if e.Link != "rtu1" {
			continue
		}
		active = active || e.State == "active"
		left = left || strings.Contains(e.Message, "active -> ")
	}
	if !active || !left {
		var b strings.Builder
		for _, e := range evs {
			fmt.Fprintf(&b, "  %s %s %s %q\n", e.Time.Format(time.RFC3339Nano), e.Link, e.State, e.Message)
		}
		t.Errorf("link events: the active one %v, the stop %v; want both in the journal:\n%s", active, left, b.String())
	}
}

func testSimSignal(t *testing.T, bin string) {
	p := startProc(t, bin, "sim", "--listen", "127.0.0.1:0", "--points", "16", "--rate", "20", "--log-format", "json")
	p.waitFor(t, 15*time.Second, "listening line", func(out, _ string) bool { return simAddr.MatchString(out) })
	addr := simAddr.FindStringSubmatch(p.stdout.String())[1]

	// A master connected while the signal comes: the simulator closes its
	// connection rather than waiting for it.
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p.waitFor(t, 15*time.Second, "accepted connection", func(_, errOut string) bool {
		return strings.Contains(errOut, `"msg":"sim: connection accepted"`)
	})
	p.stop(t, os.Interrupt)

	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the master's connection after the simulator stopped: %v, want it closed", err)
	}
	for _, r := range logRecords(t, p.stderr.String()) {
		if r["level"] == "ERROR" {
			t.Errorf("error logged: %v", r)
		}
	}
}
