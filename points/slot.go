package points

import (
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// slot holds the live value of one point. Its fields are guarded by ver, a sequence lock: a writer takes it by
// setting the writing bit with a compare-and-swap (so Apply, SetCommFail and Sweep exclude each other per point),
// stores the other fields, and releases it by storing the next even version together with the new quality. A reader
// loads ver, the fields, and ver again, and retries unless both loads of ver are equal and even. Every field is
// accessed atomically, so the race detector agrees, and no reader ever sees a torn Value.
//
// A slot is 40 bytes: the quality lives in the top 16 bits of the lock word.
type slot struct {
	ver  atomic.Uint64 // quality<<48 | version<<1 | writing bit
	val  atomic.Uint64 // math.Float64bits of the value
	src  atomic.Int64  // source time in Unix nanoseconds, 0 when none
	recv atomic.Int64  // receive time of the last update in Unix nanoseconds, 0 before the first
	seq  atomic.Uint64 // cache-wide sequence number of the last change, 0 before the first
}

const (
	verWriting  = 1
	verQShift   = 48
	verCounter  = (1<<verQShift - 1) &^ verWriting // the version bits
	spinsBefore = 32                               // spins on a held slot before yielding the processor
)

// quality returns the quality bits of a lock word.
func quality(ver uint64) Quality { return Quality(ver >> verQShift) }

// lock takes the slot's sequence lock for writing and returns the word it held before, whose quality is the current
// one. The holder must call unlock with that word.
func (s *slot) lock() uint64 {
	for i := 0; ; i++ {
		v := s.ver.Load()
		if v&verWriting == 0 && s.ver.CompareAndSwap(v, v|verWriting) {
			return v
		}
		if i >= spinsBefore {
			runtime.Gosched()
		}
	}
}

// unlock releases the lock taken by lock, which returned prev, publishing quality q with the next version.
func (s *slot) unlock(prev uint64, q Quality) {
	s.ver.Store((prev+2)&verCounter | uint64(q)<<verQShift)
}

// load returns a consistent copy of the slot.
func (s *slot) load() Value {
	for i := 0; ; i++ {
		v := s.ver.Load()
		if v&verWriting == 0 {
			val, src, recv, seq := s.val.Load(), s.src.Load(), s.recv.Load(), s.seq.Load()
			if s.ver.Load() == v {
				return Value{
					Value:      math.Float64frombits(val),
					Quality:    quality(v),
					SourceTime: fromNanos(src),
					RecvTime:   fromNanos(recv),
					Seq:        seq,
				}
			}
		}
		if i >= spinsBefore {
			runtime.Gosched()
		}
	}
}

// nanos converts t to Unix nanoseconds, the zero time to 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos; times come back in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
