package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/internal/testpki"
	"hmi/points"
)

func TestExampleLoads(t *testing.T) {
	c, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml:\n%v", err)
	}
	if len(c.Links) != 2 || len(c.Simulators) != 2 || len(c.Points) < 10 {
		t.Fatalf("got %d links, %d points, %d simulators", len(c.Links), len(c.Points), len(c.Simulators))
	}
	kinds := make(map[points.Kind]bool)
	controls := make(map[ControlType]bool)
	for _, p := range c.Points {
		kinds[p.Kind] = true
		if p.Control != nil {
			controls[p.Control.Type] = true
			if !slices.Contains(p.Control.Type.PointKinds(), p.Kind) {
				t.Errorf("point %s: %s control on a %s point", p.ID, p.Control.Type, p.Kind)
			}
		}
	}
	for k := points.Single; k.Valid(); k++ {
		if !kinds[k] {
			t.Errorf("no %s point in the example", k)
		}
	}
	for _, ct := range controlTypes {
		if !controls[ct.t] {
			t.Errorf("no %s control in the example", ct.t)
		}
	}
	for _, l := range c.Links {
		if err := l.APCI().Validate(); err != nil {
			t.Errorf("link %s: %v", l.Name, err)
		}
	}
	for _, s := range c.Simulators {
		l := c.Link(s.Link)
		if l == nil || !slices.Contains(l.Addresses, s.Listen) {
			t.Errorf("simulator %s listens on %s, not on an address of link %s", s.Name, s.Listen, s.Link)
		}
	}
	if _, err := points.New(c.Defs()); err != nil {
		t.Errorf("points.New(c.Defs()): %v", err)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("conf/t.yaml", []byte(`
links:
  - name: rtu
    addresses: ["10.0.0.1:2404"]
    ca: 7
    clock_sync:
    counter_interrogation: {}
    capture:
    time_zone: Europe/Paris
points:
  - id: p
    link: rtu
    ioa: 100
    kind: double
    labels: [off, on]
    control:
      type: double
      interlocks:
        - {point: p, equals: off}
  - {id: m, link: rtu, ioa: 200, kind: float, scale: }
simulators:
  - {link: rtu, listen: "127.0.0.1:2404"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.DataDir, filepath.Join("conf", "hmi-data"); got != want {
		t.Errorf("DataDir = %q, want %q", got, want)
	}
	if got, want := c.HTTP, (HTTP{Listen: "127.0.0.1:8080", Session: Session{
		IdleTimeout: Duration(30 * time.Minute), AbsoluteTimeout: Duration(12 * time.Hour)}}); !equalJSON(got, want) {
		t.Errorf("HTTP = %+v, want %+v", got, want)
	}
	if c.Metrics.Listen != "" {
		t.Errorf("Metrics.Listen = %q, want none", c.Metrics.Listen)
	}

	l := c.Links[0]
	if got, want := l.APCI(), iec104.DefaultConfig(); got != want {
		t.Errorf("APCI() = %+v, want %+v", got, want)
	}
	if l.Originator != 0 || l.TLS != nil || l.TLSConfig() != nil {
		t.Errorf("Originator %d, TLS %v, want 0, none", l.Originator, l.TLS)
	}
	if l.Interrogation.Period != 0 || l.Interrogation.Groups != nil {
		t.Errorf("Interrogation = %+v, want period 0, no groups", l.Interrogation)
	}
	if l.ClockSync == nil || l.ClockSync.Period != 0 || l.ClockSync.TimeZone != "Europe/Paris" ||
		l.ClockSync.Location().String() != "Europe/Paris" {
		t.Errorf("ClockSync = %+v, want period 0 in the link's zone", l.ClockSync)
	}
	if l.CounterInterrogation == nil || l.CounterInterrogation.Period != 0 {
		t.Errorf("CounterInterrogation = %+v, want period 0", l.CounterInterrogation)
	}
	if got, want := l.Reconnect, (Reconnect{Duration(time.Second), Duration(30 * time.Second)}); got != want {
		t.Errorf("Reconnect = %+v, want %+v", got, want)
	}
	if got, want := *l.Capture, (Capture{Dir: filepath.Join("conf", "hmi-data", "capture", "rtu"), MaxSize: 10_000_000, MaxFiles: 10}); got != want {
		t.Errorf("Capture = %+v, want %+v", got, want)
	}
	if l.TrafficBuffer != 500 || l.Location().String() != "Europe/Paris" {
		t.Errorf("TrafficBuffer %d, Location %v, want 500, Europe/Paris", l.TrafficBuffer, l.Location())
	}

	p := c.Points[0]
	if p.Name != "p" || p.Area != "rtu" || p.CA != 7 || p.MaxAge != 0 || p.Unit != "" {
		t.Errorf("point = %+v, want name p, area rtu, ca 7, max_age 0", p)
	}
	if m := c.Point("m"); m.Scale == nil || m.Scale.Factor != 1 || m.Scale.Offset != 0 || m.Scale.Apply(3) != 3 {
		t.Errorf("Scale = %+v, want factor 1, offset 0", m.Scale)
	}
	ctl := p.Control
	want := Control{Type: ControlDouble, IOA: 100, SBO: true, SelectTimeout: Duration(30 * time.Second),
		ResponseTimeout: Duration(10 * time.Second), ActTerm: true, Roles: []string{"operator", "engineer", "admin"},
		Interlocks: []Interlock{{Point: "p", Equals: "off", Reason: "p is not off", Value: 1}}, FailureAlarmPriority: 3}
	if !equalJSON(*ctl, want) || ctl.Interlocks[0].Value != 1 {
		t.Errorf("Control = %+v, want %+v", *ctl, want)
	}
	if ctl.TypeID() != iec104.C_DC_NA_1 {
		t.Errorf("TypeID() = %v, want C_DC_NA_1", ctl.TypeID())
	}

	s := c.Simulators[0]
	if s.Name != "rtu" || s.Rate != 1 || s.SelectTimeout != Duration(30*time.Second) || s.TLSConfig() != nil {
		t.Errorf("simulator = %+v, want name rtu, rate 1, select timeout 30s, no TLS", s)
	}
}

// equalJSON compares two values by their %#v, enough for these structs.
func equalJSON(a, b any) bool { return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b) }

func TestEmptyFile(t *testing.T) {
	for _, data := range []string{"", "# nothing\n", "---\n"} {
		c, err := Parse("empty.yaml", []byte(data))
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if c.HTTP.Listen != DefaultHTTPListen || len(c.Links) != 0 {
			t.Errorf("%q: %+v, want defaults", data, c)
		}
	}
}

func TestControlTypes(t *testing.T) {
	for _, tt := range []struct {
		t          ControlType
		plain, tag iec104.TypeID
		kinds      []points.Kind
		setpoint   bool
	}{
		{ControlSingle, iec104.C_SC_NA_1, iec104.C_SC_TA_1, []points.Kind{points.Single, points.Double}, false},
		{ControlDouble, iec104.C_DC_NA_1, iec104.C_DC_TA_1, []points.Kind{points.Double, points.Single}, false},
		{ControlStep, iec104.C_RC_NA_1, iec104.C_RC_TA_1, []points.Kind{points.Step}, false},
		{ControlSetpointNormalized, iec104.C_SE_NA_1, iec104.C_SE_TA_1, []points.Kind{points.Normalized}, true},
		{ControlSetpointScaled, iec104.C_SE_NB_1, iec104.C_SE_TB_1, []points.Kind{points.Scaled}, true},
		{ControlSetpointFloat, iec104.C_SE_NC_1, iec104.C_SE_TC_1, []points.Kind{points.Float}, true},
		{"pulse", 0, 0, nil, false},
	} {
		if got := tt.t.TypeID(false); got != tt.plain {
			t.Errorf("%s.TypeID(false) = %v, want %v", tt.t, got, tt.plain)
		}
		if got := tt.t.TypeID(true); got != tt.tag {
			t.Errorf("%s.TypeID(true) = %v, want %v", tt.t, got, tt.tag)
		}
		if got := tt.t.PointKinds(); !slices.Equal(got, tt.kinds) {
			t.Errorf("%s.PointKinds() = %v, want %v", tt.t, got, tt.kinds)
		}
		if got := tt.t.Setpoint(); got != tt.setpoint {
			t.Errorf("%s.Setpoint() = %v, want %v", tt.t, got, tt.setpoint)
		}
	}
}

func TestInterlockValues(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
links: [{name: a, addresses: ["h:1"], ca: 1}]
points:
  - {id: s, link: a, ioa: 1, kind: single}
  - {id: sl, link: a, ioa: 2, kind: single, labels: [remote, local]}
  - {id: d2, link: a, ioa: 3, kind: double, labels: [open, closed]}
  - {id: d4, link: a, ioa: 4, kind: double, labels: [moving, open, closed, faulty]}
  - {id: st, link: a, ioa: 5, kind: step}
  - {id: b, link: a, ioa: 6, kind: bitstring, labels: [x]}
  - id: c
    link: a
    ioa: 10
    kind: single
    control:
      type: single
      interlocks:
        - {point: s, equals: 1}
        - {point: s, equals: false}
        - {point: sl, equals: local}
        - {point: d2, equals: open}
        - {point: d2, equals: closed}
        - {point: d4, equals: faulty}
        - {point: d4, equals: 0}
        - {point: st, equals: -64}
        - {point: b, equals: 0xFFFFFFFF, reason: all alarms}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, il := range c.Point("c").Control.Interlocks {
		got = append(got, il.Value)
	}
	if want := []int64{1, 0, 1, 1, 2, 3, 0, -64, 0xFFFFFFFF}; !slices.Equal(got, want) {
		t.Errorf("values %v, want %v", got, want)
	}
	if r := c.Point("c").Control.Interlocks[8].Reason; r != "all alarms" {
		t.Errorf("reason %q, want the one given", r)
	}
}

// Merged values and aliases decode like the values they stand for.
func TestAnchorsAndMerges(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
links:
  - &rtu {name: a, addresses: ["h:1"], ca: 1, k: 20, w: 10, t1: 20s}
  - <<: *rtu
    name: b
    addresses: ["h:2"]
points:
  - id: p
    link: a
    ioa: 1
    kind: single
    control: &ctl {type: single, sbo: false, roles: [engineer]}
  - id: q
    link: b
    ioa: 1
    kind: double
    control:
      <<: [{qu: 2, time_tag: true}, *ctl]
      sbo: true
`))
	if err != nil {
		t.Fatal(err)
	}
	b := c.Link("b")
	if b.K != 20 || b.W != 10 || b.T1 != Duration(20*time.Second) || b.CA != 1 || b.Addresses[0] != "h:2" {
		t.Errorf("link b = %+v, want k 20, w 10, t1 20s, ca 1 from the anchor", b)
	}
	q := c.Point("q").Control
	if q.Type != ControlSingle || !q.SBO || q.QU != 2 || !q.TimeTag || !slices.Equal(q.Roles, []string{"engineer"}) {
		t.Errorf("control q = %+v", q)
	}
	if q.TypeID() != iec104.C_SC_TA_1 {
		t.Errorf("TypeID() = %v, want C_SC_TA_1", q.TypeID())
	}
}

// Relative names are taken from the configuration's directory.
func TestLoadResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	testpki.SelfSigned(t, dir, "ca", nil)
	testpki.SelfSigned(t, dir, "master", nil)
	testpki.SelfSigned(t, dir, "rtu", nil)
	cfg := `
data_dir: data
http:
  tls: {cert: master.pem, key: master-key.pem}
links:
  - name: a
    addresses: ["h:1"]
    ca: 1
    tls: {cert: master.pem, key: master-key.pem, ca: ca.pem, pins: ["` + fingerprint(t, filepath.Join(dir, "rtu.pem")) + `"], server_name: rtu-a}
    capture: {dir: /tmp/abs}
  - name: b
    addresses: ["h:2"]
    ca: 1
    capture: {dir: caps}
simulators:
  - {link: a, listen: "h:1", tls: {cert: rtu.pem, key: rtu-key.pem, ca: ca.pem}}
`
	path := filepath.Join(dir, "hmi.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // the working directory plays no part
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	at := func(name string) string { return filepath.Join(dir, name) }
	for _, tt := range []struct{ got, want string }{
		{c.File, path},
		{c.DataDir, at("data")},
		{c.HTTP.TLS.Cert, at("master.pem")},
		{c.HTTP.TLS.Key, at("master-key.pem")},
		{c.Links[0].Capture.Dir, "/tmp/abs"},
		{c.Links[1].Capture.Dir, at("caps")},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	want := &iec104.TLSConfig{CertFile: at("master.pem"), KeyFile: at("master-key.pem"), CAFile: at("ca.pem"),
		Pins: []string{fingerprint(t, at("rtu.pem"))}, PeerName: "rtu-a"}
	if got := c.Links[0].TLSConfig(); !equalJSON(got, want) {
		t.Errorf("TLSConfig() = %+v, want %+v", got, want)
	}
	if _, err := c.Links[0].TLSConfig().Client(); err != nil {
		t.Errorf("the link's TLS does not load: %v", err)
	}
	if _, err := c.Simulators[0].TLSConfig().Server(); err != nil {
		t.Errorf("the simulator's TLS does not load: %v", err)
	}
}

func TestTLSContents(t *testing.T) {
	dir := t.TempDir()
	testpki.SelfSigned(t, dir, "a", nil)
	testpki.SelfSigned(t, dir, "b", nil)
	if err := os.WriteFile(filepath.Join(dir, "empty.pem"), []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `http:
  tls: {cert: a.pem, key: b-key.pem}
links:
  - name: l
    addresses: ["h:1"]
    ca: 1
    tls: {cert: a.pem, key: a-key.pem, ca: empty.pem}
`
	path := filepath.Join(dir, "t.yaml")
	_, err := Parse(path, []byte(cfg))
	got := messages(t, err)
	want := []string{
		path + ":2:8: tls: cert and key do not load: private key does not match public key",
		path + `:7:44: ca: no PEM certificate in "` + filepath.Join(dir, "empty.pem") + `"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestTLSServerName(t *testing.T) {
	dir := t.TempDir()
	testpki.SelfSigned(t, dir, "a", nil)
	link := func(name, serverName string) string {
		return `
  - name: ` + name + `
    addresses: ["` + name + `:1"]
    ca: 1
    tls: {cert: a.pem, key: a-key.pem, ca: a.pem, server_name: ` + serverName + `}`
	}
	for _, good := range []string{"rtu-north", "rtu-north.example.", "10.1.2.3", "'::1'", "'Station 12'"} {
		cfg := "links:" + link("l", good)
		c, err := Parse(filepath.Join(dir, "t.yaml"), []byte(cfg))
		if err != nil {
			t.Errorf("server_name %s: %v", good, err)
			continue
		}
		if got, want := c.Links[0].TLSConfig().PeerName, strings.Trim(good, "'"); got != want {
			t.Errorf("server_name %s: PeerName %q, want %q", good, got, want)
		}
	}
	cfg := `links:` + link("a", `""`) + link("b", `" rtu"`) + link("c", `"*.example"`) + link("d", `"rtu:19998"`) + link("e", `"[::1]"`) + `
simulators:
  - {link: a, listen: "h:9", tls: {cert: a.pem, key: a-key.pem, ca: a.pem, server_name: hmi}}
`
	path := filepath.Join(dir, "t.yaml")
	_, err := Parse(path, []byte(cfg))
	got := messages(t, err)
	want := []string{
		path + `:5:64: server_name: empty: give the name the station's certificate carries, or leave server_name out`,
		path + `:9:64: server_name: " rtu" has leading or trailing spaces`,
		path + `:13:64: server_name: "*.example": want the station's own name, not a wildcard`,
		path + `:17:64: server_name: "rtu:19998": want a host name or an IP address, without port or brackets`,
		path + `:21:64: server_name: "[::1]": want a host name or an IP address, without port or brackets`,
		path + `:23:89: server_name: only a link checks its peer's name; a simulator checks the master's certificate by ca and pins`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func fingerprint(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	sum := sha256.Sum256(blk.Bytes)
	return hex.EncodeToString(sum[:])
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(path)
	got := messages(t, err)
	if want := path + ": cannot read: no such file or directory"; len(got) != 1 || got[0] != want {
		t.Errorf("got %q, want [%q]", got, want)
	}
}

// A listen address that clashes with a default says so.
func TestListenClashWithDefault(t *testing.T) {
	_, err := Parse("t.yaml", []byte("metrics:\n  listen: 127.0.0.1:8080\n"))
	got := messages(t, err)
	want := []string{`t.yaml:2:11: listen: "127.0.0.1:8080" already used by http.listen (its default)`}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Aliases that multiply are cut off rather than decoded for ever.
func TestAliasExpansionBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("links:\n  - &l0 {name: a, addresses: [\"h:1\"], ca: 1}\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "  - &l%d {<<: [*l%d, *l%d]}\n", i, i-1, i-1)
	}
	start := time.Now()
	_, err := Parse("t.yaml", []byte(b.String()))
	if got := messages(t, err); !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "too many values") }) {
		t.Errorf("got %q, want too many values", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Parse took %v", d)
	}
}

func TestDurationText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true}, {"30s", 30 * time.Second, true}, {"1h30m", 90 * time.Minute, true}, {"500ms", 500 * time.Millisecond, true},
		{"10x", 0, false}, {"-1s", 0, false}, {"30", 0, false}, {"", 0, false}, {"1d", 0, false},
	} {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || tt.ok && d.D() != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, ok %v", tt.in, d, err, tt.want, tt.ok)
		}
		if tt.ok {
			b, _ := d.MarshalText()
			var back Duration
			if err := back.UnmarshalText(b); err != nil || back != d {
				t.Errorf("%q: round trip through %q gives %v, %v", tt.in, b, back, err)
			}
		}
	}
}

func TestByteSizeText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ByteSize
		ok   bool
		out  string
	}{
		{"0", 0, true, "0B"},
		{"1234", 1234, true, "1234B"},
		{"10MB", 10_000_000, true, "10MB"},
		{"10 MB", 10_000_000, true, "10MB"},
		{"64KiB", 65536, true, "64KiB"},
		{"1kB", 1000, true, "1kB"},
		{"1KB", 1000, true, "1kB"},
		{"1.5GiB", 3 << 29, true, "1536MiB"},
		{"2GB", 2_000_000_000, true, "2GB"},
		{"512B", 512, true, "512B"},
		{"10XB", 0, false, ""},
		{"-1", 0, false, ""},
		{"MB", 0, false, ""},
		{"", 0, false, ""},
		{"9999999999TB", 0, false, ""},
		{"InfMB", 0, false, ""},
		{"NaN", 0, false, ""},
	} {
		var s ByteSize
		err := s.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || s != tt.want {
			t.Errorf("UnmarshalText(%q) = %d, %v; want %d, ok %v", tt.in, s, err, tt.want, tt.ok)
			continue
		}
		if tt.ok && s.String() != tt.out {
			t.Errorf("ByteSize(%d).String() = %q, want %q", s, s.String(), tt.out)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	es := Errors{{File: "f.yaml", Line: 3, Col: 7, Msg: "k: bad"}, {File: "f.yaml", Msg: "cannot read"}}
	if got, want := es.Error(), "f.yaml:3:7: k: bad\nf.yaml: cannot read"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if len(es.Unwrap()) != 2 {
		t.Errorf("Unwrap() = %v", es.Unwrap())
	}
}

func TestSuggest(t *testing.T) {
	for _, tt := range []struct{ key, want string }{
		{"adresses", ` (did you mean "addresses"?)`},
		{"TimeZone", ` (did you mean "time_zone"?)`},
		{"traffic", ` (did you mean "traffic_buffer"?)`},
		{"t4", ` (did you mean "t0"?)`},
		{"sbo", ` (known keys: name, addresses, ca, originator, tls, k, w, t0, t1, t2, t3, interrogation, clock_sync, counter_interrogation, reconnect, capture, traffic_buffer, time_zone, alarm)`},
		{"period", ` ("period" belongs under "interrogation")`},
	} {
		if got, _ := suggest(tt.key, reflect.TypeFor[Link]()); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}
