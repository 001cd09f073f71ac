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

// fakeRTU is a scripted outstation: it answers interrogation and clock
// sync like a real one and hands every other ASDU to onCommand.
type fakeRTU struct {
	t         *testing.T
	ln        net.Listener
	mu        sync.Mutex
	conn      *iec104.Conn // guarded by mu: the latest connection
	onCommand func(c *iec104.Conn, a iec104.ASDU, o iec104.Object)
}

func newFakeRTU(t *testing.T, onCommand func(c *iec104.Conn, a iec104.ASDU, o iec104.Object)) *fakeRTU {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRTU{t: t, ln: ln, onCommand: onCommand}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			var c *iec104.Conn
			c, _ = iec104.NewConn(nc, iec104.Options{Role: iec104.Controlled, Config: fastAPCI(), OnASDU: func(b []byte) {
				a, err := iec104.ParseASDU(b)
				if err != nil {
					t.Errorf("fake RTU: bad ASDU: %v", err)
					return
				}
				objs, _ := a.Objects(nil)
				if len(objs) != 1 {
					return
				}
				switch a.Type {
				case iec104.C_IC_NA_1, iec104.C_CS_NA_1, iec104.C_CI_NA_1:
					f.reply(c, a.Header, objs[0], iec104.CauseActivationCon, false)
					if a.Type != iec104.C_CS_NA_1 {
						f.reply(c, a.Header, objs[0], iec104.CauseActivationTerm, false)
					}
				default:
					f.onCommand(c, a, objs[0])
				}
			}})
			f.mu.Lock()
			f.conn = c
			f.mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); c.Run(ctx) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); cancel(); wg.Wait() })
	return f
}

func (f *fakeRTU) addr() string { return f.ln.Addr().String() }

// reply queues an answer to h with cause, echoing o.
func (f *fakeRTU) reply(c *iec104.Conn, h iec104.Header, o iec104.Object, cause iec104.Cause, negative bool) {
	h.Cause, h.Negative = cause, negative
	b, err := iec104.AppendASDU(nil, h, []iec104.Object{o})
	if err != nil {
		f.t.Errorf("fake RTU: %v", err)
		return
	}
	if err := c.Queue(b); err != nil {
		f.t.Logf("fake RTU: queue: %v", err)
	}
}

// send sends an ASDU on the latest connection, from the test goroutine.
func (f *fakeRTU) send(h iec104.Header, o iec104.Object) {
	f.t.Helper()
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	b, err := iec104.AppendASDU(nil, h, []iec104.Object{o})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := c.Send(context.Background(), b); err != nil {
		f.t.Fatal(err)
	}
}

// fakeStation is the point model the fake RTU pretends to have.
func fakeStation() sim.Config {
	return sim.Config{
		CA:     1,
		Points: []sim.Point{{IOA: 100, Kind: sim.Single}, {IOA: 200, Kind: sim.Double, Value: 1}},
		Commands: []sim.Command{
			{IOA: 1100, Kind: sim.SingleCommand, Point: 100, SBO: true, ActTerm: true},
			{IOA: 1200, Kind: sim.DoubleCommand, Point: 200, SBO: false, ActTerm: true},
		},
	}
}

func (p *plant) hasEvent(k EventKind, substr string) bool {
	for _, e := range p.eventsOf(k) {
		if strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

func TestCommandTimeoutLateAnswerQuarantine(t *testing.T) {
	selects := make(chan iec104.Object, 4)
	var late struct {
		sync.Mutex
		c *iec104.Conn
		h iec104.Header
		o iec104.Object
	}
	f := newFakeRTU(t, func(c *iec104.Conn, a iec104.ASDU, o iec104.Object) {
		late.Lock()
		late.c, late.h, late.o = c, a.Header, o
		late.Unlock()
		selects <- o // and no answer
	})
	start := time.Now()
	p := newPlant(t, fakeStation(), []string{f.addr()}, func(_ *LinkConfig, ctls []Control) {
		for i := range ctls {
			ctls[i].ResponseTimeout = 300 * time.Millisecond
		}
	})
	p.interrogated(start)
	r, err := p.cmd.Select(context.Background(), "p100", 1, Origin{})
	if err == nil || r.State != Failed || !strings.Contains(r.Err, "no ACTCON for the select within 300ms") {
		t.Fatalf("select with no answer: %v, %+v", err, r)
	}
	<-selects
	if _, err := p.cmd.Select(context.Background(), "p100", 1, Origin{}); !errors.Is(err, ErrQuarantine) {
		t.Fatalf("select right after a timeout: %v, want quarantine", err)
	}
	// The station's answer arrives after all: logged, applied to nothing.
	late.Lock()
	f.reply(late.c, late.h, late.o, iec104.CauseActivationCon, false)
	late.Unlock()
	eventually(t, "the late answer to be reported", func() bool { return p.hasEvent(EventAnomaly, "late C_SC_NA_1 actcon") })
	time.Sleep(350 * time.Millisecond) // quarantine over
	go func() {                        // this time the station answers
		o := <-selects
		late.Lock()
		f.reply(late.c, late.h, o, iec104.CauseActivationCon, false)
		late.Unlock()
	}()
	if r, err := p.cmd.Select(context.Background(), "p100", 1, Origin{}); err != nil || r.State != Selected {
		t.Fatalf("select after the quarantine: %v %+v", err, r)
	}
}

func TestSecurityEvents(t *testing.T) {
	f := newFakeRTU(t, func(*iec104.Conn, iec104.ASDU, iec104.Object) {})
	start := time.Now()
	p := newPlant(t, fakeStation(), []string{f.addr()}, nil)
	p.interrogated(start)
	f.send(iec104.Header{Type: iec104.C_SC_NA_1, Cause: iec104.CauseActivationCon, CA: 1}, iec104.Object{IOA: 1100, State: 1})
	f.send(iec104.Header{Type: iec104.M_SP_NA_1, Cause: iec104.CauseReturnRemote, CA: 1}, iec104.Object{IOA: 100, State: 1})
	f.send(iec104.Header{Type: iec104.M_DP_NA_1, Cause: iec104.CauseReturnLocal, CA: 1}, iec104.Object{IOA: 200, State: 2})
	f.send(iec104.Header{Type: iec104.C_IC_NA_1, Cause: iec104.CauseActivationTerm, CA: 1}, iec104.Object{Qualifier: 20})
	for _, want := range []string{
		"C_SC_NA_1 actcon for CA 1 IOA 1100 matches no pending command",
		"p100 changed to 1 by a remote command (cause 11) that this HMI did not send",
		"p200 changed to 2 by a local operation",
		"C_IC_NA_1 actterm for CA 1 that this HMI did not request",
	} {
		eventually(t, "security event "+want, func() bool { return p.hasEvent(EventSecurity, want) })
	}
	// The values still count: the plant did change.
	if v := p.cache.Get(p.byIOA[200]).Value; v != 2 {
		t.Fatalf("p200 = %v, want 2", v)
	}
}

func TestLinkDroppedDuringExecute(t *testing.T) {
	f := newFakeRTU(t, func(c *iec104.Conn, a iec104.ASDU, o iec104.Object) {
		c.Close() // the station goes away instead of confirming
	})
	start := time.Now()
	p := newPlant(t, fakeStation(), []string{f.addr()}, nil)
	p.interrogated(start)
	done := make(chan Record, 1)
	go func() {
		r, _ := p.cmd.Select(context.Background(), "p200", 2, Origin{}) // direct execute
		done <- r
	}()
	select {
	case r := <-done:
		if r.State != Failed || !strings.Contains(r.Err, "link lost during execute") {
			t.Fatalf("record %+v, want failed: link lost", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("command hangs after the link was lost")
	}
	eventually(t, "commfail", func() bool { return p.cache.Get(p.byIOA[100]).Quality.Has(points.CommFail) })
}

func TestNoAcknowledgementT1Reconnects(t *testing.T) {
	// An outstation that starts data transfer but never acknowledges.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan time.Time, 10)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- time.Now()
			go func() {
				defer nc.Close()
				var buf [iec104.MaxAPDU]byte
				for {
					b, err := iec104.ReadAPDU(nc, buf[:])
					if err != nil {
						return
					}
					if a, _ := iec104.ParseAPDU(b); a.Format == iec104.FormatU && a.U == iec104.StartDTAct {
						nc.Write(iec104.AppendU(nil, iec104.StartDTCon))
					}
				}
			}()
		}
	}()
	p := newPlant(t, fakeStation(), []string{ln.Addr().String()}, nil)
	first := <-accepted
	var second time.Time
	select {
	case second = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect after t1")
	}
	if d := second.Sub(first); d < fastAPCI().T1 {
		t.Fatalf("reconnected after %v, before t1 = %v", d, fastAPCI().T1)
	}
	eventually(t, "the t1 error counted", func() bool { return p.link.Stats().Errors["protocol"] > 0 })
	if !p.hasEvent(EventAnomaly, "t1 expired") {
		t.Fatalf("no anomaly event naming t1: %v", p.eventsOf(EventAnomaly))
	}
}

func TestRedundancySwitchOver(t *testing.T) {
	cfg := sim.Generate(32)
	for i := range cfg.Points {
		cfg.Points[i].TimeTag = true
	}
	srv, err := sim.New(sim.Options{Config: cfg, Rate: 200, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	lnA, _ := net.Listen("tcp", "127.0.0.1:0")
	lnB, _ := net.Listen("tcp", "127.0.0.1:0")
	ctxA, killA := context.WithCancel(context.Background())
	ctxB, killB := context.WithCancel(context.Background())
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- srv.Run(ctxA, lnA) }()
	go func() { doneB <- srv.Run(ctxB, lnB) }()
	defer func() { killA(); killB(); <-doneA; <-doneB }()

	start := time.Now()
	p := newPlant(t, cfg, []string{lnA.Addr().String(), lnB.Addr().String()}, nil)
	p.interrogated(start)
	// Whichever address connected first was started; the other is the standby.
	activeAddr, standby := lnA.Addr().String(), 1
	kill, killed := killA, doneA
	if p.link.Address() == lnB.Addr().String() {
		activeAddr, standby, kill, killed = lnB.Addr().String(), 0, killB, doneB
	}
	eventually(t, "the standby connection", func() bool {
		p.link.mu.Lock()
		defer p.link.mu.Unlock()
		return p.link.conns[standby] != nil && p.link.conns[standby].State() == iec104.StateStopped
	})
	at := time.Now()
	kill()
	<-killed
	killed <- nil
	p.interrogated(at)
	took := time.Since(at)
	if a := p.link.Address(); a == activeAddr {
		t.Fatalf("still active on %s after it died", a)
	}
	if limit := fastAPCI().T1 + 200*time.Millisecond + time.Second; took > limit {
		t.Fatalf("switch-over took %v, want within t1 + backoff (%v)", took, limit)
	}
	t.Logf("switch-over and interrogation in %v; %d replayed objects not applied", took, p.link.Stats().Replays)
	for _, e := range p.eventsOf(EventSecurity) {
		t.Errorf("security event: %s", e.Message)
	}
}

// TestRepeatedEventsAreNotDuplicated feeds the receive path what a station
// re-sends after a switch-over: events it already delivered, time tags and
// all. They must not change the point again.
func TestRepeatedEventsAreNotDuplicated(t *testing.T) {
	cache, err := points.New([]points.Def{{ID: "brk", Kind: points.Double, Link: "rtu", CA: 1, IOA: 5}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := cache.Lookup("brk")
	l, err := NewLink(LinkConfig{Name: "rtu", Addresses: []string{"127.0.0.1:1"}, CA: 1, APCI: fastAPCI(),
		Points: []PointMap{{Point: h, ID: "brk", CA: 1, IOA: 5, Kind: points.Double}}}, cache)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	event := func(state uint8, at time.Time) []byte {
		b, err := iec104.AppendASDU(nil, iec104.Header{Type: iec104.M_DP_TB_1, Cause: iec104.CauseSpontaneous, CA: 1},
			[]iec104.Object{{IOA: 5, State: state, Time: iec104.NewCP56(at, nil)}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	sub := cache.Subscribe(nil)
	defer sub.Close()
	open, closed := event(1, t0), event(2, t0.Add(time.Second))
	for _, b := range [][]byte{open, closed, open, closed} { // the last two are the station's replay
		l.receive(b)
	}
	changes := sub.Next(nil)
	if len(changes) != 1 {
		t.Fatalf("%d coalesced changes, want 1", len(changes))
	}
	if v := cache.Get(h); v.Value != 2 || !v.SourceTime.Equal(t0.Add(time.Second)) {
		t.Fatalf("point %v at %v, want 2 at %v", v.Value, v.SourceTime, t0.Add(time.Second))
	}
	if r := l.Stats().Replays; r != 2 {
		t.Fatalf("%d replays counted, want 2", r)
	}
	seq := cache.Seq()
	l.receive(event(1, t0.Add(2*time.Second))) // a new event after the replay is applied
	if cache.Seq() == seq || cache.Get(h).Value != 1 {
		t.Fatalf("a newer event was not applied: %+v", cache.Get(h))
	}
	// Two changes in the same millisecond are two events (the netns test lost one under load when only the
	// time tag was compared); the replay of the second is recognised by its value.
	seq = cache.Seq()
	same := t0.Add(2 * time.Second)
	l.receive(event(2, same))
	if cache.Seq() == seq || cache.Get(h).Value != 2 {
		t.Fatalf("a second change in the same millisecond was not applied: %+v", cache.Get(h))
	}
	seq = cache.Seq()
	l.receive(event(2, same))
	if cache.Seq() != seq || l.Stats().Replays != 3 {
		t.Fatalf("the replay of the same-millisecond change was applied (replays %d)", l.Stats().Replays)
	}
}

func TestUnknownTypeReportedOnce(t *testing.T) {
	f := newFakeRTU(t, func(*iec104.Conn, iec104.ASDU, iec104.Object) {})
	start := time.Now()
	p := newPlant(t, fakeStation(), []string{f.addr()}, nil)
	p.interrogated(start)
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	// Type 99 (reserved), one object of two octets: not a type this stack decodes.
	raw := []byte{99, 1, byte(iec104.CauseSpontaneous), 0, 1, 0, 0x10, 0, 0, 0xAA, 0xBB}
	for range 3 {
		if err := c.Send(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "three unknown-type ASDUs counted", func() bool { return p.link.Stats().Errors["unknown_type"] == 3 })
	n := 0
	for _, e := range p.eventsOf(EventAnomaly) {
		if strings.Contains(e.Message, "unknown type 99") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d anomaly events for type 99, want 1", n)
	}
	if st, _ := p.link.State(); st != Active {
		t.Fatalf("link %v after unknown types, want active: they are skipped, not fatal", st)
	}
}
