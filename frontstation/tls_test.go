package frontstation

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/internal/testpki"
	"hmi/sim"
)

// logBuffer collects what a slog.TextHandler writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lineWith returns the first line of the log that contains every one of subs.
func (l *logBuffer) lineWith(subs ...string) (string, bool) {
	for line := range strings.Lines(l.String()) {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			return strings.TrimSpace(line), true
		}
	}
	return "", false
}

// startTLSSim runs a simulator on 127.0.0.1:0, with TLS when conf is set,
// logging into log.
func startTLSSim(t *testing.T, cfg sim.Config, conf *tls.Config, log *logBuffer) *simStation {
	t.Helper()
	srv, err := sim.New(sim.Options{Config: cfg, TLS: conf, Link: fastAPCI(), Logger: log.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &simStation{srv: srv, cfg: cfg, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Run(ctx, ln) }()
	t.Cleanup(s.stop)
	return s
}

// silentStation accepts TCP connections on 127.0.0.1:0 and never says anything.
func silentStation(t *testing.T) *simStation {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return &simStation{addr: ln.Addr().String()}
}

// TestTLSRefusals runs a link against the simulator with TLS on either side
// or both, with one thing wrong per case: the link must never become active,
// and report why as a security event "tls", also logged; the simulator logs
// why it dropped the connection.
func TestTLSRefusals(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "station-ca")
	other := testpki.NewCA(t, dir, "other-ca")
	now := time.Now()
	names := func(c *x509.Certificate) {
		c.DNSNames = []string{"rtu-north.example"}
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	rtu := ca.Issue(t, dir, "rtu-north", names)
	rtu2 := ca.Issue(t, dir, "rtu-south", nil)
	expiredAt := now.Add(-2 * time.Hour).Truncate(time.Second)
	expired := ca.Issue(t, dir, "rtu-expired", func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = expiredAt.Add(-time.Hour), expiredAt
	})
	validFrom := now.Add(2 * time.Hour).Truncate(time.Second)
	future := ca.Issue(t, dir, "rtu-future", func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = validFrom, validFrom.Add(time.Hour)
	})
	rogue := other.Issue(t, dir, "rtu-rogue", names)
	hmi := ca.Issue(t, dir, "hmi", nil)
	hmiOld := ca.Issue(t, dir, "hmi-old", func(c *x509.Certificate) { c.NotBefore, c.NotAfter = expiredAt.Add(-time.Hour), expiredAt })
	intruder := other.Issue(t, dir, "intruder", nil)

	// The station's TLS: its certificate, the CA of the masters, a TLS
	// version limit and the pins of the masters.
	station := func(c testpki.Leaf, maxVersion uint16, pins ...*x509.Certificate) *tls.Config {
		tc := iec104.TLSConfig{CertFile: c.CertFile, KeyFile: c.KeyFile, CAFile: ca.File}
		for _, p := range pins {
			tc.Pins = append(tc.Pins, iec104.Fingerprint(p))
		}
		conf, err := tc.Server()
		if err != nil {
			t.Fatal(err)
		}
		conf.MaxVersion = maxVersion
		return conf
	}
	// The link's TLS: our certificate, the CA of the stations, the pins and name.
	link := func(c testpki.Leaf, name string, pins ...*x509.Certificate) *tls.Config {
		tc := iec104.TLSConfig{CertFile: c.CertFile, KeyFile: c.KeyFile, CAFile: ca.File, PeerName: name}
		for _, p := range pins {
			tc.Pins = append(tc.Pins, iec104.Fingerprint(p))
		}
		conf, err := tc.Client()
		if err != nil {
			t.Fatal(err)
		}
		return conf
	}
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }

	for _, tc := range []struct {
		name    string
		station *tls.Config // nil: plain TCP
		link    *tls.Config // nil: plain TCP
		// The security event's message and the HMI's log line contain
		// every one of these; none: the link must become active.
		event []string
		// The simulator's log has a line with every one of these.
		simLog []string
		// The HMI's log has a line with every one of these.
		hmiLog []string
		// The station accepts TCP connections and says nothing (no simulator).
		silent bool
	}{
		{name: "valid, pinned, name in DNS SAN", station: station(rtu, 0), link: link(hmi, "rtu-north.example", rtu.Cert),
			simLog: []string{"sim: connection accepted", `tls="TLS 1.3"`, `peer="CN=hmi"`}},
		{name: "valid, TLS 1.2, name in IP SAN", station: station(rtu, tls.VersionTLS12), link: link(hmi, "127.0.0.1"),
			simLog: []string{"sim: connection accepted", `tls="TLS 1.2"`}},
		{name: "valid, CN-only certificate, name in CN", station: station(rtu2, 0), link: link(hmi, "rtu-south")},
		{name: "expired station certificate", station: station(expired, 0), link: link(hmi, ""),
			event:  []string{"station certificate expired", `subject \"CN=rtu-expired\"`, "certificate expired at " + stamp(expiredAt)},
			simLog: []string{"sim: TLS handshake failed", "remote error: tls: bad certificate"}},
		{name: "station certificate not yet valid", station: station(future, 0), link: link(hmi, ""),
			event:  []string{"station certificate not yet valid", `subject \"CN=rtu-future\"`, "valid from " + stamp(validFrom)},
			simLog: []string{"sim: TLS handshake failed", "remote error: tls: bad certificate"}},
		{name: "station certificate from another CA", station: station(rogue, 0), link: link(hmi, ""),
			event:  []string{"station certificate not trusted", `subject \"CN=rtu-rogue\"`, "x509: certificate signed by unknown authority"},
			simLog: []string{"sim: TLS handshake failed", "remote error: tls: bad certificate"}},
		{name: "station certificate not pinned", station: station(rtu, 0), link: link(hmi, "", rtu2.Cert),
			event:  []string{"station certificate not pinned", `subject \"CN=rtu-north\"`, iec104.Fingerprint(rtu.Cert)},
			simLog: []string{"sim: TLS handshake failed", "remote error: tls: bad certificate"}},
		{name: "station name mismatch", station: station(rtu, 0), link: link(hmi, "rtu-south.example"),
			event: []string{"station certificate name mismatch", `want \"rtu-south.example\"`,
				"subjectAltName DNS:rtu-north.example, IP:127.0.0.1"},
			simLog: []string{"sim: TLS handshake failed", "remote error: tls: bad certificate"}},
		{name: "station name mismatch, CN-only certificate", station: station(rtu2, 0), link: link(hmi, "rtu-north"),
			event:  []string{"station certificate name mismatch", `want \"rtu-north\"`, `common name \"rtu-south\"`},
			simLog: []string{"sim: TLS handshake failed", "remote error: tls: bad certificate"}},
		{name: "station refuses our certificate, TLS 1.3", station: station(rtu, 0), link: link(intruder, ""),
			event:  []string{"station refused our certificate: remote error: tls: bad certificate"},
			simLog: []string{"sim: TLS handshake failed", `peer certificate not trusted: subject \"CN=intruder\"`, "x509: certificate signed by unknown authority"}},
		{name: "station refuses our certificate, TLS 1.2", station: station(rtu, tls.VersionTLS12), link: link(intruder, ""),
			event:  []string{"station refused our certificate: remote error: tls: bad certificate"},
			simLog: []string{"sim: TLS handshake failed", `peer certificate not trusted: subject \"CN=intruder\"`}},
		{name: "station refuses our expired certificate", station: station(rtu, 0), link: link(hmiOld, ""),
			event: []string{"station refused our certificate: remote error: tls: bad certificate"},
			simLog: []string{"sim: TLS handshake failed", `subject \"CN=hmi-old\"`,
				"certificate expired at " + stamp(expiredAt)}},
		{name: "station refuses our unpinned certificate", station: station(rtu, 0, hmiOld.Cert), link: link(hmi, ""),
			event:  []string{"station refused our certificate: remote error: tls: bad certificate"},
			simLog: []string{"sim: TLS handshake failed", `peer certificate not pinned: subject \"CN=hmi\"`, iec104.Fingerprint(hmi.Cert)}},
		{name: "TLS link, plain TCP station", station: nil, link: link(hmi, ""),
			event: []string{"station closed the connection during the TLS handshake"}},
		{name: "TLS link, station silent", silent: true, link: link(hmi, ""),
			event: []string{"no TLS handshake from the station within t0: context deadline exceeded"}},
		// Not a security event: the HMI's configuration is wrong, and a
		// station closing the connection at once may also refuse a second master.
		{name: "plain TCP link, TLS station", station: station(rtu, 0), link: nil,
			hmiLog: []string{"level=WARN", `msg="STARTDT failed"`, "does it expect TLS"},
			simLog: []string{"sim: TLS handshake failed", "tls: first record does not look like a TLS handshake"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hmiLog, simLog logBuffer
			var s *simStation
			if tc.silent {
				s = silentStation(t)
			} else {
				s = startTLSSim(t, fakeStation(), tc.station, &simLog)
			}
			start := time.Now()
			p := newPlant(t, s.cfg, []string{s.addr}, func(lc *LinkConfig, _ []Control) {
				lc.TLS, lc.Logger = tc.link, hmiLog.logger()
			})
			defer func() {
				if t.Failed() {
					t.Logf("HMI log:\n%s\nsimulator log:\n%s", hmiLog.String(), simLog.String())
				}
			}()
			if len(tc.event) == 0 && len(tc.hmiLog) == 0 {
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				if err := p.link.WaitActive(ctx); err != nil {
					t.Fatalf("the link did not become active: %v", err)
				}
				p.interrogated(start)
				p.matchesSoon(s)
				if ev := p.eventsOf(EventSecurity); len(ev) != 0 {
					t.Errorf("security events on a good connection: %+v", ev)
				}
			} else {
				eventually(t, "the link's connection to fail", func() bool {
					if len(tc.event) == 0 {
						return p.link.Stats().Reconnects >= 2
					}
					return p.link.Stats().Reconnects >= 1 && len(p.eventsOf(EventSecurity)) > 0
				})
				for _, e := range p.eventsOf(EventLinkState) {
					if e.State == Active {
						t.Fatalf("the link became active: %s", e.Message)
					}
				}
				if st, _ := p.link.State(); st == Active {
					t.Fatal("the link is active")
				}
			}
			if len(tc.event) > 0 {
				e := p.eventsOf(EventSecurity)[0]
				if e.Code != "tls" || e.Link != "rtu" {
					t.Errorf("event %+v, want code tls on link rtu", e)
				}
				for _, want := range append([]string{"TLS connection to " + s.addr + " refused: "}, tc.event...) {
					if !strings.Contains(e.Message, strings.ReplaceAll(want, `\"`, `"`)) {
						t.Errorf("event %q does not say %q", e.Message, want)
					}
				}
				if line, ok := hmiLog.lineWith(append([]string{"level=WARN", "event=security", "code=tls", "link=rtu"}, tc.event...)...); ok {
					t.Logf("HMI: %s", line)
				} else {
					t.Errorf("no HMI log line at WARN with %q", tc.event)
				}
				if line, ok := hmiLog.lineWith("STARTDT failed"); ok {
					t.Errorf("a TLS refusal logged as a STARTDT failure: %s", line)
				}
				// One event per connection refused, not one from the dial or
				// the receive path and another from STARTDT.
				evs := p.eventsOf(EventSecurity)
				st := p.link.Stats()
				if len(evs) > int(st.Reconnects)+1 || st.Errors["tls"] < uint64(len(evs)) {
					t.Errorf("%d security events, %d connection attempts, errors %v", len(evs), st.Reconnects+1, st.Errors)
				}
			}
			if len(tc.hmiLog) > 0 {
				if line, ok := hmiLog.lineWith(tc.hmiLog...); ok {
					t.Logf("HMI: %s", line)
				} else {
					t.Errorf("no HMI log line with %q", tc.hmiLog)
				}
				if ev := p.eventsOf(EventSecurity); len(ev) != 0 {
					t.Errorf("security events: %+v", ev)
				}
			}
			if len(tc.simLog) > 0 {
				eventually(t, "the simulator's log line", func() bool { _, ok := simLog.lineWith(tc.simLog...); return ok })
				line, _ := simLog.lineWith(tc.simLog...)
				t.Logf("simulator: %s", line)
			}
		})
	}
}

func TestTLSFailureClassification(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	hmi := ca.Issue(t, dir, "hmi", nil)
	conf, err := iec104.TLSConfig{CertFile: hmi.CertFile, KeyFile: hmi.KeyFile, CAFile: ca.File}.Client()
	if err != nil {
		t.Fatal(err)
	}
	// A station that is down is no TLS failure.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, refused := iec104.Dial(t.Context(), closed, time.Second, conf)
	if refused == nil {
		t.Fatalf("Dial to %s: connected", closed)
	}
	alert := func(s string) error {
		return fmt.Errorf("iec104: read: %w", &net.OpError{Op: "remote error", Err: errors.New(s)})
	}
	for _, tc := range []struct {
		err       error
		handshake bool
		why       string
	}{
		{refused, true, ""},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, true, ""},
		{context.Canceled, true, ""},
		{fmt.Errorf("iec104: read: %w", io.EOF), false, ""},
		{fmt.Errorf("iec104: read: %w", &net.OpError{Op: "read", Err: syscall.ECONNRESET}), false, ""},
		{io.EOF, true, "station closed the connection during the TLS handshake (does it speak TLS?)"},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, true, "station closed the connection during the TLS handshake (does it speak TLS?)"},
		{context.DeadlineExceeded, true, "no TLS handshake from the station within t0"},
		{errors.New("tls: unexpected message"), true, "TLS handshake failed"},
		{tls.RecordHeaderError{Msg: "tls: first record does not look like a TLS handshake"}, true, "station does not speak TLS"},
		{alert("tls: bad certificate"), false, "station refused our certificate"},
		{alert("tls: unknown certificate authority"), true, "station refused our certificate"},
		{alert("tls: certificate required"), false, "station refused our certificate"},
		{alert("tls: handshake failure"), true, "station refused the TLS connection"},
		{fmt.Errorf("iec104: %w: x", iec104.ErrPeerUntrusted), true, "station certificate not trusted"},
		{fmt.Errorf("iec104: %w: %w", iec104.ErrPeerUntrusted, iec104.ErrPeerExpired), true, "station certificate expired"},
		{fmt.Errorf("iec104: %w: %w", iec104.ErrPeerUntrusted, iec104.ErrPeerNotYetValid), true, "station certificate not yet valid"},
		{fmt.Errorf("iec104: %w", iec104.ErrPeerNotPinned), true, "station certificate not pinned"},
		{fmt.Errorf("iec104: %w", iec104.ErrPeerName), true, "station certificate name mismatch"},
		{iec104.ErrNoPeerCert, true, "station sent no certificate"},
		// A TLS 1.2 renegotiation that brings a certificate not pinned ends a running connection.
		{fmt.Errorf("iec104: read: %w", fmt.Errorf("iec104: %w", iec104.ErrPeerNotPinned)), false, "station certificate not pinned"},
	} {
		why, detail := tlsFailure(tc.err, tc.handshake)
		if why != tc.why {
			t.Errorf("tlsFailure(%v, %v) = %q, want %q", tc.err, tc.handshake, why, tc.why)
		}
		if why != "" && detail == nil {
			t.Errorf("tlsFailure(%v): no detail", tc.err)
		}
	}
	// The alert is shown without the layers above it.
	if _, d := tlsFailure(alert("tls: bad certificate"), false); d.Error() != "remote error: tls: bad certificate" {
		t.Errorf("detail %q", d)
	}
}
