package sim

import (
	"errors"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

func TestInjectRefuses(t *testing.T) {
	srv, _ := startServer(t, Options{Config: testConfig(t)})
	tests := []struct {
		name string
		f    Fault
	}{
		{"no kind", Fault{}},
		{"unknown kind", Fault{Kind: faultKindEnd}},
		{"command mode", Fault{Kind: NoActCon}},
		{"count of a fault without one", Fault{Kind: WrongNS, Count: 3}},
		{"IOA of a fault without one", Fault{Kind: Garbage, IOA: 5000}},
		{"negative count", Fault{Kind: Garbage, Count: -1}},
		{"count beyond the maximum", Fault{Kind: TestFRFlood, Count: MaxFaultCount + 1}},
		{"object count 1", Fault{Kind: ObjectsBeyondBytes, Count: 1}},
		{"object count 128", Fault{Kind: ObjectsBeyondBytes, Count: 128}},
		{"ACTCON of no command", Fault{Kind: UnsolicitedActCon, IOA: 100}},
	}
	for _, tc := range tests {
		err := srv.Inject(tc.f)
		if err == nil || errors.Is(err, ErrNoConnection) {
			t.Errorf("%s: Inject(%+v) = %v, want the fault refused", tc.name, tc.f, err)
		}
	}
	if err := srv.Inject(Fault{Kind: Garbage}); !errors.Is(err, ErrNoConnection) {
		t.Errorf("Inject without a connection: %v, want ErrNoConnection", err)
	}
	for _, tc := range []struct {
		kind  FaultKind
		delay time.Duration
	}{{Garbage, 0}, {NoActCon, time.Second}, {LateActCon, 0}, {LateActCon, -time.Second}, {LateActCon, 2 * time.Hour}, {0, time.Second}} {
		if err := srv.SetCommandFault(tc.kind, tc.delay); err == nil {
			t.Errorf("SetCommandFault(%v, %v) accepted", tc.kind, tc.delay)
		}
	}
	for k := WrongNS; k < faultKindEnd; k++ {
		if got, err := ParseFaultKind(k.String()); err != nil || got != k {
			t.Errorf("ParseFaultKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseFaultKind("nonsense"); err == nil {
		t.Error("ParseFaultKind(nonsense) accepted")
	}
}

// TestInjectAPCIFaults: each fault that breaks the APCI makes a
// controlling station of this stack close the connection for that reason.
func TestInjectAPCIFaults(t *testing.T) {
	tests := []struct {
		f    Fault
		want error
	}{
		{Fault{Kind: WrongNS}, iec104.ErrSequence},
		{Fault{Kind: AckOutsideWindow}, iec104.ErrAckWindow},
		{Fault{Kind: Garbage, Count: 3}, iec104.ErrStartByte},
		{Fault{Kind: ShortAPDU}, iec104.ErrLength},
	}
	for _, tc := range tests {
		t.Run(tc.f.Kind.String(), func(t *testing.T) {
			srv, addr := startServer(t, Options{Config: testConfig(t)})
			c := dial(t, addr, nil)
			// Some traffic first: the sequence numbers are not at 0.
			c.send(hdr(iec104.C_TS_TA_1, iec104.CauseActivation), iec104.Object{TSC: 1, Time: iec104.NewCP56(time.Now(), nil)})
			c.expect(iec104.C_TS_TA_1, iec104.CauseActivationCon, false)
			if err := srv.Inject(tc.f); err != nil {
				t.Fatal(err)
			}
			if err := c.closed(waitFor); !errors.Is(err, tc.want) {
				t.Fatalf("connection ended with %v, want %v", err, tc.want)
			}
		})
	}
}

// TestInjectASDUFaults: the faults carried by correctly numbered I-frames
// arrive as they should, and the connection goes on.
func TestInjectASDUFaults(t *testing.T) {
	srv, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)

	if err := srv.Inject(Fault{Kind: ObjectsBeyondBytes, Count: 9}); err != nil {
		t.Fatal(err)
	}
	b := c.recvRaw()
	a, err := iec104.ParseASDU(b)
	if !errors.Is(err, iec104.ErrObjectCount) || a.Count != 9 || a.Type != iec104.M_SP_NA_1 || len(a.Payload) != 4 {
		t.Fatalf("ASDU % x: %v, count %d; want M_SP_NA_1 counting 9 objects with one", b, err, a.Count)
	}

	if err := srv.Inject(Fault{Kind: UnknownType}); err != nil {
		t.Fatal(err)
	}
	b = c.recvRaw()
	if a, err := iec104.ParseASDU(b); err != nil || a.Type != 200 || a.Count != 1 || a.CA != testCA {
		t.Fatalf("ASDU % x: %v, %+v; want type 200 with one object", b, err, a)
	}

	if err := srv.Inject(Fault{Kind: UnsolicitedActCon}); err != nil {
		t.Fatal(err)
	}
	_, objs := c.expect(iec104.C_SC_NA_1, iec104.CauseActivationCon, false)
	if len(objs) != 1 || objs[0].IOA != 5000 || objs[0].State != 1 {
		t.Fatalf("unsolicited ACTCON %+v, want IOA 5000 (the first command) ON", objs)
	}
	if err := srv.Inject(Fault{Kind: UnsolicitedActCon, IOA: 5100}); err != nil {
		t.Fatal(err)
	}
	if _, objs := c.expect(iec104.C_DC_NA_1, iec104.CauseActivationCon, false); len(objs) != 1 || objs[0].IOA != 5100 {
		t.Fatalf("unsolicited ACTCON %+v, want IOA 5100", objs)
	}

	before := c.conn.Stats()
	if err := srv.Inject(Fault{Kind: TestFRFlood, Count: 500}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for c.conn.Stats().TxU-before.TxU < 500 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := c.conn.Stats(); st.RxU-before.RxU != 500 || st.TxU-before.TxU != 500 {
		t.Fatalf("%d U-frames received, %d sent, want 500 TESTFR act and 500 con", st.RxU-before.RxU, st.TxU-before.TxU)
	}

	// The connection works on: its sequence numbers are right.
	c.send(hdr(iec104.C_TS_TA_1, iec104.CauseActivation), iec104.Object{TSC: 2, Time: iec104.NewCP56(time.Now(), nil)})
	c.expect(iec104.C_TS_TA_1, iec104.CauseActivationCon, false)
	select {
	case <-c.conn.Done():
		t.Fatalf("connection ended: %v", c.conn.Err())
	default:
	}
}

func TestCommandFaults(t *testing.T) {
	srv, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)
	selectCmd := func() {
		c.send(hdr(iec104.C_SC_NA_1, iec104.CauseActivation), iec104.Object{IOA: 5000, Select: true, State: 1})
	}

	if err := srv.SetCommandFault(NoActCon, 0); err != nil {
		t.Fatal(err)
	}
	selectCmd()
	c.quiet(300 * time.Millisecond)
	// Not a process command: answered.
	c.send(hdr(iec104.C_TS_TA_1, iec104.CauseActivation), iec104.Object{TSC: 1, Time: iec104.NewCP56(time.Now(), nil)})
	c.expect(iec104.C_TS_TA_1, iec104.CauseActivationCon, false)

	const delay = 300 * time.Millisecond
	if err := srv.SetCommandFault(LateActCon, delay); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	selectCmd()
	c.expect(iec104.C_SC_NA_1, iec104.CauseActivationCon, false)
	if took := time.Since(start); took < delay {
		t.Fatalf("ACTCON after %v, want after the delay %v", took, delay)
	}

	if err := srv.SetCommandFault(0, 0); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	selectCmd()
	c.expect(iec104.C_SC_NA_1, iec104.CauseActivationCon, false)
	if took := time.Since(start); took >= delay {
		t.Fatalf("ACTCON after %v with the fault cleared", took)
	}
}

// recvRaw returns the next ASDU as received.
func (c *client) recvRaw() []byte {
	c.t.Helper()
	select {
	case b := <-c.rx:
		return b
	case <-time.After(waitFor):
		c.t.Fatalf("no ASDU within %v", waitFor)
	}
	return nil
}
