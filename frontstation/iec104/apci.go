package iec104

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Frame sizes (IEC104.md section 2.1).
const (
	StartByte  = 0x68
	MinLength  = 4   // smallest value of the length octet (control field only)
	MaxLength  = 253 // largest value of the length octet
	MaxAPDU    = MaxLength + 2
	MaxASDU    = 249
	apciLength = 6
	seqModulo  = 32768
)

// Format is the APCI format of a frame.
type Format uint8

// Frame formats.
const (
	FormatI Format = iota + 1 // numbered information transfer
	FormatS                   // numbered supervisory (acknowledgement)
	FormatU                   // unnumbered control function
)

func (f Format) String() string {
	switch f {
	case FormatI:
		return "I"
	case FormatS:
		return "S"
	case FormatU:
		return "U"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// UFunc is a U-frame function, as the first control octet carries it.
type UFunc uint8

// The six U-frame functions: exactly one function bit set, and bits 0-1 = 11.
const (
	StartDTAct UFunc = 0x07
	StartDTCon UFunc = 0x0B
	StopDTAct  UFunc = 0x13
	StopDTCon  UFunc = 0x23
	TestFRAct  UFunc = 0x43
	TestFRCon  UFunc = 0x83
)

// Valid reports whether f is one of the six U functions.
func (f UFunc) Valid() bool {
	switch f {
	case StartDTAct, StartDTCon, StopDTAct, StopDTCon, TestFRAct, TestFRCon:
		return true
	}
	return false
}

// Con returns the confirmation that answers an activation function: the
// function bit moves one place up (0x07 -> 0x0B, 0x13 -> 0x23, 0x43 -> 0x83).
func (f UFunc) Con() UFunc { return (f&^0x03)<<1 | 0x03 }

// IsAct reports whether f is one of the three activation functions.
func (f UFunc) IsAct() bool { return f == StartDTAct || f == StopDTAct || f == TestFRAct }

func (f UFunc) String() string {
	switch f {
	case StartDTAct:
		return "STARTDT_ACT"
	case StartDTCon:
		return "STARTDT_CON"
	case StopDTAct:
		return "STOPDT_ACT"
	case StopDTCon:
		return "STOPDT_CON"
	case TestFRAct:
		return "TESTFR_ACT"
	case TestFRCon:
		return "TESTFR_CON"
	}
	return fmt.Sprintf("U(0x%02X)", uint8(f))
}

// APDU is one decoded frame. For I-frames ASDU holds the raw ASDU octets,
// a sub-slice of the input (copy it to keep it).
type APDU struct {
	Format  Format
	SendSeq uint16 // N(S), I-frames
	RecvSeq uint16 // N(R), I- and S-frames
	U       UFunc  // U-frames
	ASDU    []byte // I-frames
}

func (a APDU) String() string {
	switch a.Format {
	case FormatI:
		return fmt.Sprintf("I(ns=%d nr=%d, %d octets)", a.SendSeq, a.RecvSeq, len(a.ASDU))
	case FormatS:
		return fmt.Sprintf("S(nr=%d)", a.RecvSeq)
	case FormatU:
		return a.U.String()
	}
	return "invalid APDU"
}

// ParseAPDU decodes one complete frame b (start octet, length octet, control
// field and, for I-frames, the ASDU). It never allocates.
func ParseAPDU(b []byte) (APDU, error) {
	if len(b) > 0 && b[0] != StartByte {
		return APDU{}, decodeErr(ErrStartByte, 0, "found 0x%02X", b[0])
	}
	if len(b) < 2 {
		return APDU{}, decodeErr(ErrTruncated, len(b), "need 2 header octets, have %d", len(b))
	}
	n := int(b[1])
	if n < MinLength || n > MaxLength {
		return APDU{}, decodeErr(ErrLength, 1, "length %d", n)
	}
	if len(b) < n+2 {
		return APDU{}, decodeErr(ErrTruncated, len(b), "length octet says %d octets follow, have %d", n, len(b)-2)
	}
	b = b[:n+2]
	cf := b[2:6]
	switch {
	case cf[0]&0x01 == 0:
		if n == MinLength {
			return APDU{}, decodeErr(ErrShortASDU, 6, "I-frame without ASDU")
		}
		return APDU{
			Format:  FormatI,
			SendSeq: (uint16(cf[1])<<8 | uint16(cf[0])) >> 1,
			RecvSeq: (uint16(cf[3])<<8 | uint16(cf[2])) >> 1,
			ASDU:    b[6:],
		}, nil
	case cf[0]&0x03 == 0x01:
		if n != MinLength {
			return APDU{}, decodeErr(ErrSFrame, 6, "S-frame length %d", n)
		}
		return APDU{Format: FormatS, RecvSeq: (uint16(cf[3])<<8 | uint16(cf[2])) >> 1}, nil
	default:
		f := UFunc(cf[0])
		if !f.Valid() || cf[1] != 0 || cf[2] != 0 || cf[3] != 0 || n != MinLength {
			return APDU{}, decodeErr(ErrUFunction, 2, "control field % X, length %d", cf, n)
		}
		return APDU{Format: FormatU, U: f}, nil
	}
}

// AppendI appends an I-frame carrying asdu with the sequence numbers ns and nr.
func AppendI(dst []byte, ns, nr uint16, asdu []byte) ([]byte, error) {
	if len(asdu) == 0 || len(asdu) > MaxASDU {
		return dst, &EncodeError{Index: -1, Detail: fmt.Sprintf("ASDU of %d octets (1..%d)", len(asdu), MaxASDU)}
	}
	ns, nr = ns%seqModulo, nr%seqModulo
	dst = append(dst, StartByte, byte(len(asdu)+4), byte(ns<<1), byte(ns>>7), byte(nr<<1), byte(nr>>7))
	return append(dst, asdu...), nil
}

// AppendS appends an S-frame acknowledging every I-frame below nr.
func AppendS(dst []byte, nr uint16) []byte {
	nr %= seqModulo
	return append(dst, StartByte, 4, 0x01, 0x00, byte(nr<<1), byte(nr>>7))
}

// AppendU appends a U-frame with function f.
func AppendU(dst []byte, f UFunc) []byte {
	return append(dst, StartByte, 4, byte(f), 0, 0, 0)
}

// ReadAPDU reads one frame from r into buf, which must hold MaxAPDU octets,
// and returns the frame. The start and length octets are checked before the
// rest is read. A wrong start octet is an error: on a connection the stream
// cannot be trusted after it.
func ReadAPDU(r io.Reader, buf []byte) ([]byte, error) {
	if len(buf) < MaxAPDU {
		return nil, fmt.Errorf("iec104: read buffer of %d octets, need %d", len(buf), MaxAPDU)
	}
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return nil, err
	}
	if buf[0] != StartByte {
		return nil, decodeErr(ErrStartByte, 0, "found 0x%02X", buf[0])
	}
	n := int(buf[1])
	if n < MinLength || n > MaxLength {
		return nil, decodeErr(ErrLength, 1, "length %d", n)
	}
	if _, err := io.ReadFull(r, buf[2:n+2]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf[:n+2], nil
}

// Framer splits a byte stream into frames: several frames in one chunk and
// one frame split over several chunks. Feed it chunks, then call Next until it
// returns nil. It is for captures: on a bad start octet it reports the octets
// up to the next start octet once as a *DecodeError (with the stream offset);
// on a length octet outside 4..253 it reports and skips the 2+length octets
// that the length octet declares. Wireshark splits a stream the same way.
type Framer struct {
	buf    []byte
	off    int64 // stream offset of buf[0]
	maxBuf int
}

// Feed appends a chunk of the stream.
func (f *Framer) Feed(p []byte) { f.buf = append(f.buf, p...) }

// Offset is the stream offset of the next octet Next will look at.
func (f *Framer) Offset() int64 { return f.off }

// Buffered is the number of octets fed but not yet returned.
func (f *Framer) Buffered() int { return len(f.buf) }

// Next returns the next complete frame and its stream offset, or a nil frame
// when more input is needed. After an error, call Next again: the bad octets
// have been skipped. The frame is valid until the next call to Feed.
func (f *Framer) Next() (frame []byte, offset int64, err error) {
	if len(f.buf) == 0 {
		f.buf = f.buf[:0]
		return nil, f.off, nil
	}
	if f.buf[0] != StartByte {
		skip := 1
		for skip < len(f.buf) && f.buf[skip] != StartByte {
			skip++
		}
		off := f.off
		de := &DecodeError{Err: ErrStartByte, Offset: int(off), Detail: fmt.Sprintf("skipped %d octets: % X", skip, f.buf[:skip])}
		f.consume(skip)
		return nil, off, de
	}
	if len(f.buf) < 2 {
		return nil, f.off, nil
	}
	n := int(f.buf[1])
	if len(f.buf) < n+2 {
		return nil, f.off, nil
	}
	if n < MinLength || n > MaxLength {
		// Skip the frame the length octet declares, as Wireshark does.
		off := f.off
		de := &DecodeError{Err: ErrLength, Offset: int(off) + 1, Detail: fmt.Sprintf("length %d: skipped % X", n, f.buf[:n+2])}
		f.consume(n + 2)
		return nil, off, de
	}
	frame, offset = f.buf[:n+2], f.off
	f.consume(n + 2)
	return frame, offset, nil
}

// Pending returns the octets of an unfinished frame left at the end of the
// stream, and forgets them.
func (f *Framer) Pending() []byte {
	p := f.buf
	f.consume(len(p))
	return p
}

func (f *Framer) consume(n int) {
	f.buf = f.buf[n:]
	f.off += int64(n)
	if len(f.buf) == 0 {
		f.buf = nil
	}
}

// seqDiff is (a - b) modulo 32768.
func seqDiff(a, b uint16) uint16 { return (a - b) % seqModulo }

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
