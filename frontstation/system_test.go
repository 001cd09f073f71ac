package frontstation

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/points"
	"hmi/sim"
)

// observed is what LinkConfig.Observe saw.
type observed struct {
	mu      sync.Mutex
	byCause map[iec104.Cause]int // monitor objects by cause
	csTime  iec104.CP56Time2a    // time in the last C_CS_NA_1 ACTCON
	asdus   int
}

func (o *observed) observe(a iec104.ASDU, objs []iec104.Object, _ time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.asdus++
	if a.Type.IsMonitor() {
		o.byCause[a.Cause] += len(objs)
	}
	if a.Type == iec104.C_CS_NA_1 && a.Cause == iec104.CauseActivationCon && len(objs) == 1 {
		o.csTime = objs[0].Time
	}
}

func (o *observed) count(c iec104.Cause) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byCause[c]
}

// eventLog collects a link's events.
type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) { l.mu.Lock(); l.ev = append(l.ev, e); l.mu.Unlock() }

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.ev...)
}

// manualLink runs a link with no points, Manual and Once, observing
// everything, on addr.
func manualLink(t *testing.T, addr string, mod func(*LinkConfig)) (*Link, *observed, *eventLog, <-chan error) {
	t.Helper()
	obs := &observed{byCause: map[iec104.Cause]int{}}
	events := &eventLog{}
	cache, err := points.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	lc := LinkConfig{
		Name: "probe", Addresses: []string{addr}, CA: 1, APCI: fastAPCI(),
		Manual: true, Once: true, QuietUnmapped: true, Observe: obs.observe,
		ClockSync: true, CounterPeriod: time.Hour, // ignored on activation: Manual
		Events: events.add,
	}
	if mod != nil {
		mod(&lc)
	}
	l, err := NewLink(lc, cache)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- l.Run(ctx); close(finished) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	return l, obs, events, done
}

func waitActive(t *testing.T, l *Link) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.WaitActive(ctx); err != nil {
		t.Fatalf("WaitActive: %v", err)
	}
}

func TestSystemCommandsOnManualLink(t *testing.T) {
	cfg := sim.Generate(64) // 8 points per kind, 8 of them counters
	s := startSim(t, cfg, 0, "127.0.0.1:0")
	l, obs, events, _ := manualLink(t, s.addr, nil)
	waitActive(t, l)

	// Manual: nothing is requested on activation.
	time.Sleep(200 * time.Millisecond)
	if n := l.Stats().TxObjects; n != 0 {
		t.Fatalf("%d objects sent by a manual link before any request, want 0", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	before := s.srv.Now()
	if err := l.System(ctx, iec104.C_CS_NA_1, 0); err != nil {
		t.Fatalf("clock sync: %v", err)
	}
	obs.mu.Lock()
	cs := obs.csTime
	obs.mu.Unlock()
	if cs == (iec104.CP56Time2a{}) || cs.Time(time.UTC).Before(before.Add(-time.Second)) {
		t.Fatalf("clock sync ACTCON time %v, want the station's clock", cs)
	}

	start := time.Now()
	if err := l.System(ctx, iec104.C_IC_NA_1, 20); err != nil {
		t.Fatalf("interrogation: %v", err)
	}
	// System returns at ACTTERM: every object has been observed by then.
	if got := obs.count(iec104.CauseInterrogated); got != 56 {
		t.Fatalf("%d objects with cause 20 after the interrogation, want 56", got)
	}
	if st := l.Stats(); !st.LastInterrogation.After(start) || st.UnknownObjects != 56 {
		t.Fatalf("stats after interrogation: %+v", st)
	}

	if err := l.System(ctx, iec104.C_CI_NA_1, 5); err != nil {
		t.Fatalf("counter interrogation: %v", err)
	}
	if got := obs.count(iec104.CauseCounterGeneral); got != 8 {
		t.Fatalf("%d objects with cause 37 after the counter interrogation, want 8", got)
	}

	if err := l.System(ctx, iec104.C_TS_TA_1, 7); err != nil {
		t.Fatalf("test command: %v", err)
	}

	// The simulator refuses a QOI outside 20..36 with a negative ACTCON.
	err := l.System(ctx, iec104.C_IC_NA_1, 99)
	var ref *RefusedError
	if !errors.As(err, &ref) || ref.Type != iec104.C_IC_NA_1 || ref.Cause != iec104.CauseActivationCon {
		t.Fatalf("interrogation with QOI 99: %v, want a RefusedError for C_IC_NA_1 actcon", err)
	}
	if !strings.Contains(err.Error(), "refused C_IC_NA_1") {
		t.Fatalf("error %q does not say what was refused", err)
	}

	if err := l.System(ctx, iec104.C_RD_NA_1, 0); err == nil {
		t.Fatal("System accepted a read command")
	}
	for _, e := range events.all() {
		if e.Kind == EventAnomaly || e.Kind == EventSecurity {
			t.Errorf("unexpected event: %v %s", e.Kind, e.Message)
		}
	}
}

func TestManualLinkStillRunsPeriodicDuties(t *testing.T) {
	s := startSim(t, sim.Generate(16), 0, "127.0.0.1:0")
	l, obs, _, _ := manualLink(t, s.addr, func(lc *LinkConfig) { lc.InterrogationPeriod = 100 * time.Millisecond })
	waitActive(t, l)
	eventually(t, "a periodic interrogation", func() bool { return obs.count(iec104.CauseInterrogated) >= 14 })
}

func TestSystemTimeoutAndNotActive(t *testing.T) {
	f := newFakeRTU(t, func(*iec104.Conn, iec104.ASDU, iec104.Object) {}) // answers no test command
	cache, _ := points.New(nil)
	idle, err := NewLink(LinkConfig{Name: "idle", Addresses: []string{f.addr()}, APCI: fastAPCI()}, cache)
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.System(context.Background(), iec104.C_IC_NA_1, 20); !errors.Is(err, ErrLinkNotActive) {
		t.Fatalf("System on a link that does not run: %v, want ErrLinkNotActive", err)
	}

	l, _, _, _ := manualLink(t, f.addr(), nil)
	waitActive(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = l.System(ctx, iec104.C_TS_TA_1, 1)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no ACTCON") {
		t.Fatalf("unanswered test command: %v, want a deadline error saying no ACTCON came", err)
	}
	// The fake RTU answers interrogations: the link is still usable.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := l.System(ctx2, iec104.C_IC_NA_1, 20); err != nil {
		t.Fatalf("interrogation after a timeout: %v", err)
	}
}

func TestSystemPendingTwice(t *testing.T) {
	f := newFakeRTU(t, func(*iec104.Conn, iec104.ASDU, iec104.Object) {})
	l, _, _, _ := manualLink(t, f.addr(), nil)
	waitActive(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() { first <- l.System(ctx, iec104.C_TS_TA_1, 1) }()
	eventually(t, "the first test command to wait", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.sysWaits[iec104.C_TS_TA_1] != nil
	})
	if err := l.System(ctx, iec104.C_TS_TA_1, 2); !errors.Is(err, ErrSystemPending) {
		t.Fatalf("second test command while the first waits: %v, want ErrSystemPending", err)
	}
	if err := <-first; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first test command: %v", err)
	}
}

func TestSystemFailsWhenTheLinkIsLost(t *testing.T) {
	f := newFakeRTU(t, func(c *iec104.Conn, a iec104.ASDU, _ iec104.Object) {
		if a.Type == iec104.C_TS_TA_1 {
			c.Close() // the station drops the connection instead of answering
		}
	})
	l, _, _, done := manualLink(t, f.addr(), nil)
	waitActive(t, l)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.System(ctx, iec104.C_TS_TA_1, 1); !errors.Is(err, ErrLinkNotActive) {
		t.Fatalf("System when the station drops the connection: %v, want ErrLinkNotActive", err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "connection to "+f.addr()) {
			t.Fatalf("Once: Run returned %v, want the lost connection", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Once: Run did not return after the connection was lost")
	}
}

func TestOnceReturnsWhenNoConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody listens there now
	start := time.Now()
	l, _, _, done := manualLink(t, addr, nil)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "connect to "+addr) {
			t.Fatalf("Run returned %v, want the connect error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Once: Run did not return after the connection failed")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to give up on a refused connection", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.WaitActive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitActive on a failed link: %v", err)
	}
}

func TestOnceStartDTUnanswered(t *testing.T) {
	// A listener that accepts and never answers STARTDT.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	_, _, _, done := manualLink(t, ln.Addr().String(), func(lc *LinkConfig) {
		lc.APCI.T1, lc.APCI.T2 = 300*time.Millisecond, 100*time.Millisecond
	})
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "STARTDT") {
			t.Fatalf("Run returned %v, want the STARTDT failure", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Once: Run did not return after STARTDT failed")
	}
}
