package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

func TestParseConfig(t *testing.T) {
	c := testConfig(t)
	if c.CA != 7 || len(c.Points) != 14 || len(c.Commands) != 9 {
		t.Fatalf("CA %d, %d points, %d commands; want 7, 14, 9", c.CA, len(c.Points), len(c.Commands))
	}
	p := c.Points[9] // {ioa: 500, kind: normalized, value: 0.5, quality: [nt]}
	if p.IOA != 500 || p.Kind != Normalized || p.Value != 0.5 || p.Quality != iec104.QualityNT || p.Group != int(Normalized) || p.TimeTag {
		t.Errorf("points[9] = %+v", p)
	}
	if p := c.Points[5]; p.Group != 9 {
		t.Errorf("points[5].group = %d, want 9", p.Group)
	}
	if p := c.Points[13]; p.Kind != Counter || !p.TimeTag || p.Group != 2 {
		t.Errorf("points[13] = %+v", p)
	}
	cmd := c.Commands[2] // {ioa: 5100, point: 200, sbo: true, select_timeout: 200ms}
	if cmd.Kind != DoubleCommand || !cmd.SBO || cmd.SelectTimeout != 200*time.Millisecond || !cmd.ActTerm || cmd.Point != 200 {
		t.Errorf("commands[2] = %+v", cmd)
	}
	if cmd := c.Commands[3]; cmd.ActTerm {
		t.Errorf("commands[3].actterm = true, want false")
	}
	if cmd := c.Commands[8]; cmd.Kind != SingleCommand || cmd.Point != 0 {
		t.Errorf("commands[8] = %+v", cmd)
	}

	path := filepath.Join(t.TempDir(), "station.yaml")
	if err := os.WriteFile(path, []byte("time_tags: true\nselect_timeout: 5s\npoints:\n  - ioa: 1\n    kind: float\n    value: 2.5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.CA != 1 || c.SelectTimeout != 5*time.Second || len(c.Points) != 1 || !c.Points[0].TimeTag {
		t.Errorf("defaults: %+v", c)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // "line:col: text" of the first error
	}{
		{"unknown top-level key", "ca: 1\nport: 2404\n", "2:1: unknown field \"port\""},
		{"unknown point key", "points:\n  - ioa: 1\n    kind: single\n    colour: red\n", "4:5: unknown field \"colour\""},
		{"syntax", "points:\n  - ioa: 1\n    kind: [single\n", "3:11:"},
		{"wrong type", "points:\n  - ioa: one\n    kind: single\n", "2:10:"},
		{"negative ioa", "points:\n  - ioa: -1\n    kind: single\n", "2:10:"},
		{"ca too big", "ca: 70000\npoints:\n  - {ioa: 1, kind: single}\n", "1:5:"},
		{"ca zero", "ca: 0\npoints:\n  - {ioa: 1, kind: single}\n", "1:5: ca: common address 0"},
		{"duplicate key", "ca: 1\nca: 2\n", "2:1:"},
		{"bad duration", "select_timeout: soon\npoints:\n  - {ioa: 1, kind: single}\n", "1:17: select_timeout: duration \"soon\""},
		{"no points", "ca: 3\n", "points: no points"},
		{"unknown kind", "points:\n  - ioa: 1\n    kind: analog\n", "3:11: points[0].kind: unknown point kind \"analog\""},
		{"kind missing", "points:\n  - ioa: 1\n    value: 1\n", "2:5: points[0]: kind missing"},
		{"ioa missing", "points:\n  - kind: single\n", "2:5: points[0]: ioa missing"},
		{"ioa too big", "points:\n  - ioa: 16777216\n    kind: single\n", "2:10: points[0].ioa: IOA 16777216"},
		{"duplicate ioa", "points:\n  - {ioa: 5, kind: single}\n  - {ioa: 5, kind: double}\n", "3:11: points[1].ioa: IOA 5 already used by points[0]"},
		{"value out of range", "points:\n  - ioa: 5\n    kind: step\n    value: 64\n", "4:12: points[0].value: value 64"},
		{"single value", "points:\n  - {ioa: 5, kind: single, value: 0.5}\n", "2:35: points[0].value:"},
		{"quality flag", "points:\n  - {ioa: 5, kind: single, quality: [iv, xx]}\n", "points[0].quality[1]: quality flag \"xx\" unknown"},
		{"ov on a single point", "points:\n  - {ioa: 5, kind: single, quality: [ov]}\n", "points[0].quality: quality OV not allowed"},
		{"group", "points:\n  - {ioa: 5, kind: counter, group: 5}\n", "points[0].group: group 5, want 0..4"},
		{"command point missing", "points:\n  - {ioa: 5, kind: single}\ncommands:\n  - {ioa: 6, point: 7}\n", "4:21: commands[0].point: no point with IOA 7"},
		{"command point of another kind", "points:\n  - {ioa: 5, kind: single}\ncommands:\n  - ioa: 6\n    kind: double\n    point: 5\n", "6:12: commands[0].point: a double command needs a double point"},
		{"command for a counter", "points:\n  - {ioa: 5, kind: counter}\ncommands:\n  - {ioa: 6, point: 5}\n", "commands[0].point: point 5 is a counter point, which no command sets"},
		{"command ioa used by a point", "points:\n  - {ioa: 5, kind: single}\ncommands:\n  - {ioa: 5, kind: single}\n", "4:11: commands[0].ioa: IOA 5 already used by points[0]"},
		{"command kind", "points:\n  - {ioa: 5, kind: single}\ncommands:\n  - {ioa: 6, kind: setpoint}\n", "commands[0].kind: unknown command kind \"setpoint\""},
		{"two documents", "points: []\n---\npoints: []\n", "several YAML documents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("f.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.src)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v, want a *ConfigError", err, err)
			}
			first := strings.SplitN(err.Error(), "\n", 2)[0]
			if !strings.HasPrefix(first, "f.yaml:") || !strings.Contains(first, tt.want) {
				t.Errorf("got  %q\nwant %q in it", first, "f.yaml:"+tt.want)
			}
		})
	}
}

func TestParseConfigManyErrors(t *testing.T) {
	src := "points:\n  - {ioa: 0, kind: single}\n  - {ioa: 2, kind: double, value: 7}\n"
	_, err := ParseConfig("f.yaml", []byte(src))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "f.yaml:2:") || !strings.HasPrefix(lines[1], "f.yaml:3:") {
		t.Errorf("got %q, want two errors on lines 2 and 3", lines)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{CA: 1, Points: []Point{{IOA: 1, Kind: Float, Value: 1}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Config{
		{CA: 0xFFFF, Points: ok.Points},
		{CA: 1, Points: []Point{{IOA: 1, Kind: 0}}},
		{CA: 1, Points: ok.Points, Commands: []Command{{IOA: 2, Kind: 0}}},
		{CA: 1, Points: ok.Points, Commands: []Command{{IOA: 2, Kind: SetpointFloat, SelectTimeout: -1}}},
		{CA: 1, Points: []Point{{IOA: 1, Kind: Normalized, Value: 1.5}}},
	}
	for i, c := range bad {
		var fe *FieldError
		if err := c.Validate(); !errors.As(err, &fe) {
			t.Errorf("%d: %v, want a *FieldError", i, err)
		}
	}
}

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join("testdata", "station.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Points) != 12 || len(c.Commands) != 6 {
		t.Errorf("%d points, %d commands; want 12 and 6", len(c.Points), len(c.Commands))
	}
	if _, err := New(Options{Config: c}); err != nil {
		t.Error(err)
	}
}
