package sim

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"hmi/frontstation/iec104"
)

// ConfigError is a problem in a configuration file, at a line and column
// (both from 1; 0 when unknown).
type ConfigError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *ConfigError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// The YAML file. Unknown keys are errors.
type yamlConfig struct {
	CA            *uint16       `yaml:"ca"`
	TimeTags      bool          `yaml:"time_tags"`
	SelectTimeout string        `yaml:"select_timeout"`
	Points        []yamlPoint   `yaml:"points"`
	Commands      []yamlCommand `yaml:"commands"`
}

type yamlPoint struct {
	IOA     *uint32  `yaml:"ioa"`
	Name    string   `yaml:"name"`
	Kind    string   `yaml:"kind"`
	Value   float64  `yaml:"value"`
	Quality []string `yaml:"quality"`
	TimeTag *bool    `yaml:"time_tag"`
	Group   *int     `yaml:"group"`
}

type yamlCommand struct {
	IOA           *uint32 `yaml:"ioa"`
	Name          string  `yaml:"name"`
	Kind          string  `yaml:"kind"`
	Point         uint32  `yaml:"point"`
	SBO           bool    `yaml:"sbo"`
	SelectTimeout string  `yaml:"select_timeout"`
	ActTerm       *bool   `yaml:"actterm"`
}

var qualityNames = map[string]iec104.Quality{
	"ov": iec104.QualityOV, "bl": iec104.QualityBL, "sb": iec104.QualitySB, "nt": iec104.QualityNT, "iv": iec104.QualityIV,
}

// LoadConfig reads and checks a YAML station file (see ParseConfig).
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("sim: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig decodes and checks a YAML station description. name is used
// in errors only. Every problem is a *ConfigError with the line and column
// of the offending key or value; several are joined with errors.Join.
//
//	ca: 1                  # common address, default 1
//	time_tags: false       # default time_tag of the points
//	select_timeout: 30s    # default select timeout of the commands
//	points:
//	  - ioa: 100           # required, unique among points and commands
//	    name: breaker Q1   # optional
//	    kind: double       # single double step bitstring normalized scaled float counter
//	    value: 2           # initial value (double: 1 OFF, 2 ON)
//	    quality: [nt]      # optional flags: ov bl sb nt iv
//	    time_tag: true     # spontaneous reports as M_DP_TB_1
//	    group: 2           # interrogation group 1..16 (counters: 1..4); default by kind
//	commands:
//	  - ioa: 5100
//	    point: 100         # IOA of the point it sets; the kind follows from it
//	    kind: double       # optional with point: single double step setpoint_normalized setpoint_scaled setpoint_float
//	    sbo: true          # select before operate (default false: direct execute)
//	    select_timeout: 10s
//	    actterm: true      # send ACTTERM after execute (default true)
func ParseConfig(name string, data []byte) (Config, error) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return Config{}, yamlError(name, err)
	}
	var y yamlConfig
	if len(file.Docs) > 1 {
		return Config{}, &ConfigError{File: name, Msg: "several YAML documents, want one"}
	}
	if len(file.Docs) == 1 && file.Docs[0].Body != nil {
		if err := yaml.NodeToValue(file.Docs[0].Body, &y, yaml.Strict()); err != nil {
			return Config{}, yamlError(name, err)
		}
	}
	c, errs := y.config()
	if err := c.Validate(); err != nil {
		// Add what Validate finds about fields config did not already report.
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			fe := e.(*FieldError)
			if !slices.ContainsFunc(errs, func(r error) bool { return related(r.(*FieldError).Path, fe.Path) }) {
				errs = append(errs, fe)
			}
		}
	}
	if len(errs) > 0 {
		return Config{}, locate(name, file, errs)
	}
	return c, nil
}

// related reports whether Validate's error at path v says nothing new after
// config's error at path c: one path is the other or inside it, or v is the
// kind of the item whose kind config could not work out.
func related(c, v string) bool {
	inside := func(x, y string) bool {
		return x == y || strings.HasPrefix(x, y+".") || strings.HasPrefix(x, y+"[")
	}
	if item, ok := strings.CutSuffix(v, ".kind"); ok && inside(c, item) {
		return true
	}
	return inside(c, v) || inside(v, c)
}

// duration parses a duration of the file; "" is 0.
func duration(errs *fieldErrors, path, s string) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		errs.add(path, "duration %q: want a number with a unit, e.g. 30s or 500ms", s)
	}
	return d
}

// config converts the file to a Config and reports what it finds wrong on
// the way. Config.Validate checks the rest.
func (y *yamlConfig) config() (Config, fieldErrors) {
	var errs fieldErrors
	c := Config{CA: 1, SelectTimeout: duration(&errs, "select_timeout", y.SelectTimeout)}
	if y.CA != nil {
		c.CA = *y.CA
	}
	for i, yp := range y.Points {
		at := fmt.Sprintf("points[%d]", i)
		p := Point{Name: yp.Name, Value: yp.Value, TimeTag: y.TimeTags}
		if yp.IOA != nil {
			p.IOA = *yp.IOA
		} else {
			errs.add(at, "ioa missing")
		}
		if yp.Kind == "" {
			errs.add(at, "kind missing")
		} else if k, err := ParseKind(yp.Kind); err != nil {
			errs.add(at+".kind", "%s", strings.TrimPrefix(err.Error(), "sim: "))
		} else {
			p.Kind = k
		}
		for j, q := range yp.Quality {
			f, ok := qualityNames[strings.ToLower(q)]
			if !ok {
				errs.add(fmt.Sprintf("%s.quality[%d]", at, j), "quality flag %q unknown (want ov, bl, sb, nt, iv)", q)
			}
			p.Quality |= f
		}
		if yp.TimeTag != nil {
			p.TimeTag = *yp.TimeTag
		}
		if yp.Group != nil {
			p.Group = *yp.Group
		} else {
			p.Group = defaultGroup(p.Kind, i)
		}
		c.Points = append(c.Points, p)
	}
	kinds := make(map[uint32]Kind, len(c.Points))
	for _, p := range c.Points {
		kinds[p.IOA] = p.Kind
	}
	for i, yc := range y.Commands {
		at := fmt.Sprintf("commands[%d]", i)
		cmd := Command{Name: yc.Name, Point: yc.Point, SBO: yc.SBO, ActTerm: true,
			SelectTimeout: duration(&errs, at+".select_timeout", yc.SelectTimeout)}
		if yc.IOA != nil {
			cmd.IOA = *yc.IOA
		} else {
			errs.add(at, "ioa missing")
		}
		if yc.ActTerm != nil {
			cmd.ActTerm = *yc.ActTerm
		}
		switch {
		case yc.Kind != "":
			k, err := ParseCommandKind(yc.Kind)
			if err != nil {
				errs.add(at+".kind", "%s", strings.TrimPrefix(err.Error(), "sim: "))
			}
			cmd.Kind = k
		case yc.Point == 0:
			errs.add(at, "kind missing (needed when no point is given)")
		default: // the kind follows from the point
			pk, ok := kinds[yc.Point]
			for ck := SingleCommand; ck <= SetpointFloat; ck++ {
				if ok && ck.PointKind() == pk {
					cmd.Kind = ck
				}
			}
			switch {
			case !ok:
				errs.add(at+".point", "no point with IOA %d", yc.Point)
			case cmd.Kind == 0:
				errs.add(at+".point", "point %d is a %v point, which no command sets", yc.Point, pk)
			}
		}
		c.Commands = append(c.Commands, cmd)
	}
	return c, errs
}

// defaultGroup is the interrogation group of a point whose file gives none:
// one group per kind (single 1, double 2, ..., float 7), counters dealt
// round robin to counter groups 1..4.
func defaultGroup(k Kind, i int) int {
	if k == Counter {
		return i%4 + 1
	}
	if k >= Single && k <= Float {
		return int(k)
	}
	return 0
}

// yamlError turns a goccy/go-yaml error into a *ConfigError.
func yamlError(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		ce := &ConfigError{File: name, Msg: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			ce.Line, ce.Column = tk.Position.Line, tk.Position.Column
		}
		return ce
	}
	return &ConfigError{File: name, Msg: err.Error()}
}

// locate turns *FieldErrors into *ConfigErrors with positions, sorted by position.
func locate(name string, file *ast.File, errs fieldErrors) error {
	out := make([]*ConfigError, 0, len(errs))
	for _, e := range errs {
		fe := e.(*FieldError)
		ce := &ConfigError{File: name, Msg: fe.Path + ": " + fe.Msg}
		ce.Line, ce.Column = position(file, fe.Path)
		out = append(out, ce)
	}
	slices.SortStableFunc(out, func(a, b *ConfigError) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	if len(out) == 1 {
		return out[0]
	}
	list := make([]error, len(out))
	for i, e := range out {
		list[i] = e
	}
	return errors.Join(list...)
}

// position finds the line and column of the YAML node at path ("points[3].ioa"),
// or of the closest enclosing node that exists.
func position(file *ast.File, path string) (line, col int) {
	for path != "" {
		if p, err := yaml.PathString("$." + path); err == nil {
			if n, err := p.FilterFile(file); err == nil && n != nil {
				tk := n.GetToken()
				switch m := n.(type) {
				case *ast.MappingNode:
					if len(m.Values) > 0 {
						tk = m.Values[0].Key.GetToken()
					}
				case *ast.MappingValueNode:
					tk = m.Key.GetToken()
				}
				if tk != nil && tk.Position != nil {
					return tk.Position.Line, tk.Position.Column
				}
			}
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0, 0
}
