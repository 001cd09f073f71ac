package web

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"hmi/points"
)

// Value formatting, shared by the pages, the API and the WebSocket so that every view says the same.

// doubleNames are the states of a double point without labels, by raw value.
var doubleNames = [4]string{"intermediate", "off", "on", "faulty"}

// valueText returns the value of a point as people read it: the state label of a discrete point, the number with
// its unit for the others; "—" for a point that has no value yet.
func valueText(d *points.Def, v points.Value) string {
	if v.Quality.Has(points.Initial) {
		return "—"
	}
	return formatValue(d, v.Value)
}

// formatValue formats x as a value of the point d.
func formatValue(d *points.Def, x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	switch d.Kind {
	case points.Single:
		i := int(x)
		if float64(i) == x && i >= 0 && i < len(d.Labels) {
			return d.Labels[i]
		}
		switch x {
		case 0:
			return "off"
		case 1:
			return "on"
		}
	case points.Double:
		i := int(x)
		if float64(i) == x && i >= 0 && i <= 3 {
			switch {
			case len(d.Labels) == 4:
				return d.Labels[i]
			case len(d.Labels) == 2 && (i == 1 || i == 2):
				return d.Labels[i-1]
			}
			return doubleNames[i]
		}
	case points.Bitstring:
		bits := uint32(x)
		s := "0x" + strings.ToUpper(strconv.FormatUint(uint64(bits)|1<<32, 16)[1:])
		if len(d.Labels) > 0 {
			var set []string
			for i, l := range d.Labels {
				if bits&(1<<i) != 0 {
					set = append(set, l)
				}
			}
			if len(set) > 0 {
				s += " (" + strings.Join(set, ", ") + ")"
			}
		}
		return s
	}
	s := formatNumber(x, d.Kind)
	if d.Unit != "" {
		s += " " + d.Unit
	}
	return s
}

// formatNumber formats x as people read it. It is the one rule of every view: the pages, the API, the WebSocket's
// "text", and formatNumber of static/js/live.js, which the tests hold to the same cases (web/testdata/numbers.json):
//
//   - kinds whose values are integers (single, double, step, scaled, counter) holding an integer: all its digits,
//     below 1e15 in magnitude;
//   - otherwise, from 0.001 to below 1e9 in magnitude, plain decimals: three below 10, two below 100, one below
//     1000, none from 1000 on (so at most four significant digits, but every digit of the integer part), rounded
//     to nearest with halves away from zero, as JavaScript's toFixed does, and trailing zeros trimmed;
//   - beyond that range, scientific notation with at most three significant digits, trimmed: 1.23e+9, 5e-4;
//   - zero is "0" (never "-0"); NaN, +Inf and -Inf as Go writes them.
func formatNumber(x float64, k points.Kind) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return strconv.FormatFloat(x, 'g', -1, 64)
	case x == 0:
		return "0"
	}
	switch k {
	case points.Step, points.Scaled, points.Counter, points.Single, points.Double:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatFloat(x, 'f', 0, 64)
		}
	}
	a := math.Abs(x)
	var s string
	switch {
	case a >= 1e9 || a < 1e-3:
		s = scientific(a)
	case a >= 1000:
		s = fixed(a, 0)
	case a >= 100:
		s = fixed(a, 1)
	case a >= 10:
		s = fixed(a, 2)
	default:
		s = fixed(a, 3)
	}
	if x < 0 && s != "0" {
		s = "-" + s
	}
	return s
}

// fixed formats a >= 0 with d decimals, rounded to nearest with halves away from zero, trailing zeros trimmed.
// strconv rounds an exact half to even: such a half, whose next digit is a 5, is rounded exactly instead.
func fixed(a float64, d int) string {
	s := strconv.FormatFloat(a, 'f', d, 64)
	if t := strconv.FormatFloat(a, 'f', d+1, 64); t[len(t)-1] == '5' {
		s = new(big.Rat).SetFloat64(a).FloatString(d)
	}
	return trimZeros(s)
}

// scientific formats a > 0 with three significant digits as JavaScript's toExponential(2) does, trimmed:
// "1.23e+9", "5e-4".
func scientific(a float64) string {
	s := strconv.FormatFloat(a, 'e', 2, 64) // d.dde±XX
	mant, exp, _ := strings.Cut(s, "e")
	e, _ := strconv.Atoi(exp)
	if t := strconv.FormatFloat(a, 'e', 3, 64); t[4] == '5' { // maybe an exact half: round it exactly
		r := new(big.Rat).SetFloat64(a)
		p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(e, -e))), nil))
		if e >= 0 {
			r.Quo(r, p)
		} else {
			r.Mul(r, p)
		}
		mant = r.FloatString(2)
		if strings.HasPrefix(mant, "10") {
			mant, e = "1.00", e+1
		}
	}
	sign := "+"
	if e < 0 {
		sign, e = "-", -e
	}
	return trimZeros(mant) + "e" + sign + strconv.Itoa(e)
}

// trimZeros drops the trailing zeros of a decimal fraction, and its point when nothing is left after it.
func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// qualityWords are the flags of a quality in words, as the pages and live.js say them.
var qualityWords = [...]struct {
	f       points.Quality
	class   string
	word    string
	meaning string
}{
	{points.IV, "q-invalid", "invalid", "IV, invalid: the device says the value is not correct (a failed sensor, a measurement out of order)"},
	{points.NT, "q-nt", "not topical", "NT, not topical: the device could not refresh the value in time; it may be out of date"},
	{points.SB, "q-sb", "substituted", "SB, substituted: the value was entered by an operator or an automatic source, not measured"},
	{points.BL, "q-bl", "blocked", "BL, blocked: the value is frozen at the source and will not change"},
	{points.OV, "q-ov", "overflow", "OV, overflow: the value is beyond the range it can be transmitted in"},
	{points.CommFail, "q-commfail", "comm fail", "comm fail: the link to the device is not active; this is the last value received"},
	{points.Stale, "q-stale", "stale", "stale: no update came within the point's maximum age"},
	{points.Initial, "q-initial", "no value yet", "no value yet: nothing received since the server started"},
}

// badQuality are the flags that make a value untrustworthy (q-bad).
const badQuality = points.IV | points.CommFail | points.Stale | points.Initial

// qualityText returns the quality in words: "good", or the flags joined with ", ".
func qualityText(q points.Quality) string {
	if q.Good() {
		return "good"
	}
	var words []string
	for _, w := range qualityWords {
		if q&w.f != 0 {
			words = append(words, w.word)
		}
	}
	return strings.Join(words, ", ")
}

// pointClasses returns the classes live.js would set on a point's element: the q-* flags, q-bad and state-N.
func pointClasses(d *points.Def, v points.Value) string {
	var cls []string
	for _, w := range qualityWords {
		if v.Quality&w.f != 0 {
			cls = append(cls, w.class)
		}
	}
	if v.Quality&badQuality != 0 {
		cls = append(cls, "q-bad")
	}
	if (d.Kind == points.Single || d.Kind == points.Double) && !v.Quality.Has(points.Initial) &&
		v.Value == math.Trunc(v.Value) && v.Value >= 0 && v.Value <= 3 {
		cls = append(cls, "state-"+strconv.Itoa(int(v.Value)))
	}
	return strings.Join(cls, " ")
}

// timeText formats t as local HH:MM:SS.mmm (the server's zone), "" for the zero time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("15:04:05.000")
}

// shortTime formats t as local time for the narrow columns of lists: HH:MM:SS on the day of now, the date and
// HH:MM otherwise; "" for the zero time.
func shortTime(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t, now = t.Local(), now.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

// dateTimeText formats t as local date and time to the millisecond, "" for the zero time.
func dateTimeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05.000")
}

// isoTime formats t for datetime attributes and JSON, "" for the zero time.
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// JSON appenders for the hot path (the WebSocket's point messages): no reflection, no intermediate values.

// appendString appends s as a JSON string, escaping as encoding/json does for HTML safety.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendFloat appends x as a JSON number, null when it is not finite.
func appendFloat(dst []byte, x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return append(dst, "null"...)
	}
	return strconv.AppendFloat(dst, x, 'g', -1, 64)
}

// appendTime appends t as a JSON string in RFC 3339 with nanoseconds, null for the zero time.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// appendQuality appends q as the contract's quality object.
func appendQuality(dst []byte, q points.Quality) []byte {
	dst = append(dst, `{"iv":`...)
	dst = appendBool(dst, q&points.IV != 0)
	dst = append(dst, `,"nt":`...)
	dst = appendBool(dst, q&points.NT != 0)
	dst = append(dst, `,"sb":`...)
	dst = appendBool(dst, q&points.SB != 0)
	dst = append(dst, `,"bl":`...)
	dst = appendBool(dst, q&points.BL != 0)
	dst = append(dst, `,"ov":`...)
	dst = appendBool(dst, q&points.OV != 0)
	dst = append(dst, `,"commfail":`...)
	dst = appendBool(dst, q&points.CommFail != 0)
	dst = append(dst, `,"stale":`...)
	dst = appendBool(dst, q&points.Stale != 0)
	dst = append(dst, `,"initial":`...)
	dst = appendBool(dst, q&points.Initial != 0)
	return append(dst, '}')
}

// appendLivePoint appends the WebSocket's POINT object:
// {"id","kind","value","text","quality":{...},"source_time","recv_time"}; value is null before the first value.
func appendLivePoint(dst []byte, d *points.Def, v points.Value) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, d.ID)
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, d.Kind.String()...)
	dst = append(dst, `","value":`...)
	if v.Quality.Has(points.Initial) {
		dst = append(dst, "null"...)
	} else {
		dst = appendFloat(dst, v.Value)
	}
	dst = append(dst, `,"text":`...)
	dst = appendString(dst, valueText(d, v))
	dst = append(dst, `,"quality":`...)
	dst = appendQuality(dst, v.Quality)
	dst = append(dst, `,"source_time":`...)
	dst = appendTime(dst, v.SourceTime)
	dst = append(dst, `,"recv_time":`...)
	dst = appendTime(dst, v.RecvTime)
	return append(dst, '}')
}

// encodedPoint is a point's POINT object for one value (by Seq), kept so that the clients that send the same
// change encode it once.
type encodedPoint struct {
	seq  uint64
	recv time.Time // an update that changes nothing keeps the Seq but moves the receive time
	b    []byte
}

// livePoint appends the POINT object of handle h with value v, from the App's cache of encodings when another
// client encoded the same value already.
func (a *App) livePoint(dst []byte, h points.Handle, v points.Value) []byte {
	slot := &a.enc[h]
	if e := slot.Load(); e != nil && e.seq == v.Seq && v.Seq != 0 && e.recv.Equal(v.RecvTime) {
		return append(dst, e.b...)
	}
	start := len(dst)
	dst = appendLivePoint(dst, &a.defs[h], v)
	if v.Seq != 0 {
		slot.Store(&encodedPoint{seq: v.Seq, recv: v.RecvTime, b: append([]byte(nil), dst[start:]...)})
	}
	return dst
}
