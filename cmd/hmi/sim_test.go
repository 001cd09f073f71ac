package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

// simBuffer is a bytes.Buffer that runSim may write while the test reads.
type simBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *simBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *simBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestSimFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("ca: 1\npoints:\n  - ioa: 1\n    kind: single\n    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dup := filepath.Join(dir, "dup.yaml")
	if err := os.WriteFile(dup, []byte("points:\n  - {ioa: 1, kind: single}\n  - {ioa: 1, kind: float}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A port that is taken.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"help", []string{"--help"}, exitOK, "Usage: hmi sim", ""},
		{"unknown flag", []string{"--port", "2404"}, exitUsage, "", "flag provided but not defined: -port"},
		{"argument", []string{"extra"}, exitUsage, "", `unexpected argument "extra"`},
		{"bad rate", []string{"--rate", "fast"}, exitUsage, "", `want a number of changes per second or "max"`},
		{"bad log level", []string{"--log-level", "loud"}, exitUsage, "", "--log-level"},
		{"config error with position", []string{"--config", bad}, exitUsage, "", bad + `:5:5: unknown field "colour"`},
		{"config validation with position", []string{"--config", dup}, exitUsage, "", dup + ":3:11: points[1].ioa: IOA 1 already used by points[0]"},
		{"missing config", []string{"--config", filepath.Join(dir, "none.yaml")}, exitUsage, "", "none.yaml"},
		{"config and points", []string{"--config", dup, "--points", "5"}, exitUsage, "", "exclude each other"},
		{"zero points", []string{"--points", "0"}, exitUsage, "", "--points 0"},
		{"bad ca", []string{"--ca", "65535"}, exitUsage, "", "--ca 65535"},
		{"event buffer too large", []string{"--event-buffer", "4097"}, exitUsage, "", "--event-buffer 4097: want 0..4096"},
		{"partial TLS", []string{"--tls-cert", "x.pem"}, exitUsage, "", "TLS needs all of"},
		{"bad window", []string{"--k", "4", "--w", "8"}, exitUsage, "", "--k 4 --w 8"},
		{"TLS files missing", []string{"--tls-cert", "x.pem", "--tls-key", "x.key", "--tls-ca", "ca.pem"}, exitFailure, "", "x.pem"},
		{"address taken", []string{"--listen", taken.Addr().String()}, exitFailure, "", "cannot listen on " + taken.Addr().String() + ": "},
		{"bad address", []string{"--listen", "nowhere"}, exitFailure, "", "cannot listen on nowhere: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var stdout, stderr simBuffer
			code := run(ctx, append([]string{"sim"}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout %q, want %q in it", stdout.String(), tt.stdout)
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q, want %q in it", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestSimListed(t *testing.T) {
	var stdout, stderr simBuffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit status %d", code)
	}
	if !strings.Contains(stdout.String(), "sim ") || !strings.Contains(stdout.String(), "outstation simulator") {
		t.Errorf("hmi --help does not list sim:\n%s", stdout.String())
	}
}

// TestSimRun starts the simulator, talks to it as a master, and stops it
// the way SIGINT does: by cancelling the context.
func TestSimRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr simBuffer
	done := make(chan int, 1)
	go func() {
		done <- runSim(ctx, []string{"--listen", "127.0.0.1:0", "--points", "16", "--ca", "3", "--rate", "20", "--tb"}, &stdout, &stderr)
	}()
	addrRE := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+) \(TCP\), common address 3, 16 points, 12 commands, 20 spontaneous changes/s`)
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == ""; {
		if m := addrRE.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listening line; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	rx := make(chan []byte, 1024)
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	nc, err := iec104.Dial(dctx, addr, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := iec104.NewConn(nc, iec104.Options{Role: iec104.Controlling, Config: iec104.DefaultConfig(),
		OnASDU: func(b []byte) {
			select {
			case rx <- append([]byte(nil), b...):
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- conn.Run(ctx) }()
	if err := conn.StartDT(dctx); err != nil {
		t.Fatal(err)
	}
	gi, err := iec104.AppendASDU(nil, iec104.Header{Type: iec104.C_IC_NA_1, Cause: iec104.CauseActivation, CA: 3}, []iec104.Object{{Qualifier: 20}})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(dctx, gi); err != nil {
		t.Fatal(err)
	}
	var gotGI, gotTerm, gotSpont bool
	for !(gotTerm && gotSpont) {
		select {
		case b := <-rx:
			a, err := iec104.ParseASDU(b)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case a.Cause == iec104.CauseInterrogated:
				gotGI = true
			case a.Type == iec104.C_IC_NA_1 && a.Cause == iec104.CauseActivationTerm:
				gotTerm = true
			case a.Cause == iec104.CauseSpontaneous:
				if !a.Type.HasTime() {
					t.Errorf("spontaneous %v with --tb, want a time-tagged type", a.Type)
				}
				gotSpont = true
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("GI data %v, ACTTERM %v, spontaneous data %v", gotGI, gotTerm, gotSpont)
		}
	}
	if !gotGI {
		t.Error("no interrogation data before ACTTERM")
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit status %d after cancel, want 0; stderr %q", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("runSim did not return after cancel")
	}
	<-runDone
}
