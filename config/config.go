// Package config reads hmi's YAML configuration: the HTTP server, the links
// to field devices, the points and their controls, the simulators that the
// server starts itself, and the metrics endpoint.
//
// Load and Parse decode the file strictly (unknown keys, repeated keys and
// values of the wrong type are errors), apply the defaults documented on
// each field, check the whole configuration and report every problem they
// find, each with its place, as Errors. They never return a configuration
// with a problem in it. config.example.yaml at the repository root
// documents every key.
//
// Relative file and directory names in the file (data_dir, TLS files,
// capture directories, display files) are relative to the directory of the configuration
// file; Load and Parse return them joined to it.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"hmi/frontstation/iec104"
	"hmi/points"
)

// Config is a whole configuration file, with defaults applied.
type Config struct {
	// File is the name the configuration was read from (not a key).
	File string `yaml:"-"`
	// DataDir holds the database and the captures. Default "./hmi-data".
	DataDir string `yaml:"data_dir"`
	// HTTP is the web server.
	HTTP HTTP `yaml:"http"`
	// Links are the IEC 104 connections to field devices, one per device.
	Links []*Link `yaml:"links"`
	// Points are the monitored and controlled values, each on a link.
	Points []*Point `yaml:"points"`
	// Displays are the SVG mimic diagrams, in menu order; their elements
	// bind to points by data-point.
	Displays []*Display `yaml:"displays"`
	// Simulators are IEC 104 outstations the server runs itself, each
	// serving the points of a link (demos, tests).
	Simulators []*Simulator `yaml:"simulators"`
	// Metrics is the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`
	// Alarms are the plant-wide alarm settings.
	Alarms Alarms `yaml:"alarms"`
	// History is the retention of the points' recorded values.
	History History `yaml:"history"`
	// Events is the retention of the event journal.
	Events Events `yaml:"events"`
}

// HTTP is the web server of the HMI.
type HTTP struct {
	// Listen is the host:port to serve on. Default "127.0.0.1:8080". An
	// empty host listens on every interface; port 0 picks a free port.
	Listen string `yaml:"listen"`
	// TLS, when set, serves HTTPS.
	TLS *ServerTLS `yaml:"tls"`
	// Session limits the life of a login.
	Session Session `yaml:"session"`
}

// ServerTLS is the certificate a server presents. Both files are required.
type ServerTLS struct {
	Cert string `yaml:"cert"` // certificate chain, PEM
	Key  string `yaml:"key"`  // private key, PEM
}

// Session limits the life of a login session.
type Session struct {
	// IdleTimeout ends a session after this long without a request.
	// Default 30m.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// AbsoluteTimeout ends a session this long after the login, active or
	// not. Default 12h (a shift). Not less than IdleTimeout.
	AbsoluteTimeout Duration `yaml:"absolute_timeout"`
}

// Link is an IEC 104 master connection to one controlled station (RTU,
// PLC, IED), possibly over several addresses.
type Link struct {
	// Name identifies the link in points, pages and URLs: letters, digits,
	// '.', '_' and '-'. Required, unique.
	Name string `yaml:"name"`
	// Addresses are the host:port of the station. Several form a
	// redundancy group (one connection started at a time); the first is
	// preferred. Required.
	Addresses []string `yaml:"addresses"`
	// CA is the common address of the station, 1..65534. Required.
	CA int `yaml:"ca"`
	// Originator is the originator address sent in our ASDUs, 0..255.
	// Default 0.
	Originator int `yaml:"originator"`
	// TLS, when set, connects with IEC 62351-3 TLS.
	TLS *TLS `yaml:"tls"`
	// K is the most I-frames sent without acknowledgement, 1..32767.
	// Default 12.
	K int `yaml:"k"`
	// W is the most I-frames received before we acknowledge, 1..32767 and
	// at most two thirds of K. Default 8.
	W int `yaml:"w"`
	// T0 is the connection timeout. Default 30s.
	T0 Duration `yaml:"t0"`
	// T1 is the timeout for an acknowledgement or a U-frame confirmation.
	// Default 15s.
	T1 Duration `yaml:"t1"`
	// T2 is the longest we wait before acknowledging received I-frames;
	// less than T1. Default 10s.
	T2 Duration `yaml:"t2"`
	// T3 is the idle time after which we send TESTFR. Default 20s.
	T3 Duration `yaml:"t3"`
	// Interrogation is the general interrogation.
	Interrogation Interrogation `yaml:"interrogation"`
	// ClockSync, when set, sends clock synchronization commands.
	ClockSync *ClockSync `yaml:"clock_sync"`
	// CounterInterrogation, when set, interrogates the counters.
	CounterInterrogation *CounterInterrogation `yaml:"counter_interrogation"`
	// Reconnect is the backoff between connection attempts.
	Reconnect Reconnect `yaml:"reconnect"`
	// Capture, when set, records the link's traffic in pcap files.
	Capture *Capture `yaml:"capture"`
	// TrafficBuffer is how many decoded APDUs the link keeps for its
	// traffic page, 1..1000000. Default 500.
	TrafficBuffer int `yaml:"traffic_buffer"`
	// TimeZone is the IANA time zone the station's time tags are in.
	// Default "UTC".
	TimeZone string `yaml:"time_zone"`
	// Alarm is the alarm raised while the link is down.
	Alarm LinkAlarm `yaml:"alarm"`

	loc *time.Location
}

// TLS is the IEC 62351-3 side of a link or a simulator: mutual
// authentication with X.509 certificates. Cert, Key and CA are required.
type TLS struct {
	Cert string `yaml:"cert"` // our certificate chain, PEM
	Key  string `yaml:"key"`  // our private key, PEM
	CA   string `yaml:"ca"`   // CA certificates that sign the peer's certificate, PEM
	// Pins, when given, are the only peer certificates accepted: SHA-256
	// of the leaf certificate's DER, 64 hex digits, colons allowed.
	Pins []string `yaml:"pins"`
	// ServerName, links only: when given, the station's certificate must
	// carry this name, as a DNS or IP subjectAltName, or as its common
	// name when it has no DNS or IP subjectAltName (CN-only certificates).
	// Empty: names are not checked (the address dialled never counts as one).
	ServerName string `yaml:"server_name"`
}

// Interrogation is the general interrogation (C_IC_NA_1) of a link. A
// station interrogation is always sent when a connection starts.
type Interrogation struct {
	// Period repeats the interrogation; 0 interrogates only when a
	// connection starts. Default 0.
	Period Duration `yaml:"period"`
	// Groups, when given, are the interrogation groups 1..16 (QOI 21..36)
	// that each period interrogates, one after the other, instead of the
	// station (QOI 20).
	Groups []int `yaml:"groups"`
}

// ClockSync is the clock synchronization (C_CS_NA_1) of a link. It is sent
// when a connection starts, and every Period.
type ClockSync struct {
	// Period repeats the synchronization; 0 synchronizes only when a
	// connection starts. Default 0.
	Period Duration `yaml:"period"`
	// TimeZone is the IANA zone of the time sent. Default: the link's
	// time_zone.
	TimeZone string `yaml:"time_zone"`

	loc *time.Location
}

// CounterInterrogation is the counter interrogation (C_CI_NA_1, general
// request) of a link. It is sent when a connection starts, and every Period.
type CounterInterrogation struct {
	// Period repeats the interrogation; 0 interrogates only when a
	// connection starts. Default 0.
	Period Duration `yaml:"period"`
}

// Reconnect is the exponential backoff between connection attempts.
type Reconnect struct {
	Min Duration `yaml:"min"` // first wait, more than 0; default 1s
	Max Duration `yaml:"max"` // longest wait, at least Min; default 30s
}

// Capture records a link's traffic in rotating pcap files.
type Capture struct {
	// Dir holds the files. Default: DATA_DIR/capture/LINK.
	Dir string `yaml:"dir"`
	// MaxSize starts a new file when the current one reaches it. More than
	// 0. Default 10MB.
	MaxSize ByteSize `yaml:"max_size"`
	// MaxFiles is how many files are kept, the oldest removed first.
	// At least 1. Default 10.
	MaxFiles int `yaml:"max_files"`
}

// Point is a monitored value of a station, optionally with a control.
type Point struct {
	// ID is the stable tag of the point (north.feeder1.breaker): letters,
	// digits, '.', '_' and '-'. Required, unique.
	ID string `yaml:"id"`
	// Name is the text shown to operators. Default: the ID.
	Name string `yaml:"name"`
	// Area is the slash path used for navigation and permissions
	// (north/feeder1). Default: the link's name.
	Area string `yaml:"area"`
	// Link is the name of the point's link. Required.
	Link string `yaml:"link"`
	// CA is the common address, 1..65534. Default: the link's.
	CA int `yaml:"ca"`
	// IOA is the information object address, 1..16777215. Required.
	IOA int `yaml:"ioa"`
	// Kind is the kind of value: single, double, step, bitstring,
	// normalized, scaled, float or counter. Required.
	Kind points.Kind `yaml:"kind"`
	// Unit is the engineering unit (kV, A, MW), shown after the value.
	Unit string `yaml:"unit"`
	// Labels name the states: a single point 2 (for 0 and 1), a double
	// point 2 (off, on) or 4 (for 0 intermediate, 1 off, 2 on, 3 faulty), a
	// bitstring up to 32 (bit 0 first). Other kinds take none.
	Labels []string `yaml:"labels"`
	// Scale, when set, converts raw values to engineering values
	// (step, normalized, scaled, float and counter points).
	Scale *Scale `yaml:"scale"`
	// MaxAge marks the value stale when no update came for this long;
	// 0 never does. Default 0.
	MaxAge Duration `yaml:"max_age"`
	// Control, when set, makes the point operable.
	Control *Control `yaml:"control"`
	// Alarm, when set, raises alarms on the point's value and quality.
	Alarm *PointAlarm `yaml:"alarm"`
	// History, when set, records the point's values.
	History *PointHistory `yaml:"history"`
}

// Scale is a linear conversion: engineering = raw × Factor + Offset.
type Scale struct {
	Factor float64 `yaml:"factor"` // not 0; default 1
	Offset float64 `yaml:"offset"` // default 0
}

// Apply converts a raw value to an engineering value.
func (s *Scale) Apply(raw float64) float64 {
	if s == nil {
		return raw
	}
	return raw*s.Factor + s.Offset
}

// Raw converts an engineering value (a set-point) to a raw value.
func (s *Scale) Raw(eng float64) float64 {
	if s == nil {
		return eng
	}
	return (eng - s.Offset) / s.Factor
}

// ControlType is the command a control sends.
type ControlType string

// The control types.
const (
	ControlSingle             ControlType = "single"              // C_SC_NA_1 / C_SC_TA_1
	ControlDouble             ControlType = "double"              // C_DC_NA_1 / C_DC_TA_1
	ControlStep               ControlType = "step"                // C_RC_NA_1 / C_RC_TA_1, regulating step (lower/higher)
	ControlSetpointNormalized ControlType = "setpoint_normalized" // C_SE_NA_1 / C_SE_TA_1
	ControlSetpointScaled     ControlType = "setpoint_scaled"     // C_SE_NB_1 / C_SE_TB_1
	ControlSetpointFloat      ControlType = "setpoint_float"      // C_SE_NC_1 / C_SE_TC_1
)

// controlTypes lists, for each control type, its type IDs without and with
// time tag and the point kinds it may operate. Single and double commands
// cross over: ON/OFF map one to one onto the states of a single point (1/0)
// and of a double point (2/1). A regulating step moves a step position; a
// set-point carries a value in its point's own representation, so each
// kind of set-point sets only its kind of point.
var controlTypes = []struct {
	t     ControlType
	ids   [2]iec104.TypeID
	kinds []points.Kind
}{
	{ControlSingle, [2]iec104.TypeID{iec104.C_SC_NA_1, iec104.C_SC_TA_1}, []points.Kind{points.Single, points.Double}},
	{ControlDouble, [2]iec104.TypeID{iec104.C_DC_NA_1, iec104.C_DC_TA_1}, []points.Kind{points.Double, points.Single}},
	{ControlStep, [2]iec104.TypeID{iec104.C_RC_NA_1, iec104.C_RC_TA_1}, []points.Kind{points.Step}},
	{ControlSetpointNormalized, [2]iec104.TypeID{iec104.C_SE_NA_1, iec104.C_SE_TA_1}, []points.Kind{points.Normalized}},
	{ControlSetpointScaled, [2]iec104.TypeID{iec104.C_SE_NB_1, iec104.C_SE_TB_1}, []points.Kind{points.Scaled}},
	{ControlSetpointFloat, [2]iec104.TypeID{iec104.C_SE_NC_1, iec104.C_SE_TC_1}, []points.Kind{points.Float}},
}

// TypeID returns the command's type ID, with CP56Time2a (58..63) when
// timeTag is set; 0 for an unknown type.
func (t ControlType) TypeID(timeTag bool) iec104.TypeID {
	for _, c := range controlTypes {
		if c.t == t {
			if timeTag {
				return c.ids[1]
			}
			return c.ids[0]
		}
	}
	return 0
}

// PointKinds returns the kinds of point a control of type t may operate.
func (t ControlType) PointKinds() []points.Kind {
	for _, c := range controlTypes {
		if c.t == t {
			return slices.Clone(c.kinds)
		}
	}
	return nil
}

// Setpoint reports whether t carries a value (a set-point) rather than a
// state or a direction.
func (t ControlType) Setpoint() bool {
	return t == ControlSetpointNormalized || t == ControlSetpointScaled || t == ControlSetpointFloat
}

// Roles that may operate controls.
const (
	RoleOperator = "operator"
	RoleEngineer = "engineer"
	RoleAdmin    = "admin"
)

// Control is how a point is operated (ARCHITECTURE.md, Commands).
type Control struct {
	// Type is the command: single, double, step, setpoint_normalized,
	// setpoint_scaled or setpoint_float. It must suit the point's kind:
	// single and double commands operate single and double points, step
	// commands step points, each set-point its kind of point. Required.
	Type ControlType `yaml:"type"`
	// IOA is the command's information object address, 1..16777215.
	// Default: the point's IOA.
	IOA int `yaml:"ioa"`
	// SBO selects before it executes. Default true; false executes directly.
	SBO bool `yaml:"sbo"`
	// QU is the qualifier: for single, double and step commands QU 0..31
	// (0 none, 1 short pulse, 2 long pulse, 3 persistent); for set-points
	// QL 0..127. Default 0.
	QU int `yaml:"qu"`
	// TimeTag sends the command with CP56Time2a (type IDs 58..63).
	// Default false.
	TimeTag bool `yaml:"time_tag"`
	// SelectTimeout is how long a selection stays valid; only with SBO.
	// Default 30s.
	SelectTimeout Duration `yaml:"select_timeout"`
	// ResponseTimeout is how long each step waits for the device's answer
	// (ACTCON, ACTTERM, DEACTCON). Default 10s.
	ResponseTimeout Duration `yaml:"response_timeout"`
	// ActTerm is set when the device ends an execution with ACTTERM, which
	// is then awaited. Default true.
	ActTerm bool `yaml:"actterm"`
	// Roles may operate the point: operator, engineer, admin. Default all
	// three. Not empty.
	Roles []string `yaml:"roles"`
	// DoNotOperate tags the point: commands are refused until it is
	// cleared. Default false.
	DoNotOperate bool `yaml:"do_not_operate"`
	// Interlocks must all hold for a command to be accepted.
	Interlocks []Interlock `yaml:"interlocks"`
	// FailureAlarmPriority is the priority, 1..4, of the alarm a failed
	// command on the point raises (cleared by a command that succeeds);
	// 0 raises none. Default: alarms.command_failure_priority.
	FailureAlarmPriority int `yaml:"failure_alarm_priority"`
}

// TypeID returns the type ID the control sends.
func (c *Control) TypeID() iec104.TypeID { return c.Type.TypeID(c.TimeTag) }

// Interlock is a condition on a discrete point (single, double, step or
// bitstring): a command is refused unless that point's value equals Equals
// and its quality is good (not invalid, not stale, its link active).
type Interlock struct {
	// Point is the ID of the point tested. Required.
	Point string `yaml:"point"`
	// Equals is the value required: a number, or one of the point's
	// labels. Required.
	Equals string `yaml:"equals"`
	// Reason is shown to the operator when the interlock blocks.
	// Default: "NAME is not EQUALS", with the tested point's name.
	Reason string `yaml:"reason"`

	// Value is Equals as a raw value of the point (not a key).
	Value int64 `yaml:"-"`
}

// Simulator is an IEC 104 outstation that the server runs itself. It
// serves the points of its link (their kinds, addresses and controls).
type Simulator struct {
	// Name identifies the simulator: letters, digits, '.', '_' and '-'.
	// Default: its link's name. Unique.
	Name string `yaml:"name"`
	// Link is the name of the link whose points it serves. Required.
	Link string `yaml:"link"`
	// Listen is the host:port it accepts connections on, normally one of
	// the link's addresses. Required.
	Listen string `yaml:"listen"`
	// Rate is how many spontaneous value changes it makes per second,
	// 0..100000. Default 1.
	Rate float64 `yaml:"rate"`
	// TLS, when set, accepts only TLS connections with a client
	// certificate signed by TLS.CA.
	TLS *TLS `yaml:"tls"`
	// SelectTimeout is how long a selection stays valid. Default 30s.
	SelectTimeout Duration `yaml:"select_timeout"`
	// Model is what drives the values: "random" (Rate random changes per
	// second) or "substation" (the process model of a substation, which
	// binds to the points by their IDs; see package demo). Default random.
	Model string `yaml:"model"`
	// EventBuffer is how many spontaneous ASDUs the simulator keeps while no
	// master is started, and gives back when a connection ends with some
	// unacknowledged, for the next started connection (as lib60870's server
	// in its default mode), 0..4096. Default 0: such events are lost.
	EventBuffer int `yaml:"event_buffer"`
}

// Simulator models.
const (
	ModelRandom     = "random"
	ModelSubstation = "substation"
)

// Metrics is the Prometheus endpoint.
type Metrics struct {
	// Listen is the host:port that serves /metrics; empty serves none.
	Listen string `yaml:"listen"`
}

// Load reads and checks a configuration file (see Parse).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read: %v", unwrapPath(err))}}
	}
	return Parse(path, data)
}

// unwrapPath drops the file name that *fs.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Parse decodes and checks a configuration. name is the file's name, used
// in errors and as the base of relative file names. The error, if any, is
// Errors and lists every problem found.
func Parse(name string, data []byte) (*Config, error) {
	c, errs := parse(name, filepath.Dir(name), data)
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	return c, nil
}

// APCI returns the link's APCI parameters.
func (l *Link) APCI() iec104.Config {
	return iec104.Config{K: l.K, W: l.W, T0: l.T0.D(), T1: l.T1.D(), T2: l.T2.D(), T3: l.T3.D()}
}

// TLSConfig returns the link's TLS files and pins, or nil without TLS.
func (l *Link) TLSConfig() *iec104.TLSConfig { return l.TLS.iec104() }

// TLSConfig returns the simulator's TLS files and pins, or nil without TLS.
func (s *Simulator) TLSConfig() *iec104.TLSConfig { return s.TLS.iec104() }

func (t *TLS) iec104() *iec104.TLSConfig {
	if t == nil {
		return nil
	}
	return &iec104.TLSConfig{CertFile: t.Cert, KeyFile: t.Key, CAFile: t.CA, Pins: append([]string(nil), t.Pins...),
		PeerName: t.ServerName}
}

// Location returns the time zone of the station's time tags.
func (l *Link) Location() *time.Location { return location(&l.loc, l.TimeZone) }

// Location returns the time zone of the time that clock synchronization
// sends.
func (c *ClockSync) Location() *time.Location { return location(&c.loc, c.TimeZone) }

// location returns *loc, loading it from name first if need be (for a
// Config built in code); UTC if name is not a zone.
func location(loc **time.Location, name string) *time.Location {
	if *loc != nil {
		return *loc
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return l
}

// Link returns the link named name, or nil.
func (c *Config) Link(name string) *Link {
	for _, l := range c.Links {
		if l.Name == name {
			return l
		}
	}
	return nil
}

// Point returns the point with the ID id, or nil.
func (c *Config) Point(id string) *Point {
	for _, p := range c.Points {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Def returns the point's definition for points.New.
func (p *Point) Def() points.Def {
	return points.Def{
		ID: p.ID, Name: p.Name, Area: p.Area, Kind: p.Kind, Unit: p.Unit, Labels: slices.Clone(p.Labels),
		Link: p.Link, CA: uint16(p.CA), IOA: uint32(p.IOA), MaxAge: p.MaxAge.D(),
	}
}

// Defs returns the definitions of all points, in file order, for points.New.
func (c *Config) Defs() []points.Def {
	defs := make([]points.Def, len(c.Points))
	for i, p := range c.Points {
		defs[i] = p.Def()
	}
	return defs
}

// PointsOf returns the points of the link named link, in file order.
func (c *Config) PointsOf(link string) []*Point {
	var out []*Point
	for _, p := range c.Points {
		if p.Link == link {
			out = append(out, p)
		}
	}
	return out
}
