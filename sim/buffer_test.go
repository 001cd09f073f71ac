package sim

import (
	"context"
	"net"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

// rawMaster is a controlling station that never acknowledges: it starts
// data transfer, reads I-frames and then drops the connection, as a master
// whose cable was pulled leaves the station with unacknowledged frames.
type rawMaster struct {
	t  *testing.T
	nc net.Conn
}

func rawDial(t *testing.T, addr string) *rawMaster {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	m := &rawMaster{t: t, nc: nc}
	if _, err := nc.Write(iec104.AppendU(nil, iec104.StartDTAct)); err != nil {
		t.Fatal(err)
	}
	if a := m.next(); a.Format != iec104.FormatU || a.U != iec104.StartDTCon {
		t.Fatalf("got %v, want STARTDT con", a)
	}
	return m
}

func (m *rawMaster) next() iec104.APDU {
	m.t.Helper()
	m.nc.SetReadDeadline(time.Now().Add(waitFor))
	b, err := iec104.ReadAPDU(m.nc, make([]byte, 255))
	if err != nil {
		m.t.Fatalf("read: %v", err)
	}
	a, err := iec104.ParseAPDU(b)
	if err != nil {
		m.t.Fatalf("parse % X: %v", b, err)
	}
	a.ASDU = append([]byte(nil), a.ASDU...)
	return a
}

// stepValue reads the value of the one step position in a spontaneous ASDU.
func stepValue(t *testing.T, b []byte) int {
	t.Helper()
	a, err := iec104.ParseASDU(b)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := a.Objects(nil)
	if err != nil || len(objs) != 1 || a.Cause != iec104.CauseSpontaneous {
		t.Fatalf("ASDU %v cause %v with %d objects (%v), want one spontaneous object", a.Type, a.Cause, len(objs), err)
	}
	return int(objs[0].Value(a.Type))
}

// TestEventBuffer: with an event buffer, what the station reports while no
// master is connected, and what a master received without acknowledging
// before its connection dropped, reaches the next master, oldest first,
// before anything newer; without a buffer it is lost.
func TestEventBuffer(t *testing.T) {
	cfg := testConfig(t)
	srv, addr := startServer(t, Options{Config: cfg, EventBuffer: 8})
	set := func(v int) {
		t.Helper()
		if err := srv.Set(300, float64(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	for v := 1; v <= 10; v++ { // nobody connected: 1 and 2 fall out of the 8
		set(v)
	}
	if n, dropped := srv.BufferedEvents(); n != 8 || dropped != 2 {
		t.Fatalf("buffered %d, dropped %d; want 8 and 2", n, dropped)
	}

	m := rawDial(t, addr)
	for want := 3; want <= 10; want++ {
		a := m.next()
		if a.Format != iec104.FormatI {
			t.Fatalf("got %v, want buffered event %d", a, want)
		}
		if v := stepValue(t, a.ASDU); v != want {
			t.Fatalf("buffered event %d, want %d", v, want)
		}
	}
	// Live now: 11 reaches this master, which never acknowledges.
	set(11)
	if v := stepValue(t, m.next().ASDU); v != 11 {
		t.Fatalf("live event %d, want 11", v)
	}
	m.nc.Close() // 3..11 are unacknowledged
	deadline := time.Now().Add(waitFor)
	for {
		if n, _ := srv.BufferedEvents(); n == 8 {
			break
		}
		if time.Now().After(deadline) {
			n, _ := srv.BufferedEvents()
			t.Fatalf("%d events buffered after the master left, want 8 (the newest unacknowledged ones)", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	set(12) // newer than the given-back ones: after them; 4 falls out

	c := dial(t, addr, nil) // a real master, which acknowledges
	for want := 5; want <= 12; want++ {
		if _, objs := c.expect(iec104.M_ST_NA_1, iec104.CauseSpontaneous, false); int(objs[0].Value(iec104.M_ST_NA_1)) != want {
			t.Fatalf("event %v, want %d", objs[0].Value(iec104.M_ST_NA_1), want)
		}
	}
	c.quiet(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.conn.StopDT(ctx); err != nil { // all acknowledged: nothing to give back
		t.Fatal(err)
	}
	set(13) // stopped: buffered
	if n, _ := srv.BufferedEvents(); n != 1 {
		t.Fatalf("%d events buffered after STOPDT and one change, want 1", n)
	}
	if err := c.conn.StartDT(ctx); err != nil {
		t.Fatal(err)
	}
	if _, objs := c.expect(iec104.M_ST_NA_1, iec104.CauseSpontaneous, false); int(objs[0].Value(iec104.M_ST_NA_1)) != 13 {
		t.Fatalf("event %v after STARTDT, want 13", objs[0].Value(iec104.M_ST_NA_1))
	}
}

// TestNoEventBuffer: without a buffer, changes made while nobody is
// started are not reported later (the interrogation tells the state).
func TestNoEventBuffer(t *testing.T) {
	srv, addr := startServer(t, Options{Config: testConfig(t)})
	if err := srv.Set(300, 9, 0); err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.BufferedEvents(); n != 0 {
		t.Fatalf("%d buffered without a buffer", n)
	}
	c := dial(t, addr, nil)
	c.quiet(200 * time.Millisecond)
	if _, err := New(Options{Config: testConfig(t), EventBuffer: MaxEventBuffer + 1}); err == nil {
		t.Fatalf("EventBuffer %d accepted", MaxEventBuffer+1)
	}
}
