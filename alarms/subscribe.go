package alarms

import "slices"

// Subscription receives every alarm transition, the engine's and the
// operators', in the order they happen, through a buffer of
// SubscriptionBuffer transitions. Transitions are not coalesced: a
// subscriber that lets its buffer fill is dropped (its channel closed,
// Dropped true) rather than slow the engine down, and starts again with a
// new Subscribe and a List.
type Subscription struct {
	e *Engine
	c chan Transition

	// Guarded by Engine.subMu.
	closed  bool
	dropped bool
}

// Subscribe returns a subscription to the alarm transitions that happen
// from now on. To start from the present state, Subscribe first and then
// List: a transition in between shows in both, and carries the whole alarm.
// Close it when done.
func (e *Engine) Subscribe() *Subscription {
	s := &Subscription{e: e, c: make(chan Transition, SubscriptionBuffer)}
	e.subMu.Lock()
	e.subs = append(e.subs, s)
	e.subMu.Unlock()
	return s
}

// C returns the channel of transitions. It is closed by Close, or when the
// subscriber fell behind (Dropped).
func (s *Subscription) C() <-chan Transition { return s.c }

// Dropped reports whether the engine dropped the subscription because its
// buffer was full: the subscriber has missed transitions and must resync
// from List.
func (s *Subscription) Dropped() bool {
	s.e.subMu.Lock()
	defer s.e.subMu.Unlock()
	return s.dropped
}

// Close ends the subscription and closes its channel. It is idempotent.
func (s *Subscription) Close() {
	e := s.e
	e.subMu.Lock()
	defer e.subMu.Unlock()
	e.remove(s)
}

// remove takes s out of the subscribers and closes its channel; subMu is
// held.
func (e *Engine) remove(s *Subscription) {
	if s.closed {
		return
	}
	s.closed = true
	close(s.c)
	if i := slices.Index(e.subs, s); i >= 0 {
		e.subs = slices.Delete(e.subs, i, i+1)
	}
}

// publish hands t to every subscriber without waiting; one whose buffer is
// full is dropped.
func (e *Engine) publish(t Transition) {
	e.subMu.Lock()
	defer e.subMu.Unlock()
	for i := 0; i < len(e.subs); {
		s := e.subs[i]
		select {
		case s.c <- t:
			i++
		default:
			s.dropped = true
			e.subsDropped++
			e.remove(s)
		}
	}
}
