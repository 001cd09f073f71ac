package iec104

import (
	"runtime"
	"strings"
	"testing"
)

// benchASDUs are the ASDUs the codec benchmarks decode and encode.
var benchASDUs = []struct {
	name string
	typ  TypeID
	sq   bool
	n    int
}{
	{"M_ME_NC_1_x30", M_ME_NC_1, false, 30},     // floats, SQ=0, the most that fit
	{"M_SP_NA_1_SQ_x127", M_SP_NA_1, true, 127}, // single points, SQ=1, the most allowed
	{"M_ME_TF_1_x16", M_ME_TF_1, false, 16},     // floats with CP56Time2a, the most that fit
}

func benchObjects(b *testing.B, typ TypeID, sq bool, n int) (Header, []Object, []byte) {
	b.Helper()
	h := Header{Type: typ, SQ: sq, Cause: CauseSpontaneous, CA: 1}
	objs := make([]Object, n)
	for i := range objs {
		o := &objs[i]
		o.IOA = uint32(1000 + i)
		if !sq {
			o.IOA = uint32(1000 + 7*i)
		}
		o.State = uint8(i & 1)
		o.Float = float32(i) * 0.75
		o.Quality = Quality(i*16) & qualityFlags
		if typ.HasTime() {
			o.Time = tEx
			o.Time.Millisecond = uint16(i)
		}
	}
	enc, err := AppendASDU(nil, h, objs)
	if err != nil {
		b.Fatal(err)
	}
	return h, objs, enc
}

// perObject runs op in b.Loop and reports <unit>/s (objects or frames per
// second) and heap allocations per object or frame, besides the allocs/op of
// ReportAllocs. unit is a plural: "objects", "frames".
func perObject(b *testing.B, objs int, unit string, op func()) {
	b.Helper()
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		op()
		n++
	}
	runtime.ReadMemStats(&after)
	total := float64(n * objs)
	b.ReportMetric(total/b.Elapsed().Seconds(), unit+"/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/"+strings.TrimSuffix(unit, "s"))
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchASDUs {
		b.Run(c.name, func(b *testing.B) {
			_, _, enc := benchObjects(b, c.typ, c.sq, c.n)
			dst := make([]Object, 0, c.n)
			var err error
			perObject(b, c.n, "objects", func() {
				var a ASDU
				if a, err = ParseASDU(enc); err == nil {
					dst, err = a.Objects(dst[:0])
				}
			})
			if err != nil || len(dst) != c.n {
				b.Fatalf("decoded %d objects, %v; want %d", len(dst), err, c.n)
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range benchASDUs {
		b.Run(c.name, func(b *testing.B) {
			h, objs, want := benchObjects(b, c.typ, c.sq, c.n)
			out := make([]byte, 0, MaxASDU)
			var err error
			perObject(b, c.n, "objects", func() {
				out, err = AppendASDU(out[:0], h, objs)
			})
			if err != nil || len(out) != len(want) {
				b.Fatalf("encoded %d octets, %v; want %d", len(out), err, len(want))
			}
		})
	}
}

// BenchmarkParseAPDU parses the APCI of three frames per operation: an
// I-frame with 30 floats, an S-frame and a U-frame.
func BenchmarkParseAPDU(b *testing.B) {
	_, _, asdu := benchObjects(b, M_ME_NC_1, false, 30)
	iframe, err := AppendI(nil, 1234, 4321, asdu)
	if err != nil {
		b.Fatal(err)
	}
	frames := [][]byte{iframe, AppendS(nil, 99), AppendU(nil, TestFRAct)}
	var p APDU
	perObject(b, len(frames), "frames", func() {
		for _, f := range frames {
			if p, err = ParseAPDU(f); err != nil {
				break
			}
		}
	})
	if err != nil || p.Format != FormatU {
		b.Fatalf("last frame: %v, %v", p, err)
	}
}

// BenchmarkFramer splits a stream of 100 frames fed in 1460-octet segments.
func BenchmarkFramer(b *testing.B) {
	_, _, asdu := benchObjects(b, M_ME_NC_1, false, 30)
	var stream []byte
	for i := range 100 {
		switch i % 3 {
		case 0:
			stream, _ = AppendI(stream, uint16(i), 0, asdu)
		case 1:
			stream = AppendS(stream, uint16(i))
		default:
			stream = AppendU(stream, TestFRCon)
		}
	}
	got := 0
	perObject(b, 100, "frames", func() {
		var f Framer
		got = 0
		for seg := stream; len(seg) > 0; {
			n := min(1460, len(seg))
			f.Feed(seg[:n])
			seg = seg[n:]
			for {
				frame, _, err := f.Next()
				if err != nil {
					b.Fatal(err)
				}
				if frame == nil {
					break
				}
				got++
			}
		}
	})
	if got != 100 {
		b.Fatalf("got %d frames, want 100", got)
	}
}
