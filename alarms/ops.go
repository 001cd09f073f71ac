package alarms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Errors of the operator actions, each wrapped by an *OpError; branch with
// errors.Is.
var (
	ErrUnknown      = errors.New("unknown alarm")
	ErrNotAckable   = errors.New("not in a state that can be acknowledged")
	ErrShelved      = errors.New("already shelved")
	ErrNotShelved   = errors.New("not shelved")
	ErrOutOfService = errors.New("out of service")
	ErrInService    = errors.New("not out of service")
	ErrDuration     = errors.New("shelve duration out of range")
	ErrNoUser       = errors.New("no user")
	ErrNotRunning   = errors.New("engine not running")
)

// OpError reports an operator action that could not be carried out, on one
// alarm or as a whole.
type OpError struct {
	Op    string // ack, shelve, unshelve, out_of_service, in_service
	ID    string // the alarm; empty when the action as a whole failed
	State State  // the alarm's state, when that is why; else 0
	Err   error  // wraps one of the Err* values, or the journal's error
}

// Error reads like `alarms: ack "link:north": not in a state that can be
// acknowledged (state normal)`.
func (e *OpError) Error() string {
	msg := "alarms: " + e.Op
	if e.ID != "" {
		msg += " " + strconv.Quote(e.ID)
	}
	msg += ": " + e.Err.Error()
	if e.State != 0 {
		msg += " (state " + e.State.String() + ")"
	}
	return msg
}

// Unwrap returns the cause, for errors.Is.
func (e *OpError) Unwrap() error { return e.Err }

// Ack acknowledges the alarms ids: active_unacked becomes active_acked,
// returned_unacked becomes normal. Each transition, with user, time and
// comment, is committed to the journal before Ack returns. Alarms that
// cannot be acknowledged (unknown, or not unacknowledged, or shelved,
// suppressed or out of service) are reported in the error, an *OpError
// each, joined; the others are acknowledged all the same.
func (e *Engine) Ack(ctx context.Context, user string, ids []string, comment string) error {
	_, err := e.act(ctx, "ack", user, ids, nil, ack(user, comment))
	return err
}

// AckAll acknowledges every alarm that List(f) shows and that can be
// acknowledged ("all visible"), as Ack does, and returns how many it
// acknowledged.
func (e *Engine) AckAll(ctx context.Context, user string, f Filter, comment string) (int, error) {
	pick := func(a *alarm) bool {
		return (a.s.State == ActiveUnacked || a.s.State == ReturnedUnacked) && f.Match(&a.s.Alarm)
	}
	return e.act(ctx, "ack", user, nil, pick, ack(user, comment))
}

func ack(user, comment string) change {
	return func(s *state, now time.Time) (string, error) {
		switch s.State {
		case ActiveUnacked:
			s.Underlying = ActiveAcked
		case ReturnedUnacked:
			s.Underlying = Normal
		default:
			return "", ErrNotAckable
		}
		s.AckedBy, s.AckedAt, s.Comment = user, now, comment
		return ActionAck, nil
	}
}

// Shelve hides an alarm for d (at most MaxShelve): its state goes on being
// evaluated underneath, and at the end of d it shows again
// (shelve_expired). An alarm out of service or already shelved cannot be
// shelved.
func (e *Engine) Shelve(ctx context.Context, user, id string, d time.Duration, comment string) error {
	if d <= 0 || d > MaxShelve {
		return &OpError{Op: "shelve", ID: id, Err: fmt.Errorf("%w: %v, want more than 0 and at most %v", ErrDuration, d, MaxShelve)}
	}
	_, err := e.act(ctx, "shelve", user, []string{id}, nil, func(s *state, now time.Time) (string, error) {
		switch {
		case s.oos:
			return "", ErrOutOfService
		case s.shelved:
			return "", ErrShelved
		}
		s.shelved, s.ShelvedBy, s.ShelvedUntil, s.Comment = true, user, now.Add(d), comment
		return ActionShelve, nil
	})
	return err
}

// Unshelve shows a shelved alarm again, in its present state.
func (e *Engine) Unshelve(ctx context.Context, user, id, comment string) error {
	_, err := e.act(ctx, "unshelve", user, []string{id}, nil, func(s *state, now time.Time) (string, error) {
		if !s.shelved {
			return "", ErrNotShelved
		}
		s.shelved, s.ShelvedBy, s.ShelvedUntil, s.Comment = false, "", time.Time{}, comment
		return ActionUnshelve, nil
	})
	return err
}

// OutOfService takes an alarm out of service (on) or puts it back. Out of
// service, it is normal underneath and nothing it evaluates shows; back in
// service, it is evaluated afresh against the live value and raises if its
// condition is present. Taking a shelved alarm out of service ends the
// shelve.
func (e *Engine) OutOfService(ctx context.Context, user, id string, on bool, comment string) error {
	op := ActionInService
	if on {
		op = ActionOutOfService
	}
	_, err := e.act(ctx, op, user, []string{id}, nil, func(s *state, now time.Time) (string, error) {
		switch {
		case on && s.oos:
			return "", ErrOutOfService
		case !on && !s.oos:
			return "", ErrInService
		}
		s.oos, s.Comment = on, comment
		if on {
			s.Underlying = Normal
			s.shelved, s.ShelvedBy, s.ShelvedUntil = false, "", time.Time{}
		}
		return op, nil
	})
	return err
}

// change applies an operator action to a copy of an alarm's state and
// returns the transition's action.
type change func(s *state, now time.Time) (action string, err error)

// opItem is one alarm of an operator action while it commits.
type opItem struct {
	a    *alarm
	next state
	t    Transition
}

// act carries out an operator action on the alarms ids, or on the visible
// alarms that pick selects: it changes copies of their states, marks them
// busy (the engine holds their transitions back), commits the transitions
// without holding mu, and then applies what was committed. It returns how
// many alarms it changed.
func (e *Engine) act(ctx context.Context, op, user string, ids []string, pick func(*alarm) bool, ch change) (int, error) {
	if user == "" {
		return 0, &OpError{Op: op, Err: ErrNoUser}
	}
	e.opMu.Lock()
	defer e.opMu.Unlock()

	e.mu.Lock()
	if !e.loaded {
		e.mu.Unlock()
		return 0, &OpError{Op: op, Err: ErrNotRunning}
	}
	now := e.now()
	var (
		errs  []error
		items []opItem
	)
	try := func(a *alarm) {
		if a.busy {
			return // named twice
		}
		next := a.s
		action, err := ch(&next, now)
		if err != nil {
			errs = append(errs, &OpError{Op: op, ID: a.s.ID, State: a.s.State, Err: err})
			return
		}
		next.State = next.display()
		a.busy = true
		items = append(items, opItem{a: a, next: next, t: Transition{
			Alarm: next.Alarm, From: a.s.State, At: now, User: user, Action: action, Comment: next.Comment}})
	}
	if pick != nil {
		var picked []*alarm
		for _, a := range e.visible {
			if pick(a) {
				picked = append(picked, a)
			}
		}
		slices.SortFunc(picked, func(x, y *alarm) int { return compareAlarms(&x.s.Alarm, &y.s.Alarm) })
		for _, a := range picked {
			try(a)
		}
	} else {
		for _, id := range ids {
			a := e.byID[id]
			if a == nil {
				errs = append(errs, &OpError{Op: op, ID: id, Err: ErrUnknown})
				continue
			}
			try(a)
		}
	}
	// The engine's transitions of these alarms that wait in the backlog
	// are committed first, so that the journal has them in order.
	var ts []Transition
	if len(e.backlog) > 0 && len(items) > 0 {
		mine := make(map[string]bool, len(items))
		for _, it := range items {
			mine[it.a.s.ID] = true
		}
		rest := e.backlog[:0]
		for _, t := range e.backlog {
			if mine[t.Alarm.ID] {
				ts = append(ts, t)
			} else {
				rest = append(rest, t)
			}
		}
		clear(e.backlog[len(rest):])
		e.backlog = rest
	}
	before := len(ts)
	for _, it := range items {
		ts = append(ts, it.t)
	}
	e.mu.Unlock()

	saved, err := e.save(ctx, ts)

	e.mu.Lock()
	defer e.mu.Unlock()
	if saved < before {
		// Not committed: back to the front of the backlog.
		e.backlog = append(slices.Clone(ts[saved:before]), e.backlog...)
	}
	done := max(0, saved-before)
	for i, it := range items {
		a := it.a
		if i < done {
			old := a.s.State
			a.s = it.next
			a.s.State = old
			e.update(a)
			e.stats.Transitions++
			e.publish(it.t)
			switch {
			case a.s.shelved:
				e.schedule(a, a.s.ShelvedUntil)
			case it.t.Action == ActionInService:
				e.reevaluate(a)
			}
		}
		a.busy = false
		e.settle(a)
	}
	e.flush()
	if err != nil {
		errs = append(errs, &OpError{Op: op, Err: fmt.Errorf("commit to the journal: %w", err)})
	}
	return done, errors.Join(errs...)
}

// save commits ts in order and returns how many it committed.
func (e *Engine) save(ctx context.Context, ts []Transition) (int, error) {
	if len(ts) == 0 {
		return 0, nil
	}
	if bj, ok := e.journal.(BatchJournal); ok && len(ts) > 1 {
		if err := bj.SaveTransitions(ctx, ts); err != nil {
			return 0, err
		}
		return len(ts), nil
	}
	for i, t := range ts {
		if err := e.journal.SaveTransition(ctx, t); err != nil {
			return i, err
		}
	}
	return len(ts), nil
}

// reevaluate starts an alarm back in service afresh: a point alarm from its
// point's live value, the others from their last input. mu is held.
func (e *Engine) reevaluate(a *alarm) {
	a.momentary = 0
	if a.h < 0 {
		return
	}
	a.cond, a.pending = false, false
	v := e.cache.Get(a.h)
	e.evalPoint(a, v, e.now())
}
