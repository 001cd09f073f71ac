package frontstation

import (
	"sync"
	"time"

	"hmi/frontstation/iec104"
)

// Frame is one APDU a link sent or received, kept raw in the traffic ring
// and decoded when someone looks (capture.Describe).
type Frame struct {
	Seq     uint64 // increasing per link, so a viewer can ask for what is new
	Time    time.Time
	Sent    bool   // sent by the HMI; false: received from the device
	Address string // the device address of the connection
	Raw     []byte
}

// trafficRing keeps the last frames of a link, both directions.
type trafficRing struct {
	mu    sync.Mutex
	buf   []Frame // guarded by mu; fixed length, reused
	raw   []byte  // guarded by mu; len(buf) slots of MaxAPDU octets backing Frame.Raw
	next  uint64  // guarded by mu; Seq of the next frame
	count int     // guarded by mu; frames held, at most len(buf)
}

func newTrafficRing(n int) *trafficRing {
	if n <= 0 {
		n = 1
	}
	return &trafficRing{buf: make([]Frame, n), raw: make([]byte, n*iec104.MaxAPDU), next: 1}
}

func (r *trafficRing) add(t time.Time, sent bool, addr string, apdu []byte) {
	r.mu.Lock()
	i := int(r.next % uint64(len(r.buf)))
	slot := r.raw[i*iec104.MaxAPDU : (i+1)*iec104.MaxAPDU]
	n := copy(slot, apdu)
	r.buf[i] = Frame{Seq: r.next, Time: t, Sent: sent, Address: addr, Raw: slot[:n:n]}
	r.next++
	if r.count < len(r.buf) {
		r.count++
	}
	r.mu.Unlock()
}

// since appends copies of the frames with Seq > after, oldest first.
func (r *trafficRing) since(after uint64, dst []Frame) []Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := r.next - uint64(r.count)
	if after+1 > first {
		first = after + 1
	}
	for s := first; s < r.next; s++ {
		f := r.buf[s%uint64(len(r.buf))]
		f.Raw = append([]byte(nil), f.Raw...)
		dst = append(dst, f)
	}
	return dst
}
