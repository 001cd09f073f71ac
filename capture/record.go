package capture

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"hmi/frontstation/iec104"
)

// Conn is one TCP connection of a capture.
type Conn struct {
	File   string // the capture's name, as given to Read
	ID     int    // 1, 2, ... in order of first appearance in the file
	Client netip.AddrPort
	// Server is the side that accepted the connection: the receiver of the
	// SYN, or without a SYN in the capture the side on the IEC 104 port.
	Server netip.AddrPort
	// Handshake: the client's SYN is in the capture, so both streams are
	// seen from their beginning and both N(S) start at 0.
	Handshake   bool
	First, Last time.Time // capture times of its first and last packet
	FirstPacket int       // number of its first packet
}

func (c *Conn) String() string {
	return fmt.Sprintf("%s connection %d: %v -> %v", c.File, c.ID, c.Client, c.Server)
}

// Record is one APDU of a capture, or, with Err set, octets that could not
// be decoded, in their place in the stream.
type Record struct {
	Conn       *Conn
	Packet     int       // number (from 1) of the packet whose segment completed the octets
	Time       time.Time // capture time of that packet
	Src, Dst   netip.AddrPort
	FromClient bool  // sent by Conn.Client
	Offset     int64 // stream offset of Raw[0] in the sender's direction
	Raw        []byte

	// APDU is the frame's APCI. When Err is set it holds what the control
	// field shows (Format zero if there is none); ASDU points into Raw.
	APDU iec104.APDU
	// ASDU is the parsed ASDU of an I-frame whose header could be read.
	ASDU    *iec104.ASDU
	Objects []iec104.Object
	// Err says why the octets could not be decoded; it wraps a sentinel of
	// package iec104 or ErrGap or ErrIncomplete.
	Err error

	apci bool // the APCI parsed: the sequence numbers can be trusted
}

// Frame reports whether the record is a frame or stands for one: an APDU,
// or an error about octets that a start octet and a length octet delimit.
// Octets skipped while looking for a start octet, gaps and an unfinished
// frame at the end of a stream are not frames.
func (r *Record) Frame() bool {
	if r.Err == nil {
		return true
	}
	return !errors.Is(r.Err, iec104.ErrStartByte) && !errors.Is(r.Err, ErrGap) && !errors.Is(r.Err, ErrIncomplete)
}

// decodeFrame decodes the complete frame in r.Raw.
func decodeFrame(r *Record) {
	a, err := iec104.ParseAPDU(r.Raw)
	if err != nil {
		r.APDU = apciOf(r.Raw)
		r.Err = err
		return
	}
	r.APDU, r.apci = a, true
	if a.Format != iec104.FormatI {
		return
	}
	asdu, err := iec104.ParseASDU(a.ASDU)
	if len(a.ASDU) >= 6 {
		r.ASDU = &asdu
	}
	if err != nil {
		r.Err = fmt.Errorf("ASDU: %w", err)
		return
	}
	objs, err := asdu.Objects(make([]iec104.Object, 0, asdu.Count))
	if err != nil {
		r.Err = fmt.Errorf("ASDU: %w", err)
		return
	}
	r.Objects = objs
}

// apciOf reads what it can of the control field of octets that did not
// decode, the way Wireshark does: a start octet, a length of at least 4 and
// the four control octets give the format and sequence numbers.
func apciOf(b []byte) iec104.APDU {
	if len(b) < 6 || b[0] != iec104.StartByte || b[1] < iec104.MinLength {
		return iec104.APDU{}
	}
	cf := b[2:6]
	nr := (uint16(cf[3])<<8 | uint16(cf[2])) >> 1
	switch {
	case cf[0]&0x01 == 0:
		end := min(int(b[1])+2, len(b))
		return iec104.APDU{Format: iec104.FormatI, SendSeq: (uint16(cf[1])<<8 | uint16(cf[0])) >> 1, RecvSeq: nr, ASDU: b[6:end]}
	case cf[0]&0x03 == 0x01:
		return iec104.APDU{Format: iec104.FormatS, RecvSeq: nr}
	}
	return iec104.APDU{Format: iec104.FormatU, U: iec104.UFunc(cf[0])}
}

// timeLayout is RFC 3339 in UTC, always with nanoseconds.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// cp56Layout is RFC 3339 with the milliseconds of a CP56Time2a.
const cp56Layout = "2006-01-02T15:04:05.000Z07:00"

type jsonRecord struct {
	Time     string        `json:"time"`
	Src      string        `json:"src"`
	Dst      string        `json:"dst"`
	Packet   int           `json:"packet"`
	Format   string        `json:"format,omitempty"`
	NS       *uint16       `json:"ns,omitempty"`
	NR       *uint16       `json:"nr,omitempty"`
	U        string        `json:"u,omitempty"`
	TypeID   *uint8        `json:"type_id,omitempty"`
	Type     string        `json:"type,omitempty"`
	SQ       *bool         `json:"sq,omitempty"`
	COT      *uint8        `json:"cot,omitempty"`
	Cause    string        `json:"cause,omitempty"`
	Negative *bool         `json:"negative,omitempty"`
	Test     *bool         `json:"test,omitempty"`
	OA       *uint8        `json:"oa,omitempty"`
	CA       *uint16       `json:"ca,omitempty"`
	Objects  *[]jsonObject `json:"objects,omitempty"`
	Error    string        `json:"error,omitempty"`
	Offset   *int64        `json:"offset,omitempty"`
	Raw      *string       `json:"raw,omitempty"`
}

type jsonObject struct {
	IOA       uint32          `json:"ioa"`
	Value     json.RawMessage `json:"value,omitempty"`
	Quality   *jsonQuality    `json:"quality,omitempty"`
	Transient *bool           `json:"transient,omitempty"`
	Time      string          `json:"time,omitempty"`
	TimeIV    *bool           `json:"time_iv,omitempty"`
	TimeSU    *bool           `json:"time_su,omitempty"`
	TimeError string          `json:"time_error,omitempty"` // a field of the CP56Time2a out of range
	Select    *bool           `json:"select,omitempty"`
	QU        *uint8          `json:"qu,omitempty"`
}

// jsonQuality holds the quality flags of an object: IV, NT, SB, BL for
// single and double points, OV too for QDS, and for counters IV with the
// counter's sequence number, carry and adjusted bits.
type jsonQuality struct {
	IV       bool   `json:"iv"`
	NT       *bool  `json:"nt,omitempty"`
	SB       *bool  `json:"sb,omitempty"`
	BL       *bool  `json:"bl,omitempty"`
	OV       *bool  `json:"ov,omitempty"`
	Seq      *uint8 `json:"seq,omitempty"`
	Carry    *bool  `json:"cy,omitempty"`
	Adjusted *bool  `json:"ca,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// MarshalJSON encodes the record as the JSON line of `hmi decode --json`.
func (r *Record) MarshalJSON() ([]byte, error) {
	j := jsonRecord{
		Time:   r.Time.UTC().Format(timeLayout),
		Src:    r.Src.String(),
		Dst:    r.Dst.String(),
		Packet: r.Packet,
	}
	a := r.APDU
	switch a.Format {
	case iec104.FormatI:
		j.Format, j.NS, j.NR = "I", ptr(a.SendSeq), ptr(a.RecvSeq)
	case iec104.FormatS:
		j.Format, j.NR = "S", ptr(a.RecvSeq)
	case iec104.FormatU:
		j.Format = "U"
		if a.U.Valid() {
			j.U = a.U.String()
		}
	}
	if h := r.ASDU; h != nil {
		j.TypeID, j.Type, j.SQ = ptr(uint8(h.Type)), h.Type.String(), ptr(h.SQ)
		j.COT, j.Cause = ptr(uint8(h.Cause)), h.Cause.String()
		j.Negative, j.Test = ptr(h.IsNegative()), ptr(h.Test)
		j.OA, j.CA = ptr(h.OA), ptr(h.CA)
		objs := make([]jsonObject, 0, len(r.Objects))
		for _, o := range r.Objects {
			objs = append(objs, objectJSON(h.Type, o))
		}
		j.Objects = &objs
	}
	if r.Err != nil {
		j.Error = r.Err.Error()
		j.Offset = ptr(r.Offset)
		j.Raw = ptr(hex.EncodeToString(r.Raw))
	}
	return json.Marshal(j)
}

// valueKind says how an object's value is read for a type.
type valueKind uint8

const (
	valNone valueKind = iota
	valState
	valStep
	valBits
	valNormalized
	valInt
	valFloat
	valQualifier
	valTSC
)

// qualityKind says which quality flags a type carries.
type qualityKind uint8

const (
	qualNone qualityKind = iota
	qualPoint
	qualQDS
	qualCounter
)

func kinds(t iec104.TypeID) (valueKind, qualityKind) {
	switch t {
	case iec104.M_SP_NA_1, iec104.M_SP_TB_1, iec104.M_DP_NA_1, iec104.M_DP_TB_1:
		return valState, qualPoint
	case iec104.M_ST_NA_1, iec104.M_ST_TB_1:
		return valStep, qualQDS
	case iec104.M_BO_NA_1, iec104.M_BO_TB_1:
		return valBits, qualQDS
	case iec104.M_ME_NA_1, iec104.M_ME_TD_1:
		return valNormalized, qualQDS
	case iec104.M_ME_NB_1, iec104.M_ME_TE_1:
		return valInt, qualQDS
	case iec104.M_ME_NC_1, iec104.M_ME_TF_1:
		return valFloat, qualQDS
	case iec104.M_IT_NA_1, iec104.M_IT_TB_1:
		return valInt, qualCounter
	case iec104.C_SC_NA_1, iec104.C_SC_TA_1, iec104.C_DC_NA_1, iec104.C_DC_TA_1, iec104.C_RC_NA_1, iec104.C_RC_TA_1:
		return valState, qualNone
	case iec104.C_SE_NA_1, iec104.C_SE_TA_1:
		return valNormalized, qualNone
	case iec104.C_SE_NB_1, iec104.C_SE_TB_1:
		return valInt, qualNone
	case iec104.C_SE_NC_1, iec104.C_SE_TC_1:
		return valFloat, qualNone
	case iec104.M_EI_NA_1, iec104.C_IC_NA_1, iec104.C_CI_NA_1:
		return valQualifier, qualNone
	case iec104.C_TS_TA_1:
		return valTSC, qualNone
	}
	return valNone, qualNone
}

// value formats the object's value as a JSON number, or null for a float
// that is not finite; "" when the type has no value.
func value(t iec104.TypeID, o iec104.Object) string {
	vk, _ := kinds(t)
	switch vk {
	case valState:
		return strconv.Itoa(int(o.State))
	case valStep:
		return strconv.Itoa(int(o.Step))
	case valBits:
		return strconv.FormatUint(uint64(o.Bits), 10)
	case valNormalized:
		return strconv.FormatFloat(o.Normalized(), 'g', -1, 64)
	case valInt:
		return strconv.FormatInt(int64(o.Int), 10)
	case valFloat:
		f := float64(o.Float)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "null"
		}
		return strconv.FormatFloat(f, 'g', -1, 32)
	case valQualifier:
		return strconv.Itoa(int(o.Qualifier))
	case valTSC:
		return strconv.Itoa(int(o.TSC))
	}
	return ""
}

func objectJSON(t iec104.TypeID, o iec104.Object) jsonObject {
	j := jsonObject{IOA: o.IOA}
	if v := value(t, o); v != "" {
		j.Value = json.RawMessage(v)
	}
	vk, qk := kinds(t)
	q := o.Quality
	switch qk {
	case qualPoint, qualQDS:
		j.Quality = &jsonQuality{IV: q&iec104.QualityIV != 0, NT: ptr(q&iec104.QualityNT != 0),
			SB: ptr(q&iec104.QualitySB != 0), BL: ptr(q&iec104.QualityBL != 0)}
		if qk == qualQDS {
			j.Quality.OV = ptr(q&iec104.QualityOV != 0)
		}
	case qualCounter:
		j.Quality = &jsonQuality{IV: q&iec104.QualityIV != 0, Seq: ptr(o.CounterSeq), Carry: ptr(o.Carry), Adjusted: ptr(o.Adjusted)}
	}
	if vk == valStep {
		j.Transient = ptr(o.Transient)
	}
	if t.HasTime() {
		j.Time = o.Time.Time(time.UTC).Format(cp56Layout)
		j.TimeIV, j.TimeSU = ptr(o.Time.Invalid), ptr(o.Time.Summer)
		if err := o.Time.Validate(); err != nil {
			j.TimeError = err.Error()
		}
	}
	if t.IsCommand() {
		j.Select, j.QU = ptr(o.Select), ptr(o.QU)
	}
	return j
}

// maxTextObjects is how many objects a text line shows.
const maxTextObjects = 4

// String formats the record as one line of `hmi decode`: time, addresses,
// format, sequence numbers or U function, and for I-frames the type, cause
// with its flags, addresses and the first objects.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString(r.Time.UTC().Format(timeLayout))
	fmt.Fprintf(&b, " %v -> %v ", r.Src, r.Dst)
	r.describe(&b)
	return b.String()
}

// Describe is the text of one complete frame as hmi decode prints it,
// without time and addresses: the APCI, the ASDU header and the first
// objects, or what is wrong with it. It is the line of a link's traffic view.
func Describe(apdu []byte) string {
	r := Record{Raw: apdu}
	decodeFrame(&r)
	var b strings.Builder
	r.describe(&b)
	return b.String()
}

// describe writes the frame's APCI, ASDU header, first objects and error.
func (r *Record) describe(b *strings.Builder) {
	a := r.APDU
	switch a.Format {
	case iec104.FormatI:
		fmt.Fprintf(b, "I ns=%d nr=%d", a.SendSeq, a.RecvSeq)
	case iec104.FormatS:
		fmt.Fprintf(b, "S nr=%d", a.RecvSeq)
	case iec104.FormatU:
		fmt.Fprintf(b, "U %v", a.U)
	default:
		b.WriteString("-")
	}
	if h := r.ASDU; h != nil {
		fmt.Fprintf(b, " %v %v", h.Type, h.Cause)
		if h.IsNegative() {
			b.WriteString(",neg")
		}
		if h.Test {
			b.WriteString(",test")
		}
		fmt.Fprintf(b, " CA=%d", h.CA)
		if h.OA != 0 {
			fmt.Fprintf(b, " OA=%d", h.OA)
		}
		if h.SQ {
			b.WriteString(" SQ")
		}
		for i, o := range r.Objects {
			if i == maxTextObjects {
				fmt.Fprintf(b, "; ... (%d objects)", len(r.Objects))
				break
			}
			if i == 0 {
				b.WriteString(" | ")
			} else {
				b.WriteString("; ")
			}
			b.WriteString(objectText(h.Type, o))
		}
	}
	if r.Err != nil {
		fmt.Fprintf(b, " ERROR %v [% X]", r.Err, r.Raw)
	}
}

func objectText(t iec104.TypeID, o iec104.Object) string {
	s := "IOA " + strconv.FormatUint(uint64(o.IOA), 10)
	vk, qk := kinds(t)
	if vk == valBits {
		s += fmt.Sprintf(": 0x%08X", o.Bits) // a bitstring reads as bits; JSON keeps the number
	} else if v := value(t, o); v != "" {
		s += ": " + v
	}
	if qk != qualNone && !o.Quality.Good() {
		s += " [" + o.Quality.String() + "]"
	}
	if t.IsCommand() {
		if o.Select {
			s += " select"
		} else {
			s += " execute"
		}
		if o.QU != 0 {
			s += " qu=" + strconv.Itoa(int(o.QU))
		}
	}
	if t.HasTime() {
		s += " t=" + o.Time.String()
	}
	return s
}
