package iec104

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Header is the data unit identifier of an ASDU: type, SQ, cause with its
// P/N and test bits, originator address and common address. The object count
// is not part of it: it follows from the objects.
type Header struct {
	Type     TypeID
	SQ       bool  // objects form a sequence: one IOA, then consecutive elements
	Cause    Cause // 0..63
	Negative bool  // P/N bit
	Test     bool  // T bit
	OA       uint8 // originator address
	CA       uint16
}

// IsNegative reports a negative answer: the P/N bit, or one of the error
// causes 44..47 that some outstations send without it.
func (h Header) IsNegative() bool { return h.Negative || h.Cause.IsError() }

// GlobalCA is the broadcast common address.
const GlobalCA uint16 = 0xFFFF

const asduHeaderLen = 6

// ASDU is a parsed ASDU: its header, its object count and the raw octets of
// its information objects (a sub-slice of the input). An ASDU of an unknown
// type parses without error; its objects stay raw.
type ASDU struct {
	Header
	Count   int    // number of objects (SQ=0) or elements (SQ=1), 0..127
	Payload []byte // information objects
}

// ParseASDU checks the header of b and, for known types, that the payload is
// exactly as long as the object count and SQ imply. It does not allocate.
func ParseASDU(b []byte) (ASDU, error) {
	if len(b) < asduHeaderLen {
		return ASDU{}, decodeErr(ErrShortASDU, len(b), "%d octets, the header needs %d", len(b), asduHeaderLen)
	}
	if len(b) > MaxASDU {
		return ASDU{}, decodeErr(ErrTooLong, MaxASDU, "%d octets", len(b))
	}
	a := ASDU{
		Header: Header{
			Type:     TypeID(b[0]),
			SQ:       b[1]&0x80 != 0,
			Cause:    Cause(b[2] & causeMask),
			Negative: b[2]&cotNegative != 0,
			Test:     b[2]&cotTest != 0,
			OA:       b[3],
			CA:       le16(b[4:]),
		},
		Count:   int(b[1] & 0x7F),
		Payload: b[asduHeaderLen:],
	}
	if !a.Type.Known() {
		return a, nil
	}
	if want := a.payloadLen(); want != len(a.Payload) {
		return a, decodeErr(ErrObjectCount, asduHeaderLen, "%v with %d objects (SQ=%v) needs %d octets of objects, has %d",
			a.Type, a.Count, a.SQ, want, len(a.Payload))
	}
	return a, nil
}

func (a *ASDU) payloadLen() int {
	size := layouts[a.Type].size
	if a.Count == 0 {
		return 0
	}
	if a.SQ {
		return 3 + a.Count*size
	}
	return a.Count * (3 + size)
}

// Objects decodes the information objects and appends them to dst. With a
// dst of enough capacity it does not allocate. An ASDU of an unknown type
// with no objects decodes to none; with objects it is an ErrUnknownType.
// Offsets in errors count from the start of the ASDU.
func (a ASDU) Objects(dst []Object) ([]Object, error) {
	if !a.Type.Known() {
		if a.Count == 0 {
			return dst, nil
		}
		return dst, decodeErr(ErrUnknownType, 0, "type %d with %d objects", uint8(a.Type), a.Count)
	}
	if want := a.payloadLen(); want != len(a.Payload) {
		return dst, decodeErr(ErrObjectCount, asduHeaderLen, "needs %d octets of objects, has %d", want, len(a.Payload))
	}
	l := &layouts[a.Type]
	p := a.Payload
	var ioa uint32
	if a.SQ && a.Count > 0 {
		ioa = uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
		p = p[3:]
	}
	for i := 0; i < a.Count; i++ {
		var o Object
		if a.SQ {
			o.IOA = (ioa + uint32(i)) & 0xFFFFFF
		} else {
			o.IOA = uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
			p = p[3:]
		}
		decodeElement(l, p[:l.size], &o)
		p = p[l.size:]
		dst = append(dst, o)
	}
	return dst, nil
}

// AppendASDU encodes an ASDU with header h and objects objs and appends it to
// dst. With h.SQ set the IOAs must be consecutive. It checks the count (at
// most 127), the size (at most 249 octets) and that every field fits its bits.
func AppendASDU(dst []byte, h Header, objs []Object) ([]byte, error) {
	if !h.Type.Known() {
		return dst, &EncodeError{Type: h.Type, Index: -1, Detail: "unknown type"}
	}
	if len(objs) > 127 {
		return dst, &EncodeError{Type: h.Type, Index: -1, Detail: fmt.Sprintf("%d objects, at most 127", len(objs))}
	}
	if h.Cause > maxCause {
		return dst, &EncodeError{Type: h.Type, Index: -1, Detail: fmt.Sprintf("cause %d > 63", h.Cause)}
	}
	l := &layouts[h.Type]
	n := len(objs) * (3 + l.size)
	if h.SQ && len(objs) > 0 {
		n = 3 + len(objs)*l.size
	}
	if asduHeaderLen+n > MaxASDU {
		return dst, &EncodeError{Type: h.Type, Index: -1, Detail: fmt.Sprintf("%d octets, at most %d", asduHeaderLen+n, MaxASDU)}
	}
	start := len(dst)
	vsq := byte(len(objs))
	if h.SQ {
		vsq |= 0x80
	}
	cot := byte(h.Cause)
	if h.Negative {
		cot |= cotNegative
	}
	if h.Test {
		cot |= cotTest
	}
	dst = append(dst, byte(h.Type), vsq, cot, h.OA, byte(h.CA), byte(h.CA>>8))
	for i := range objs {
		o := &objs[i]
		if o.IOA > 0xFFFFFF {
			return dst[:start], &EncodeError{Type: h.Type, Index: i, Detail: fmt.Sprintf("IOA %d > 16777215", o.IOA)}
		}
		if h.SQ && i > 0 && o.IOA != (objs[0].IOA+uint32(i))&0xFFFFFF {
			return dst[:start], &EncodeError{Type: h.Type, Index: i, Detail: fmt.Sprintf("SQ=1 needs IOA %d, got %d", objs[0].IOA+uint32(i), o.IOA)}
		}
		if !h.SQ || i == 0 {
			dst = append(dst, byte(o.IOA), byte(o.IOA>>8), byte(o.IOA>>16))
		}
		var err string
		dst, err = appendElement(dst, l, o)
		if err != "" {
			return dst[:start], &EncodeError{Type: h.Type, Index: i, Detail: err}
		}
	}
	return dst, nil
}

// Quality holds the quality flags of SIQ, DIQ and QDS at their wire
// positions; for counters (BCR) only IV is used.
type Quality uint8

// Quality flags.
const (
	QualityOV     Quality = 0x01 // overflow
	QualityBL     Quality = 0x10 // blocked
	QualitySB     Quality = 0x20 // substituted
	QualityNT     Quality = 0x40 // not topical
	QualityIV     Quality = 0x80 // invalid
	qualityFlags          = QualityOV | QualityBL | QualitySB | QualityNT | QualityIV
	qualityStatus         = QualityBL | QualitySB | QualityNT | QualityIV
)

// Good reports that no flag is set.
func (q Quality) Good() bool { return q == 0 }

func (q Quality) String() string {
	if q == 0 {
		return "good"
	}
	s := ""
	for _, f := range [...]struct {
		q Quality
		n string
	}{{QualityIV, "IV"}, {QualityNT, "NT"}, {QualitySB, "SB"}, {QualityBL, "BL"}, {QualityOV, "OV"}} {
		if q&f.q != 0 {
			if s != "" {
				s += ","
			}
			s += f.n
		}
	}
	return s
}

// Object is one information object. Which fields carry meaning depends on
// the ASDU's type; the others stay zero. A flat value type, so that decoding
// into a reused slice allocates nothing.
type Object struct {
	IOA uint32 // information object address, 0..16777215

	State     uint8   // SPI or SCS (0,1); DPI, DCS or RCS (0..3)
	Step      int8    // VTI value, -64..63
	Transient bool    // VTI T bit
	Int       int32   // NVA or SVA (int16 range), BCR counter
	Float     float32 // short floating point
	Bits      uint32  // BSI
	Quality   Quality

	CounterSeq uint8 // BCR sequence number 0..31
	Carry      bool  // BCR CY
	Adjusted   bool  // BCR CA

	Select    bool  // S/E of SCO, DCO, RCO, QOS: true = select
	QU        uint8 // qualifier of command QU (0..31), or QL of a set-point (0..127)
	Qualifier uint8 // QOI, QCC or COI octet
	TSC       uint16

	Time CP56Time2a // for types that carry one (TypeID.HasTime)
}

// Normalized returns the NVA value of o as a fraction in -1 .. 1-2^-15.
func (o Object) Normalized() float64 { return float64(int16(o.Int)) / 32768 }

// NormalizedRaw converts a fraction to the NVA integer, rounded and clamped.
func NormalizedRaw(f float64) int32 {
	v := math.Round(f * 32768)
	if v > math.MaxInt16 {
		v = math.MaxInt16
	}
	if v < math.MinInt16 {
		v = math.MinInt16
	}
	return int32(v)
}

// Value returns the object's process value as a number for an ASDU of type t:
// the state, step, normalized fraction, scaled integer, float, bitstring,
// counter, or for system types the qualifier; 0 when the type has no value.
func (o Object) Value(t TypeID) float64 {
	switch layouts[t].kind {
	case elemSIQ, elemDIQ, elemSCO, elemDCO, elemRCO:
		return float64(o.State)
	case elemVTI:
		return float64(o.Step)
	case elemNVA, elemSetNVA:
		return o.Normalized()
	case elemSVA, elemSetSVA, elemBCR:
		return float64(o.Int)
	case elemFloat, elemSetFlt:
		return float64(o.Float)
	case elemBSI:
		return float64(o.Bits)
	case elemQOI, elemQCC, elemCOI:
		return float64(o.Qualifier)
	case elemTSC:
		return float64(o.TSC)
	}
	return 0
}

func decodeElement(l *layout, b []byte, o *Object) {
	switch l.kind {
	case elemSIQ:
		o.State = b[0] & 0x01
		o.Quality = Quality(b[0]) & qualityStatus
	case elemDIQ:
		o.State = b[0] & 0x03
		o.Quality = Quality(b[0]) & qualityStatus
	case elemVTI:
		o.Step = int8(b[0]<<1) >> 1
		o.Transient = b[0]&0x80 != 0
		o.Quality = Quality(b[1]) & qualityFlags
	case elemBSI:
		o.Bits = binary.LittleEndian.Uint32(b)
		o.Quality = Quality(b[4]) & qualityFlags
	case elemNVA, elemSVA:
		o.Int = int32(int16(le16(b)))
		o.Quality = Quality(b[2]) & qualityFlags
	case elemFloat:
		o.Float = math.Float32frombits(binary.LittleEndian.Uint32(b))
		o.Quality = Quality(b[4]) & qualityFlags
	case elemBCR:
		o.Int = int32(binary.LittleEndian.Uint32(b))
		o.CounterSeq = b[4] & 0x1F
		o.Carry = b[4]&0x20 != 0
		o.Adjusted = b[4]&0x40 != 0
		o.Quality = Quality(b[4]) & QualityIV
	case elemSCO:
		o.State = b[0] & 0x01
		o.QU = b[0] >> 2 & 0x1F
		o.Select = b[0]&0x80 != 0
	case elemDCO, elemRCO:
		o.State = b[0] & 0x03
		o.QU = b[0] >> 2 & 0x1F
		o.Select = b[0]&0x80 != 0
	case elemSetNVA, elemSetSVA:
		o.Int = int32(int16(le16(b)))
		o.QU = b[2] & 0x7F
		o.Select = b[2]&0x80 != 0
	case elemSetFlt:
		o.Float = math.Float32frombits(binary.LittleEndian.Uint32(b))
		o.QU = b[4] & 0x7F
		o.Select = b[4]&0x80 != 0
	case elemCOI, elemQOI, elemQCC:
		o.Qualifier = b[0]
	case elemTSC:
		o.TSC = le16(b)
	}
	if l.time {
		o.Time = DecodeCP56(b[l.size-7:])
	}
}

// appendElement encodes o's element; the string is empty or says what does not fit.
func appendElement(dst []byte, l *layout, o *Object) ([]byte, string) {
	sel := func(b byte) byte {
		if o.Select {
			return b | 0x80
		}
		return b
	}
	switch l.kind {
	case elemSIQ:
		if o.State > 1 {
			return dst, fmt.Sprintf("single-point state %d > 1", o.State)
		}
		dst = append(dst, o.State|byte(o.Quality&qualityStatus))
	case elemDIQ:
		if o.State > 3 {
			return dst, fmt.Sprintf("double-point state %d > 3", o.State)
		}
		dst = append(dst, o.State|byte(o.Quality&qualityStatus))
	case elemVTI:
		if o.Step < -64 || o.Step > 63 {
			return dst, fmt.Sprintf("step position %d outside -64..63", o.Step)
		}
		v := byte(o.Step) & 0x7F
		if o.Transient {
			v |= 0x80
		}
		dst = append(dst, v, byte(o.Quality&qualityFlags))
	case elemBSI:
		dst = binary.LittleEndian.AppendUint32(dst, o.Bits)
		dst = append(dst, byte(o.Quality&qualityFlags))
	case elemNVA, elemSVA:
		if o.Int < math.MinInt16 || o.Int > math.MaxInt16 {
			return dst, fmt.Sprintf("value %d outside the int16 range", o.Int)
		}
		dst = binary.LittleEndian.AppendUint16(dst, uint16(int16(o.Int)))
		dst = append(dst, byte(o.Quality&qualityFlags))
	case elemFloat:
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(o.Float))
		dst = append(dst, byte(o.Quality&qualityFlags))
	case elemBCR:
		if o.CounterSeq > 31 {
			return dst, fmt.Sprintf("counter sequence %d > 31", o.CounterSeq)
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(o.Int))
		s := o.CounterSeq | byte(o.Quality&QualityIV)
		if o.Carry {
			s |= 0x20
		}
		if o.Adjusted {
			s |= 0x40
		}
		dst = append(dst, s)
	case elemSCO, elemDCO, elemRCO:
		max := uint8(3)
		if l.kind == elemSCO {
			max = 1
		}
		if o.State > max {
			return dst, fmt.Sprintf("command state %d > %d", o.State, max)
		}
		if o.QU > 31 {
			return dst, fmt.Sprintf("qualifier QU %d > 31", o.QU)
		}
		dst = append(dst, sel(o.State|o.QU<<2))
	case elemSetNVA, elemSetSVA:
		if o.Int < math.MinInt16 || o.Int > math.MaxInt16 {
			return dst, fmt.Sprintf("set-point %d outside the int16 range", o.Int)
		}
		if o.QU > 127 {
			return dst, fmt.Sprintf("qualifier QL %d > 127", o.QU)
		}
		dst = binary.LittleEndian.AppendUint16(dst, uint16(int16(o.Int)))
		dst = append(dst, sel(o.QU))
	case elemSetFlt:
		if o.QU > 127 {
			return dst, fmt.Sprintf("qualifier QL %d > 127", o.QU)
		}
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(o.Float))
		dst = append(dst, sel(o.QU))
	case elemCOI, elemQOI, elemQCC:
		dst = append(dst, o.Qualifier)
	case elemTSC:
		dst = binary.LittleEndian.AppendUint16(dst, o.TSC)
	}
	if l.time {
		if err := o.Time.overflow(); err != "" {
			return dst, err
		}
		dst = o.Time.Append(dst)
	}
	return dst, ""
}
