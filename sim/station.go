package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"hmi/frontstation/iec104"
)

// point is the live state of a monitor point. obj and frozen are guarded by
// Server.mu.
type point struct {
	Point
	obj    iec104.Object // current value and quality; IOA set
	frozen iec104.Object // counters: the value memorised by the last freeze
}

// command is a configured command and its pending select.
type command struct {
	Command
	point   *point
	timeout time.Duration
	sel     *selection // guarded by Server.mu; nil when not selected
}

// selection is a select (S/E = 1) waiting for its execute.
type selection struct {
	owner    uint64 // session id
	typ      iec104.TypeID
	obj      iec104.Object // value and qualifier of the select, time and S/E cleared
	deadline time.Time
}

// objectOf converts a configured value to the wire object of a point.
func objectOf(p Point) iec104.Object {
	o := iec104.Object{IOA: p.IOA, Quality: p.Quality}
	switch p.Kind {
	case Single, Double:
		o.State = uint8(p.Value)
	case Step:
		o.Step = int8(p.Value)
	case Bitstring:
		o.Bits = uint32(p.Value)
	case Normalized:
		o.Int = iec104.NormalizedRaw(p.Value)
	case Scaled, Counter:
		o.Int = int32(p.Value)
	case Float:
		o.Float = float32(p.Value)
	}
	return o
}

// change moves p to a new random value: discrete states toggle, a step
// position and the analogs walk, a bit of the bitstring flips, a counter
// counts up. The caller holds Server.mu.
func (p *point) change(rng *rand.Rand) {
	o := &p.obj
	switch p.Kind {
	case Single:
		o.State ^= 1
	case Double:
		if o.State == 2 {
			o.State = 1
		} else {
			o.State = 2
		}
	case Step:
		d := int8(1)
		if rng.IntN(2) == 0 {
			d = -1
		}
		if o.Step+d < -64 || o.Step+d > 63 {
			d = -d
		}
		o.Step += d
	case Bitstring:
		o.Bits ^= 1 << rng.IntN(32)
	case Normalized:
		o.Int = walk(o.Int, 1+rng.Int32N(328), rng, math.MinInt16, math.MaxInt16)
	case Scaled:
		o.Int = walk(o.Int, 1+rng.Int32N(10), rng, math.MinInt16, math.MaxInt16)
	case Float:
		d := float32(0.1 + rng.Float64()*(0.01*math.Abs(float64(o.Float))+1))
		if rng.IntN(2) == 0 {
			d = -d
		}
		if v := o.Float + d; math.Abs(float64(v)) < 1e30 {
			o.Float = v
		}
	case Counter:
		v := o.Int + 1 + rng.Int32N(10)
		if v < o.Int {
			o.Carry = true
		}
		o.Int = v
	}
}

// walk adds or subtracts d from v, turning back at the limits.
func walk(v, d int32, rng *rand.Rand, lo, hi int32) int32 {
	if rng.IntN(2) == 0 {
		d = -d
	}
	if int64(v)+int64(d) < int64(lo) || int64(v)+int64(d) > int64(hi) {
		d = -d
	}
	return v + d
}

// report returns the point's object as reported now, with time tag tm when
// the type carries one.
func (p *point) report(timeTag bool, tm iec104.CP56Time2a) iec104.Object {
	o := p.obj
	if timeTag {
		o.Time = tm
	}
	return o
}

// capacity returns how many objects of type t fit one ASDU with SQ=0 and with SQ=1.
func capacity(t iec104.TypeID) (sq0, sq1 int) {
	size := t.ElementSize()
	sq0 = min(127, (iec104.MaxASDU-6)/(3+size))
	sq1 = min(127, (iec104.MaxASDU-9)/size)
	return sq0, sq1
}

// minRun is the shortest run of consecutive IOAs that goes into an ASDU of
// its own with SQ=1 (shorter runs save less than a new header costs).
const minRun = 4

// pack encodes objs (all of h.Type) into as few ASDUs as fit: runs of at
// least minRun consecutive IOAs with SQ=1, the rest with SQ=0, none over
// 249 octets or 127 objects. It calls emit with each encoded ASDU (a new
// slice) and stops at the first error.
func pack(h iec104.Header, objs []iec104.Object, emit func([]byte) error) error {
	cap0, cap1 := capacity(h.Type)
	var pending []iec104.Object
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		hh := h
		hh.SQ = false
		b, err := iec104.AppendASDU(nil, hh, pending)
		pending = pending[:0]
		if err != nil {
			return err
		}
		return emit(b)
	}
	for i := 0; i < len(objs); {
		j := i + 1
		for j < len(objs) && j-i < cap1 && objs[j].IOA == objs[j-1].IOA+1 {
			j++
		}
		if j-i >= minRun {
			if err := flush(); err != nil {
				return err
			}
			hh := h
			hh.SQ = true
			b, err := iec104.AppendASDU(nil, hh, objs[i:j])
			if err != nil {
				return err
			}
			if err := emit(b); err != nil {
				return err
			}
		} else {
			for _, o := range objs[i:j] {
				pending = append(pending, o)
				if len(pending) == cap0 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		i = j
	}
	return flush()
}

// batch collects objects per type in the order types first appear.
type batch struct {
	types []iec104.TypeID
	objs  map[iec104.TypeID][]iec104.Object
}

func (b *batch) add(t iec104.TypeID, o iec104.Object) {
	if b.objs == nil {
		b.objs = make(map[iec104.TypeID][]iec104.Object)
	}
	if _, ok := b.objs[t]; !ok {
		b.types = append(b.types, t)
	}
	b.objs[t] = append(b.objs[t], o)
}

// pack encodes the batch, type by type, with header h (its Type is set per type).
func (b *batch) pack(h iec104.Header, emit func([]byte) error) error {
	for _, t := range b.types {
		h.Type = t
		if err := pack(h, b.objs[t], emit); err != nil {
			return err
		}
	}
	return nil
}

// sortedByIOA sorts points by IOA.
func sortedByIOA(ps []*point) {
	slices.SortFunc(ps, func(a, b *point) int {
		switch {
		case a.IOA < b.IOA:
			return -1
		case a.IOA > b.IOA:
			return 1
		}
		return 0
	})
}
