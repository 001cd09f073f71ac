package frontstation

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/sim"
)

// reaction is what the link must do when the station misbehaves.
type reaction uint8

const (
	closesAndReconnects reaction = iota + 1 // an anomaly naming the violation, commfail, reconnect, interrogation, points good
	anomalyStaysUp                          // an anomaly naming the problem; the connection stays up and works
	answersEveryTestFR                      // every TESTFR act answered with a TESTFR con; the connection stays up and works
	commandTimesOut                         // the command fails on its response timeout, without hanging; the next one works
	lateAnswerReported                      // the command times out; its late answer is an anomaly; the next one works
	securityEvent                           // a security event with the code; the connection stays up
)

// misbehaviour is one way the simulator misbehaves on purpose, and the
// link's reaction to it.
type misbehaviour struct {
	name     string
	fault    sim.Fault     // injected once the link is up (Kind 0: none)
	command  sim.FaultKind // command mode set before the command (0: none)
	delay    time.Duration // of LateActCon
	react    reaction
	errKind  string        // Stats.Errors key counted (closesAndReconnects, anomalyStaysUp)
	reason   string        // in the anomaly event; the code of a security event
	respTime time.Duration // the controls' response timeout; 0: newPlant's
}

// misbehaving is the plant and the simulator of one subtest.
type misbehaving struct {
	*plant
	sim *simStation
}

// TestMisbehavingStation runs the real simulator, misbehaving on purpose,
// against a real link, cache and commander on loopback, and checks each
// reaction: protocol violations close the connection with the reason and
// the link reconnects and interrogates; ASDU-level faults are anomalies on
// a connection that stays up; a TESTFR flood is answered frame by frame;
// a command without ACTCON, or with a late one, ends on its response
// timeout and never hangs; an ACTCON for a command never sent is a
// security event.
func TestMisbehavingStation(t *testing.T) {
	const respTime = 300 * time.Millisecond
	tests := []misbehaviour{
		{name: "wrong N(S)", fault: sim.Fault{Kind: sim.WrongNS}, react: closesAndReconnects,
			errKind: "protocol", reason: iec104.ErrSequence.Error()},
		{name: "N(R) outside the window", fault: sim.Fault{Kind: sim.AckOutsideWindow}, react: closesAndReconnects,
			errKind: "protocol", reason: iec104.ErrAckWindow.Error()},
		{name: "garbage octets", fault: sim.Fault{Kind: sim.Garbage, Count: 64}, react: closesAndReconnects,
			errKind: "malformed_apdu", reason: iec104.ErrStartByte.Error()},
		{name: "APDU of length 3", fault: sim.Fault{Kind: sim.ShortAPDU}, react: closesAndReconnects,
			errKind: "malformed_apdu", reason: iec104.ErrLength.Error() + " at offset 1: length 3"},
		{name: "more objects than octets", fault: sim.Fault{Kind: sim.ObjectsBeyondBytes, Count: 5}, react: anomalyStaysUp,
			errKind: "malformed_asdu", reason: iec104.ErrObjectCount.Error()},
		{name: "unknown type ID", fault: sim.Fault{Kind: sim.UnknownType}, react: anomalyStaysUp,
			errKind: "unknown_type", reason: "unknown type 200"},
		{name: "TESTFR flood", fault: sim.Fault{Kind: sim.TestFRFlood, Count: 1000}, react: answersEveryTestFR},
		{name: "no ACTCON", command: sim.NoActCon, react: commandTimesOut, respTime: respTime},
		// The late answer comes before the quarantine (one response time
		// after the timeout) ends, as the quarantine intends.
		{name: "late ACTCON", command: sim.LateActCon, delay: respTime * 3 / 2, react: lateAnswerReported, respTime: respTime},
		{name: "ACTCON for a command never sent", fault: sim.Fault{Kind: sim.UnsolicitedActCon}, react: securityEvent,
			reason: "unsolicited_confirmation"},
	}
	goroutines := runtime.NumGoroutine()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testMisbehaviour(t, tc) })
	}
	// Every subtest's link, commander and simulator have ended: their
	// goroutines too (some slack for the runtime's and the test framework's).
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines+4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines+4 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after the subtests, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
	}
}

// testMisbehaviour runs one case on its own simulator and plant. Every wait
// is bounded: eventually's 10 s, and 5 s for a command beyond its response
// timeout.
func testMisbehaviour(t *testing.T, tc misbehaviour) {
	cfg := sim.Generate(16) // 2 points per kind; commands 9000 (direct) and 9001 (SBO) on p1000, p1001
	s := startSim(t, cfg, 0, "127.0.0.1:0")
	start := time.Now()
	p := newPlant(t, cfg, []string{s.addr}, func(lc *LinkConfig, ctls []Control) {
		lc.TrafficBuffer = 4096 // room for a TESTFR flood and its answers
		for i := range ctls {
			if tc.respTime > 0 {
				ctls[i].ResponseTimeout = tc.respTime
			}
		}
	})
	m := &misbehaving{plant: p, sim: s}
	p.interrogated(start)
	p.matchesSoon(s)

	at := time.Now()
	reconnects := p.link.Stats().Reconnects
	lastFrame := m.lastFrame()
	if tc.fault.Kind != 0 {
		if err := s.srv.Inject(tc.fault); err != nil {
			t.Fatalf("Inject(%+v): %v", tc.fault, err)
		}
	}
	if tc.command != 0 {
		if err := s.srv.SetCommandFault(tc.command, tc.delay); err != nil {
			t.Fatalf("SetCommandFault(%v, %v): %v", tc.command, tc.delay, err)
		}
	}

	switch tc.react {
	case closesAndReconnects:
		eventually(t, "an anomaly naming the violation", func() bool { return p.hasEvent(EventAnomaly, tc.reason) })
		m.closedWith(tc.reason)
		if n := p.link.Stats().Errors[tc.errKind]; n != 1 {
			t.Errorf("Errors[%q] = %d, want 1 (%v)", tc.errKind, n, p.link.Stats().Errors)
		}
		// Commfail: the cache recorded the loss at once, and every point
		// went through it (a new sequence number, its value unchanged).
		eventually(t, "commfail recorded", func() bool {
			_, since, _ := p.cache.CommFail("rtu")
			return !since.Before(at)
		})
		p.interrogated(at)
		p.matchesSoon(s)
		eventually(t, "the link's commfail cleared by the interrogation", func() bool {
			fail, _, _ := p.cache.CommFail("rtu")
			return !fail
		})
		if p.link.Stats().Reconnects == reconnects {
			t.Error("no reconnect counted")
		}
		m.commandWorks()
	case anomalyStaysUp:
		eventually(t, "an anomaly naming the problem", func() bool { return p.hasEvent(EventAnomaly, tc.reason) })
		if n := p.link.Stats().Errors[tc.errKind]; n != 1 {
			t.Errorf("Errors[%q] = %d, want 1 (%v)", tc.errKind, n, p.link.Stats().Errors)
		}
		m.stillUp(at, reconnects)
	case answersEveryTestFR:
		var acts, cons int
		eventually(t, "every TESTFR act answered", func() bool {
			acts, cons = m.testFRs(lastFrame)
			return cons >= tc.fault.Count
		})
		if acts != tc.fault.Count || cons != tc.fault.Count {
			t.Errorf("%d TESTFR act received, %d TESTFR con sent; want %d each", acts, cons, tc.fault.Count)
		}
		if n := len(p.eventsOf(EventAnomaly)); n != 0 {
			t.Errorf("anomalies after a TESTFR flood: %v", p.eventsOf(EventAnomaly))
		}
		m.stillUp(at, reconnects)
	case commandTimesOut, lateAnswerReported:
		r, err, took := m.command("p1001", 1) // SBO: the select gets no answer in time
		want := "no ACTCON for the select within " + tc.respTime.String()
		if err == nil || r.State != Failed || !strings.Contains(r.Err, want) {
			t.Errorf("select: %v, %+v; want failed: %s", err, r, want)
		}
		if took < tc.respTime || took > tc.respTime+time.Second {
			t.Errorf("select failed after %v, want its response timeout %v (+1 s at most)", took, tc.respTime)
		}
		if tc.react == lateAnswerReported {
			eventually(t, "the late answer reported", func() bool { return p.hasEvent(EventAnomaly, "late C_SC_NA_1 actcon") })
		}
		if err := s.srv.SetCommandFault(0, 0); err != nil {
			t.Fatal(err)
		}
		m.stillUp(at, reconnects)
	case securityEvent:
		eventually(t, "a security event "+tc.reason, func() bool {
			for _, e := range p.eventsOf(EventSecurity) {
				if e.Code == tc.reason {
					return true
				}
			}
			return false
		})
		m.stillUp(at, reconnects)
	default:
		t.Fatalf("reaction %d not checked", tc.react)
	}
}

// closedWith checks that the link left the active state with an anomaly
// event that names why.
func (m *misbehaving) closedWith(reason string) {
	m.t.Helper()
	for _, e := range m.eventsOf(EventAnomaly) {
		if strings.Contains(e.Message, reason) {
			if !strings.Contains(e.Message, "closed") || strings.Contains(e.Message, "iec104: iec104:") {
				m.t.Errorf("anomaly %q: want one clear line saying the connection closed and why", e.Message)
			}
			m.t.Logf("anomaly: %s", e.Message)
		}
	}
	left := false
	for _, e := range m.eventsOf(EventLinkState) {
		left = left || e.State != Active
	}
	if !left {
		m.t.Errorf("the link never left the active state: %v", m.eventsOf(EventLinkState))
	}
}

// stillUp checks that the connection active at since is still active and
// works: no reconnect, no link state change, an interrogation completes,
// the points are good and a command is confirmed.
func (m *misbehaving) stillUp(since time.Time, reconnects uint64) {
	m.t.Helper()
	for _, e := range m.eventsOf(EventLinkState) {
		if e.Time.After(since) {
			m.t.Errorf("link state changed: %s", e.Message)
		}
	}
	if n := m.link.Stats().Reconnects; n != reconnects {
		m.t.Errorf("%d reconnects, want %d", n, reconnects)
	}
	at := time.Now()
	m.link.Interrogate()
	m.interrogated(at)
	m.matchesSoon(m.sim)
	m.commandWorks()
	if fail, _, _ := m.cache.CommFail("rtu"); fail {
		m.t.Error("the link's points are in commfail")
	}
}

// commandWorks runs a select and an execute on p1001 once no quarantine
// stops it, and checks that the station's point followed.
func (m *misbehaving) commandWorks() {
	m.t.Helper()
	var r Record
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err, _ = m.command("p1001", 1-m.cache.Get(m.byIOA[1001]).Value)
		if !errors.Is(err, ErrQuarantine) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || r.State != Selected {
		m.t.Fatalf("select: %v, %+v", err, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r, err = m.cmd.Execute(ctx, r.ID); err != nil || r.State != Terminated {
		m.t.Fatalf("execute: %v, %+v", err, r)
	}
	want := r.Value
	eventually(m.t, "p1001 to follow the command", func() bool {
		v := m.cache.Get(m.byIOA[1001])
		return v.Value == want && v.Quality.Good()
	})
}

// command selects point at value and says how long it took. A select that
// has not returned 5 s after its response timeout hangs: the test fails.
func (m *misbehaving) command(point string, value float64) (Record, error, time.Duration) {
	m.t.Helper()
	ctl, _ := m.cmd.Control(point)
	type result struct {
		r   Record
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		r, err := m.cmd.Select(context.Background(), point, value, Origin{User: "test"})
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err, time.Since(start)
	case <-time.After(ctl.ResponseTimeout + 5*time.Second):
		m.t.Fatalf("select on %s hangs: no result after %v", point, time.Since(start))
	}
	panic("unreachable")
}

// lastFrame is the sequence number of the last frame in the traffic ring.
func (m *misbehaving) lastFrame() uint64 {
	fs := m.link.Traffic(0, nil)
	if len(fs) == 0 {
		return 0
	}
	return fs[len(fs)-1].Seq
}

// testFRs counts the TESTFR act received and TESTFR con sent after frame seq.
func (m *misbehaving) testFRs(seq uint64) (acts, cons int) {
	act, con := iec104.AppendU(nil, iec104.TestFRAct), iec104.AppendU(nil, iec104.TestFRCon)
	for _, f := range m.link.Traffic(seq, nil) {
		switch {
		case !f.Sent && bytes.Equal(f.Raw, act):
			acts++
		case f.Sent && bytes.Equal(f.Raw, con):
			cons++
		}
	}
	return acts, cons
}
