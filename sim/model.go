// Package sim is an IEC 60870-5-104 outstation (controlled station)
// simulator: a point model of every monitor kind, commands bound to points
// with direct execute and select-before-operate, station, group and counter
// interrogation, clock synchronisation, test and read commands, and a
// spontaneous data generator that can keep a link's k window full. It serves
// any number of connections over TCP or TLS, built on frontstation/iec104.
package sim

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"hmi/frontstation/iec104"
)

// Kind is the kind of a monitor point.
type Kind uint8

// Monitor point kinds.
const (
	Single     Kind = iota + 1 // single-point, M_SP
	Double                     // double-point, M_DP
	Step                       // step position, M_ST
	Bitstring                  // bitstring of 32 bit, M_BO
	Normalized                 // measured value, normalized, M_ME_NA / M_ME_TD
	Scaled                     // measured value, scaled, M_ME_NB / M_ME_TE
	Float                      // measured value, short float, M_ME_NC / M_ME_TF
	Counter                    // integrated totals, M_IT
	kindCount  = int(Counter)
)

var kindNames = [...]string{Single: "single", Double: "double", Step: "step", Bitstring: "bitstring",
	Normalized: "normalized", Scaled: "scaled", Float: "float", Counter: "counter"}

func (k Kind) String() string {
	if k >= Single && k <= Counter {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind parses a kind name as String returns it.
func ParseKind(s string) (Kind, error) {
	for k := Single; k <= Counter; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("sim: unknown point kind %q (want one of %s)", s, strings.Join(kindNames[1:], ", "))
}

var kindTypes = [...][2]iec104.TypeID{
	Single:     {iec104.M_SP_NA_1, iec104.M_SP_TB_1},
	Double:     {iec104.M_DP_NA_1, iec104.M_DP_TB_1},
	Step:       {iec104.M_ST_NA_1, iec104.M_ST_TB_1},
	Bitstring:  {iec104.M_BO_NA_1, iec104.M_BO_TB_1},
	Normalized: {iec104.M_ME_NA_1, iec104.M_ME_TD_1},
	Scaled:     {iec104.M_ME_NB_1, iec104.M_ME_TE_1},
	Float:      {iec104.M_ME_NC_1, iec104.M_ME_TF_1},
	Counter:    {iec104.M_IT_NA_1, iec104.M_IT_TB_1},
}

// TypeID returns the type that reports a point of kind k, with a CP56Time2a
// time tag (M_SP_TB_1 and the like) or without.
func (k Kind) TypeID(timeTag bool) iec104.TypeID {
	if k < Single || k > Counter {
		return 0
	}
	if timeTag {
		return kindTypes[k][1]
	}
	return kindTypes[k][0]
}

// CommandKind is the kind of a command.
type CommandKind uint8

// Command kinds.
const (
	SingleCommand      CommandKind = iota + 1 // C_SC_NA_1 / C_SC_TA_1, sets a single point
	DoubleCommand                             // C_DC_NA_1 / C_DC_TA_1, sets a double point
	StepCommand                               // C_RC_NA_1 / C_RC_TA_1, moves a step position
	SetpointNormalized                        // C_SE_NA_1 / C_SE_TA_1, sets a normalized value
	SetpointScaled                            // C_SE_NB_1 / C_SE_TB_1, sets a scaled value
	SetpointFloat                             // C_SE_NC_1 / C_SE_TC_1, sets a float value
	commandKindCount   = int(SetpointFloat)
)

var commandKinds = [...]struct {
	name  string
	point Kind
	types [2]iec104.TypeID
}{
	SingleCommand:      {"single", Single, [2]iec104.TypeID{iec104.C_SC_NA_1, iec104.C_SC_TA_1}},
	DoubleCommand:      {"double", Double, [2]iec104.TypeID{iec104.C_DC_NA_1, iec104.C_DC_TA_1}},
	StepCommand:        {"step", Step, [2]iec104.TypeID{iec104.C_RC_NA_1, iec104.C_RC_TA_1}},
	SetpointNormalized: {"setpoint_normalized", Normalized, [2]iec104.TypeID{iec104.C_SE_NA_1, iec104.C_SE_TA_1}},
	SetpointScaled:     {"setpoint_scaled", Scaled, [2]iec104.TypeID{iec104.C_SE_NB_1, iec104.C_SE_TB_1}},
	SetpointFloat:      {"setpoint_float", Float, [2]iec104.TypeID{iec104.C_SE_NC_1, iec104.C_SE_TC_1}},
}

func (k CommandKind) valid() bool { return k >= SingleCommand && k <= SetpointFloat }

func (k CommandKind) String() string {
	if k.valid() {
		return commandKinds[k].name
	}
	return fmt.Sprintf("CommandKind(%d)", uint8(k))
}

// ParseCommandKind parses a command kind name as String returns it.
func ParseCommandKind(s string) (CommandKind, error) {
	names := make([]string, 0, commandKindCount)
	for k := SingleCommand; k <= SetpointFloat; k++ {
		if commandKinds[k].name == s {
			return k, nil
		}
		names = append(names, commandKinds[k].name)
	}
	return 0, fmt.Errorf("sim: unknown command kind %q (want one of %s)", s, strings.Join(names, ", "))
}

// PointKind is the kind of monitor point a command of kind k acts on.
func (k CommandKind) PointKind() Kind {
	if !k.valid() {
		return 0
	}
	return commandKinds[k].point
}

// TypeIDs returns the two types a command of kind k accepts: without and
// with a CP56Time2a time tag.
func (k CommandKind) TypeIDs() (plain, timeTagged iec104.TypeID) {
	if !k.valid() {
		return 0, 0
	}
	return commandKinds[k].types[0], commandKinds[k].types[1]
}

// commandKindOf returns the command kind that accepts type t, or 0.
func commandKindOf(t iec104.TypeID) CommandKind {
	for k := SingleCommand; k <= SetpointFloat; k++ {
		if commandKinds[k].types[0] == t || commandKinds[k].types[1] == t {
			return k
		}
	}
	return 0
}

// Point is a monitor point of the simulated station.
type Point struct {
	IOA  uint32 // 1..16777215, unique in the station (points and commands)
	Name string // free text, for logs
	Kind Kind
	// Value is the initial value: 0/1 (single), 0..3 (double DPI: 1 OFF,
	// 2 ON), -64..63 (step), 0..4294967295 (bitstring), -1..1 (normalized,
	// as a fraction), -32768..32767 (scaled), any (float), int32 (counter).
	Value   float64
	Quality iec104.Quality // initial quality flags (no OV on single and double points; only IV on counters)
	TimeTag bool           // report spontaneous changes and command returns with the CP56Time2a type (M_SP_TB_1, ...)
	// Group is the interrogation group 1..16 (QOI 21..36) the point also
	// answers besides station interrogation, 0 for none; for counters the
	// counter group 1..4 (RQT 1..4) besides the general request.
	Group int
}

// Command is a command the station accepts, bound to a monitor point whose
// value it sets.
type Command struct {
	IOA  uint32 // 1..16777215, unique in the station (points and commands)
	Name string
	Kind CommandKind
	// Point is the IOA of the point the command sets (its kind must be
	// Kind.PointKind()), 0 for none: the command is confirmed and changes nothing.
	Point         uint32
	SBO           bool          // select before operate required; false: direct execute only
	SelectTimeout time.Duration // how long a select stays valid; 0: Config.SelectTimeout
	ActTerm       bool          // send ACTTERM after a successful execute
}

// DefaultSelectTimeout is how long a select stays valid when nothing else is configured.
const DefaultSelectTimeout = 30 * time.Second

// Config is the data model of one simulated station.
type Config struct {
	CA            uint16        // common address, 1..65534
	SelectTimeout time.Duration // default select timeout of the commands; 0: DefaultSelectTimeout
	Points        []Point
	Commands      []Command
}

// FieldError is a configuration error at a field, which Path names as in
// YAML ("points[3].value").
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return "sim: " + e.Path + ": " + e.Msg }

const maxIOA = 0xFFFFFF

// Validate checks the configuration and returns every problem (at most 50)
// as a *FieldError, joined with errors.Join.
func (c Config) Validate() error {
	var errs fieldErrors
	if c.CA == 0 || c.CA == iec104.GlobalCA {
		errs.add("ca", "common address %d, want 1..65534", c.CA)
	}
	if c.SelectTimeout < 0 {
		errs.add("select_timeout", "negative duration %v", c.SelectTimeout)
	}
	if len(c.Points) == 0 {
		errs.add("points", "no points")
	}
	owner := make(map[uint32]string, len(c.Points)+len(c.Commands))
	kinds := make(map[uint32]Kind, len(c.Points))
	ioa := func(path string, a uint32) {
		switch {
		case a == 0 || a > maxIOA:
			errs.add(path, "IOA %d, want 1..16777215", a)
		case owner[a] != "":
			errs.add(path, "IOA %d already used by %s", a, owner[a])
		default:
			owner[a] = strings.TrimSuffix(path, ".ioa")
		}
	}
	for i, p := range c.Points {
		at := fmt.Sprintf("points[%d]", i)
		ioa(at+".ioa", p.IOA)
		if p.Kind < Single || p.Kind > Counter {
			errs.add(at+".kind", "kind %v unknown", p.Kind)
			continue
		}
		kinds[p.IOA] = p.Kind
		if msg := checkValue(p.Kind, p.Value); msg != "" {
			errs.add(at+".value", "%s", msg)
		}
		if msg := checkQuality(p.Kind, p.Quality); msg != "" {
			errs.add(at+".quality", "%s", msg)
		}
		maxGroup := 16
		if p.Kind == Counter {
			maxGroup = 4
		}
		if p.Group < 0 || p.Group > maxGroup {
			errs.add(at+".group", "group %d, want 0..%d for a %v point", p.Group, maxGroup, p.Kind)
		}
	}
	for i, cmd := range c.Commands {
		at := fmt.Sprintf("commands[%d]", i)
		ioa(at+".ioa", cmd.IOA)
		if !cmd.Kind.valid() {
			errs.add(at+".kind", "command kind %v unknown", cmd.Kind)
			continue
		}
		if cmd.Point != 0 {
			k, ok := kinds[cmd.Point]
			switch {
			case !ok:
				errs.add(at+".point", "no point with IOA %d", cmd.Point)
			case k != cmd.Kind.PointKind():
				errs.add(at+".point", "a %v command needs a %v point, IOA %d is %v", cmd.Kind, cmd.Kind.PointKind(), cmd.Point, k)
			}
		}
		if cmd.SelectTimeout < 0 {
			errs.add(at+".select_timeout", "negative duration %v", cmd.SelectTimeout)
		}
	}
	return errs.err()
}

// checkValue says what is wrong with v as a value of kind k, or "".
func checkValue(k Kind, v float64) string {
	integer := func(lo, hi float64) string {
		if math.IsNaN(v) || v != math.Trunc(v) || v < lo || v > hi {
			return fmt.Sprintf("value %v, want an integer in %v..%v for a %v point", v, lo, hi, k)
		}
		return ""
	}
	switch k {
	case Single:
		return integer(0, 1)
	case Double:
		return integer(0, 3)
	case Step:
		return integer(-64, 63)
	case Bitstring:
		return integer(0, math.MaxUint32)
	case Scaled:
		return integer(math.MinInt16, math.MaxInt16)
	case Counter:
		return integer(math.MinInt32, math.MaxInt32)
	case Normalized:
		if math.IsNaN(v) || v < -1 || v > 1 {
			return fmt.Sprintf("value %v, want -1..1 for a normalized point", v)
		}
	case Float:
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
			return fmt.Sprintf("value %v is not a finite 32-bit float", v)
		}
	}
	return ""
}

// checkQuality says what is wrong with q as the quality of a point of kind
// k, or "": single and double points have no OV, counters only IV.
func checkQuality(k Kind, q iec104.Quality) string {
	allowed := iec104.QualityOV | iec104.QualityBL | iec104.QualitySB | iec104.QualityNT | iec104.QualityIV
	switch k {
	case Single, Double:
		allowed &^= iec104.QualityOV
	case Counter:
		allowed = iec104.QualityIV
	}
	if q&^allowed != 0 {
		return fmt.Sprintf("quality %v not allowed for a %v point (allowed: %v)", q, k, allowed)
	}
	return ""
}

type fieldErrors []error

func (e *fieldErrors) add(path, format string, args ...any) {
	if len(*e) < 50 {
		*e = append(*e, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
}

func (e fieldErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return errors.Join(e...)
}

// Generate returns a deterministic station of n points (CA 1) spread over
// the eight monitor kinds, and up to three commands per command kind.
//
// Layout: the points are dealt to the kinds single, double, step,
// bitstring, normalized, scaled, float, counter in that order, n/8 each
// and one more for the first n%8 kinds. With S the smallest power of ten
// that is at least 1000 and at least the per-kind count, the i-th point
// (i from 0) of the k-th kind (k from 0) has IOA (k+1)*S + i: for n <= 8000,
// singles from 1000, doubles from 2000, ..., counters from 8000. Points of
// kind k are in interrogation group k+1 (single 1 ... float 7); counter i is
// in counter group i%4+1. Commands of the c-th command kind (single, double,
// step, setpoint_normalized, setpoint_scaled, setpoint_float; c from 0)
// have IOA 9*S + 100*c + j for j = 0, 1, 2 and act on the j-th point of the
// matching kind (when there is one): j=0 direct execute with ACTTERM, j=1
// SBO with ACTTERM, j=2 SBO without ACTTERM. For n <= 8000: 9000..9002,
// 9100..9102, ..., 9500..9502.
func Generate(n int) Config {
	c := Config{CA: 1}
	if n <= 0 {
		return c
	}
	per := (n + kindCount - 1) / kindCount
	stride := uint32(1000)
	for int(stride) < per {
		stride *= 10
	}
	counts := [kindCount]int{}
	for k := range counts {
		counts[k] = n / kindCount
		if k < n%kindCount {
			counts[k]++
		}
	}
	c.Points = make([]Point, 0, n)
	for k := range counts {
		kind := Kind(k + 1)
		for i := 0; i < counts[k]; i++ {
			p := Point{
				IOA:   uint32(k+1)*stride + uint32(i),
				Kind:  kind,
				Group: k + 1,
				Value: initialValue(kind, i),
			}
			if kind == Counter {
				p.Group = i%4 + 1
			}
			c.Points = append(c.Points, p)
		}
	}
	for ck := SingleCommand; ck <= SetpointFloat; ck++ {
		pk := ck.PointKind()
		for j := 0; j < 3 && j < counts[pk-1]; j++ {
			c.Commands = append(c.Commands, Command{
				IOA:     9*stride + 100*uint32(ck-1) + uint32(j),
				Kind:    ck,
				Point:   uint32(pk)*stride + uint32(j),
				SBO:     j > 0,
				ActTerm: j < 2,
			})
		}
	}
	return c
}

func initialValue(k Kind, i int) float64 {
	switch k {
	case Single:
		return float64(i % 2)
	case Double:
		return float64(1 + i%2)
	case Step:
		return float64(i%21 - 10)
	case Bitstring:
		return float64(uint32(i) * 0x01010101)
	case Normalized:
		return float64(i%200-100) / 128
	case Scaled:
		return float64((i * 37) % 2000)
	case Float:
		return float64(i%1000) * 0.5
	case Counter:
		return float64(i * 100)
	}
	return 0
}
