package iec104

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// hx decodes hex written with spaces and '|' between fields: "68 04 | 07 00 00 00".
func hx(s string) []byte {
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("bad hex in test vector: " + err.Error())
	}
	return b
}

// checkDecodeErr fails unless err is a *DecodeError wrapping want at offset off.
func checkDecodeErr(t *testing.T, err, want error, off int) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v: got errors.Is(%v) false, want true", err, want)
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v: want a *DecodeError", err, err)
	}
	if de.Offset != off {
		t.Errorf("error %v: got offset %d, want %d", err, de.Offset, off)
	}
}

// icASDU is a 10-octet C_IC_NA_1 ASDU (station interrogation, CA 1) used as
// the payload of the I-frame vectors.
const icASDU = "64 01 06 00 01 00 | 00 00 00 | 14"

// apciGolden frames decode to want, and encoding want gives the same octets.
var apciGolden = []struct {
	name string
	hex  string
	want APDU
}{
	// I-format: CF1 = N(S)<<1 (bit0 = 0), CF2 = N(S)>>7, CF3 = N(R)<<1, CF4 = N(R)>>7.
	{"I ns=0 nr=0", "68 0E | 00 00 | 00 00 | " + icASDU, APDU{Format: FormatI, SendSeq: 0, RecvSeq: 0}},
	{"I ns=1 nr=2", "68 0E | 02 00 | 04 00 | " + icASDU, APDU{Format: FormatI, SendSeq: 1, RecvSeq: 2}},
	// 127 fills CF1 (0xFE); 128 is the first value carried by CF2/CF4.
	{"I ns=127 nr=128", "68 0E | FE 00 | 00 01 | " + icASDU, APDU{Format: FormatI, SendSeq: 127, RecvSeq: 128}},
	// IEC104.md 6: 68 15 34 00 1C 00 = N(S) 26, N(R) 14.
	{"I ns=26 nr=14", "68 0E | 34 00 | 1C 00 | " + icASDU, APDU{Format: FormatI, SendSeq: 26, RecvSeq: 14}},
	// IEC104.md 8.6 step 1: 2C 00 A2 00 = N(S) 22, N(R) 81.
	{"I ns=22 nr=81", "68 0E | 2C 00 | A2 00 | " + icASDU, APDU{Format: FormatI, SendSeq: 22, RecvSeq: 81}},
	// 32767, the last value before the counters wrap to 0.
	{"I ns=32767 nr=32767", "68 0E | FE FF | FE FF | " + icASDU, APDU{Format: FormatI, SendSeq: 32767, RecvSeq: 32767}},
	{"I ns=16384 nr=255", "68 0E | 00 80 | FE 01 | " + icASDU, APDU{Format: FormatI, SendSeq: 16384, RecvSeq: 255}},

	// S-format: CF1 = 01, CF2 = 00, CF3/CF4 = N(R) as in an I-frame.
	{"S(0)", "68 04 | 01 00 | 00 00", APDU{Format: FormatS}},
	{"S(10)", "68 04 | 01 00 | 14 00", APDU{Format: FormatS, RecvSeq: 10}}, // IEC104.md 2.2
	{"S(128)", "68 04 | 01 00 | 00 01", APDU{Format: FormatS, RecvSeq: 128}},
	{"S(32767)", "68 04 | 01 00 | FE FF", APDU{Format: FormatS, RecvSeq: 32767}},

	// U-format: one function bit in CF1, bits 0-1 = 11, CF2..CF4 = 0 (IEC104.md 2.2).
	{"STARTDT act", "68 04 | 07 00 00 00", APDU{Format: FormatU, U: StartDTAct}},
	{"STARTDT con", "68 04 | 0B 00 00 00", APDU{Format: FormatU, U: StartDTCon}},
	{"STOPDT act", "68 04 | 13 00 00 00", APDU{Format: FormatU, U: StopDTAct}},
	{"STOPDT con", "68 04 | 23 00 00 00", APDU{Format: FormatU, U: StopDTCon}},
	{"TESTFR act", "68 04 | 43 00 00 00", APDU{Format: FormatU, U: TestFRAct}},
	{"TESTFR con", "68 04 | 83 00 00 00", APDU{Format: FormatU, U: TestFRCon}},
}

// appendAPDU encodes a with the Append function of its format.
func appendAPDU(t *testing.T, dst []byte, a APDU) []byte {
	t.Helper()
	switch a.Format {
	case FormatI:
		b, err := AppendI(dst, a.SendSeq, a.RecvSeq, a.ASDU)
		if err != nil {
			t.Fatalf("AppendI: %v", err)
		}
		return b
	case FormatS:
		return AppendS(dst, a.RecvSeq)
	case FormatU:
		return AppendU(dst, a.U)
	}
	t.Fatalf("format %v", a.Format)
	return nil
}

func checkAPDU(t *testing.T, got, want APDU) {
	t.Helper()
	if got.Format != want.Format || got.SendSeq != want.SendSeq || got.RecvSeq != want.RecvSeq || got.U != want.U {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if !bytes.Equal(got.ASDU, want.ASDU) {
		t.Errorf("ASDU: got % X, want % X", got.ASDU, want.ASDU)
	}
}

func TestAPDUGolden(t *testing.T) {
	for _, tc := range apciGolden {
		t.Run(tc.name, func(t *testing.T) {
			b := hx(tc.hex)
			want := tc.want
			if want.Format == FormatI {
				want.ASDU = b[6:]
			}
			got, err := ParseAPDU(b)
			if err != nil {
				t.Fatalf("ParseAPDU(% X): %v", b, err)
			}
			checkAPDU(t, got, want)
			if got.String() == "" || got.String() == "invalid APDU" {
				t.Errorf("String: got %q", got.String())
			}

			prefix := []byte{0xAA}
			enc := appendAPDU(t, prefix, want)
			if !bytes.Equal(enc[1:], b) || enc[0] != 0xAA {
				t.Errorf("encode: got % X, want AA % X", enc, b)
			}
		})
	}
}

// TestAPDUDecodeTolerant covers frames that decode but are not in the form
// the encoder writes.
func TestAPDUDecodeTolerant(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want APDU
		n    int // octets of the frame: trailing octets are not part of it
	}{
		// Bit 0 of CF3 is ignored, as lib60870 masks it (& 0xFE).
		{"I CF3 bit0 set", "68 0E | 02 00 | 05 00 | " + icASDU, APDU{Format: FormatI, SendSeq: 1, RecvSeq: 2}, 16},
		// Trailing octets after the length octet's frame are left alone.
		{"S then more", "68 04 | 01 00 | 14 00 | 68 04", APDU{Format: FormatS, RecvSeq: 10}, 6},
		// The largest frame: L = 253, a 249-octet ASDU.
		{"I L=253", "68 FD | 00 00 | 00 00 | " + strings.Repeat("01 ", 249), APDU{Format: FormatI}, 255},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := hx(tc.hex)
			want := tc.want
			if want.Format == FormatI {
				want.ASDU = b[6:tc.n]
			}
			got, err := ParseAPDU(b)
			if err != nil {
				t.Fatalf("ParseAPDU: %v", err)
			}
			checkAPDU(t, got, want)
		})
	}
}

func TestParseAPDUErrors(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		err  error
		off  int
	}{
		{"empty", "", ErrTruncated, 0},
		{"start only", "68", ErrTruncated, 1},
		{"one wrong octet", "05", ErrStartByte, 0},
		{"wrong start byte", "69 04 07 00 00 00", ErrStartByte, 0},
		{"start byte 0x00", "00 04 01 00 14 00", ErrStartByte, 0},
		{"length 0", "68 00", ErrLength, 1},
		{"length 3", "68 03 07 00 00", ErrLength, 1},
		{"length 254", "68 FE 00 00 00 00", ErrLength, 1},
		{"length 255", "68 FF 00 00 00 00", ErrLength, 1},
		{"U truncated", "68 04 07 00 00", ErrTruncated, 5},
		{"header only", "68 04", ErrTruncated, 2},
		{"I truncated", "68 0E 00 00 00 00 64 01", ErrTruncated, 8},
		{"I without ASDU", "68 04 00 00 00 00", ErrShortASDU, 6},
		{"I without ASDU ns=5", "68 04 0A 00 00 00", ErrShortASDU, 6},
		{"S with payload", "68 05 01 00 14 00 AA", ErrSFrame, 6},
		{"S with ASDU", "68 0E 01 00 14 00 " + icASDU, ErrSFrame, 6},
		// 0x17 = bits 2 and 4: STARTDT act and STOPDT act (TestDissectIec104).
		{"U 0x17", "68 04 17 00 00 00", ErrUFunction, 2},
		{"U 0x0F two bits", "68 04 0F 00 00 00", ErrUFunction, 2},
		{"U 0xC3 two bits", "68 04 C3 00 00 00", ErrUFunction, 2},
		{"U 0x03 no bit", "68 04 03 00 00 00", ErrUFunction, 2},
		{"U 0xFF", "68 04 FF 00 00 00", ErrUFunction, 2},
		{"U CF2 set", "68 04 07 01 00 00", ErrUFunction, 2},
		{"U CF3 set", "68 04 43 00 01 00", ErrUFunction, 2},
		{"U CF4 set", "68 04 83 00 00 80", ErrUFunction, 2},
		{"U with payload", "68 05 07 00 00 00 00", ErrUFunction, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAPDU(hx(tc.hex))
			checkDecodeErr(t, err, tc.err, tc.off)
			if got.Format != 0 {
				t.Errorf("got format %v with the error, want 0", got.Format)
			}
		})
	}
}

// TestAppendSeqWrap checks that the encoders take sequence numbers modulo 32768.
func TestAppendSeqWrap(t *testing.T) {
	asdu := hx(icASDU)
	tests := []struct {
		ns, nr uint16
		cf     string
	}{
		{32768, 32769, "00 00 02 00"}, // wraps to 0 and 1
		{65535, 32767, "FE FF FE FF"}, // 65535 % 32768 = 32767
		{32767 + 1 + 10, 0, "14 00 00 00"},
	}
	for _, tc := range tests {
		got, err := AppendI(nil, tc.ns, tc.nr, asdu)
		if err != nil {
			t.Fatalf("AppendI(%d, %d): %v", tc.ns, tc.nr, err)
		}
		want := append(hx("68 0E "+tc.cf), asdu...)
		if !bytes.Equal(got, want) {
			t.Errorf("AppendI(%d, %d): got % X, want % X", tc.ns, tc.nr, got, want)
		}
	}
	if got, want := AppendS(nil, 32768+10), hx("68 04 01 00 14 00"); !bytes.Equal(got, want) {
		t.Errorf("AppendS(32778): got % X, want % X", got, want)
	}
	if got, want := seqDiff(0, 32767), uint16(1); got != want {
		t.Errorf("seqDiff(0, 32767): got %d, want %d", got, want)
	}
	if got, want := seqDiff(5, 7), uint16(32766); got != want {
		t.Errorf("seqDiff(5, 7): got %d, want %d", got, want)
	}
}

func TestAppendIErrors(t *testing.T) {
	for _, n := range []int{0, MaxASDU + 1, 300} {
		prefix := []byte{1, 2}
		got, err := AppendI(prefix, 0, 0, make([]byte, n))
		var ee *EncodeError
		if !errors.As(err, &ee) {
			t.Fatalf("AppendI(%d octets): got error %v, want *EncodeError", n, err)
		}
		if !bytes.Equal(got, prefix) {
			t.Errorf("AppendI(%d octets) on error: got % X, want the input % X", n, got, prefix)
		}
	}
}

func TestUFunc(t *testing.T) {
	tests := []struct {
		f     UFunc
		act   bool
		con   UFunc // for activations
		name  string
		valid bool
	}{
		{StartDTAct, true, StartDTCon, "STARTDT_ACT", true},
		{StartDTCon, false, 0, "STARTDT_CON", true},
		{StopDTAct, true, StopDTCon, "STOPDT_ACT", true},
		{StopDTCon, false, 0, "STOPDT_CON", true},
		{TestFRAct, true, TestFRCon, "TESTFR_ACT", true},
		{TestFRCon, false, 0, "TESTFR_CON", true},
		{0x17, false, 0, "U(0x17)", false},
		{0x03, false, 0, "U(0x03)", false},
	}
	for _, tc := range tests {
		if got := tc.f.Valid(); got != tc.valid {
			t.Errorf("%v.Valid(): got %v, want %v", tc.f, got, tc.valid)
		}
		if got := tc.f.IsAct(); got != tc.act {
			t.Errorf("%v.IsAct(): got %v, want %v", tc.f, got, tc.act)
		}
		if got := tc.f.String(); got != tc.name {
			t.Errorf("String(0x%02X): got %q, want %q", uint8(tc.f), got, tc.name)
		}
		if tc.act {
			if got := tc.f.Con(); got != tc.con {
				t.Errorf("%v.Con(): got 0x%02X, want 0x%02X", tc.f, uint8(got), uint8(tc.con))
			}
		}
	}
	for f, want := range map[Format]string{FormatI: "I", FormatS: "S", FormatU: "U", 9: "Format(9)"} {
		if got := f.String(); got != want {
			t.Errorf("Format(%d).String(): got %q, want %q", uint8(f), got, want)
		}
	}
}

// frameEvent is one result of Framer.Next that is not "need more input".
type frameEvent struct {
	frame  string // hex of the frame, "" for an error
	offset int64
	err    error // sentinel
	errOff int   // DecodeError.Offset
}

// drainFramer calls Next until it asks for more input.
func drainFramer(t *testing.T, f *Framer) []frameEvent {
	t.Helper()
	var evs []frameEvent
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("Framer.Next does not stop")
		}
		frame, off, err := f.Next()
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Next: got %T %v, want *DecodeError", err, err)
			}
			evs = append(evs, frameEvent{offset: off, err: de.Err, errOff: de.Offset})
			continue
		}
		if frame == nil {
			return evs
		}
		evs = append(evs, frameEvent{frame: hex.EncodeToString(frame), offset: off})
	}
}

func checkEvents(t *testing.T, got, want []frameEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d results %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("result %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func frameOK(h string, off int64) frameEvent {
	return frameEvent{frame: hex.EncodeToString(hx(h)), offset: off}
}

func TestFramer(t *testing.T) {
	const (
		u  = "68 04 43 00 00 00"           // TESTFR act, 6 octets
		s  = "68 04 01 00 14 00"           // S(10), 6 octets
		i  = "68 0E 02 00 04 00 " + icASDU // I-frame, 16 octets
		bo = "68 12 38 00 B6 00 32 01 06 00 03 00 9C 13 00 00 00 2E C2 80"
	)
	tests := []struct {
		name    string
		stream  string
		want    []frameEvent
		pending string
	}{
		{
			name:   "several APDUs in one chunk",
			stream: u + s + i + bo,
			want:   []frameEvent{frameOK(u, 0), frameOK(s, 6), frameOK(i, 12), frameOK(bo, 28)},
		},
		{
			name:   "junk before 0x68 reported once, then resync",
			stream: "AA BB CC " + u + " DD " + s,
			want: []frameEvent{
				{offset: 0, err: ErrStartByte, errOff: 0},
				frameOK(u, 3),
				{offset: 9, err: ErrStartByte, errOff: 9},
				frameOK(s, 10),
			},
		},
		// A length octet outside 4..253 skips the 2+L octets it declares.
		{
			name:   "bad length octet 2",
			stream: "68 02 AA BB " + u,
			want:   []frameEvent{{offset: 0, err: ErrLength, errOff: 1}, frameOK(u, 4)},
		},
		{
			name:   "bad length octet 3 then a frame",
			stream: "68 03 07 00 00 " + u + s,
			want:   []frameEvent{{offset: 0, err: ErrLength, errOff: 1}, frameOK(u, 5), frameOK(s, 11)},
		},
		{
			name:   "bad length octet 255 after a frame",
			stream: s + "68 FF " + strings.Repeat("00 ", 255) + u,
			want:   []frameEvent{frameOK(s, 0), {offset: 6, err: ErrLength, errOff: 7}, frameOK(u, 263)},
		},
		{
			name:   "bad length 0 then junk",
			stream: "68 00 11 22 " + u,
			want: []frameEvent{
				{offset: 0, err: ErrLength, errOff: 1},
				{offset: 2, err: ErrStartByte, errOff: 2},
				frameOK(u, 4),
			},
		},
		{
			name:    "bad length pending at the end",
			stream:  u + "68 FE 00 00",
			want:    []frameEvent{frameOK(u, 0)},
			pending: "68 FE 00 00",
		},
		{
			name:    "pending frame at the end",
			stream:  u + "68 0E 00 00",
			want:    []frameEvent{frameOK(u, 0)},
			pending: "68 0E 00 00",
		},
		{
			name:    "lone start byte at the end",
			stream:  s + "68",
			want:    []frameEvent{frameOK(s, 0)},
			pending: "68",
		},
		{
			name:   "junk only",
			stream: "00 01 02",
			want:   []frameEvent{{offset: 0, err: ErrStartByte, errOff: 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := hx(tc.stream)
			var f Framer
			f.Feed(stream)
			checkEvents(t, drainFramer(t, &f), tc.want)
			checkPending(t, &f, hx(tc.pending), int64(len(stream)))
		})
		// One frame split over many chunks: feeding octet by octet gives
		// the same frames (junk may then be reported once per chunk).
		t.Run(tc.name+"/byte by byte", func(t *testing.T) {
			stream := hx(tc.stream)
			var f Framer
			var got []frameEvent
			for j := range stream {
				f.Feed(stream[j : j+1])
				got = append(got, drainFramer(t, &f)...)
			}
			checkEvents(t, framesOnly(got), framesOnly(tc.want))
			checkPending(t, &f, hx(tc.pending), int64(len(stream)))
		})
	}
}

func framesOnly(evs []frameEvent) []frameEvent {
	var out []frameEvent
	for _, e := range evs {
		if e.err == nil {
			out = append(out, e)
		}
	}
	return out
}

func checkPending(t *testing.T, f *Framer, want []byte, total int64) {
	t.Helper()
	if got := f.Buffered(); got != len(want) {
		t.Errorf("Buffered: got %d, want %d", got, len(want))
	}
	if got := f.Pending(); !bytes.Equal(got, want) {
		t.Errorf("Pending: got % X, want % X", got, want)
	}
	if got := f.Buffered(); got != 0 {
		t.Errorf("Buffered after Pending: got %d, want 0", got)
	}
	if got := f.Offset(); got != total {
		t.Errorf("Offset after Pending: got %d, want %d", got, total)
	}
}

// TestFramerFrameStaysValid checks that a returned frame survives the next Feed.
func TestFramerFrameStaysValid(t *testing.T) {
	var f Framer
	f.Feed(hx("68 04 43 00 00 00 68 04"))
	frame, _, err := f.Next()
	if err != nil || frame == nil {
		t.Fatalf("Next: got %X, %v, want a frame", frame, err)
	}
	keep := bytes.Clone(frame)
	f.Feed(hx("01 00 14 00"))
	if !bytes.Equal(frame, keep) {
		t.Errorf("frame after Feed: got % X, want % X", frame, keep)
	}
	frame, off, err := f.Next()
	if err != nil || off != 6 || !bytes.Equal(frame, hx("68 04 01 00 14 00")) {
		t.Errorf("second Next: got % X at %d, %v, want S(10) at 6", frame, off, err)
	}
}

func TestReadAPDU(t *testing.T) {
	frames := []string{
		"68 04 07 00 00 00",
		"68 0E 02 00 04 00 " + icASDU,
		"68 04 01 00 14 00",
		"68 FD 00 00 00 00 " + strings.Repeat("01 ", 249),
	}
	var stream []byte
	for _, h := range frames {
		stream = append(stream, hx(h)...)
	}
	// A reader that returns one octet per Read, as a slow TCP stream may.
	r := iotest.OneByteReader(bytes.NewReader(stream))
	buf := make([]byte, MaxAPDU)
	for i, h := range frames {
		got, err := ReadAPDU(r, buf)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := hx(h); !bytes.Equal(got, want) {
			t.Errorf("frame %d: got % X, want % X", i, got, want)
		}
		if _, err := ParseAPDU(got); err != nil {
			t.Errorf("frame %d: ParseAPDU: %v", i, err)
		}
	}
	if _, err := ReadAPDU(r, buf); err != io.EOF {
		t.Errorf("at the end: got %v, want io.EOF", err)
	}
}

// failReader fails the test if anyone reads from it.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("ReadAPDU read the body after a bad start or length octet")
	return 0, errors.New("must not be read")
}

func TestReadAPDUErrors(t *testing.T) {
	tests := []struct {
		name   string
		head   string
		strict bool  // the body must not be read
		err    error // a sentinel or an io error
		off    int
	}{
		{"bad start", "69 04", true, ErrStartByte, 0},
		{"length 3", "68 03", true, ErrLength, 1},
		{"length 0", "68 00", true, ErrLength, 1},
		{"length 254", "68 FE", true, ErrLength, 1},
		{"empty", "", false, io.EOF, 0},
		{"one octet", "68", false, io.ErrUnexpectedEOF, 0},
		{"no body", "68 04", false, io.ErrUnexpectedEOF, 0},
		{"short body", "68 0E 00 00 00 00 64", false, io.ErrUnexpectedEOF, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(hx(tc.head))
			if tc.strict {
				r = io.MultiReader(r, failReader{t})
			}
			got, err := ReadAPDU(iotest.OneByteReader(r), make([]byte, MaxAPDU))
			if got != nil {
				t.Errorf("got frame % X, want nil", got)
			}
			var de *DecodeError
			if errors.As(err, &de) {
				checkDecodeErr(t, err, tc.err, tc.off)
			} else if err != tc.err {
				t.Errorf("got error %v, want %v", err, tc.err)
			}
		})
	}
	if _, err := ReadAPDU(bytes.NewReader(hx("68 04 07 00 00 00")), make([]byte, MaxAPDU-1)); err == nil {
		t.Error("ReadAPDU with a short buffer: got nil error, want one")
	}
}
