package sim

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

const testYAML = `
ca: 7
points:
  - {ioa: 100, kind: single, value: 0}
  - {ioa: 101, kind: single, value: 1}
  - {ioa: 102, kind: single, value: 0}
  - {ioa: 103, kind: single, value: 1}
  - {ioa: 104, kind: single, value: 1}
  - {ioa: 200, kind: double, value: 1, group: 9}
  - {ioa: 210, kind: double, value: 2, time_tag: true}
  - {ioa: 300, kind: step, value: 5}
  - {ioa: 400, kind: bitstring, value: 43690}
  - {ioa: 500, kind: normalized, value: 0.5, quality: [nt]}
  - {ioa: 600, kind: scaled, value: -1}
  - {ioa: 700, kind: float, value: 1.5, time_tag: true}
  - {ioa: 800, kind: counter, value: 1000, group: 1}
  - {ioa: 801, kind: counter, value: 2000, group: 2, time_tag: true}
commands:
  - {ioa: 5000, point: 100, sbo: true}
  - {ioa: 5001, point: 101}
  - {ioa: 5100, point: 200, sbo: true, select_timeout: 200ms}
  - {ioa: 5101, point: 210, actterm: false}
  - {ioa: 5200, point: 300}
  - {ioa: 5300, point: 500, sbo: true}
  - {ioa: 5400, point: 600}
  - {ioa: 5500, point: 700, sbo: true}
  - {ioa: 5600, kind: single}
`

const testCA = 7

func testConfig(t *testing.T) Config {
	t.Helper()
	c, err := ParseConfig("test.yaml", []byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func hdr(typ iec104.TypeID, cause iec104.Cause) iec104.Header {
	return iec104.Header{Type: typ, Cause: cause, CA: testCA}
}

// interrogationResult reads an interrogation answer after the ACTCON: the
// data ASDUs up to the ACTTERM. It checks the cause of every data ASDU and
// returns the objects by IOA and the ASDUs.
func interrogationResult(t *testing.T, c *client, typ iec104.TypeID, cause iec104.Cause) (map[uint32]iec104.Object, []iec104.ASDU) {
	t.Helper()
	got := map[uint32]iec104.Object{}
	var asdus []iec104.ASDU
	for {
		a, objs := c.recv()
		if a.Type == typ {
			if a.Cause != iec104.CauseActivationTerm || a.Negative {
				t.Fatalf("got %v cause %v negative %v, want ACTTERM", a.Type, a.Cause, a.Negative)
			}
			return got, asdus
		}
		if a.Cause != cause || a.CA != testCA {
			t.Fatalf("data ASDU %v cause %v CA %d, want cause %v CA %d", a.Type, a.Cause, a.CA, cause, testCA)
		}
		asdus = append(asdus, a)
		for _, o := range objs {
			if _, dup := got[o.IOA]; dup {
				t.Fatalf("IOA %d reported twice", o.IOA)
			}
			got[o.IOA] = o
		}
	}
}

func keys(m map[uint32]iec104.Object) []uint32 {
	var ks []uint32
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestInterrogation(t *testing.T) {
	_, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)
	tests := []struct {
		name string
		qoi  uint8
		want []uint32 // IOAs; nil: negative ACTCON
	}{
		{"station", 20, []uint32{100, 101, 102, 103, 104, 200, 210, 300, 400, 500, 600, 700}},
		{"group 1 singles", 21, []uint32{100, 101, 102, 103, 104}},
		{"group 2 doubles", 22, []uint32{210}},
		{"group 9", 29, []uint32{200}},
		{"group 16 empty", 36, []uint32{}},
		{"qoi 19", 19, nil},
		{"qoi 37", 37, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(hdr(iec104.C_IC_NA_1, iec104.CauseActivation), iec104.Object{Qualifier: tt.qoi})
			if tt.want == nil {
				c.expect(iec104.C_IC_NA_1, iec104.CauseActivationCon, true)
				return
			}
			_, objs := c.expect(iec104.C_IC_NA_1, iec104.CauseActivationCon, false)
			if objs[0].Qualifier != tt.qoi {
				t.Errorf("ACTCON QOI %d, want %d", objs[0].Qualifier, tt.qoi)
			}
			got, asdus := interrogationResult(t, c, iec104.C_IC_NA_1, iec104.Cause(tt.qoi))
			if ks := keys(got); !slices.Equal(ks, tt.want) {
				t.Errorf("IOAs %v, want %v", ks, tt.want)
			}
			for _, a := range asdus {
				if a.Type.HasTime() {
					t.Errorf("interrogation answered with time-tagged %v", a.Type)
				}
			}
			if tt.qoi == 20 {
				checkStationValues(t, got, asdus)
			}
		})
	}
}

func checkStationValues(t *testing.T, got map[uint32]iec104.Object, asdus []iec104.ASDU) {
	t.Helper()
	if o := got[101]; o.State != 1 {
		t.Errorf("single 101 = %d, want 1", o.State)
	}
	if o := got[210]; o.State != 2 {
		t.Errorf("double 210 = %d, want 2", o.State)
	}
	if o := got[300]; o.Step != 5 {
		t.Errorf("step 300 = %d, want 5", o.Step)
	}
	if o := got[400]; o.Bits != 43690 {
		t.Errorf("bitstring 400 = %#x, want 0xaaaa", o.Bits)
	}
	if o := got[500]; o.Int != 16384 || o.Quality != iec104.QualityNT {
		t.Errorf("normalized 500 = %d %v, want 16384 NT", o.Int, o.Quality)
	}
	if o := got[600]; o.Int != -1 {
		t.Errorf("scaled 600 = %d, want -1", o.Int)
	}
	if o := got[700]; o.Float != 1.5 {
		t.Errorf("float 700 = %v, want 1.5", o.Float)
	}
	// The five consecutive singles go in one ASDU with SQ=1.
	for _, a := range asdus {
		if a.Type == iec104.M_SP_NA_1 && (!a.SQ || a.Count != 5) {
			t.Errorf("M_SP_NA_1 SQ=%v count %d, want SQ=1 count 5", a.SQ, a.Count)
		}
	}
}

func TestInterrogationLarge(t *testing.T) {
	// Enough points for many ASDUs of every kind; with -race too.
	cfg := Generate(4000)
	cfg.CA = testCA
	_, addr := startServer(t, Options{Config: cfg})
	c := dial(t, addr, nil)
	c.send(hdr(iec104.C_IC_NA_1, iec104.CauseActivation), iec104.Object{Qualifier: 20})
	c.expect(iec104.C_IC_NA_1, iec104.CauseActivationCon, false)
	got, asdus := interrogationResult(t, c, iec104.C_IC_NA_1, iec104.CauseInterrogated)
	if want := 4000 - 500; len(got) != want { // counters are not interrogated
		t.Errorf("%d objects, want %d", len(got), want)
	}
	for _, p := range cfg.Points {
		if _, ok := got[p.IOA]; !ok && p.Kind != Counter {
			t.Fatalf("point %d (%v) missing", p.IOA, p.Kind)
		}
	}
	for _, a := range asdus {
		if !a.SQ {
			t.Errorf("%v with SQ=0, the generated IOAs are consecutive", a.Type)
		}
	}
	// 500 points per kind: full ASDUs except the last of each kind.
	want := 0
	for k := Single; k <= Float; k++ {
		_, cap1 := capacity(k.TypeID(false))
		want += (500 + cap1 - 1) / cap1
	}
	if len(asdus) != want {
		t.Errorf("%d ASDUs for 3500 objects, want %d", len(asdus), want)
	}
}

func TestCounterInterrogation(t *testing.T) {
	srv, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)
	ci := func(qcc uint8) map[uint32]iec104.Object {
		c.send(hdr(iec104.C_CI_NA_1, iec104.CauseActivation), iec104.Object{Qualifier: qcc})
		c.expect(iec104.C_CI_NA_1, iec104.CauseActivationCon, false)
		cause := iec104.CauseCounterGeneral
		if rqt := qcc & 0x3F; rqt < 5 {
			cause = iec104.CauseCounterGroup1 + iec104.Cause(rqt-1)
		}
		got := map[uint32]iec104.Object{}
		for {
			a, objs := c.recv()
			if a.Type == iec104.C_CI_NA_1 {
				if a.Cause != iec104.CauseActivationTerm {
					t.Fatalf("got %v cause %v, want ACTTERM", a.Type, a.Cause)
				}
				return got
			}
			if a.Cause != cause {
				t.Fatalf("%v cause %v, want %v", a.Type, a.Cause, cause)
			}
			for _, o := range objs {
				if o.IOA == 801 && a.Type != iec104.M_IT_TB_1 || o.IOA == 800 && a.Type != iec104.M_IT_NA_1 {
					t.Errorf("counter %d sent as %v", o.IOA, a.Type)
				}
				got[o.IOA] = o
			}
		}
	}
	got := ci(5) // general read
	if len(got) != 2 || got[800].Int != 1000 || got[801].Int != 2000 {
		t.Fatalf("general read %+v, want 800=1000 801=2000", got)
	}
	got = ci(2) // group 2 read
	if len(got) != 1 || got[801].Int != 2000 {
		t.Fatalf("group 2 read %+v, want 801=2000", got)
	}
	got = ci(0x80 | 1) // group 1 freeze with reset
	if len(got) != 1 || got[800].Int != 1000 || got[800].CounterSeq != 1 {
		t.Fatalf("group 1 freeze and reset %+v, want 800=1000 seq 1", got)
	}
	if o, _ := srv.Get(800); o.Int != 0 {
		t.Errorf("counter 800 = %d after reset, want 0", o.Int)
	}
	got = ci(5)
	if got[800].Int != 0 || got[800].CounterSeq != 1 || got[801].Int != 2000 {
		t.Errorf("read after reset %+v, want 800=0 seq 1, 801=2000", got)
	}
	for _, qcc := range []uint8{0, 6, 0x40 | 63} {
		c.send(hdr(iec104.C_CI_NA_1, iec104.CauseActivation), iec104.Object{Qualifier: qcc})
		c.expect(iec104.C_CI_NA_1, iec104.CauseActivationCon, true)
	}
}

func TestClockSync(t *testing.T) {
	srv, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)
	set := time.Date(2031, 2, 3, 4, 5, 6, 789e6, time.UTC)
	c.send(hdr(iec104.C_CS_NA_1, iec104.CauseActivation), iec104.Object{Time: iec104.NewCP56(set, nil)})
	_, objs := c.expect(iec104.C_CS_NA_1, iec104.CauseActivationCon, false)
	if got := objs[0].Time.Time(nil); got.Sub(set).Abs() > time.Second {
		t.Errorf("ACTCON time %v, want about %v", got, set)
	}
	if got := srv.Now(); got.Sub(set).Abs() > 2*time.Second {
		t.Errorf("station clock %v, want about %v", got, set)
	}
	// Later time tags follow the synchronised clock: read a time-tagged point.
	c.send(hdr(iec104.C_RD_NA_1, iec104.CauseRequest), iec104.Object{IOA: 700})
	_, objs = c.expect(iec104.M_ME_TF_1, iec104.CauseRequest, false)
	if got := objs[0].Time.Time(nil); got.Sub(set).Abs() > 2*time.Second {
		t.Errorf("time tag %v after sync, want about %v", got, set)
	}
	// An invalid time is refused.
	bad := iec104.NewCP56(set, nil)
	bad.Month = 13
	c.send(hdr(iec104.C_CS_NA_1, iec104.CauseActivation), iec104.Object{Time: bad})
	c.expect(iec104.C_CS_NA_1, iec104.CauseActivationCon, true)
}

func TestTestCommandAndRead(t *testing.T) {
	_, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)
	tm := iec104.NewCP56(time.Date(2026, 11, 21, 3, 25, 6, 0, time.UTC), nil)
	c.send(hdr(iec104.C_TS_TA_1, iec104.CauseActivation), iec104.Object{TSC: 0x1234, Time: tm})
	_, objs := c.expect(iec104.C_TS_TA_1, iec104.CauseActivationCon, false)
	if objs[0].TSC != 0x1234 || objs[0].Time != tm {
		t.Errorf("test command ACTCON %+v, want TSC 0x1234 and the same time", objs[0])
	}

	c.send(hdr(iec104.C_RD_NA_1, iec104.CauseRequest), iec104.Object{IOA: 600})
	_, objs = c.expect(iec104.M_ME_NB_1, iec104.CauseRequest, false)
	if objs[0].IOA != 600 || objs[0].Int != -1 {
		t.Errorf("read 600: %+v, want scaled -1", objs[0])
	}
	c.send(hdr(iec104.C_RD_NA_1, iec104.CauseRequest), iec104.Object{IOA: 999})
	c.expect(iec104.C_RD_NA_1, iec104.CauseUnknownIOA, true)
}

func TestErrors(t *testing.T) {
	_, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)
	tests := []struct {
		name     string
		h        iec104.Header
		o        iec104.Object
		raw      []byte // sent instead of h and o when set
		wantType iec104.TypeID
		cause    iec104.Cause
		neg      bool
		wantCA   uint16
	}{
		{name: "unknown CA", h: iec104.Header{Type: iec104.C_IC_NA_1, Cause: 6, CA: 2}, o: iec104.Object{Qualifier: 20},
			wantType: iec104.C_IC_NA_1, cause: iec104.CauseUnknownCA, neg: true, wantCA: 2},
		{name: "unknown CA command", h: iec104.Header{Type: iec104.C_SC_NA_1, Cause: 6, CA: 8}, o: iec104.Object{IOA: 5001, State: 1},
			wantType: iec104.C_SC_NA_1, cause: iec104.CauseUnknownCA, neg: true, wantCA: 8},
		{name: "broadcast test command", h: iec104.Header{Type: iec104.C_TS_TA_1, Cause: 6, CA: 0xFFFF}, o: iec104.Object{TSC: 1, Time: iec104.NewCP56(time.Now(), nil)},
			wantType: iec104.C_TS_TA_1, cause: iec104.CauseUnknownCA, neg: true, wantCA: 0xFFFF},
		{name: "broadcast clock sync", h: iec104.Header{Type: iec104.C_CS_NA_1, Cause: 6, CA: 0xFFFF}, o: iec104.Object{Time: iec104.NewCP56(time.Now(), nil)},
			wantType: iec104.C_CS_NA_1, cause: iec104.CauseActivationCon, wantCA: testCA},
		{name: "monitor type in control direction", h: hdr(iec104.M_SP_NA_1, 6), o: iec104.Object{IOA: 100},
			wantType: iec104.M_SP_NA_1, cause: iec104.CauseUnknownType, neg: true, wantCA: testCA},
		{name: "type unknown to the codec", raw: []byte{120, 1, 6, 0, testCA, 0, 1, 0, 0, 0x55},
			wantType: 120, cause: iec104.CauseUnknownType, neg: true, wantCA: testCA},
		{name: "end of initialisation", h: hdr(iec104.M_EI_NA_1, 6), o: iec104.Object{},
			wantType: iec104.M_EI_NA_1, cause: iec104.CauseUnknownType, neg: true, wantCA: testCA},
		{name: "interrogation cause 3", h: hdr(iec104.C_IC_NA_1, 3), o: iec104.Object{Qualifier: 20},
			wantType: iec104.C_IC_NA_1, cause: iec104.CauseUnknownCause, neg: true, wantCA: testCA},
		{name: "command cause 5", h: hdr(iec104.C_SC_NA_1, 5), o: iec104.Object{IOA: 5001, State: 1},
			wantType: iec104.C_SC_NA_1, cause: iec104.CauseUnknownCause, neg: true, wantCA: testCA},
		{name: "clock sync deactivation", h: hdr(iec104.C_CS_NA_1, 8), o: iec104.Object{Time: iec104.NewCP56(time.Now(), nil)},
			wantType: iec104.C_CS_NA_1, cause: iec104.CauseUnknownCause, neg: true, wantCA: testCA},
		{name: "read cause 6", h: hdr(iec104.C_RD_NA_1, 6), o: iec104.Object{IOA: 100},
			wantType: iec104.C_RD_NA_1, cause: iec104.CauseUnknownCause, neg: true, wantCA: testCA},
		{name: "interrogation with an IOA", h: hdr(iec104.C_IC_NA_1, 6), o: iec104.Object{IOA: 1, Qualifier: 20},
			wantType: iec104.C_IC_NA_1, cause: iec104.CauseUnknownIOA, neg: true, wantCA: testCA},
		{name: "command to an unknown IOA", h: hdr(iec104.C_SC_NA_1, 6), o: iec104.Object{IOA: 4711, State: 1},
			wantType: iec104.C_SC_NA_1, cause: iec104.CauseUnknownIOA, neg: true, wantCA: testCA},
		{name: "command to a monitor IOA", h: hdr(iec104.C_SC_NA_1, 6), o: iec104.Object{IOA: 100, State: 1},
			wantType: iec104.C_SC_NA_1, cause: iec104.CauseUnknownIOA, neg: true, wantCA: testCA},
		{name: "two objects", raw: []byte{45, 2, 6, 0, testCA, 0, 0x89, 0x13, 0, 1, 0x89, 0x13, 0, 1},
			wantType: iec104.C_SC_NA_1, cause: iec104.CauseActivationCon, neg: true, wantCA: testCA},
		{name: "no object", raw: []byte{100, 0, 6, 0, testCA, 0},
			wantType: iec104.C_IC_NA_1, cause: iec104.CauseActivationCon, neg: true, wantCA: testCA},
		{name: "test bit echoed", h: iec104.Header{Type: iec104.C_IC_NA_1, Cause: 3, Test: true, CA: testCA}, o: iec104.Object{Qualifier: 20},
			wantType: iec104.C_IC_NA_1, cause: iec104.CauseUnknownCause, neg: true, wantCA: testCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			if tt.raw != nil {
				c.sendRaw(tt.raw)
			} else {
				c.send(tt.h, tt.o)
			}
			a, _ := c.expect(tt.wantType, tt.cause, tt.neg)
			if a.CA != tt.wantCA {
				t.Errorf("CA %d, want %d", a.CA, tt.wantCA)
			}
			if a.Test != tt.h.Test {
				t.Errorf("test bit %v, want %v", a.Test, tt.h.Test)
			}
		})
	}
	t.Run("broadcast interrogation", func(t *testing.T) {
		c.t = t
		c.send(iec104.Header{Type: iec104.C_IC_NA_1, Cause: 6, CA: 0xFFFF}, iec104.Object{Qualifier: 21})
		a, _ := c.expect(iec104.C_IC_NA_1, iec104.CauseActivationCon, false)
		if a.CA != testCA {
			t.Errorf("ACTCON CA %d, want %d", a.CA, testCA)
		}
		got, _ := interrogationResult(t, c, iec104.C_IC_NA_1, 21)
		if len(got) != 5 {
			t.Errorf("%d objects, want 5", len(got))
		}
	})
	t.Run("malformed ASDUs ignored", func(t *testing.T) {
		c.t = t
		c.sendRaw([]byte{1, 5, 3, 0, testCA, 0})                        // M_SP_NA_1 claiming 5 objects, none there
		c.sendRaw([]byte{100, 1, 6, 0, testCA, 0, 0, 0, 0, 20, 99, 99}) // C_IC_NA_1 with two octets too many
		c.quiet(100 * time.Millisecond)
		c.send(hdr(iec104.C_IC_NA_1, iec104.CauseActivation), iec104.Object{Qualifier: 36})
		c.expect(iec104.C_IC_NA_1, iec104.CauseActivationCon, false)
		c.expect(iec104.C_IC_NA_1, iec104.CauseActivationTerm, false)
	})
}

// step is one request of a command test and the answers it expects.
type step struct {
	typ   iec104.TypeID
	cause iec104.Cause // 6 or 8
	o     iec104.Object
	test  bool
	want  []answer
	sleep time.Duration // before sending
}

type answer struct {
	typ   iec104.TypeID
	cause iec104.Cause
	neg   bool
	check func(t *testing.T, o iec104.Object)
}

func ack(typ iec104.TypeID, cause iec104.Cause) answer { return answer{typ: typ, cause: cause} }
func nack(typ iec104.TypeID) answer {
	return answer{typ: typ, cause: iec104.CauseActivationCon, neg: true}
}

func ret(typ iec104.TypeID, check func(t *testing.T, o iec104.Object)) answer {
	return answer{typ: typ, cause: iec104.CauseReturnRemote, check: check}
}

func TestCommands(t *testing.T) {
	sc := func(ioa uint32, on, sel bool, qu uint8) iec104.Object {
		o := iec104.Object{IOA: ioa, Select: sel, QU: qu}
		if on {
			o.State = 1
		}
		return o
	}
	dc := func(ioa uint32, state uint8, sel bool) iec104.Object {
		return iec104.Object{IOA: ioa, State: state, Select: sel}
	}
	state := func(ioa uint32, want uint8) func(*testing.T, iec104.Object) {
		return func(t *testing.T, o iec104.Object) {
			t.Helper()
			if o.IOA != ioa || o.State != want {
				t.Errorf("return information IOA %d state %d, want IOA %d state %d", o.IOA, o.State, ioa, want)
			}
		}
	}
	const (
		act   = iec104.CauseActivation
		deact = iec104.CauseDeactivation
		con   = iec104.CauseActivationCon
		term  = iec104.CauseActivationTerm
	)
	now := iec104.NewCP56(time.Now(), nil)
	tests := []struct {
		name  string
		steps []step
	}{
		{"sbo single select execute", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, true, true, 1), want: []answer{ack(iec104.C_SC_NA_1, con)}},
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, true, false, 1), want: []answer{
				ack(iec104.C_SC_NA_1, con), ack(iec104.C_SC_NA_1, term), ret(iec104.M_SP_NA_1, state(100, 1))}},
		}},
		{"sbo execute value differs from select", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, false, true, 0), want: []answer{ack(iec104.C_SC_NA_1, con)}},
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, true, false, 0), want: []answer{nack(iec104.C_SC_NA_1)}},
		}},
		{"sbo execute qualifier differs from select", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, false, true, 1), want: []answer{ack(iec104.C_SC_NA_1, con)}},
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, false, false, 2), want: []answer{nack(iec104.C_SC_NA_1)}},
		}},
		{"sbo execute type differs from select", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, false, true, 0), want: []answer{ack(iec104.C_SC_NA_1, con)}},
			{typ: iec104.C_SC_TA_1, cause: act, o: func() iec104.Object { o := sc(5000, false, false, 0); o.Time = now; return o }(),
				want: []answer{nack(iec104.C_SC_TA_1)}},
		}},
		{"sbo execute without select", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, true, false, 0), want: []answer{nack(iec104.C_SC_NA_1)}},
		}},
		{"sbo select times out", []step{
			{typ: iec104.C_DC_NA_1, cause: act, o: dc(5100, 2, true), want: []answer{ack(iec104.C_DC_NA_1, con)}},
			{typ: iec104.C_DC_NA_1, cause: act, o: dc(5100, 2, false), sleep: 300 * time.Millisecond, want: []answer{nack(iec104.C_DC_NA_1)}},
		}},
		{"sbo select within timeout", []step{
			{typ: iec104.C_DC_NA_1, cause: act, o: dc(5100, 2, true), want: []answer{ack(iec104.C_DC_NA_1, con)}},
			{typ: iec104.C_DC_NA_1, cause: act, o: dc(5100, 2, false), want: []answer{
				ack(iec104.C_DC_NA_1, con), ack(iec104.C_DC_NA_1, term), ret(iec104.M_DP_NA_1, state(200, 2))}},
		}},
		{"deactivation cancels the select", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, true, true, 0), want: []answer{ack(iec104.C_SC_NA_1, con)}},
			{typ: iec104.C_SC_NA_1, cause: deact, o: sc(5000, true, true, 0), want: []answer{ack(iec104.C_SC_NA_1, iec104.CauseDeactivationCon)}},
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5000, true, false, 0), want: []answer{nack(iec104.C_SC_NA_1)}},
		}},
		{"deactivation without select", []step{
			{typ: iec104.C_SC_NA_1, cause: deact, o: sc(5000, true, true, 0), want: []answer{
				{typ: iec104.C_SC_NA_1, cause: iec104.CauseDeactivationCon, neg: true}}},
		}},
		{"select on a direct-execute command", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5001, false, true, 0), want: []answer{nack(iec104.C_SC_NA_1)}},
		}},
		{"direct single", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5001, false, false, 0), want: []answer{
				ack(iec104.C_SC_NA_1, con), ack(iec104.C_SC_NA_1, term), ret(iec104.M_SP_NA_1, state(101, 0))}},
		}},
		{"direct double with time tag, no ACTTERM, time-tagged return", []step{
			{typ: iec104.C_DC_TA_1, cause: act, o: func() iec104.Object { o := dc(5101, 1, false); o.Time = now; return o }(), want: []answer{
				ack(iec104.C_DC_TA_1, con), ret(iec104.M_DP_TB_1, func(t *testing.T, o iec104.Object) {
					state(210, 1)(t, o)
					if o.Time.Validate() != nil || o.Time.Year == 0 {
						t.Errorf("return information time %v", o.Time)
					}
				})}},
		}},
		{"double state 0 and 3 refused", []step{
			{typ: iec104.C_DC_NA_1, cause: act, o: dc(5101, 0, false), want: []answer{nack(iec104.C_DC_NA_1)}},
			{typ: iec104.C_DC_NA_1, cause: act, o: dc(5101, 3, false), want: []answer{nack(iec104.C_DC_NA_1)}},
		}},
		{"wrong type for the IOA", []step{
			{typ: iec104.C_DC_NA_1, cause: act, o: dc(5001, 2, false), want: []answer{nack(iec104.C_DC_NA_1)}},
		}},
		{"step up", []step{
			{typ: iec104.C_RC_NA_1, cause: act, o: iec104.Object{IOA: 5200, State: 2}, want: []answer{
				ack(iec104.C_RC_NA_1, con), ack(iec104.C_RC_NA_1, term), ret(iec104.M_ST_NA_1, func(t *testing.T, o iec104.Object) {
					if o.IOA != 300 || o.Step != 6 {
						t.Errorf("step %d = %d, want 300 = 6", o.IOA, o.Step)
					}
				})}},
		}},
		{"set-point normalized sbo", []step{
			{typ: iec104.C_SE_NA_1, cause: act, o: iec104.Object{IOA: 5300, Int: -8192, Select: true}, want: []answer{ack(iec104.C_SE_NA_1, con)}},
			{typ: iec104.C_SE_NA_1, cause: act, o: iec104.Object{IOA: 5300, Int: -8192}, want: []answer{
				ack(iec104.C_SE_NA_1, con), ack(iec104.C_SE_NA_1, term), ret(iec104.M_ME_NA_1, func(t *testing.T, o iec104.Object) {
					if o.IOA != 500 || o.Int != -8192 || o.Quality != iec104.QualityNT {
						t.Errorf("normalized %d = %d %v, want 500 = -8192 NT", o.IOA, o.Int, o.Quality)
					}
				})}},
		}},
		{"set-point scaled with time tag", []step{
			{typ: iec104.C_SE_TB_1, cause: act, o: iec104.Object{IOA: 5400, Int: 1234, Time: now}, want: []answer{
				ack(iec104.C_SE_TB_1, con), ack(iec104.C_SE_TB_1, term), ret(iec104.M_ME_NB_1, func(t *testing.T, o iec104.Object) {
					if o.IOA != 600 || o.Int != 1234 {
						t.Errorf("scaled %d = %d, want 600 = 1234", o.IOA, o.Int)
					}
				})}},
		}},
		{"set-point float sbo with time tag", []step{
			{typ: iec104.C_SE_TC_1, cause: act, o: iec104.Object{IOA: 5500, Float: -43.5, Select: true, Time: now}, want: []answer{ack(iec104.C_SE_TC_1, con)}},
			{typ: iec104.C_SE_TC_1, cause: act, o: iec104.Object{IOA: 5500, Float: -43.5, Time: now}, want: []answer{
				ack(iec104.C_SE_TC_1, con), ack(iec104.C_SE_TC_1, term), ret(iec104.M_ME_TF_1, func(t *testing.T, o iec104.Object) {
					if o.IOA != 700 || o.Float != -43.5 {
						t.Errorf("float %d = %v, want 700 = -43.5", o.IOA, o.Float)
					}
				})}},
		}},
		{"set-point float not a number", []step{
			{typ: iec104.C_SE_NC_1, cause: act, o: iec104.Object{IOA: 5500, Float: float32(math.NaN()), Select: true}, want: []answer{nack(iec104.C_SE_NC_1)}},
		}},
		{"command without a point", []step{
			{typ: iec104.C_SC_NA_1, cause: act, o: sc(5600, true, false, 0), want: []answer{ack(iec104.C_SC_NA_1, con), ack(iec104.C_SC_NA_1, term)}},
		}},
		{"test bit: confirmed, nothing changes", []step{
			{typ: iec104.C_SC_NA_1, cause: act, test: true, o: sc(5001, true, false, 0), want: []answer{ack(iec104.C_SC_NA_1, con), ack(iec104.C_SC_NA_1, term)}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startServer(t, Options{Config: testConfig(t)})
			c := dial(t, addr, nil)
			for i, s := range tt.steps {
				time.Sleep(s.sleep)
				h := hdr(s.typ, s.cause)
				h.Test = s.test
				c.send(h, s.o)
				for _, w := range s.want {
					a, objs := c.expect(w.typ, w.cause, w.neg)
					if a.Test != s.test {
						t.Errorf("step %d: test bit %v, want %v", i, a.Test, s.test)
					}
					if w.check != nil {
						w.check(t, objs[0])
					} else if objs[0].IOA != s.o.IOA || objs[0].State != s.o.State || objs[0].Select != s.o.Select {
						t.Errorf("step %d: answer %+v does not echo %+v", i, objs[0], s.o)
					}
				}
			}
			c.quiet(50 * time.Millisecond)
		})
	}
}

func TestSelectBelongsToItsConnection(t *testing.T) {
	_, addr := startServer(t, Options{Config: testConfig(t)})
	a, b := dial(t, addr, nil), dial(t, addr, nil)
	sel := iec104.Object{IOA: 5000, State: 1, Select: true}
	a.send(hdr(iec104.C_SC_NA_1, 6), sel)
	a.expect(iec104.C_SC_NA_1, iec104.CauseActivationCon, false)
	// b can neither select nor execute what a selected.
	b.send(hdr(iec104.C_SC_NA_1, 6), sel)
	b.expect(iec104.C_SC_NA_1, iec104.CauseActivationCon, true)
	b.send(hdr(iec104.C_SC_NA_1, 6), iec104.Object{IOA: 5000, State: 1})
	b.expect(iec104.C_SC_NA_1, iec104.CauseActivationCon, true)
	// b's attempts left a's select alone.
	a.send(hdr(iec104.C_SC_NA_1, 6), iec104.Object{IOA: 5000, State: 1})
	a.expect(iec104.C_SC_NA_1, iec104.CauseActivationCon, false)
	a.expect(iec104.C_SC_NA_1, iec104.CauseActivationTerm, false)
	a.expect(iec104.M_SP_NA_1, iec104.CauseReturnRemote, false)
	// The other started connection sees the return information too.
	_, objs := b.expect(iec104.M_SP_NA_1, iec104.CauseReturnRemote, false)
	if objs[0].IOA != 100 || objs[0].State != 1 {
		t.Errorf("b got %+v, want IOA 100 state 1", objs[0])
	}
}

func TestSpontaneousFullRate(t *testing.T) {
	cfg := Generate(1000)
	cfg.CA = testCA
	_, addr := startServer(t, Options{Config: cfg, Rate: Unlimited})
	c := dial(t, addr, nil)
	objects := 0
	const asdus = 300
	for range asdus {
		a, objs := c.recv()
		if a.Cause != iec104.CauseSpontaneous || a.CA != testCA || !a.Type.IsMonitor() {
			t.Fatalf("got %v cause %v CA %d, want spontaneous monitor data of CA %d", a.Type, a.Cause, a.CA, testCA)
		}
		objects += len(objs)
	}
	if avg := float64(objects) / asdus; avg < 40 {
		t.Errorf("%.1f objects per ASDU at full rate, want at least 40", avg)
	}
}

func TestSpontaneousRate(t *testing.T) {
	cfg := Generate(80)
	cfg.CA = testCA
	for i := range cfg.Points {
		cfg.Points[i].TimeTag = true
	}
	start := time.Now()
	_, addr := startServer(t, Options{Config: cfg, Rate: 400})
	a, b := dial(t, addr, nil), dial(t, addr, nil)
	got := map[*client]int{}
	asdus := 0
	for _, c := range []*client{a, b} {
		for got[c] < 200 {
			h, objs := c.recv()
			if h.Cause != iec104.CauseSpontaneous || !h.Type.HasTime() {
				t.Fatalf("got %v cause %v, want time-tagged spontaneous data", h.Type, h.Cause)
			}
			for _, o := range objs {
				if tm := o.Time.Time(nil); tm.Before(start.Add(-time.Second)) || tm.After(time.Now().Add(time.Second)) {
					t.Fatalf("time tag %v, want about now", tm)
				}
			}
			got[c] += len(objs)
			asdus++
		}
	}
	// 400 changes/s in ticks of 50 ms: about 20 changes per tick over 8 types.
	if asdus > 300 {
		t.Errorf("%d ASDUs for %d objects: changes of a tick are not packed", asdus, got[a]+got[b])
	}
}

func TestNoSpontaneousWithoutRate(t *testing.T) {
	_, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)
	c.quiet(200 * time.Millisecond)
}

func TestSet(t *testing.T) {
	srv, addr := startServer(t, Options{Config: testConfig(t)})
	c := dial(t, addr, nil)
	if err := srv.Set(700, 99.25, iec104.QualityIV); err != nil {
		t.Fatal(err)
	}
	_, objs := c.expect(iec104.M_ME_TF_1, iec104.CauseSpontaneous, false)
	if o := objs[0]; o.IOA != 700 || o.Float != 99.25 || o.Quality != iec104.QualityIV {
		t.Errorf("got %+v, want IOA 700 = 99.25 IV", o)
	}
	for _, tt := range []struct {
		ioa   uint32
		value float64
		q     iec104.Quality
	}{{4711, 1, 0}, {100, 2, 0}, {100, 1, iec104.QualityOV}} {
		if err := srv.Set(tt.ioa, tt.value, tt.q); err == nil {
			t.Errorf("Set(%d, %v, %v) accepted", tt.ioa, tt.value, tt.q)
		}
	}
}

func TestStopDT(t *testing.T) {
	cfg := Generate(16)
	cfg.CA = testCA
	_, addr := startServer(t, Options{Config: cfg, Rate: 200})
	c := dial(t, addr, nil)
	c.recv()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.conn.StopDT(ctx); err != nil {
		t.Fatalf("StopDT: %v", err)
	}
	for len(c.rx) > 0 {
		<-c.rx
	}
	c.quiet(200 * time.Millisecond)
	if err := c.conn.StartDT(ctx); err != nil {
		t.Fatalf("StartDT: %v", err)
	}
	if a, _ := c.recv(); a.Cause != iec104.CauseSpontaneous {
		t.Errorf("after STARTDT got %v cause %v", a.Type, a.Cause)
	}
}

func TestGenerate(t *testing.T) {
	for _, n := range []int{1, 8, 13, 100, 8000, 8001, 100000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := Generate(n)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if len(c.Points) != n {
				t.Fatalf("%d points, want %d", len(c.Points), n)
			}
			kinds := map[Kind]int{}
			for _, p := range c.Points {
				kinds[p.Kind]++
			}
			if n >= 8 && len(kinds) != 8 {
				t.Errorf("kinds %v, want all eight", kinds)
			}
			again := Generate(n)
			if !slices.Equal(c.Points, again.Points) || !slices.Equal(c.Commands, again.Commands) {
				t.Error("not deterministic")
			}
		})
	}
	c := Generate(100) // 13 of the first four kinds, 12 of the others
	want := map[uint32]Kind{1000: Single, 1012: Single, 2000: Double, 4012: Bitstring, 5000: Normalized, 7011: Float, 8000: Counter, 8011: Counter}
	got := map[uint32]Kind{}
	for _, p := range c.Points {
		got[p.IOA] = p.Kind
	}
	for ioa, k := range want {
		if got[ioa] != k {
			t.Errorf("IOA %d is %v, want %v", ioa, got[ioa], k)
		}
	}
	if _, ok := got[5012]; ok {
		t.Error("IOA 5012 exists, normalized has 12 points (5000..5011)")
	}
	var cmds []string
	for _, cmd := range c.Commands {
		cmds = append(cmds, fmt.Sprintf("%d:%v->%d sbo=%v term=%v", cmd.IOA, cmd.Kind, cmd.Point, cmd.SBO, cmd.ActTerm))
	}
	wantCmds := []string{
		"9000:single->1000 sbo=false term=true", "9001:single->1001 sbo=true term=true", "9002:single->1002 sbo=true term=false",
		"9100:double->2000 sbo=false term=true", "9101:double->2001 sbo=true term=true", "9102:double->2002 sbo=true term=false",
		"9200:step->3000 sbo=false term=true", "9201:step->3001 sbo=true term=true", "9202:step->3002 sbo=true term=false",
		"9300:setpoint_normalized->5000 sbo=false term=true", "9301:setpoint_normalized->5001 sbo=true term=true", "9302:setpoint_normalized->5002 sbo=true term=false",
		"9400:setpoint_scaled->6000 sbo=false term=true", "9401:setpoint_scaled->6001 sbo=true term=true", "9402:setpoint_scaled->6002 sbo=true term=false",
		"9500:setpoint_float->7000 sbo=false term=true", "9501:setpoint_float->7001 sbo=true term=true", "9502:setpoint_float->7002 sbo=true term=false",
	}
	if !slices.Equal(cmds, wantCmds) {
		t.Errorf("commands\n%v\nwant\n%v", cmds, wantCmds)
	}
	if big := Generate(100000); big.Points[0].IOA != 100000 || big.Points[len(big.Points)-1].IOA != 8*100000+12499 {
		t.Errorf("100000 points: first IOA %d last %d, want 100000 and 812499", big.Points[0].IOA, big.Points[len(big.Points)-1].IOA)
	}
}
