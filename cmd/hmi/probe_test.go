package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/internal/testpki"
	"hmi/sim"
)

// probeSim is a simulator on loopback for probe tests.
type probeSim struct {
	srv  *sim.Server
	cfg  sim.Config
	addr string
	stop func()
}

func startProbeSim(t *testing.T, cfg sim.Config, rate float64, tlsConf *tls.Config) *probeSim {
	t.Helper()
	srv, err := sim.New(sim.Options{Config: cfg, Rate: rate, TLS: tlsConf, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(ctx, ln) }()
	var once sync.Once
	s := &probeSim{srv: srv, cfg: cfg, addr: ln.Addr().String(), stop: func() { once.Do(func() { cancel(); <-done }) }}
	t.Cleanup(s.stop)
	return s
}

// runProbeCmd runs hmi probe with args and returns its exit status and output.
func runProbeCmd(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
	}
	var out, errOut bytes.Buffer
	code = run(ctx, append([]string{"probe"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// jsonLines parses every line of out as a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for i, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, l)
		}
		lines = append(lines, m)
	}
	if len(lines) == 0 {
		t.Fatal("no output")
	}
	return lines
}

// withKey returns the lines that have key.
func withKey(lines []map[string]any, key string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if _, ok := l[key]; ok {
			out = append(out, l)
		}
	}
	return out
}

// simText is the value the probe prints for a simulator object of kind k.
func simType(k sim.Kind) iec104.TypeID { return k.TypeID(false) }

func TestProbeInterrogationPrintsEveryObject(t *testing.T) {
	s := startProbeSim(t, sim.Generate(40), 0, nil)
	code, out, errOut := runProbeCmd(t, nil, s.addr)
	if code != exitOK {
		t.Fatalf("exit status %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	n := 0
	for _, p := range s.cfg.Points {
		if p.Kind == sim.Counter {
			if strings.Contains(out, fmt.Sprintf("ioa=%d ", p.IOA)) {
				t.Errorf("counter IOA %d printed by a station interrogation", p.IOA)
			}
			continue
		}
		n++
		want := fmt.Sprintf("%-9s cot=20 inrogen  ca=1 ioa=%-7d value=", simType(p.Kind), p.IOA)
		if !strings.Contains(out, want) {
			t.Errorf("no line %q in\n%s", want, out)
		}
	}
	for _, want := range []string{
		"connected to " + s.addr + " (TCP)",
		fmt.Sprintf("interrogation: terminated after "),
		fmt.Sprintf(", %d objects\n", n),
		fmt.Sprintf("result: ok, %d objects in ", n),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr %q, want none", errOut)
	}
}

func TestProbeJSON(t *testing.T) {
	s := startProbeSim(t, sim.Generate(40), 0, nil)
	before := time.Now()
	code, out, errOut := runProbeCmd(t, nil, "--json", "--clock-sync", "--gi", "--counters", s.addr)
	if code != exitOK {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := jsonLines(t, out)
	last := lines[len(lines)-1]
	if last["result"] != "ok" || last["error"] != "" || last["address"] != s.addr {
		t.Fatalf("last line %v, want result ok", last)
	}
	if len(withKey(lines, "result")) != 1 {
		t.Fatal("more than one result line")
	}
	objs := withKey(lines, "ioa")
	byCOT := map[float64]int{}
	for _, o := range objs {
		for _, k := range []string{"ioa", "type_id", "type", "cot", "value", "quality"} {
			if _, ok := o[k]; !ok {
				t.Fatalf("object line %v lacks %q", o, k)
			}
		}
		if _, ok := o["quality"].([]any); !ok {
			t.Fatalf("quality %v is not a list", o["quality"])
		}
		byCOT[o["cot"].(float64)]++
		ioa := uint32(o["ioa"].(float64))
		so, ok := s.srv.Get(ioa)
		if !ok {
			t.Fatalf("object at IOA %d the simulator does not have", ioa)
		}
		typ := iec104.TypeID(o["type_id"].(float64))
		if got, want := o["value"].(float64), so.Value(typ); got != float64(float32(want)) && got != want {
			t.Errorf("IOA %d: value %v, simulator %v", ioa, got, want)
		}
		if o["type"] != typ.String() {
			t.Errorf("IOA %d: type %v, type_id %d", ioa, o["type"], typ)
		}
	}
	if byCOT[20] != 35 || byCOT[37] != 5 || len(objs) != 40 {
		t.Fatalf("objects by cause %v (%d in all), want 35 with cause 20 and 5 with cause 37", byCOT, len(objs))
	}
	sys := withKey(lines, "system")
	if len(sys) != 3 {
		t.Fatalf("system lines %v, want clock sync, interrogation, counters", sys)
	}
	for i, name := range []string{"clock_sync", "interrogation", "counters"} {
		if sys[i]["system"] != name || sys[i]["ok"] != true {
			t.Errorf("system line %d: %v, want %s ok", i, sys[i], name)
		}
	}
	st, err := time.Parse(time.RFC3339Nano, fmt.Sprint(sys[0]["station_time"]))
	if err != nil || st.Before(before.Add(-time.Second)) || st.After(time.Now().Add(time.Second)) {
		t.Errorf("station time %v after clock sync (%v), want about now", sys[0]["station_time"], err)
	}
	gi, _ := last["interrogation"].(map[string]any)
	if gi["ok"] != true || gi["objects"] != float64(35) {
		t.Errorf("result interrogation %v", gi)
	}
	if last["objects"] != float64(40) {
		t.Errorf("result objects %v, want 40", last["objects"])
	}
}

func TestProbeSBOCommand(t *testing.T) {
	cfg := sim.Generate(40)
	s := startProbeSim(t, cfg, 0, nil)
	// Generate: command 9001 is the single command with SBO and ACTTERM on point 1001.
	cur, _ := s.srv.Get(1001)
	value := 1 - cur.State
	code, out, errOut := runProbeCmd(t, nil, s.addr, "--json", "--command", fmt.Sprintf("single:9001:%d", value), "--sbo")
	if code != exitOK {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := jsonLines(t, out)
	var names []string
	latencies := 0
	for _, st := range withKey(lines, "step") {
		names = append(names, st["step"].(string))
		for _, k := range []string{"cot", "negative", "latency_ms"} {
			if _, ok := st[k]; !ok {
				t.Errorf("step %v lacks %q", st, k)
			}
		}
		if st["latency_ms"].(float64) > 0 {
			latencies++
		}
	}
	if got := strings.Join(names, ","); got != "select,select_con,execute,execute_con,execute_term" || latencies != 3 {
		t.Fatalf("steps %s with %d latencies, want select..execute_term with 3", got, latencies)
	}
	res := lines[len(lines)-1]
	cmd, _ := res["command"].(map[string]any)
	if res["result"] != "ok" || cmd["state"] != "terminated" {
		t.Fatalf("result %v", res)
	}
	for _, k := range []string{"select_latency_ms", "execute_latency_ms", "term_latency_ms"} {
		if v, _ := cmd[k].(float64); v <= 0 {
			t.Errorf("command %s = %v, want > 0", k, cmd[k])
		}
	}
	if now, _ := s.srv.Get(1001); now.State != value {
		t.Fatalf("simulator point 1001 is %d after the command, want %d", now.State, value)
	}
	// The station's report of the change (cause 11) is printed after the steps.
	var ret map[string]any
	for _, o := range withKey(lines, "ioa") {
		if o["ioa"] == float64(1001) && o["cot"] == float64(11) {
			ret = o
		}
	}
	if ret == nil || ret["value"] != float64(value) {
		t.Fatalf("no return information for IOA 1001 with value %d in\n%s", value, out)
	}
}

func TestProbeDirectCommandText(t *testing.T) {
	s := startProbeSim(t, sim.Generate(40), 0, nil)
	// 9400 is the direct set-point (scaled) on point 6000.
	code, out, errOut := runProbeCmd(t, nil, s.addr, "--command", "setpoint_scaled:9400:1234", "--qu", "5")
	if code != exitOK {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"command: execute ", "command: execute_con   cot=7  actcon", "command: execute_term  cot=10 actterm", "command: terminated (execute "} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "select") || strings.Contains(out, "interrogation") {
		t.Errorf("a direct command alone selects or interrogates:\n%s", out)
	}
	if o, _ := s.srv.Get(6000); o.Int != 1234 {
		t.Errorf("simulator point 6000 = %d, want 1234", o.Int)
	}
}

func TestProbeCommandUnknownIOA(t *testing.T) {
	s := startProbeSim(t, sim.Generate(40), 0, nil)
	code, out, errOut := runProbeCmd(t, nil, s.addr, "--json", "--command", "double:4242:on", "--sbo")
	if code != exitFailure {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "cause 47") {
		t.Errorf("stderr %q does not give the reason (cause 47)", errOut)
	}
	lines := jsonLines(t, out)
	res := lines[len(lines)-1]
	if res["result"] != "failed" || !strings.Contains(fmt.Sprint(res["error"]), "unknown object address (cause 47)") {
		t.Fatalf("result %v", res)
	}
	steps := withKey(lines, "step")
	if len(steps) != 2 || steps[1]["step"] != "select_con" || steps[1]["cot"] != float64(47) || steps[1]["negative"] != true {
		t.Fatalf("steps %v, want select and a negative select_con with cause 47", steps)
	}
}

func TestProbeClockSyncInZone(t *testing.T) {
	s := startProbeSim(t, sim.Generate(8), 0, nil)
	// The station keeps UTC; told its zone is UTC+3, the probe sets it 3 h ahead.
	code, out, errOut := runProbeCmd(t, nil, s.addr, "--clock-sync", "--zone", "Etc/GMT-3")
	if code != exitOK {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "clock sync: confirmed after ") || !strings.Contains(out, "the station's clock reads ") {
		t.Errorf("stdout:\n%s", out)
	}
	if strings.Contains(out, "interrogation") {
		t.Errorf("interrogation although only clock sync was asked:\n%s", out)
	}
	if off := time.Until(s.srv.Now()); off < 3*time.Hour-5*time.Second || off > 3*time.Hour+5*time.Second {
		t.Errorf("station clock offset %v after sync in UTC+3, want 3h", off)
	}
}

func TestProbeCounters(t *testing.T) {
	s := startProbeSim(t, sim.Generate(40), 0, nil)
	code, out, errOut := runProbeCmd(t, nil, s.addr, "--counters", "--qcc", "1")
	if code != exitOK {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// Counter group 1 of Generate(40): counters 8000 and 8004 (cause 38).
	for _, ioa := range []int{8000, 8004} {
		if !strings.Contains(out, fmt.Sprintf("M_IT_NA_1 cot=38 reqco1   ca=1 ioa=%-7d", ioa)) {
			t.Errorf("no counter %d in\n%s", ioa, out)
		}
	}
	if !strings.Contains(out, "counter interrogation: terminated after ") || !strings.Contains(out, ", 2 objects") {
		t.Errorf("stdout:\n%s", out)
	}
	if strings.Contains(out, "cot=20") {
		t.Errorf("interrogated objects although only counters were asked:\n%s", out)
	}
}

func TestProbeRefusedInterrogation(t *testing.T) {
	s := startProbeSim(t, sim.Generate(8), 0, nil)
	// The station has CA 1: interrogating CA 2 is refused with cause 46; the command is then not sent.
	code, out, errOut := runProbeCmd(t, nil, s.addr, "--ca", "2", "--gi", "--command", "single:9000:1")
	if code != exitFailure {
		t.Fatalf("exit status %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"refused C_IC_NA_1", "cause 46", "command not sent"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out, "command: select") || strings.Contains(out, "command: execute") {
		t.Errorf("command sent after a failure:\n%s", out)
	}
}

func TestProbeUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	start := time.Now()
	code, out, errOut := runProbeCmd(t, nil, refused, "--json")
	if code != exitFailure || !strings.Contains(errOut, "cannot connect to "+refused) {
		t.Fatalf("exit status %d, stderr %q; want 1 and the reason", code, errOut)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to report a refused connection", d)
	}
	lines := jsonLines(t, out)
	if res := lines[len(lines)-1]; res["result"] != "failed" || !strings.Contains(fmt.Sprint(res["error"]), "cannot connect") {
		t.Errorf("result %v", res)
	}

	// A listener that accepts but never answers STARTDT: bounded by t1.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start = time.Now()
	code, _, errOut = runProbeCmd(t, nil, silent.Addr().String(), "--timeout", "1s", "--t1", "500ms", "--t2", "200ms")
	if code != exitFailure || !strings.Contains(errOut, "STARTDT") {
		t.Fatalf("silent station: exit status %d, stderr %q; want 1 and STARTDT named", code, errOut)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to give up on a silent station", d)
	}
}

func TestProbeWatch(t *testing.T) {
	s := startProbeSim(t, sim.Generate(40), 200, nil)
	code, out, errOut := runProbeCmd(t, nil, s.addr, "--watch", "500ms")
	if code != exitOK {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "cot=3  spont") || !strings.Contains(out, "watching for 500ms") {
		t.Errorf("no spontaneous objects while watching:\n%s", out)
	}
	if strings.Contains(out, "cot=20") {
		t.Errorf("interrogation although only --watch was asked")
	}

	// Ctrl-C ends a watch early, and that is success.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	code, out, errOut = runProbeCmd(t, ctx, s.addr, "--gi", "--watch", "1h")
	if code != exitOK || time.Since(start) > 5*time.Second {
		t.Fatalf("interrupted watch: exit status %d after %v\nstdout:\n%s\nstderr:\n%s", code, time.Since(start), out, errOut)
	}
}

func TestProbeConnectionLostWhileWatching(t *testing.T) {
	s := startProbeSim(t, sim.Generate(8), 0, nil)
	time.AfterFunc(300*time.Millisecond, s.stop)
	code, _, errOut := runProbeCmd(t, nil, s.addr, "--watch", "1h")
	if code != exitFailure || !strings.Contains(errOut, "connection to "+s.addr) {
		t.Fatalf("exit status %d, stderr %q; want 1 and the lost connection", code, errOut)
	}
}

func TestProbeUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no address", nil, "no address given"},
		{"two addresses", []string{"a", "b"}, `unexpected argument "b"`},
		{"unknown flag", []string{"a", "--bogus"}, "flag provided but not defined"},
		{"bad ca", []string{"a", "--ca", "0"}, "--ca 0"},
		{"bad qoi", []string{"a", "--qoi", "19"}, "--qoi 19"},
		{"bad qcc", []string{"a", "--qcc", "6"}, "--qcc 6"},
		{"bad timeout", []string{"a", "--timeout", "0s"}, "--timeout"},
		{"bad window", []string{"a", "--k", "3", "--w", "8"}, "exceeds two thirds"},
		{"t2 not below t1", []string{"a", "--t1", "1s", "--t2", "2s"}, "t2 = 2s must be less than t1"},
		{"bad zone", []string{"a", "--zone", "Mars/Olympus"}, "--zone"},
		{"command form", []string{"a", "--command", "single:1"}, "KIND:IOA:VALUE"},
		{"command kind", []string{"a", "--command", "triple:1:1"}, `unknown kind "triple"`},
		{"command ioa", []string{"a", "--command", "single:0:1"}, "IOA"},
		{"command value", []string{"a", "--command", "double:1:3"}, "takes 1 (off) or 2 (on)"},
		{"set-point value", []string{"a", "--command", "setpoint_normalized:1:1.5"}, "takes -1"},
		{"command qu", []string{"a", "--command", "single:1:on", "--qu", "32"}, "--qu 32"},
		{"command broadcast", []string{"a", "--command", "single:1:on", "--ca", "65535"}, "broadcast"},
		{"sbo alone", []string{"a", "--sbo"}, "--sbo applies to --command"},
		{"partial TLS", []string{"a", "--tls-cert", "c.pem"}, "TLS needs all of"},
		{"pin without TLS", []string{"a", "--tls-pin", "00"}, "--tls-pin needs TLS"},
		{"bad address", []string{"[::1"}, "address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runProbeCmd(t, nil, tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.stderr) || out != "" {
				t.Errorf("exit status %d, stdout %q, stderr %q; want 2 and %q", code, out, errOut, tt.stderr)
			}
		})
	}
	code, out, _ := runProbeCmd(t, nil, "--help")
	if code != exitOK || !strings.Contains(out, "Usage: hmi probe HOST[:PORT]") || !strings.Contains(out, "it does a station interrogation") {
		t.Errorf("--help: exit status %d\n%s", code, out)
	}
	_, out, _ = runCmdTop(t, "--help")
	if !strings.Contains(out, "probe") {
		t.Errorf("hmi --help does not list probe:\n%s", out)
	}
}

func TestProbeAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.5", "10.0.0.5:2404"},
		{"10.0.0.5:2405", "10.0.0.5:2405"},
		{"rtu.example", "rtu.example:2404"},
		{"::1", "[::1]:2404"},
		{"[::1]", "[::1]:2404"},
		{"[::1]:19998", "[::1]:19998"},
	}
	for _, tt := range tests {
		if got, err := probeAddress(tt.in, "2404"); err != nil || got != tt.want {
			t.Errorf("probeAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestProbeTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, dir, "ca")
	// Certificates with a common name only, as devices often have.
	rtu := ca.Issue(t, dir, "rtu", nil)
	hmi := ca.Issue(t, dir, "hmi", nil)
	hmiCert, hmiKey := hmi.CertFile, hmi.KeyFile
	other := testpki.NewCA(t, dir, "other")
	stranger := other.Issue(t, dir, "stranger", nil)

	srvConf, err := iec104.TLSConfig{CertFile: rtu.CertFile, KeyFile: rtu.KeyFile, CAFile: ca.File}.Server()
	if err != nil {
		t.Fatal(err)
	}
	s := startProbeSim(t, sim.Generate(16), 0, srvConf)
	tlsArgs := []string{"--tls-cert", hmiCert, "--tls-key", hmiKey, "--tls-ca", ca.File}

	pin := iec104.Fingerprint(rtu.Cert)
	code, out, errOut := runProbeCmd(t, nil, append([]string{s.addr, "--json", "--tls-pin", pin}, tlsArgs...)...)
	if code != exitOK {
		t.Fatalf("TLS probe: exit status %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	lines := jsonLines(t, out)
	if res := lines[len(lines)-1]; res["result"] != "ok" || res["tls"] != true || len(withKey(lines, "ioa")) != 14 {
		t.Fatalf("TLS probe: %d objects, result %v", len(withKey(lines, "ioa")), res)
	}

	wrongPin := strings.Repeat("00", 32)
	code, _, errOut = runProbeCmd(t, nil, append([]string{s.addr, "--tls-pin", wrongPin}, tlsArgs...)...)
	if code != exitFailure || !strings.Contains(errOut, "not pinned") {
		t.Errorf("wrong pin: exit status %d, stderr %q; want 1 and 'not pinned'", code, errOut)
	}

	// A probe whose certificate the station's CA did not sign is refused.
	code, _, errOut = runProbeCmd(t, nil, s.addr, "--timeout", "2s", "--tls-cert", stranger.CertFile, "--tls-key", stranger.KeyFile, "--tls-ca", ca.File)
	if code != exitFailure || errOut == "" {
		t.Errorf("untrusted client: exit status %d, stderr %q; want 1 and a reason", code, errOut)
	}

	// A plain TCP probe of a TLS station fails within the timeout.
	start := time.Now()
	code, _, errOut = runProbeCmd(t, nil, s.addr, "--timeout", "1s", "--t1", "500ms", "--t2", "200ms")
	if code != exitFailure || time.Since(start) > 5*time.Second {
		t.Errorf("TCP to a TLS station: exit status %d after %v, stderr %q", code, time.Since(start), errOut)
	}

	code, _, errOut = runProbeCmd(t, nil, s.addr, "--tls-cert", filepath.Join(dir, "none.pem"), "--tls-key", hmiKey, "--tls-ca", ca.File)
	if code != exitFailure || !strings.Contains(errOut, "none.pem") {
		t.Errorf("missing certificate file: exit status %d, stderr %q", code, errOut)
	}
}
