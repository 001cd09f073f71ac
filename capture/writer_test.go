package capture

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

// convAPDU is one APDU of a test conversation, with what a dissector must
// find in it.
type convAPDU struct {
	sent bool
	raw  []byte
	want sharkAPDU // format, tx, rx, utype, typeID, cot, ca, ioas
}

// conversation encodes a short master/outstation exchange with the codec:
// STARTDT, a general interrogation with monitor ASDUs of several types
// (some with CP56Time2a), an SBO single command, a clock sync, S-frames and
// TESTFR.
func conversation(t testing.TB) []convAPDU {
	t.Helper()
	const ca = 7
	cp := iec104.NewCP56(time.Date(2026, 3, 1, 12, 0, 1, 500e6, time.UTC), nil)
	var conv []convAPDU
	var ns [2]uint16 // N(S) of master (0) and outstation (1)
	u := func(sent bool, f iec104.UFunc, utype int) {
		conv = append(conv, convAPDU{sent, iec104.AppendU(nil, f), sharkAPDU{format: "U", utype: utype}})
	}
	s := func(sent bool) {
		d := 1
		if sent {
			d = 0
		}
		conv = append(conv, convAPDU{sent, iec104.AppendS(nil, ns[1-d]), sharkAPDU{format: "S", rx: int(ns[1-d])}})
	}
	i := func(sent bool, h iec104.Header, objs ...iec104.Object) {
		d := 1
		if sent {
			d = 0
		}
		h.CA = ca
		asdu, err := iec104.AppendASDU(nil, h, objs)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := iec104.AppendI(nil, ns[d], ns[1-d], asdu)
		if err != nil {
			t.Fatal(err)
		}
		w := sharkAPDU{format: "I", tx: int(ns[d]), rx: int(ns[1-d]), asdu: true, typeID: int(h.Type), cot: int(h.Cause), ca: ca}
		for _, o := range objs {
			w.ioas = append(w.ioas, int(o.IOA))
		}
		conv = append(conv, convAPDU{sent, raw, w})
		ns[d]++
	}
	const master, rtu = true, false
	act, con, term := iec104.CauseActivation, iec104.CauseActivationCon, iec104.CauseActivationTerm
	gi := iec104.Object{IOA: 0, Qualifier: 20}
	u(master, iec104.StartDTAct, 0x01)
	u(rtu, iec104.StartDTCon, 0x02)
	i(master, iec104.Header{Type: iec104.C_IC_NA_1, Cause: act}, gi)
	i(rtu, iec104.Header{Type: iec104.C_IC_NA_1, Cause: con}, gi)
	i(rtu, iec104.Header{Type: iec104.M_ME_NC_1, Cause: iec104.CauseInterrogated},
		iec104.Object{IOA: 1300, Float: 13.25}, iec104.Object{IOA: 1301, Float: -2.5, Quality: iec104.QualityIV})
	i(rtu, iec104.Header{Type: iec104.M_DP_NA_1, SQ: true, Cause: iec104.CauseInterrogated},
		iec104.Object{IOA: 200, State: 1}, iec104.Object{IOA: 201, State: 2}, iec104.Object{IOA: 202, State: 2})
	i(rtu, iec104.Header{Type: iec104.M_ME_NB_1, Cause: iec104.CauseInterrogated}, iec104.Object{IOA: 110, Int: -300})
	i(rtu, iec104.Header{Type: iec104.M_BO_NA_1, Cause: iec104.CauseInterrogated}, iec104.Object{IOA: 500, Bits: 0xAAAA})
	i(rtu, iec104.Header{Type: iec104.C_IC_NA_1, Cause: term}, gi)
	s(master)
	i(rtu, iec104.Header{Type: iec104.M_SP_TB_1, Cause: iec104.CauseSpontaneous}, iec104.Object{IOA: 4500, State: 1, Time: cp})
	i(rtu, iec104.Header{Type: iec104.M_ME_TF_1, Cause: iec104.CauseSpontaneous}, iec104.Object{IOA: 1300, Float: 14, Time: cp})
	i(rtu, iec104.Header{Type: iec104.M_IT_TB_1, Cause: iec104.CauseSpontaneous}, iec104.Object{IOA: 900, Int: 123456, CounterSeq: 3, Time: cp})
	sel := iec104.Object{IOA: 4500, State: 1, Select: true}
	exe := iec104.Object{IOA: 4500, State: 1}
	i(master, iec104.Header{Type: iec104.C_SC_NA_1, Cause: act}, sel)
	i(rtu, iec104.Header{Type: iec104.C_SC_NA_1, Cause: con}, sel)
	i(master, iec104.Header{Type: iec104.C_SC_NA_1, Cause: act}, exe)
	i(rtu, iec104.Header{Type: iec104.C_SC_NA_1, Cause: con}, exe)
	i(rtu, iec104.Header{Type: iec104.C_SC_NA_1, Cause: term}, exe)
	i(rtu, iec104.Header{Type: iec104.M_SP_TB_1, Cause: iec104.CauseReturnRemote}, iec104.Object{IOA: 4500, State: 1, Time: cp})
	i(master, iec104.Header{Type: iec104.C_CS_NA_1, Cause: act}, iec104.Object{IOA: 0, Time: cp})
	i(rtu, iec104.Header{Type: iec104.C_CS_NA_1, Cause: con}, iec104.Object{IOA: 0, Time: cp})
	s(master)
	u(master, iec104.TestFRAct, 0x10)
	u(rtu, iec104.TestFRCon, 0x20)
	return conv
}

// writeConversation writes conv with a Writer, 10 ms between APDUs.
func writeConversation(t testing.TB, local, remote string, conv []convAPDU) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, netip.MustParseAddrPort(local), netip.MustParseAddrPort(remote))
	if err != nil {
		t.Fatal(err)
	}
	for n, a := range conv {
		if err := w.WriteAPDU(t0.Add(time.Duration(n)*10*time.Millisecond), a.sent, a.raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var writerAddrs = []struct{ name, local, remote string }{
	{"IPv4", "192.0.2.10:50123", "192.0.2.20:2404"},
	{"IPv6", "[2001:db8::10]:50123", "[2001:db8::20]:2404"},
}

// TestWriterRoundTrip reads the Writer's output back with this package.
func TestWriterRoundTrip(t *testing.T) {
	conv := conversation(t)
	for _, a := range writerAddrs {
		t.Run(a.name, func(t *testing.T) {
			recs := decodeBytes(t, writeConversation(t, a.local, a.remote, conv), Options{})
			if len(recs) != len(conv) {
				t.Fatalf("got %d records, want %d", len(recs), len(conv))
			}
			for n, r := range recs {
				if r.Err != nil {
					t.Errorf("APDU %d: got error %v", n, r.Err)
				}
				if !bytes.Equal(r.Raw, conv[n].raw) || r.FromClient != conv[n].sent {
					t.Errorf("APDU %d: got % X (from client %v), want % X (%v)", n, r.Raw, r.FromClient, conv[n].raw, conv[n].sent)
				}
				if want := t0.Add(time.Duration(n) * 10 * time.Millisecond); !r.Time.Equal(want) {
					t.Errorf("APDU %d: got time %v, want %v", n, r.Time, want)
				}
				if !r.Conn.Handshake || r.Conn.Client.String() != a.local || r.Conn.Server.String() != a.remote {
					t.Errorf("APDU %d: got connection %v handshake %v, want %s -> %s from its start", n, r.Conn, r.Conn.Handshake, a.local, a.remote)
				}
			}
		})
	}
}

// TestWriterTshark checks that tshark dissects the Writer's output as the
// same conversation, with no malformed packet and no expert information
// beyond the TCP connection chats.
func TestWriterTshark(t *testing.T) {
	tshark := requireTools(t, true, false)
	conv := conversation(t)
	for _, a := range writerAddrs {
		t.Run(a.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "conv.pcap")
			if err := os.WriteFile(file, writeConversation(t, a.local, a.remote, conv), 0o644); err != nil {
				t.Fatal(err)
			}
			got := runTshark(t, tshark, file)
			if len(got) != len(conv) {
				t.Fatalf("tshark found %d APDUs, want %d", len(got), len(conv))
			}
			for n, e := range got {
				w := conv[n].want
				if e.flagged || e.apdulen != len(conv[n].raw)-2 {
					t.Errorf("APDU %d: tshark %+v, flagged or with a wrong length (want %d)", n, e, len(conv[n].raw)-2)
				}
				if e.format != w.format || e.utype != w.utype || e.tx != w.tx || e.rx != w.rx {
					t.Errorf("APDU %d: got %s utype %#x tx %d rx %d, want %s %#x %d %d", n, e.format, e.utype, e.tx, e.rx, w.format, w.utype, w.tx, w.rx)
				}
				if e.typeID != w.typeID || e.cot != w.cot || e.ca != w.ca || !equalInts(e.ioas, w.ioas) {
					t.Errorf("APDU %d: got type %d cause %d CA %d IOAs %v, want %d %d %d %v", n, e.typeID, e.cot, e.ca, e.ioas, w.typeID, w.cot, w.ca, w.ioas)
				}
			}
			out, err := exec.Command(tshark, "-n", "-r", file, "-q", "-z", "expert",
				"-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE").Output()
			if err != nil {
				t.Fatalf("tshark -z expert: %v", err)
			}
			for _, line := range strings.Split(string(out), "\n") {
				l := strings.ToLower(line)
				if strings.Contains(l, "iec") || strings.Contains(l, "malformed") || strings.Contains(l, "checksum") ||
					strings.HasPrefix(l, "errors") || strings.HasPrefix(l, "warns") {
					t.Errorf("tshark expert information: %q", line)
				}
			}
		})
	}
}

func TestWriterErrors(t *testing.T) {
	tests := []struct {
		name          string
		local, remote string
	}{
		{"mixed families", "192.0.2.1:1", "[2001:db8::1]:2404"},
		{"invalid address", "", "192.0.2.1:2404"},
	}
	for _, tt := range tests {
		l, _ := netip.ParseAddrPort(tt.local)
		r, _ := netip.ParseAddrPort(tt.remote)
		if _, err := NewWriter(&bytes.Buffer{}, l, r); err == nil || !strings.HasPrefix(err.Error(), "capture: ") {
			t.Errorf("%s: got error %v, want a capture: error", tt.name, err)
		}
	}
	w, err := NewWriter(&bytes.Buffer{}, netip.MustParseAddrPort("[::ffff:192.0.2.1]:50000"), netip.MustParseAddrPort("192.0.2.2:2404"))
	if err != nil {
		t.Fatalf("got %v for a v4-mapped address, want it unmapped", err)
	}
	if err := w.WriteAPDU(t0, true, nil); err == nil {
		t.Errorf("got no error for an empty APDU")
	}
	if err := w.WriteAPDU(t0, true, make([]byte, iec104.MaxAPDU+1)); err == nil {
		t.Errorf("got no error for an APDU of %d octets", iec104.MaxAPDU+1)
	}
}

// TestWriterConcurrent writes from several goroutines through Hook, as a
// connection's send and receive loops would.
func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewAcceptedWriter(&buf, netip.MustParseAddrPort("10.0.0.2:2404"), netip.MustParseAddrPort("10.0.0.1:40000"))
	if err != nil {
		t.Fatal(err)
	}
	hook := w.Hook(nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				hook(g%2 == 0, testAct)
			}
		}()
	}
	wg.Wait()
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	recs := decodeBytes(t, buf.Bytes(), Options{})
	if len(recs) != 200 {
		t.Fatalf("got %d records, want 200", len(recs))
	}
	for _, r := range recs {
		if r.Err != nil || r.APDU.U != iec104.TestFRAct {
			t.Errorf("got %v, want TESTFR_ACT", r)
		}
		if r.Conn.Client.String() != "10.0.0.1:40000" {
			t.Errorf("got client %v, want the remote side 10.0.0.1:40000", r.Conn.Client)
		}
	}
}
