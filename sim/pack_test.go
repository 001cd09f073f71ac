package sim

import (
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

// TestPack packs random sets of objects of every monitor type and checks
// that the ASDUs decode to the same objects in the same order (a point may
// change twice in a batch), that none is over 249 octets or 127 objects,
// that SQ=1 holds at least minRun objects, and that SQ=0 ASDUs are full.
func TestPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	now := iec104.NewCP56(time.Date(2026, 11, 21, 3, 25, 6, 0, time.UTC), nil)
	for k := Single; k <= Counter; k++ {
		for _, timeTag := range []bool{false, true} {
			typ := k.TypeID(timeTag)
			for range 50 {
				var objs []iec104.Object
				ioa := uint32(1 + rng.IntN(1000))
				for range rng.IntN(600) {
					if rng.IntN(3) == 0 {
						ioa += uint32(2 + rng.IntN(5)) // a gap
					} else {
						ioa++
					}
					p := &point{Point: Point{IOA: ioa, Kind: k}}
					p.obj = objectOf(p.Point)
					p.change(rng)
					objs = append(objs, p.report(timeTag, now))
				}
				var got []iec104.Object
				var asdus []iec104.ASDU
				err := pack(iec104.Header{Type: typ, Cause: iec104.CauseSpontaneous, CA: 1}, objs, func(b []byte) error {
					if len(b) > iec104.MaxASDU {
						t.Fatalf("%v: %d octets", typ, len(b))
					}
					a, err := iec104.ParseASDU(b)
					if err != nil {
						t.Fatal(err)
					}
					if a.Type != typ || a.Cause != iec104.CauseSpontaneous || a.CA != 1 || a.Count == 0 {
						t.Fatalf("header %+v", a.Header)
					}
					got, err = a.Objects(got)
					if err != nil {
						t.Fatal(err)
					}
					asdus = append(asdus, a)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(objs) {
					t.Fatalf("%v: %d objects out, %d in", typ, len(got), len(objs))
				}
				for i := range objs {
					if got[i] != objs[i] {
						t.Fatalf("%v: object %d is %+v, want %+v (order kept)", typ, i, got[i], objs[i])
					}
				}
				cap0, cap1 := capacity(typ)
				for _, a := range asdus {
					if a.SQ && a.Count < minRun {
						t.Errorf("%v: SQ=1 with %d objects", typ, a.Count)
					}
					if a.Count > cap1 || (!a.SQ && a.Count > cap0) {
						t.Errorf("%v: SQ=%v with %d objects", typ, a.SQ, a.Count)
					}
				}
				// An SQ=0 ASDU is full unless an SQ=1 one or nothing follows.
				for i, a := range asdus {
					if !a.SQ && a.Count != cap0 && i+1 < len(asdus) && !asdus[i+1].SQ {
						t.Errorf("%v: SQ=0 ASDU %d of %d has %d objects, want %d", typ, i, len(asdus), a.Count, cap0)
					}
				}
			}
		}
	}
}

func TestCapacity(t *testing.T) {
	for _, tt := range []struct {
		typ      iec104.TypeID
		sq0, sq1 int
	}{
		{iec104.M_SP_NA_1, 60, 127}, // (249-6)/4, min(127, 240)
		{iec104.M_ME_NC_1, 30, 48},  // (249-6)/8, 240/5
		{iec104.M_ME_TF_1, 16, 20},  // (249-6)/15, 240/12
		{iec104.M_IT_TB_1, 16, 20},  // as M_ME_TF_1
		{iec104.M_ST_NA_1, 48, 120}, // (249-6)/5, 240/2
		{iec104.M_ME_NB_1, 40, 80},  // (249-6)/6, 240/3
		{iec104.M_DP_TB_1, 22, 30},  // (249-6)/11, 240/8
		{iec104.M_BO_NA_1, 30, 48},  // (249-6)/8, 240/5
		{iec104.M_SP_TB_1, 22, 30},  // as M_DP_TB_1
		{iec104.M_ME_TD_1, 18, 24},  // (249-6)/13, 240/10
		{iec104.M_IT_NA_1, 30, 48},  // as M_ME_NC_1
		{iec104.M_ME_NA_1, 40, 80},  // as M_ME_NB_1
		{iec104.M_DP_NA_1, 60, 127}, // as M_SP_NA_1
		{iec104.M_ST_TB_1, 20, 26},  // (249-6)/12, 240/9
		{iec104.M_BO_TB_1, 16, 20},  // (249-6)/15, 240/12
		{iec104.M_ME_TE_1, 18, 24},  // as M_ME_TD_1
	} {
		if sq0, sq1 := capacity(tt.typ); sq0 != tt.sq0 || sq1 != tt.sq1 {
			t.Errorf("capacity(%v) = %d, %d, want %d, %d", tt.typ, sq0, sq1, tt.sq0, tt.sq1)
		}
	}
}

// FuzzHandle feeds arbitrary ASDUs to the request handler: it must not
// panic, and every answer must be a valid ASDU of at most 249 octets.
func FuzzHandle(f *testing.F) {
	seeds := [][]byte{
		{100, 1, 6, 0, 7, 0, 0, 0, 0, 20},
		{100, 1, 8, 0, 7, 0, 0, 0, 0, 20},
		{101, 1, 6, 0, 0xFF, 0xFF, 0, 0, 0, 0x45},
		{103, 1, 6, 0, 7, 0, 0, 0, 0, 0x70, 0x17, 0x19, 0x03, 0xD5, 0x0B, 0x1A},
		{107, 1, 6, 0, 7, 0, 0, 0, 0, 0x34, 0x12, 0x70, 0x17, 0x19, 0x03, 0xD5, 0x0B, 0x1A},
		{102, 1, 5, 0, 7, 0, 0x64, 0, 0},
		{45, 1, 6, 0, 7, 0, 0x88, 0x13, 0, 0x81},
		{45, 1, 6, 0, 7, 0, 0x88, 0x13, 0, 0x01},
		{45, 1, 8, 0, 7, 0, 0x88, 0x13, 0, 0x81},
		{46, 1, 6, 0, 7, 0, 0xEC, 0x13, 0, 0x82},
		{47, 1, 6, 0, 7, 0, 0x50, 0x14, 0, 0x02},
		{50, 1, 6, 0, 7, 0, 0x7C, 0x15, 0, 0, 0, 0x2E, 0xC2, 0x80},
		{63, 1, 6, 0, 7, 0, 0x7C, 0x15, 0, 0, 0, 0x2E, 0xC2, 0x00, 0x70, 0x17, 0x19, 0x03, 0xD5, 0x0B, 0x1A},
		{1, 0x85, 3, 0, 7, 0},
		{200, 1, 6, 0, 7, 0},
		{},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	cfg, err := ParseConfig("test.yaml", []byte(testYAML))
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Options{Config: cfg})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(a []byte) error {
			if len(a) > iec104.MaxASDU {
				t.Errorf("answer of %d octets", len(a))
			}
			if _, err := iec104.ParseASDU(a); err != nil && iec104.TypeID(a[0]).Known() {
				t.Errorf("answer % x: %v", a, err)
			}
			return nil
		}
		r := &responder{owner: 1, log: slog.New(slog.DiscardHandler), send: check, others: func(a []byte) { check(a) }}
		if err := srv.handle(r, b); err != nil {
			t.Fatal(err)
		}
	})
}
