package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hmi/capture"
	"hmi/frontstation/iec104"
)

// writeCapture records a short exchange with capture.Writer: STARTDT,
// an SBO single command and a measured value with a time tag.
func writeCapture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conv.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := capture.NewWriter(f, netip.MustParseAddrPort("192.0.2.1:50000"), netip.MustParseAddrPort("192.0.2.2:2404"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var ns [2]uint16
	i := func(at time.Duration, master bool, h iec104.Header, o iec104.Object) {
		d := 1
		if master {
			d = 0
		}
		h.CA = 3
		asdu, err := iec104.AppendASDU(nil, h, []iec104.Object{o})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := iec104.AppendI(nil, ns[d], ns[1-d], asdu)
		if err != nil {
			t.Fatal(err)
		}
		ns[d]++
		if err := w.WriteAPDU(t0.Add(at), master, raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteAPDU(t0, true, iec104.AppendU(nil, iec104.StartDTAct)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAPDU(t0.Add(time.Millisecond), false, iec104.AppendU(nil, iec104.StartDTCon)); err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	sel := iec104.Object{IOA: 4500, State: 1, Select: true}
	exe := iec104.Object{IOA: 4500, State: 1}
	act, con := iec104.CauseActivation, iec104.CauseActivationCon
	i(10*ms, true, iec104.Header{Type: iec104.C_SC_NA_1, Cause: act}, sel)
	i(14*ms, false, iec104.Header{Type: iec104.C_SC_NA_1, Cause: con}, sel)
	i(30*ms, true, iec104.Header{Type: iec104.C_SC_NA_1, Cause: act}, exe)
	i(36*ms, false, iec104.Header{Type: iec104.C_SC_NA_1, Cause: con}, exe)
	i(50*ms, false, iec104.Header{Type: iec104.C_SC_NA_1, Cause: iec104.CauseActivationTerm}, exe)
	tag := iec104.NewCP56(time.Date(2026, 3, 1, 12, 0, 0, 45e6, time.UTC), nil)
	i(60*ms, false, iec104.Header{Type: iec104.M_ME_TF_1, Cause: iec104.CauseSpontaneous}, iec104.Object{IOA: 1300, Float: 13.25, Quality: iec104.QualityNT, Time: tag})
	if err := w.WriteAPDU(t0.Add(70*ms), true, iec104.AppendS(nil, ns[1])); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"decode"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDecodeUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
		wantStdout string
	}{
		{"no file", nil, exitUsage, "no capture file given", ""},
		{"unknown flag", []string{"--bogus", "x.pcap"}, exitUsage, "flag provided but not defined", ""},
		{"port zero", []string{"--port", "0", "x.pcap"}, exitUsage, "want 1..65535", ""},
		{"port too large", []string{"--port", "70000", "x.pcap"}, exitUsage, "want 1..65535", ""},
		{"argument", []string{"x.pcap", "--port"}, exitUsage, "flag needs an argument: -port (run 'hmi decode --help')", ""},
		{"missing file", []string{"does-not-exist.pcap"}, exitFailure, "does-not-exist.pcap", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("got exit status %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("got stderr %q, want it to contain %q", stderr, tt.wantStderr)
			}
			if stdout != tt.wantStdout {
				t.Errorf("got stdout %q, want %q", stdout, tt.wantStdout)
			}
		})
	}
	_, out, _ := runCmdTop(t, "--help")
	if !strings.Contains(out, "decode") {
		t.Errorf("hmi --help does not list decode:\n%s", out)
	}
}

func runCmdTop(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDecodeJSON(t *testing.T) {
	path := writeCapture(t)
	code, stdout, stderr := runCmd(t, "--json", path)
	if code != exitOK {
		t.Fatalf("got exit status %d, want 0; stderr %q", code, stderr)
	}
	type object struct {
		IOA     uint32          `json:"ioa"`
		Value   *float64        `json:"value"`
		Quality map[string]bool `json:"quality"`
		Time    string          `json:"time"`
		TimeIV  *bool           `json:"time_iv"`
		Select  *bool           `json:"select"`
		QU      *int            `json:"qu"`
	}
	type line struct {
		Time     string   `json:"time"`
		Src      string   `json:"src"`
		Dst      string   `json:"dst"`
		Format   string   `json:"format"`
		NS       *int     `json:"ns"`
		NR       *int     `json:"nr"`
		U        string   `json:"u"`
		TypeID   int      `json:"type_id"`
		Type     string   `json:"type"`
		COT      int      `json:"cot"`
		Negative bool     `json:"negative"`
		CA       int      `json:"ca"`
		Objects  []object `json:"objects"`
		Error    string   `json:"error"`
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		got = append(got, v)
	}
	if len(got) != 9 {
		t.Fatalf("got %d lines, want 9:\n%s", len(got), stdout)
	}
	first := got[0]
	if first.Time != "2026-03-01T12:00:00.000000000Z" || first.Src != "192.0.2.1:50000" || first.Dst != "192.0.2.2:2404" ||
		first.Format != "U" || first.U != "STARTDT_ACT" || first.NS != nil || first.NR != nil {
		t.Errorf("got first line %+v, want STARTDT_ACT from 192.0.2.1:50000 at 12:00:00 UTC without ns/nr", first)
	}
	sel := got[2]
	if sel.Format != "I" || sel.NS == nil || *sel.NS != 0 || sel.TypeID != 45 || sel.Type != "C_SC_NA_1" || sel.COT != 6 || sel.CA != 3 ||
		len(sel.Objects) != 1 || sel.Objects[0].IOA != 4500 || sel.Objects[0].Select == nil || !*sel.Objects[0].Select || sel.Objects[0].QU == nil {
		t.Errorf("got select line %+v, want C_SC_NA_1 act CA 3 IOA 4500 with select and qu", sel)
	}
	me := got[7]
	if me.Type != "M_ME_TF_1" || len(me.Objects) != 1 || me.Objects[0].Value == nil || *me.Objects[0].Value != 13.25 ||
		me.Objects[0].Time != "2026-03-01T12:00:00.045Z" || me.Objects[0].TimeIV == nil || !me.Objects[0].Quality["nt"] || me.Objects[0].Select != nil {
		t.Errorf("got measured value line %+v, want 13.25 NT at 12:00:00.045", me)
	}
	if s := got[8]; s.Format != "S" || s.NR == nil || *s.NR != 4 || s.NS != nil {
		t.Errorf("got last line %+v, want S with nr 4", s)
	}
}

func TestDecodeTextAndSummary(t *testing.T) {
	path := writeCapture(t)
	code, stdout, _ := runCmd(t, path)
	if lines := strings.Count(stdout, "\n"); code != exitOK || lines != 9 {
		t.Errorf("got exit status %d and %d lines, want 0 and 9:\n%s", code, lines, stdout)
	}
	if !strings.Contains(stdout, "I ns=0 nr=0 C_SC_NA_1 act CA=3 | IOA 4500: 1 select") {
		t.Errorf("text output lacks the select line:\n%s", stdout)
	}
	code, stdout, _ = runCmd(t, "--summary", path)
	if code != exitOK || !strings.Contains(stdout, "C_SC_NA_1 CA=3 IOA=4500: terminated, select->actcon 4ms, execute->actcon 6ms, execute->actterm 20ms") {
		t.Errorf("got exit status %d, summary:\n%s", code, stdout)
	}
	code, stdout, _ = runCmd(t, "--summary", "--json", path)
	var sum struct {
		Formats    map[string]int `json:"formats"`
		Operations []struct {
			Outcome string `json:"outcome"`
		} `json:"operations"`
	}
	if err := json.Unmarshal([]byte(stdout), &sum); code != exitOK || err != nil || sum.Formats["I"] != 6 || len(sum.Operations) != 1 {
		t.Errorf("got exit status %d, %v, %+v from:\n%s", code, err, sum, stdout)
	}
	// A missing file among good ones: the good one is decoded, the status is 1.
	code, stdout, stderr := runCmd(t, path, "missing.pcap")
	if code != exitFailure || strings.Count(stdout, "\n") != 9 || !strings.Contains(stderr, "missing.pcap") {
		t.Errorf("got exit status %d, %d lines, stderr %q; want 1, 9 lines and the missing file named", code, strings.Count(stdout, "\n"), stderr)
	}
}
