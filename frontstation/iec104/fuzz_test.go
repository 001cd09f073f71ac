package iec104

import (
	"bytes"
	"errors"
	"testing"
)

// framerResult is a frame or a skipped run, as the Framer reported it.
type framerResult struct {
	offset int64
	frame  []byte // nil for an error
}

// runFramer feeds data to a Framer in chunks whose sizes come from cuts (then
// the rest at once) and checks every result. It returns the frames and the
// skipped runs, and the octets left pending.
func runFramer(t *testing.T, data, cuts []byte) (frames, skips []framerResult, pending []byte) {
	t.Helper()
	var f Framer
	next := func() {
		for guard := 0; ; guard++ {
			if guard > len(data)+1 {
				t.Fatalf("Framer.Next does not stop")
			}
			before := f.Offset()
			frame, off, err := f.Next()
			used := f.Offset() - before
			if off != before {
				t.Fatalf("Next: got offset %d, want %d (the offset before the call)", off, before)
			}
			if err != nil {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Next: got %T %v, want *DecodeError", err, err)
				}
				switch {
				case errors.Is(err, ErrStartByte):
					if de.Offset != int(before) || data[before] == StartByte {
						t.Fatalf("Next: %v at %d: the octet there is 0x%02X", err, before, data[before])
					}
				case errors.Is(err, ErrLength):
					if de.Offset != int(before)+1 {
						t.Fatalf("Next: %v: got offset %d, want %d", err, de.Offset, before+1)
					}
					if n := int(data[before+1]); n >= MinLength && n <= MaxLength {
						t.Fatalf("Next: %v, but the length octet %d is valid", err, n)
					}
				default:
					t.Fatalf("Next: unexpected error %v", err)
				}
				if frame != nil || used <= 0 {
					t.Fatalf("Next: error %v with frame % X after %d octets, want no frame and progress", err, frame, used)
				}
				skips = append(skips, framerResult{offset: off})
				continue
			}
			if frame == nil {
				if used != 0 {
					t.Fatalf("Next: no frame, but the offset moved by %d", used)
				}
				return
			}
			if int64(len(frame)) != used || !bytes.Equal(frame, data[off:off+used]) {
				t.Fatalf("Next: frame % X at %d does not match the stream % X", frame, off, data[off:off+used])
			}
			checkFrame(t, frame)
			frames = append(frames, framerResult{offset: off, frame: bytes.Clone(frame)})
		}
	}
	rest := data
	for _, c := range cuts {
		n := min(int(c), len(rest))
		f.Feed(rest[:n])
		rest = rest[n:]
		next()
	}
	f.Feed(rest)
	next()
	// What is left is the start of a frame that has not arrived in full.
	if left := f.Buffered(); left > 0 {
		at := f.Offset()
		if data[at] != StartByte || left >= 2 && int(data[at+1])+2 <= left {
			t.Fatalf("% X left pending: not an unfinished frame", data[at:])
		}
	}
	pending = f.Pending()
	if got := f.Offset(); got != int64(len(data)) {
		t.Fatalf("consumed %d octets in all, want %d", got, len(data))
	}
	return frames, skips, pending
}

// checkFrame checks that a frame the Framer returned parses or fails cleanly,
// and that what parses encodes to something that parses the same.
func checkFrame(t *testing.T, frame []byte) {
	t.Helper()
	if frame[0] != StartByte || int(frame[1])+2 != len(frame) || frame[1] < MinLength || frame[1] > MaxLength {
		t.Fatalf("frame % X: bad start, length octet or size", frame)
	}
	p, err := ParseAPDU(frame)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("ParseAPDU(% X): got %T %v, want *DecodeError", frame, err, err)
		}
		if !errors.Is(err, ErrShortASDU) && !errors.Is(err, ErrSFrame) && !errors.Is(err, ErrUFunction) {
			t.Fatalf("ParseAPDU(% X): unexpected error %v for a framed APDU", frame, err)
		}
		return
	}
	var enc []byte
	switch p.Format {
	case FormatI:
		if enc, err = AppendI(nil, p.SendSeq, p.RecvSeq, p.ASDU); err != nil {
			t.Fatalf("AppendI of % X: %v", frame, err)
		}
		checkASDU(t, p.ASDU)
	case FormatS:
		enc = AppendS(nil, p.RecvSeq)
	case FormatU:
		enc = AppendU(nil, p.U)
	default:
		t.Fatalf("ParseAPDU(% X): format %v", frame, p.Format)
	}
	q, err := ParseAPDU(enc)
	if err != nil {
		t.Fatalf("ParseAPDU(encode(% X)) = ParseAPDU(% X): %v", frame, enc, err)
	}
	if q.Format != p.Format || q.SendSeq != p.SendSeq || q.RecvSeq != p.RecvSeq || q.U != p.U || !bytes.Equal(q.ASDU, p.ASDU) {
		t.Fatalf("APDU round trip of % X: got %+v, want %+v", frame, q, p)
	}
}

// checkASDU decodes b; if it decodes, encoding the result and decoding that
// must give the same header and objects, and encoding again the same octets.
func checkASDU(t *testing.T, b []byte) {
	t.Helper()
	a, err := ParseASDU(b)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) || de.Offset < 0 || de.Offset > max(len(b), MaxASDU) {
			t.Fatalf("ParseASDU(% X): got %v, want a *DecodeError with an offset inside the input", b, err)
		}
		return
	}
	if len(b) < asduHeaderLen || len(b) > MaxASDU || a.Count > 127 || !bytes.Equal(a.Payload, b[asduHeaderLen:]) {
		t.Fatalf("ParseASDU(% X): accepted %d octets, count %d, payload % X", b, len(b), a.Count, a.Payload)
	}
	objs, err := a.Objects(nil)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, ErrUnknownType) || a.Type.Known() {
			t.Fatalf("Objects(% X): got %v, want only ErrUnknownType after a successful parse", b, err)
		}
		return
	}
	if !a.Type.Known() {
		if len(objs) != 0 || a.Count != 0 {
			t.Fatalf("Objects(% X): unknown type gave %d objects, count %d", b, len(objs), a.Count)
		}
		return
	}
	if len(objs) != a.Count {
		t.Fatalf("Objects(% X): got %d objects, want %d", b, len(objs), a.Count)
	}
	enc, err := AppendASDU(nil, a.Header, objs)
	if err != nil {
		t.Fatalf("AppendASDU(decode(% X)): %v", b, err)
	}
	if len(enc) != len(b) {
		t.Fatalf("AppendASDU(decode(% X)): got %d octets % X, want %d", b, len(enc), enc, len(b))
	}
	a2, err := ParseASDU(enc)
	if err != nil {
		t.Fatalf("ParseASDU(encode(decode(% X))) = ParseASDU(% X): %v", b, enc, err)
	}
	if a2.Header != a.Header || a2.Count != a.Count {
		t.Fatalf("header of % X: got %+v count %d after a round trip, want %+v count %d", b, a2.Header, a2.Count, a.Header, a.Count)
	}
	objs2, err := a2.Objects(nil)
	if err != nil {
		t.Fatalf("Objects(% X): %v", enc, err)
	}
	for i := range objs {
		if !objectEqual(objs2[i], objs[i]) {
			t.Fatalf("object %d of % X: got %+v after a round trip, want %+v", i, b, objs2[i], objs[i])
		}
	}
	enc2, err := AppendASDU(nil, a2.Header, objs2)
	if err != nil || !bytes.Equal(enc2, enc) {
		t.Fatalf("second encode of % X: got % X, %v, want % X", b, enc2, err, enc)
	}
}

// fuzzStreams are seed streams for FuzzFramer, with split points.
func fuzzStreams() (streams [][]byte, cuts [][]byte) {
	var all []byte
	for _, v := range apciGolden {
		all = append(all, hx(v.hex)...)
	}
	for _, v := range apduGolden {
		all = append(all, hx(v.hex)...)
	}
	streams = append(streams, all, all)
	cuts = append(cuts, nil, []byte{1, 1, 1, 5, 7, 0, 3, 100, 2})
	junk := append(hx("AA BB 68 02 CC DD 68 00 11 68 04 43 00 00 00 68 FF"), make([]byte, 255)...)
	junk = append(junk, hx("68 04 17 00 00 00 68 05 01 00 14 00 AA 68 04 00 00 00 00 68 0A 00 00 00 00 00 00 0A 00 01 00 68 0E 00")...)
	streams = append(streams, junk, junk)
	cuts = append(cuts, nil, []byte{3, 1, 2, 250, 4, 9})
	return streams, cuts
}

// FuzzFramer splits an arbitrary stream at arbitrary points: no panic, every
// frame is a stretch of the input that parses or fails cleanly, every octet is
// accounted for, and the frames do not depend on the split points.
func FuzzFramer(f *testing.F) {
	streams, cuts := fuzzStreams()
	for i := range streams {
		f.Add(streams[i], cuts[i])
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		whole, _, pendWhole := runFramer(t, data, nil)
		split, _, pendSplit := runFramer(t, data, cuts)
		if len(whole) != len(split) {
			t.Fatalf("got %d frames when split, %d in one chunk", len(split), len(whole))
		}
		for i := range whole {
			if whole[i].offset != split[i].offset || !bytes.Equal(whole[i].frame, split[i].frame) {
				t.Fatalf("frame %d: got % X at %d when split, % X at %d in one chunk",
					i, split[i].frame, split[i].offset, whole[i].frame, whole[i].offset)
			}
		}
		if !bytes.Equal(pendWhole, pendSplit) {
			t.Fatalf("pending: got % X when split, % X in one chunk", pendSplit, pendWhole)
		}
	})
}

// FuzzASDU decodes arbitrary octets as an ASDU: no panic, and whatever
// decodes is stable under decode -> encode -> decode.
func FuzzASDU(f *testing.F) {
	for _, v := range asduGolden {
		f.Add(hx(v.hex))
	}
	for _, v := range apduGolden {
		f.Add(hx(v.hex)[6:])
	}
	for _, s := range []string{
		"00 00 0A 00 01 00",                                              // type 0, no objects
		"68 01 06 00 01 00 00 00 00 AA 55",                               // C_TS_NA_1, unknown
		"01 02 03 00 01 00 01 00 00 01",                                  // more objects than octets
		"01 88 14 03 01 00 2C 01 00 01 00 01",                            // SQ=1 cut short
		"0D 81 03 00 01 00 00 00 00 01 00 C0 7F 00",                      // NaN with payload
		"24 01 03 00 01 00 C8 00 00 01 00 80 FF 00 FF FF FF FF FF FF FF", // NaN, reserved time bits
		"01 FF 03 00 01 00",                                              // 127 elements, none there
	} {
		f.Add(hx(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkASDU(t, data)
		// The same octets as the ASDU of an I-frame.
		if len(data) >= 1 && len(data) <= MaxASDU {
			frame, err := AppendI(nil, 1, 2, data)
			if err != nil {
				t.Fatalf("AppendI(% X): %v", data, err)
			}
			p, err := ParseAPDU(frame)
			if err != nil || p.Format != FormatI || !bytes.Equal(p.ASDU, data) {
				t.Fatalf("ParseAPDU(% X): got %+v, %v", frame, p, err)
			}
		}
	})
}
