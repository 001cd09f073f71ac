package capture

import (
	"sort"
	"time"
)

// Limits on what one direction of a TCP connection may hold while it waits
// for a missing segment. Past them the missing octets are given up as a gap,
// so a hostile capture cannot make the reader hold unbounded memory.
const (
	maxPendingBytes    = 1 << 20
	maxPendingSegments = 4096
)

// chunk is a piece of one direction's byte stream, delivered in stream order.
// A chunk with Gap > 0 says that Gap octets before Data were never captured.
type chunk struct {
	Off    int64 // stream offset of Data[0]
	Data   []byte
	Gap    int64 // octets missing just before Off
	Time   time.Time
	Packet int
}

// segment is an out-of-order segment waiting for the octets before it.
type segment struct {
	off    int64
	data   []byte
	time   time.Time
	packet int
}

// reassembler puts one direction of a TCP connection back in order: it drops
// retransmitted octets, trims overlapping segments (octets already delivered,
// or buffered at a lower offset, win), buffers segments that arrive early and
// hands out contiguous chunks.
// A direction whose SYN was not captured starts at the first segment seen.
type reassembler struct {
	started bool
	next    uint32 // sequence number of the next expected octet
	off     int64  // stream offset of the next expected octet
	pending []segment
	pendBuf int // octets held in pending
}

// syn starts the stream after a SYN with sequence number seq. It reports
// false when the stream had already started (a retransmitted SYN).
func (r *reassembler) syn(seq uint32) bool {
	if r.started {
		return false
	}
	r.started = true
	r.next = seq + 1
	return true
}

// add takes the payload of one segment and appends the chunks it makes
// contiguous to out. Chunks get the time and number of this packet: the one
// that made their octets decodable. data may be reused after add returns.
func (r *reassembler) add(out []chunk, seq uint32, data []byte, ts time.Time, packet int) []chunk {
	if len(data) == 0 {
		return out
	}
	if !r.started {
		r.started = true
		r.next = seq
	}
	d := int64(int32(seq - r.next))
	if d <= 0 {
		skip := -d
		if skip >= int64(len(data)) {
			return out // retransmission of octets already delivered
		}
		out = r.deliver(out, data[skip:], ts, packet, 0)
		return r.drain(out, ts, packet)
	}
	r.insert(segment{off: r.off + d, data: append([]byte(nil), data...), time: ts, packet: packet})
	if r.pendBuf > maxPendingBytes || len(r.pending) > maxPendingSegments {
		out = r.skipGap(out, ts, packet)
	}
	return out
}

// lost skips n octets at sequence number seq that the capture does not hold
// (a segment cut short by the snap length), when they are next in the
// stream; otherwise a later gap covers them.
func (r *reassembler) lost(out []chunk, seq uint32, n int, ts time.Time, packet int) []chunk {
	if !r.started {
		r.started = true
		r.next = seq
	}
	if r.next != seq {
		return out
	}
	r.next += uint32(n)
	r.off += int64(n)
	out = append(out, chunk{Off: r.off, Gap: int64(n), Time: ts, Packet: packet})
	return r.drain(out, ts, packet)
}

// flush gives up on every missing segment and delivers what is buffered,
// with its gaps, each segment with its own time. Called at the end of the
// capture.
func (r *reassembler) flush(out []chunk) []chunk {
	for len(r.pending) > 0 {
		out = r.skipGap(out, r.pending[0].time, r.pending[0].packet)
	}
	return out
}

// skipGap declares the octets up to the first buffered segment lost and
// delivers from there, as packet number packet at time ts.
func (r *reassembler) skipGap(out []chunk, ts time.Time, packet int) []chunk {
	if len(r.pending) == 0 {
		return out
	}
	s := r.pending[0]
	r.pending = r.pending[1:]
	r.pendBuf -= len(s.data)
	gap := s.off - r.off
	r.next += uint32(gap)
	r.off = s.off
	out = r.deliver(out, s.data, ts, packet, gap)
	return r.drain(out, ts, packet)
}

func (r *reassembler) deliver(out []chunk, data []byte, ts time.Time, packet int, gap int64) []chunk {
	out = append(out, chunk{Off: r.off, Data: append([]byte(nil), data...), Gap: gap, Time: ts, Packet: packet})
	r.off += int64(len(data))
	r.next += uint32(len(data))
	return out
}

// drain delivers the buffered segments that have become contiguous, as
// packet number packet at time ts.
func (r *reassembler) drain(out []chunk, ts time.Time, packet int) []chunk {
	for len(r.pending) > 0 && r.pending[0].off <= r.off {
		s := r.pending[0]
		r.pending = r.pending[1:]
		r.pendBuf -= len(s.data)
		end := s.off + int64(len(s.data))
		if end <= r.off {
			continue
		}
		out = r.deliver(out, s.data[r.off-s.off:], ts, packet, 0)
	}
	if len(r.pending) == 0 {
		r.pending = nil
	}
	return out
}

// insert keeps pending sorted by offset; of two segments at the same offset
// the longer one is kept (it covers the other).
func (r *reassembler) insert(s segment) {
	i := sort.Search(len(r.pending), func(i int) bool { return r.pending[i].off >= s.off })
	if i < len(r.pending) && r.pending[i].off == s.off {
		if len(s.data) > len(r.pending[i].data) {
			r.pendBuf += len(s.data) - len(r.pending[i].data)
			r.pending[i] = s
		}
		return
	}
	r.pending = append(r.pending, segment{})
	copy(r.pending[i+1:], r.pending[i:])
	r.pending[i] = s
	r.pendBuf += len(s.data)
}
