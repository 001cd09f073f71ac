package capture

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

// exchange is one ASDU of a scripted exchange for the summary tests.
type exchange struct {
	at     time.Duration
	master bool
	h      iec104.Header
	o      iec104.Object
	skipNS bool // the sender skips one N(S) before this frame
}

// scripted writes the exchange with a Writer and summarizes it.
func scripted(t *testing.T, ex []exchange) *ConnSummary {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, netip.MustParseAddrPort("192.0.2.1:50000"), netip.MustParseAddrPort("192.0.2.2:2404"))
	if err != nil {
		t.Fatal(err)
	}
	var ns [2]uint16
	for _, e := range ex {
		d := 1
		if e.master {
			d = 0
		}
		if e.skipNS {
			ns[d]++
		}
		e.h.CA = 1
		asdu, err := iec104.AppendASDU(nil, e.h, []iec104.Object{e.o})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := iec104.AppendI(nil, ns[d], ns[1-d], asdu)
		if err != nil {
			t.Fatal(err)
		}
		ns[d]++
		if err := w.WriteAPDU(t0.Add(e.at), e.master, raw); err != nil {
			t.Fatal(err)
		}
	}
	s := NewSummary()
	for _, r := range decodeBytes(t, buf.Bytes(), Options{}) {
		s.Add(r)
	}
	if len(s.Connections()) != 1 {
		t.Fatalf("got %d connections, want 1", len(s.Connections()))
	}
	return s.Connections()[0]
}

func TestSummaryOperations(t *testing.T) {
	const ms = time.Millisecond
	sc, dc, gi := iec104.C_SC_NA_1, iec104.C_DC_NA_1, iec104.C_IC_NA_1
	act, con, term := iec104.CauseActivation, iec104.CauseActivationCon, iec104.CauseActivationTerm
	sel1 := iec104.Object{IOA: 1, State: 1, Select: true}
	exe1 := iec104.Object{IOA: 1, State: 1}
	sel2 := iec104.Object{IOA: 2, State: 2, Select: true}
	cs := scripted(t, []exchange{
		// SBO, complete.
		{0, true, iec104.Header{Type: sc, Cause: act}, sel1, false},
		{5 * ms, false, iec104.Header{Type: sc, Cause: con}, sel1, false},
		{20 * ms, true, iec104.Header{Type: sc, Cause: act}, exe1, false},
		{28 * ms, false, iec104.Header{Type: sc, Cause: con}, exe1, false},
		{40 * ms, false, iec104.Header{Type: sc, Cause: term}, exe1, false},
		// Execute of an object selected before, without a select; rejected
		// with cause 47 and no P/N bit.
		{100 * ms, true, iec104.Header{Type: sc, Cause: act}, exe1, false},
		{103 * ms, false, iec104.Header{Type: sc, Cause: iec104.CauseUnknownIOA}, exe1, false},
		// Select, then cancel.
		{200 * ms, true, iec104.Header{Type: dc, Cause: act}, sel2, false},
		{202 * ms, false, iec104.Header{Type: dc, Cause: con}, sel2, false},
		{210 * ms, true, iec104.Header{Type: dc, Cause: iec104.CauseDeactivation}, sel2, false},
		{212 * ms, false, iec104.Header{Type: dc, Cause: iec104.CauseDeactivationCon}, sel2, false},
		// A confirmation nobody asked for, after an N(S) gap.
		{300 * ms, false, iec104.Header{Type: sc, Cause: con}, iec104.Object{IOA: 9}, true},
		// General interrogation.
		{400 * ms, true, iec104.Header{Type: gi, Cause: act}, iec104.Object{Qualifier: 20}, false},
		{401 * ms, false, iec104.Header{Type: gi, Cause: con}, iec104.Object{Qualifier: 20}, false},
		{450 * ms, false, iec104.Header{Type: gi, Cause: term}, iec104.Object{Qualifier: 20}, false},
	})

	type opWant struct {
		typ                   iec104.TypeID
		ioa                   uint32
		outcome               string
		steps                 string
		selCon, exCon, exTerm time.Duration
	}
	want := []opWant{
		{sc, 1, OutcomeTerminated, "select select_con execute execute_con execute_term", 5 * ms, 8 * ms, 20 * ms},
		{sc, 1, OutcomeFailed, "execute execute_con", 0, 3 * ms, 0},
		{dc, 2, OutcomeCancelled, "select select_con cancel cancel_con", 2 * ms, 0, 0},
		{gi, 0, OutcomeTerminated, "execute execute_con execute_term", 0, 1 * ms, 50 * ms},
	}
	if len(cs.Operations) != len(want) {
		t.Fatalf("got %d operations, want %d", len(cs.Operations), len(want))
	}
	for i, w := range want {
		op := cs.Operations[i]
		var names []string
		for _, st := range op.Steps {
			names = append(names, st.Name)
		}
		got := opWant{op.Type, op.IOA, op.Outcome, strings.Join(names, " "), op.SelectToCon, op.ExecuteToCon, op.ExecuteToTerm}
		if got != w {
			t.Errorf("operation %d: got %+v, want %+v", i, got, w)
		}
	}

	var kinds []string
	for _, a := range cs.Anomalies {
		kinds = append(kinds, a.Kind)
	}
	wantKinds := []string{AnomalyNoSelect, AnomalyNegative, AnomalySequence, AnomalyUnmatched}
	if strings.Join(kinds, " ") != strings.Join(wantKinds, " ") {
		t.Errorf("got anomalies %q, want %q", kinds, wantKinds)
	}
	if cs.Formats["I"] != 15 || cs.Types[sc] != 8 || cs.Causes[act] != 5 {
		t.Errorf("got formats %v, %d C_SC_NA_1, %d act; want I 15, 8, 5", cs.Formats, cs.Types[sc], cs.Causes[act])
	}

	var text bytes.Buffer
	s := &Summary{conns: []*ConnSummary{cs}}
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"select->actcon 5ms, execute->actcon 8ms, execute->actterm 20ms", "execute_without_select", "I 15, S 0, U 0"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Operations []struct {
			Outcome string   `json:"outcome"`
			SelCon  *float64 `json:"select_to_actcon_ms"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil {
		t.Fatalf("summary JSON %s: %v", js.String(), err)
	}
	if len(decoded.Operations) != 4 || decoded.Operations[0].SelCon == nil || *decoded.Operations[0].SelCon != 5 {
		t.Errorf("got JSON operations %+v, want 4 with select_to_actcon_ms 5 first", decoded.Operations)
	}
}

// TestSummaryDiverse checks the select-before-operate sequences of
// iti_090813_diverse.pcap against PROVENANCE.md: 8 selects (16 ASDUs with
// S/E=1), each followed by execute, actcon and actterm.
func TestSummaryDiverse(t *testing.T) {
	requireTools(t, false, true)
	s := NewSummary()
	for _, r := range readAll(t, filepath.Join(sharedPcaps, "iti_090813_diverse.pcap"), Options{}) {
		s.Add(r)
	}
	cs := s.Connections()
	if len(cs) != 1 {
		t.Fatalf("got %d connections, want 1", len(cs))
	}
	sbo, terminated := 0, 0
	for _, op := range cs[0].Operations {
		if op.SelectToCon > 0 {
			sbo++
			if op.Outcome != OutcomeTerminated || op.ExecuteToCon <= 0 || op.ExecuteToTerm < op.ExecuteToCon {
				t.Errorf("got %v IOA %d %s, latencies %v %v %v; want terminated with all three", op.Type, op.IOA, op.Outcome, op.SelectToCon, op.ExecuteToCon, op.ExecuteToTerm)
			}
		}
		if op.Outcome == OutcomeTerminated {
			terminated++
		}
	}
	if sbo != 8 || terminated != 11 {
		t.Errorf("got %d SBO operations and %d terminated, want 8 and 11 (11 actterm)", sbo, terminated)
	}
	if len(cs[0].Anomalies) != 0 {
		t.Errorf("got anomalies %+v, want none", cs[0].Anomalies)
	}
}
