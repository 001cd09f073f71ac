package config

import (
	"cmp"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on hosts without a zoneinfo database

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"hmi/frontstation/iec104"
	"hmi/points"
)

// Defaults, as documented on the fields.
const (
	DefaultDataDir                  = "./hmi-data"
	DefaultHTTPListen               = "127.0.0.1:8080"
	DefaultIdleTimeout              = 30 * time.Minute
	DefaultAbsoluteTimeout          = 12 * time.Hour
	DefaultReconnectMin             = time.Second
	DefaultReconnectMax             = 30 * time.Second
	DefaultCaptureMaxSize  ByteSize = 10 * 1000 * 1000
	DefaultCaptureMaxFiles          = 10
	DefaultTrafficBuffer            = 500
	DefaultTimeZone                 = "UTC"
	DefaultSelectTimeout            = 30 * time.Second
	maxEventBuffer                  = 4096 // sim.MaxEventBuffer (config does not import sim)
	DefaultResponseTimeout          = 10 * time.Second
	DefaultSimulatorRate            = 1.0
)

// Limits of values.
const (
	maxIOA           = 1<<24 - 1
	maxCA            = 65534 // 65535 is the broadcast address
	maxTrafficBuffer = 1000000
	maxSimulatorRate = 100000
)

// roles are the roles that may be given the right to operate a control.
var roles = []string{RoleOperator, RoleEngineer, RoleAdmin}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// parse decodes and checks data; relative file names are taken from dir.
func parse(name, dir string, data []byte) (*Config, Errors) {
	f, err := parseYAML(data)
	if err != nil {
		e := &Error{File: name, Msg: err.Error()}
		var ye yaml.Error
		if errors.As(err, &ye) {
			p := tokenPos(ye.GetToken())
			e.Line, e.Col, e.Msg = p.line, p.col, ye.GetMessage()
		}
		return nil, Errors{e}
	}
	d := newDecoder(name)
	c := &Config{File: name}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		if body != nil {
			d.errorf(nodePos(doc.Body), "a second YAML document: the configuration is one document")
			break
		}
		body = doc.Body
	}
	if body != nil {
		d.collectAnchors(body, 0)
		d.vals[""] = nodePos(body)
		d.decode(body, reflect.ValueOf(c).Elem(), "")
	}
	k := &checker{decoder: d, c: c, dir: dir}
	k.check()
	return c, d.errs
}

// parseYAML is parser.ParseBytes, keeping repeated keys for the decoder to
// report with the others, and turning a panic of the parser into an error.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// checker applies the defaults and checks the values, reporting at the
// positions the decoder recorded.
type checker struct {
	*decoder
	c   *Config
	dir string
}

// bad reports whether path's value, or an enclosing one, did not decode:
// the decoder reported it already.
func (k *checker) isBad(path string) bool {
	for {
		if k.bad[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parent(path)
	}
}

// given reports whether the file gives path a value that decoded. A key
// without a value ("t1:") takes the default.
func (k *checker) given(path string) bool { return k.has(path) && !k.null[path] && !k.isBad(path) }

// fail reports a problem of path's value as "KEY: message" at the value (at
// the enclosing item for a key the file does not give).
//
// A value that comes through an alias or a merge key is reported where it
// is written, and the message says through which alias or merge key.
func (k *checker) fail(path, format string, args ...any) {
	if k.isBad(path) {
		return
	}
	msg := fmt.Sprintf("%s: "+format, append([]any{label(path)}, args...)...)
	for p := path; ; p = parent(p) {
		if v, ok := k.via[p]; ok {
			msg += fmt.Sprintf(" (through the %s at line %d)", v.what, v.at.line)
			break
		}
		if p == "" {
			break
		}
	}
	k.errorf(k.at(path), "%s", msg)
}

func setDefault[T any](k *checker, path string, v *T, def T) {
	if !k.given(path) {
		*v = def
	}
}

// required reports an empty string (after defaults): missing, or given
// empty; false if so.
func (k *checker) required(path, s string) bool {
	switch {
	case s != "":
		return true
	case k.isBad(path):
	case !k.has(path):
		k.fail(path, "required")
	default:
		k.fail(path, "must not be empty")
	}
	return false
}

func (k *checker) intRange(path string, v, lo, hi int) bool {
	if v < lo || v > hi {
		k.fail(path, "%d out of range %d..%d", v, lo, hi)
		return false
	}
	return true
}

func (k *checker) positive(path string, d Duration) {
	if d <= 0 {
		k.fail(path, "must be more than 0")
	}
}

// duration applies a default and requires a positive duration.
func (k *checker) duration(path string, d *Duration, def time.Duration) {
	setDefault(k, path, d, Duration(def))
	k.positive(path, *d)
}

// name checks an identifier that must be unique among first.
func (k *checker) name(path, s, what string, first map[string]pos) {
	if !k.required(path, s) {
		return
	}
	if !nameRE.MatchString(s) {
		k.fail(path, "%q: use letters, digits, '.', '_' and '-', starting with a letter or digit", s)
		return
	}
	if p, dup := first[s]; dup {
		k.fail(path, "duplicate %s %q (first at line %d)", what, s, p.line)
		return
	}
	first[s] = k.at(path)
}

// address checks a host:port. A listen address may leave the host empty
// (every interface) and use port 0 (any free port).
func (k *checker) address(path, s string, listen bool) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		k.fail(path, "%q: want host:port", s)
		return false
	}
	n, err := strconv.Atoi(port)
	lo := 1
	if listen {
		lo = 0
	}
	switch {
	case !listen && host == "":
		k.fail(path, "%q: host missing", s)
	case strings.ContainsAny(host, " \t/\\@?#%[]"):
		k.fail(path, "%q: bad host %q", s, host)
	case strings.Contains(host, ":") && net.ParseIP(host) == nil:
		k.fail(path, "%q: bad IPv6 address %q", s, host)
	case err != nil || n < lo || n > 65535:
		k.fail(path, "%q: port %q out of range %d..65535", s, port, lo)
	default:
		return true
	}
	return false
}

// location checks an IANA time zone name.
func (k *checker) location(path, zone string) *time.Location {
	if !k.required(path, zone) {
		return nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		k.fail(path, "unknown time zone %q (want an IANA name such as UTC or Europe/Paris)", zone)
		return nil
	}
	return loc
}

// resolve makes a relative file name relative to the configuration's directory.
func (k *checker) resolve(name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(k.dir, name)
}

// file checks that a required file exists, and makes *name usable from any
// working directory.
func (k *checker) file(path string, name *string) bool {
	if !k.required(path, *name) {
		return false
	}
	r := k.resolve(*name)
	shown := strconv.Quote(*name)
	if filepath.Clean(*name) != r {
		shown += " (" + r + ")"
	}
	st, err := os.Stat(r)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k.fail(path, "file %s does not exist", shown)
		return false
	case err != nil:
		k.fail(path, "file %s: %v", shown, unwrapPath(err))
		return false
	case st.IsDir():
		k.fail(path, "%s is a directory, want a file", shown)
		return false
	}
	*name = r
	return true
}

// keyPair checks that a certificate and its key load together.
func (k *checker) keyPair(path, cert, key string) {
	if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
		k.fail(path, "cert and key do not load: %s", strings.TrimPrefix(err.Error(), "tls: "))
	}
}

func (k *checker) serverTLS(path string, t *ServerTLS) {
	okc := k.file(join(path, "cert"), &t.Cert)
	okk := k.file(join(path, "key"), &t.Key)
	if okc && okk {
		k.keyPair(path, t.Cert, t.Key)
	}
}

func (k *checker) tls(path string, t *TLS) {
	okc := k.file(join(path, "cert"), &t.Cert)
	okk := k.file(join(path, "key"), &t.Key)
	if okc && okk {
		k.keyPair(path, t.Cert, t.Key)
	}
	if k.file(join(path, "ca"), &t.CA) {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			k.fail(join(path, "ca"), "%v", unwrapPath(err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			k.fail(join(path, "ca"), "no PEM certificate in %q", t.CA)
		}
	}
	for i, pin := range t.Pins {
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(pin), ":", ""))
		if err != nil || len(b) != sha256.Size {
			k.fail(index(join(path, "pins"), i), "%q is not a SHA-256 fingerprint (want 64 hex digits, colons allowed)", pin)
		}
	}
	if k.given(join(path, "server_name")) {
		k.serverName(join(path, "server_name"), t.ServerName)
	}
}

// serverName checks the name a station's certificate must carry: a host
// name, an IP address or a common name, without port or wildcard.
func (k *checker) serverName(path, name string) {
	switch {
	case name == "":
		k.fail(path, "empty: give the name the station's certificate carries, or leave server_name out")
	case strings.TrimSpace(name) != name:
		k.fail(path, "%q has leading or trailing spaces", name)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		k.fail(path, "%q contains control characters", name)
	case strings.Contains(name, "*"):
		k.fail(path, "%q: want the station's own name, not a wildcard", name)
	case strings.Contains(name, ":") && net.ParseIP(name) == nil:
		k.fail(path, "%q: want a host name or an IP address, without port or brackets", name)
	}
}

func (k *checker) check() {
	c := k.c
	setDefault(k, "data_dir", &c.DataDir, DefaultDataDir)
	if k.required("data_dir", c.DataDir) {
		c.DataDir = k.resolve(c.DataDir)
	}
	k.checkHTTP()
	k.checkAlarmSettings()
	k.checkLinks()
	k.checkPoints()
	k.checkInterlocks()
	k.checkDisplays()
	k.checkSimulators()
	if c.Metrics.Listen != "" {
		k.address("metrics.listen", c.Metrics.Listen, true)
	}
	k.checkListeners()
}

func (k *checker) checkHTTP() {
	h := &k.c.HTTP
	setDefault(k, "http.listen", &h.Listen, DefaultHTTPListen)
	if k.required("http.listen", h.Listen) {
		k.address("http.listen", h.Listen, true)
	}
	if h.TLS != nil {
		k.serverTLS("http.tls", h.TLS)
	}
	k.duration("http.session.idle_timeout", &h.Session.IdleTimeout, DefaultIdleTimeout)
	k.duration("http.session.absolute_timeout", &h.Session.AbsoluteTimeout, DefaultAbsoluteTimeout)
	if h.Session.IdleTimeout > h.Session.AbsoluteTimeout {
		if k.given("http.session.idle_timeout") {
			k.fail("http.session.idle_timeout", "%v is longer than absolute_timeout (%v)", h.Session.IdleTimeout, h.Session.AbsoluteTimeout)
		} else {
			k.fail("http.session.absolute_timeout", "%v is shorter than idle_timeout (%v)", h.Session.AbsoluteTimeout, h.Session.IdleTimeout)
		}
	}
}

func (k *checker) checkLinks() {
	names := make(map[string]pos)
	type user struct {
		link string
		line int
	}
	addrs := make(map[string]user)
	for i, l := range k.c.Links {
		p := index("links", i)
		if k.isBad(p) {
			continue
		}
		k.name(join(p, "name"), l.Name, "link name", names)

		ap := join(p, "addresses")
		switch {
		case k.isBad(ap):
		case !k.has(ap):
			k.fail(ap, "required")
		case len(l.Addresses) == 0:
			k.fail(ap, "want at least one host:port")
		}
		for j, a := range l.Addresses {
			aj := index(ap, j)
			if !k.required(aj, a) || !k.address(aj, a, false) {
				continue
			}
			if u, dup := addrs[a]; dup {
				k.fail(aj, "%q already used by link %q (line %d)", a, u.link, u.line)
				continue
			}
			addrs[a] = user{l.Name, k.at(aj).line}
		}

		if k.given(join(p, "ca")) {
			k.intRange(join(p, "ca"), l.CA, 1, maxCA)
		} else {
			k.fail(join(p, "ca"), "required")
		}
		k.intRange(join(p, "originator"), l.Originator, 0, 255)
		if l.TLS != nil {
			k.tls(join(p, "tls"), l.TLS)
		}
		k.checkAPCI(p, l)

		ip := join(p, "interrogation")
		seen := make(map[int]bool)
		for j, g := range l.Interrogation.Groups {
			gp := index(join(ip, "groups"), j)
			if k.intRange(gp, g, 1, 16) && seen[g] {
				k.fail(gp, "group %d listed twice", g)
			}
			seen[g] = true
		}

		setDefault(k, join(p, "time_zone"), &l.TimeZone, DefaultTimeZone)
		l.loc = k.location(join(p, "time_zone"), l.TimeZone)
		if cs := l.ClockSync; cs != nil {
			setDefault(k, join(p, "clock_sync.time_zone"), &cs.TimeZone, l.TimeZone)
			cs.loc = k.location(join(p, "clock_sync.time_zone"), cs.TimeZone)
		}

		rp := join(p, "reconnect")
		k.duration(join(rp, "min"), &l.Reconnect.Min, DefaultReconnectMin)
		k.duration(join(rp, "max"), &l.Reconnect.Max, DefaultReconnectMax)
		if l.Reconnect.Max < l.Reconnect.Min && !k.isBad(join(rp, "min")) {
			k.fail(join(rp, "max"), "%v is less than min %v", l.Reconnect.Max, l.Reconnect.Min)
		}

		if cp := l.Capture; cp != nil {
			pp := join(p, "capture")
			if k.given(join(pp, "dir")) {
				if k.required(join(pp, "dir"), cp.Dir) {
					cp.Dir = k.resolve(cp.Dir)
				}
			} else {
				cp.Dir = filepath.Join(k.c.DataDir, "capture", l.Name)
			}
			setDefault(k, join(pp, "max_size"), &cp.MaxSize, DefaultCaptureMaxSize)
			if cp.MaxSize <= 0 {
				k.fail(join(pp, "max_size"), "must be more than 0")
			}
			setDefault(k, join(pp, "max_files"), &cp.MaxFiles, DefaultCaptureMaxFiles)
			if cp.MaxFiles < 1 {
				k.fail(join(pp, "max_files"), "%d, want at least 1", cp.MaxFiles)
			}
		}

		setDefault(k, join(p, "traffic_buffer"), &l.TrafficBuffer, DefaultTrafficBuffer)
		k.intRange(join(p, "traffic_buffer"), l.TrafficBuffer, 1, maxTrafficBuffer)
		k.checkLinkAlarm(p, l)
	}
}

// checkAPCI applies the defaults of k, w, t0..t3 and checks them as
// iec104.Config.Validate does, each at its key.
func (k *checker) checkAPCI(p string, l *Link) {
	def := iec104.DefaultConfig()
	kp, wp, t1p, t2p := join(p, "k"), join(p, "w"), join(p, "t1"), join(p, "t2")
	setDefault(k, kp, &l.K, def.K)
	setDefault(k, wp, &l.W, def.W)
	okK := k.intRange(kp, l.K, 1, 32767)
	okW := k.intRange(wp, l.W, 1, 32767)
	if okK && okW && 3*l.W > 2*l.K && !k.isBad(kp) {
		if k.given(wp) {
			k.fail(wp, "%d is more than two thirds of k (%d)", l.W, l.K)
		} else {
			k.fail(kp, "%d is too small for w %d (w must not exceed two thirds of k)", l.K, l.W)
		}
	}
	k.duration(join(p, "t0"), &l.T0, def.T0)
	k.duration(t1p, &l.T1, def.T1)
	k.duration(t2p, &l.T2, def.T2)
	k.duration(join(p, "t3"), &l.T3, def.T3)
	if l.T2 >= l.T1 && l.T2 > 0 && !k.isBad(t1p) {
		if k.given(t2p) {
			k.fail(t2p, "%v must be less than t1 (%v)", l.T2, l.T1)
		} else {
			k.fail(t1p, "%v must be more than t2 (%v)", l.T1, l.T2)
		}
	}
}

// discrete kinds have states that an interlock can test.
func discrete(kind points.Kind) bool {
	return kind == points.Single || kind == points.Double || kind == points.Step || kind == points.Bitstring
}

func (k *checker) checkPoints() {
	ids := make(map[string]pos)
	type addr struct {
		link    string
		ca, ioa int
		kind    string // the point's kind or the control's type
	}
	type user struct {
		id   string
		line int
	}
	addrs := make(map[addr]user)
	cmds := make(map[addr]user)
	for i, pt := range k.c.Points {
		p := index("points", i)
		if k.isBad(p) {
			continue
		}
		k.name(join(p, "id"), pt.ID, "point id", ids)
		setDefault(k, join(p, "name"), &pt.Name, pt.ID)
		if k.given(join(p, "name")) {
			k.required(join(p, "name"), pt.Name)
		}

		var l *Link
		if k.required(join(p, "link"), pt.Link) {
			if l = k.c.Link(pt.Link); l == nil && !k.isBad("links") {
				k.fail(join(p, "link"), "no link named %q%s", pt.Link, k.linkNames())
			}
		}

		area := join(p, "area")
		if !k.given(area) && l != nil {
			pt.Area = l.Name
		}
		if k.given(area) && k.required(area, pt.Area) {
			if segs := strings.Split(pt.Area, "/"); slices.Contains(segs, "") {
				k.fail(area, "%q: want a slash path such as north/feeder1, without empty parts", pt.Area)
			}
		}

		cap_ := join(p, "ca")
		okCA := false
		switch {
		case k.given(cap_):
			okCA = k.intRange(cap_, pt.CA, 1, maxCA)
		case l != nil && !k.isBad(cap_):
			pt.CA = l.CA
			okCA = l.CA >= 1 && l.CA <= maxCA
		}

		ioa := join(p, "ioa")
		okIOA := false
		if k.given(ioa) {
			okIOA = k.intRange(ioa, pt.IOA, 1, maxIOA)
		} else {
			k.fail(ioa, "required")
		}

		kp := join(p, "kind")
		okKind := pt.Kind.Valid()
		if !k.given(kp) {
			k.fail(kp, "required")
		}

		if l != nil && okCA && okIOA && okKind {
			a := addr{l.Name, pt.CA, pt.IOA, pt.Kind.String()}
			if u, dup := addrs[a]; dup {
				k.fail(ioa, "point %q has the same address (link %s, ca %d, ioa %d, %s) as point %q (line %d)",
					pt.ID, l.Name, pt.CA, pt.IOA, pt.Kind, u.id, u.line)
			} else {
				addrs[a] = user{pt.ID, k.at(p).line}
			}
		}

		if okKind {
			k.checkLabels(join(p, "labels"), pt)
			if pt.Scale != nil {
				sp := join(p, "scale")
				if pt.Kind == points.Single || pt.Kind == points.Double || pt.Kind == points.Bitstring {
					k.fail(sp, "a %s point has no value to scale", pt.Kind)
				}
				setDefault(k, join(sp, "factor"), &pt.Scale.Factor, 1)
				if pt.Scale.Factor == 0 {
					k.fail(join(sp, "factor"), "must not be 0")
				}
			}
			if pt.Alarm != nil {
				k.checkPointAlarm(p, pt)
			}
			if pt.History != nil {
				k.checkPointHistory(p, pt)
			}
		}

		if c := pt.Control; c != nil {
			cp := join(p, "control")
			if okType := k.checkControl(cp, pt, okKind); okType && l != nil && okCA && !k.isBad(cap_) && c.IOA >= 1 && c.IOA <= maxIOA {
				a := addr{l.Name, pt.CA, c.IOA, string(c.Type)}
				if u, dup := cmds[a]; dup {
					k.fail(join(cp, "ioa"), "the %s command at ioa %d (link %s, ca %d) already operates point %q (line %d)",
						c.Type, c.IOA, l.Name, pt.CA, u.id, u.line)
				} else {
					cmds[a] = user{pt.ID, k.at(p).line}
				}
			}
		}
	}
}

// checkLabels checks the number of state labels for the point's kind.
func (k *checker) checkLabels(path string, pt *Point) {
	n := len(pt.Labels)
	if n == 0 {
		return
	}
	switch pt.Kind {
	case points.Single:
		if n != 2 {
			k.fail(path, "a single point takes 2 labels (for 0 and 1), got %d", n)
		}
	case points.Double:
		if n != 2 && n != 4 {
			k.fail(path, "a double point takes 2 labels (off, on) or 4 (intermediate, off, on, faulty), got %d", n)
		}
	case points.Bitstring:
		if n > 32 {
			k.fail(path, "a bitstring takes up to 32 labels (one per bit), got %d", n)
		}
	default:
		k.fail(path, "a %s point takes no labels", pt.Kind)
		return
	}
	for i, s := range pt.Labels {
		k.required(index(path, i), s)
	}
}

// checkControl applies the control's defaults and checks it; it reports
// whether the type is known.
func (k *checker) checkControl(cp string, pt *Point, okKind bool) bool {
	c := pt.Control
	tp := join(cp, "type")
	okType := false
	if k.required(tp, string(c.Type)) {
		if okType = c.Type.TypeID(false) != 0; !okType {
			names := make([]string, len(controlTypes))
			for i, t := range controlTypes {
				names[i] = string(t.t)
			}
			k.fail(tp, "unknown control type %q (want %s)", c.Type, strings.Join(names, ", "))
		}
	}
	if okType && okKind {
		for _, t := range controlTypes {
			if t.t == c.Type && !slices.Contains(t.kinds, pt.Kind) {
				names := make([]string, len(t.kinds))
				for i, pk := range t.kinds {
					names[i] = pk.String()
				}
				k.fail(tp, "a %s command cannot operate a %s point (it operates %s points)", c.Type, pt.Kind, strings.Join(names, " and "))
			}
		}
	}

	ip := join(cp, "ioa")
	setDefault(k, ip, &c.IOA, pt.IOA)
	if k.given(ip) {
		k.intRange(ip, c.IOA, 1, maxIOA)
	}
	setDefault(k, join(cp, "sbo"), &c.SBO, true)
	if okType {
		if c.Type.Setpoint() {
			k.intRange(join(cp, "qu"), c.QU, 0, 127)
		} else {
			k.intRange(join(cp, "qu"), c.QU, 0, 31)
		}
	}
	sp := join(cp, "select_timeout")
	if !c.SBO && k.given(sp) {
		k.fail(sp, "applies only with sbo: true")
	}
	k.duration(sp, &c.SelectTimeout, DefaultSelectTimeout)
	k.duration(join(cp, "response_timeout"), &c.ResponseTimeout, DefaultResponseTimeout)
	setDefault(k, join(cp, "actterm"), &c.ActTerm, true)
	k.checkFailureAlarm(cp, c)

	rp := join(cp, "roles")
	setDefault(k, rp, &c.Roles, slices.Clone(roles))
	if len(c.Roles) == 0 {
		k.fail(rp, "empty: nobody could operate the point (set do_not_operate to forbid commands)")
	}
	for i, r := range c.Roles {
		ri := index(rp, i)
		switch {
		case !slices.Contains(roles, r):
			k.fail(ri, "unknown role %q (want %s)", r, strings.Join(roles, ", "))
		case slices.Index(c.Roles, r) < i:
			k.fail(ri, "role %q listed twice", r)
		}
	}
	return okType
}

// checkInterlocks checks the interlocks once every point is known.
func (k *checker) checkInterlocks() {
	for i, pt := range k.c.Points {
		if pt.Control == nil {
			continue
		}
		for j := range pt.Control.Interlocks {
			il := &pt.Control.Interlocks[j]
			p := index(fmt.Sprintf("points[%d].control.interlocks", i), j)
			if k.isBad(p) {
				continue
			}
			okEq := k.required(join(p, "equals"), il.Equals)
			if !k.required(join(p, "point"), il.Point) {
				continue
			}
			target := k.c.Point(il.Point)
			switch {
			case target == nil:
				k.fail(join(p, "point"), "no point with id %q", il.Point)
				continue
			case !target.Kind.Valid():
				continue
			case !discrete(target.Kind):
				k.fail(join(p, "point"), "point %q is a %s point; an interlock tests a single, double, step or bitstring point", il.Point, target.Kind)
				continue
			}
			if !okEq {
				continue
			}
			v, ok := stateValue(target, il.Equals)
			if !ok {
				k.fail(join(p, "equals"), "%q is not a state of point %q (%s)", il.Equals, il.Point, states(target))
				continue
			}
			il.Value = v
			setDefault(k, join(p, "reason"), &il.Reason, fmt.Sprintf("%s is not %s", target.Name, il.Equals))
		}
	}
}

// kindRange is the raw value range of a discrete kind.
func kindRange(kind points.Kind) (lo, hi int64) {
	switch kind {
	case points.Single:
		return 0, 1
	case points.Double:
		return 0, 3
	case points.Step:
		return -64, 63
	}
	return 0, math.MaxUint32 // bitstring
}

// stateValue reads s as a raw value of the discrete point pt: one of its
// labels, or a number in range (single points also take true and false).
func stateValue(pt *Point, s string) (int64, bool) {
	if i := slices.Index(pt.Labels, s); i >= 0 && pt.Kind != points.Bitstring {
		if pt.Kind == points.Double && len(pt.Labels) == 2 {
			i++ // off, on are 1, 2
		}
		return int64(i), true
	}
	if pt.Kind == points.Single {
		switch s {
		case "true":
			return 1, true
		case "false":
			return 0, true
		}
	}
	v, err := strconv.ParseInt(s, 0, 64)
	lo, hi := kindRange(pt.Kind)
	return v, err == nil && v >= lo && v <= hi
}

// states describes the values stateValue takes for pt.
func states(pt *Point) string {
	lo, hi := kindRange(pt.Kind)
	s := fmt.Sprintf("want %d..%d", lo, hi)
	if len(pt.Labels) > 0 && pt.Kind != points.Bitstring {
		s += " or " + strings.Join(pt.Labels, ", ")
	}
	return s
}

func (k *checker) checkSimulators() {
	names := make(map[string]pos)
	for i, s := range k.c.Simulators {
		p := index("simulators", i)
		if k.isBad(p) {
			continue
		}
		lp := join(p, "link")
		if k.required(lp, s.Link) && k.c.Link(s.Link) == nil && !k.isBad("links") {
			k.fail(lp, "no link named %q%s", s.Link, k.linkNames())
		}
		np := join(p, "name")
		switch {
		case k.given(np):
			k.name(np, s.Name, "simulator name", names)
		case s.Link != "":
			s.Name = s.Link
			if first, dup := names[s.Name]; dup {
				k.fail(np, "required: the default, the link's name %q, already names the simulator at line %d", s.Name, first.line)
			} else {
				names[s.Name] = k.at(p)
			}
		}
		if k.required(join(p, "listen"), s.Listen) {
			k.address(join(p, "listen"), s.Listen, true)
		}
		rp, mp := join(p, "rate"), join(p, "model")
		switch s.Model {
		case "":
			s.Model = ModelRandom
		case ModelRandom:
		case ModelSubstation:
			if k.given(rp) {
				k.fail(rp, "not with model %s: the model makes the changes", s.Model)
			}
		default:
			k.fail(mp, "unknown model %q, want %s or %s", s.Model, ModelRandom, ModelSubstation)
		}
		if s.Model == ModelRandom {
			setDefault(k, rp, &s.Rate, DefaultSimulatorRate)
		}
		if s.Rate < 0 || s.Rate > maxSimulatorRate {
			k.fail(rp, "%g out of range 0..%d", s.Rate, maxSimulatorRate)
		}
		if s.TLS != nil {
			k.tls(join(p, "tls"), s.TLS)
			if k.given(join(join(p, "tls"), "server_name")) {
				k.fail(join(join(p, "tls"), "server_name"), "only a link checks its peer's name; a simulator checks the master's certificate by ca and pins")
			}
		}
		k.duration(join(p, "select_timeout"), &s.SelectTimeout, DefaultSelectTimeout)
		if s.EventBuffer < 0 || s.EventBuffer > maxEventBuffer {
			k.fail(join(p, "event_buffer"), "%d out of range 0..%d", s.EventBuffer, maxEventBuffer)
		}
	}
}

// linkNames lists the links' names for messages: " (links: a, b)".
func (k *checker) linkNames() string {
	var names []string
	for _, l := range k.c.Links {
		if l.Name != "" && !slices.Contains(names, l.Name) {
			names = append(names, l.Name)
		}
	}
	if len(names) == 0 {
		return " (there are no links)"
	}
	return " (links: " + strings.Join(names, ", ") + ")"
}

// checkListeners reports two servers on one address (port 0 excepted), at
// the later one in the file.
func (k *checker) checkListeners() {
	type listener struct{ path, addr string }
	ls := []listener{{"http.listen", k.c.HTTP.Listen}, {"metrics.listen", k.c.Metrics.Listen}}
	for i, s := range k.c.Simulators {
		ls = append(ls, listener{index("simulators", i) + ".listen", s.Listen})
	}
	slices.SortStableFunc(ls, func(a, b listener) int {
		pa, pb := k.at(a.path), k.at(b.path)
		return cmp.Or(cmp.Compare(pa.line, pb.line), cmp.Compare(pa.col, pb.col))
	})
	first := make(map[string]string)
	for _, l := range ls {
		if _, port, err := net.SplitHostPort(l.addr); err != nil || port == "0" || k.isBad(l.path) {
			continue
		}
		if f, dup := first[l.addr]; dup {
			where := fmt.Sprintf("line %d", k.at(f).line)
			if !k.has(f) {
				where = "its default"
			}
			k.fail(l.path, "%q already used by %s (%s)", l.addr, f, where)
			continue
		}
		first[l.addr] = l.path
	}
}
