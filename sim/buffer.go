package sim

import (
	"hmi/frontstation/iec104"
)

// MaxEventBuffer bounds Options.EventBuffer: the buffer is handed to a new
// connection's send queue at once, which holds this many frames.
const MaxEventBuffer = 4096

// eventBuffer is the station's event buffer, as lib60870's server keeps one
// in its default mode (IEC104.md 3.3 and 9): while no connection is started,
// spontaneous ASDUs are kept here instead of being lost, and a connection
// that ends gives back the spontaneous ASDUs its peer did not acknowledge.
// The next started connection receives them first, so a master sees every
// event, some of them twice (those whose acknowledgement was lost with the
// connection). It is guarded by Server.smu: whether an ASDU is buffered
// depends on whether a session is started.
type eventBuffer struct {
	max     int
	asdus   [][]byte // oldest first
	dropped uint64   // ASDUs dropped because the buffer was full
}

// push appends ASDUs, dropping the oldest beyond max.
func (b *eventBuffer) push(asdus ...[]byte) {
	b.asdus = append(b.asdus, asdus...)
	b.trim()
}

// requeue puts back ASDUs older than everything buffered, in front.
func (b *eventBuffer) requeue(asdus [][]byte) {
	if len(asdus) == 0 {
		return
	}
	b.asdus = append(asdus[:len(asdus):len(asdus)], b.asdus...)
	b.trim()
}

func (b *eventBuffer) trim() {
	if over := len(b.asdus) - b.max; over > 0 {
		clear(b.asdus[:over])
		b.asdus = b.asdus[over:]
		b.dropped += uint64(over)
	}
}

// take empties the buffer.
func (b *eventBuffer) take() [][]byte {
	a := b.asdus
	b.asdus = nil
	return a
}

// BufferedEvents returns how many spontaneous ASDUs wait in the event buffer
// for the next started connection, and how many were dropped because it was
// full.
func (s *Server) BufferedEvents() (waiting int, dropped uint64) {
	if s.events == nil {
		return 0, 0
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	return len(s.events.asdus), s.events.dropped
}

// startedLocked reports whether a session is started; the caller holds smu.
func (s *Server) startedLocked() bool {
	for _, gone := range s.sessions {
		if gone != nil {
			return true
		}
	}
	return false
}

// bufferUnlessStarted buffers asdus when no session is started; otherwise it
// returns the started sessions (appended to dst), which must get them. Deciding under smu means an ASDU is never buffered just
// after a session started and took the buffer.
func (s *Server) bufferUnlessStarted(asdus [][]byte, dst []subscriber) []subscriber {
	s.smu.Lock()
	defer s.smu.Unlock()
	dst = s.subscribersLocked(dst)
	if len(dst) == 0 {
		s.events.push(asdus...)
	}
	return dst
}

// report sends one spontaneous ASDU to every started session, or buffers it
// when there is none (with an event buffer). A session that stopped or
// closed meanwhile refuses it; with an event buffer the ASDU is then
// buffered, as that session's unacknowledged ones are.
func (s *Server) report(b []byte) {
	if s.events == nil {
		s.queueAll(nil, b)
		return
	}
	subs := s.bufferUnlessStarted([][]byte{b}, nil)
	refused := 0
	for _, sub := range subs {
		if err := sub.ss.conn.Queue(b); err != nil {
			refused++
		}
	}
	if len(subs) > 0 && refused == len(subs) {
		// Every session ended between the check and the queueing: none has it.
		s.smu.Lock()
		s.events.push(b)
		s.smu.Unlock()
	}
}

// drainTo queues the buffered ASDUs on a session that has just started,
// before it is marked started, so that they precede anything newer. The
// caller holds smu; it runs on the session's connection goroutine (OnState).
func (s *Server) drainTo(ss *session) {
	if s.events == nil || len(s.events.asdus) == 0 || s.startedLocked() {
		// Another started session has had everything since it started.
		return
	}
	asdus := s.events.take()
	for i, b := range asdus {
		if err := ss.conn.Queue(b); err != nil {
			s.events.requeue(asdus[i:])
			ss.log.Warn("sim: buffered events not sent", "err", err, "left", len(asdus)-i)
			return
		}
	}
	ss.log.Info("sim: buffered events sent", "asdus", len(asdus))
}

// giveBack puts a finished session's unacknowledged spontaneous ASDUs, and
// those its sender had not yet handed over, back into the event buffer,
// unless another session is started (it had them all).
func (s *Server) giveBack(ss *session) {
	if s.events == nil {
		return
	}
	var back [][]byte
	for _, b := range ss.conn.Unacknowledged() {
		if len(b) > 2 && iec104.Cause(b[2]&0x3f) == iec104.CauseSpontaneous {
			back = append(back, b)
		}
	}
	for len(ss.spont) > 0 { // the sender has ended: nobody else receives
		back = append(back, <-ss.spont)
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	if len(back) == 0 || s.startedLocked() {
		return
	}
	s.events.requeue(back)
	ss.log.Info("sim: unacknowledged events kept for the next connection", "asdus", len(back))
}
