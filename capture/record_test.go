package capture

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/sim"
)

// TestRecordClientSimulator records a short run between the project's own
// controlling station and the simulator with the Writer hooked into the
// connection (station interrogation, spontaneous data, an SBO command, a
// clock sync), then checks that tshark dissects every APDU of the recording,
// as we decode it, with no malformed packet and no IEC 104 expert message.
func TestRecordClientSimulator(t *testing.T) {
	tshark := requireTools(t, true, false)
	cfg := sim.Generate(24)
	srv, err := sim.New(sim.Options{Config: cfg, Rate: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	simDone := make(chan error, 1)
	go func() { simDone <- srv.Run(ctx, ln) }()

	nc, err := iec104.Dial(ctx, ln.Addr().String(), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	var pcap bytes.Buffer
	w, err := NewWriter(&pcap, netip.MustParseAddrPort(nc.LocalAddr().String()), netip.MustParseAddrPort(nc.RemoteAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	asdus := make(chan iec104.ASDU, 1024)
	c, err := iec104.NewConn(nc, iec104.Options{
		Role:   iec104.Controlling,
		Config: iec104.DefaultConfig(),
		Tap:    w.Hook(nil),
		OnASDU: func(b []byte) {
			a, err := iec104.ParseASDU(append([]byte(nil), b...))
			if err != nil {
				t.Errorf("simulator sent a bad ASDU % X: %v", b, err)
				return
			}
			asdus <- a
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	if err := c.StartDT(ctx); err != nil {
		t.Fatal(err)
	}

	send := func(h iec104.Header, o iec104.Object) {
		t.Helper()
		h.CA, h.Cause = cfg.CA, iec104.CauseActivation
		b, err := iec104.AppendASDU(nil, h, []iec104.Object{o})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// await reads ASDUs until one of type typ with cause cot arrives and
	// counts the spontaneous ones on the way.
	spont := 0
	await := func(typ iec104.TypeID, cot iec104.Cause) iec104.ASDU {
		t.Helper()
		for {
			select {
			case a := <-asdus:
				if a.Cause == iec104.CauseSpontaneous {
					spont++
				}
				if a.Type == typ && a.Cause == cot {
					if a.IsNegative() {
						t.Fatalf("%v %v is negative", typ, cot)
					}
					return a
				}
			case <-ctx.Done():
				t.Fatalf("no %v with cause %v", typ, cot)
			}
		}
	}

	send(iec104.Header{Type: iec104.C_IC_NA_1}, iec104.Object{Qualifier: 20})
	await(iec104.C_IC_NA_1, iec104.CauseActivationCon)
	await(iec104.C_IC_NA_1, iec104.CauseActivationTerm)

	send(iec104.Header{Type: iec104.C_CS_NA_1}, iec104.Object{Time: iec104.NewCP56(time.Now(), nil)})
	await(iec104.C_CS_NA_1, iec104.CauseActivationCon)

	var sbo sim.Command
	for _, cmd := range cfg.Commands {
		if cmd.Kind == sim.SingleCommand && cmd.SBO && cmd.ActTerm {
			sbo = cmd
		}
	}
	if sbo.IOA == 0 {
		t.Fatal("the generated station has no SBO single command with ACTTERM")
	}
	send(iec104.Header{Type: iec104.C_SC_NA_1}, iec104.Object{IOA: sbo.IOA, State: 1, Select: true})
	await(iec104.C_SC_NA_1, iec104.CauseActivationCon)
	send(iec104.Header{Type: iec104.C_SC_NA_1}, iec104.Object{IOA: sbo.IOA, State: 1})
	await(iec104.C_SC_NA_1, iec104.CauseActivationCon)
	await(iec104.C_SC_NA_1, iec104.CauseActivationTerm)
	await(iec104.M_SP_NA_1, iec104.CauseReturnRemote)
	for spont < 3 {
		select {
		case a := <-asdus:
			if a.Cause == iec104.CauseSpontaneous {
				spont++
			}
		case <-ctx.Done():
			t.Fatalf("only %d spontaneous ASDUs at 40 changes/s", spont)
		}
	}
	if err := c.StopDT(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-runDone
	if err := w.Close(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-simDone

	file := filepath.Join(t.TempDir(), "client-sim.pcap")
	if err := os.WriteFile(file, pcap.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var ours []*Record
	if err := ReadFile(file, Options{Port: netip.MustParseAddrPort(ln.Addr().String()).Port()}, func(r *Record) error {
		if r.Err != nil {
			t.Errorf("our decoder: packet %d: %v", r.Packet, r.Err)
		}
		ours = append(ours, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	shark := runTshark(t, tshark, file, "-d", "tcp.port=="+strconv.Itoa(port)+",iec60870_104")
	if len(shark) != len(ours) || len(ours) < 20 {
		t.Fatalf("tshark found %d APDUs, we decoded %d (want equal, and at least 20)", len(shark), len(ours))
	}
	st := c.Stats()
	if want := int(st.RxI + st.RxS + st.RxU + st.TxI + st.TxS + st.TxU); len(ours) != want {
		t.Errorf("recording holds %d APDUs, the connection counted %d", len(ours), want)
	}
	for i, e := range shark {
		r := ours[i]
		if e.flagged {
			t.Errorf("APDU %d (packet %d): tshark flags it malformed or with expert information", i, e.frame)
		}
		if e.format != r.APDU.Format.String() {
			t.Errorf("APDU %d: tshark format %s, ours %v", i, e.format, r.APDU.Format)
			continue
		}
		if r.ASDU != nil && (e.typeID != int(r.ASDU.Type) || e.cot != int(r.ASDU.Cause) || e.ca != int(r.ASDU.CA) || len(e.ioas) != len(r.Objects)) {
			t.Errorf("APDU %d: tshark type %d cause %d CA %d %d objects, ours %v %d %d %d", i, e.typeID, e.cot, e.ca, len(e.ioas),
				r.ASDU.Type, r.ASDU.Cause, r.ASDU.CA, len(r.Objects))
		}
	}
	out, err := exec.Command(tshark, "-n", "-r", file, "-d", "tcp.port=="+strconv.Itoa(port)+",iec60870_104", "-q", "-z", "expert").Output()
	if err != nil {
		t.Fatalf("tshark -z expert: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if l := strings.ToLower(line); strings.Contains(l, "iec") || strings.Contains(l, "malformed") {
			t.Errorf("tshark expert information: %q", line)
		}
	}
	t.Logf("recorded %d APDUs (%d spontaneous ASDUs), all dissected cleanly by tshark", len(ours), spont)
}
