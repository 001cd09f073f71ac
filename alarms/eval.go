package alarms

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"hmi/points"
)

// untrusted quality: a discrete or limit alarm holds its condition while
// its point's value is not known (initial), invalid, or from a failed link.
const untrusted = points.Initial | points.IV | points.CommFail

// valueTime is when a value was true: its source time, else its receive
// time.
func valueTime(v points.Value) time.Time {
	if !v.SourceTime.IsZero() {
		return v.SourceTime
	}
	return v.RecvTime
}

// evalPoint updates a point alarm's condition from its point's value v at
// time now (the value's receive time, or later); mu is held.
func (e *Engine) evalPoint(a *alarm, v points.Value, now time.Time) {
	switch a.s.Source {
	case SourceDiscrete:
		if v.Quality&untrusted != 0 {
			return
		}
		if c := a.inState(v.Value); c != a.cond {
			a.cond, a.condAt, a.condValue = c, valueTime(v), v.Value
		}
	case SourceLimit:
		e.evalLimit(a, v, now)
	case SourceQuality:
		e.evalQuality(a, v)
	}
}

// inState reports whether a discrete value is an alarm state.
func (a *alarm) inState(v float64) bool {
	if a.bits != 0 {
		return uint32(int64(v))&a.bits != 0
	}
	return slices.Contains(a.states, int64(v))
}

// evalLimit applies the limit with its deadband and on-delay; mu is held.
func (e *Engine) evalLimit(a *alarm, v points.Value, now time.Time) {
	if v.Quality&untrusted != 0 {
		a.pending = false
		return
	}
	x := v.Value
	if a.cond {
		// Active: it clears only past the deadband.
		still := x > a.lim-a.deadband
		if !a.limit.high() {
			still = x < a.lim+a.deadband
		}
		if !still {
			a.cond, a.condAt, a.condValue = false, valueTime(v), x
		}
		return
	}
	beyond := x > a.lim
	if !a.limit.high() {
		beyond = x < a.lim
	}
	if !beyond {
		a.pending = false
		return
	}
	if !a.pending {
		a.pending, a.pendRecv, a.pendAt, a.pendValue = true, v.RecvTime, valueTime(v), x
	}
	if due := a.pendRecv.Add(a.onDelay); now.Before(due) {
		e.schedule(a, due)
		return
	}
	a.pending = false
	a.cond, a.condAt, a.condValue = true, a.pendAt.Add(a.onDelay), a.pendValue
}

// evalQuality: the alarm is present while the value is invalid, or has
// commfail and the link has no alarm of its own; with a link alarm,
// commfail suppresses it instead. mu is held.
func (e *Engine) evalQuality(a *alarm, v points.Value) {
	q := v.Quality
	cf := q.Has(points.CommFail)
	if q.Has(points.Initial) && !cf && !a.seen {
		return // nothing known since the start: the state loaded stands
	}
	a.seen = true
	at := valueTime(v)
	if cf != a.commfail {
		a.commfail = cf
		at = e.now()
		if fail, since, ok := e.cache.CommFail(a.s.Link); ok && fail == cf && !since.IsZero() {
			at = since
		}
	}
	if sup := a.covered && cf; sup != a.wantSup {
		a.wantSup, a.supAt = sup, at
	}
	if q.Has(points.Initial) && !cf {
		return // nothing known yet
	}
	c := q.Has(points.IV) || cf && !a.covered
	if c != a.cond {
		a.cond, a.condAt, a.condValue = c, at, v.Value
		switch {
		case q.Has(points.IV):
			a.condMsg = "invalid"
		case c:
			a.condMsg = "communication failure"
		}
	}
}

// settle makes a's state agree with its condition: suppression, raise,
// clear, and the events of an ack-only alarm. It does nothing while an
// operator action on a commits (the action settles it after) or while a is
// out of service. mu is held.
func (e *Engine) settle(a *alarm) {
	if a.busy {
		return
	}
	if a.s.oos {
		a.momentary = 0
		return
	}
	if a.wantSup != a.s.suppressed {
		from := a.s.State
		a.s.suppressed = a.wantSup
		action := ActionUnsuppress
		if a.wantSup {
			action = ActionSuppress
		}
		e.transit(a, from, action, a.supAt, "", "")
	}
	if a.momentary > 0 {
		// Value counts the events since the alarm was last normal.
		a.condValue = float64(a.momentary)
		if a.s.Underlying != Normal {
			a.condValue += a.s.Value
		}
		a.momentary = 0
		if a.s.Source == SourceSecurity {
			a.s.Link, a.s.Area, a.s.Point = a.condLink, a.condLink, a.condPoint
		}
		if u := a.s.Underlying; u == Normal || u == ReturnedUnacked {
			e.raise(a)
		} else {
			a.s.Value = a.condValue
		}
		e.clear(a)
		return
	}
	switch u := a.s.Underlying; {
	case a.cond && (u == Normal || u == ReturnedUnacked):
		e.raise(a)
	case !a.cond && (u == ActiveUnacked || u == ActiveAcked):
		e.clear(a)
	}
}

// raise: normal or returned_unacked -> active_unacked; mu is held.
func (e *Engine) raise(a *alarm) {
	from := a.s.State
	s := &a.s
	s.Underlying = ActiveUnacked
	s.RaisedAt, s.ClearedAt = a.condAt, time.Time{}
	s.AckedBy, s.AckedAt = "", time.Time{}
	s.Value = a.condValue
	s.Message = a.message()
	e.transit(a, from, ActionRaise, a.condAt, "", "")
}

// clear: active_unacked -> returned_unacked, active_acked -> normal; mu is
// held.
func (e *Engine) clear(a *alarm) {
	from := a.s.State
	s := &a.s
	if s.Underlying == ActiveAcked {
		s.Underlying = Normal
	} else {
		s.Underlying = ReturnedUnacked
	}
	s.ClearedAt = a.condAt
	if !a.ackOnly {
		s.Value = a.condValue
	}
	e.transit(a, from, ActionClear, a.condAt, "", "")
}

// message is what the operator reads when a raises.
func (a *alarm) message() string {
	if a.msg != "" && a.s.Source != SourceSecurity && a.s.Source != SourceCommand {
		return a.msg
	}
	switch a.s.Source {
	case SourceDiscrete:
		return a.name + ": " + a.state(a.condValue)
	case SourceLimit:
		return fmt.Sprintf("%s: %s %s (limit %s)", a.name, limitWords[a.limit], a.quantity(a.condValue), a.quantity(a.lim))
	case SourceQuality:
		return a.name + ": " + a.condMsg
	case SourceLink:
		if a.condMsg != "" {
			return "link " + a.name + " down: " + a.condMsg
		}
		return "link " + a.name + " down"
	case SourceCommand:
		return a.name + ": command failed: " + a.condMsg
	}
	return a.condMsg
}

var limitWords = [...]string{HH: "high-high", H: "high", L: "low", LL: "low-low"}

// state names a discrete value: its label, or its number.
func (a *alarm) state(v float64) string {
	i := int64(v)
	if a.bits != 0 {
		var set []string
		for b := range 32 {
			if uint32(i)&a.bits&(1<<b) == 0 {
				continue
			}
			if b < len(a.labels) {
				set = append(set, a.labels[b])
			} else {
				set = append(set, "bit "+strconv.Itoa(b))
			}
		}
		return strings.Join(set, ", ")
	}
	if a.kind == points.Double && len(a.labels) == 2 {
		if i == 1 || i == 2 { // off, on
			return a.labels[i-1]
		}
	} else if i >= 0 && i < int64(len(a.labels)) {
		return a.labels[i]
	}
	return strconv.FormatInt(i, 10)
}

// quantity formats an analog value with its unit.
func (a *alarm) quantity(v float64) string {
	s := strconv.FormatFloat(v, 'g', 6, 64)
	if math.Abs(v) >= 1e6 && v == math.Trunc(v) {
		s = strconv.FormatFloat(v, 'f', 0, 64)
	}
	if a.unit != "" {
		s += " " + a.unit
	}
	return s
}
