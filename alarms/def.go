package alarms

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defs are the alarm definitions of a plant, which cmd/hmi builds from the
// configuration. The engine derives every alarm and its ID from them:
//
//	discrete:POINT       DiscreteDef of a point
//	limit:POINT:HH       each limit of a LimitsDef (HH, H, L, LL)
//	quality:POINT        QualityDef of a point
//	link:LINK            LinkDef
//	command:POINT        CommandDef of a point's control
//	security:KIND        one per security event kind, when Security.Priority is set
type Defs struct {
	Points   []PointDef
	Links    []LinkDef
	Commands []CommandDef
	Security SecurityDef
}

// PointDef holds the alarms on one point's value and quality. At least one
// of its parts is set.
type PointDef struct {
	Point    string       // point ID, as in the cache
	Discrete *DiscreteDef // alarm on states; single, double, step or bitstring points
	Limits   *LimitsDef   // alarms on limits; analog points
	Quality  *QualityDef  // alarm on the value's quality
}

// DiscreteDef raises an alarm while a discrete point's value is one of
// States (raw values: 0/1 for a single point, 0..3 for a double point, the
// position for a step), or, for a bitstring, while any bit of Bits is set.
type DiscreteDef struct {
	States   []int64
	Bits     uint32 // bitstrings: the bits that alarm; when not 0, States is not used
	Priority Priority
	Message  string // what the operator reads; default "NAME: STATE"
}

// Limit names an analog limit.
type Limit uint8

// The limits, from the highest.
const (
	HH Limit = iota + 1 // high-high
	H                   // high
	L                   // low
	LL                  // low-low
)

var limitNames = [...]string{"", "HH", "H", "L", "LL"}

// String returns "HH", "H", "L" or "LL".
func (l Limit) String() string {
	if l >= HH && l <= LL {
		return limitNames[l]
	}
	return fmt.Sprintf("Limit(%d)", uint8(l))
}

// high reports whether the limit is crossed from below.
func (l Limit) high() bool { return l == HH || l == H }

// LimitsDef raises one alarm per limit on an analog point's engineering
// value. A high limit raises when the value goes above it and clears when
// the value falls to the limit minus Deadband or below; a low limit
// mirrors that. With an OnDelay, the value must stay beyond the limit that
// long before the alarm raises (measured with the values' receive times,
// and with Engine.Tick while no new value comes).
type LimitsDef struct {
	HH, H, L, LL *LimitDef // nil: no such limit; the values set are ordered LL < L < H < HH
	Deadband     float64   // hysteresis for clearing, >= 0, in engineering units
	OnDelay      time.Duration
}

// LimitDef is one limit.
type LimitDef struct {
	Value    float64
	Priority Priority
	Message  string // default "NAME: high-high 105 kV (limit 100 kV)"
}

// limitOf is one limit of a LimitsDef.
type limitOf struct {
	lim Limit
	def *LimitDef
}

// each returns the limits set, from the highest.
func (d *LimitsDef) each() []limitOf {
	var out []limitOf
	for _, l := range [...]limitOf{{HH, d.HH}, {H, d.H}, {L, d.L}, {LL, d.LL}} {
		if l.def != nil {
			out = append(out, l)
		}
	}
	return out
}

// QualityDef raises an alarm while the point's value is invalid (IV) or its
// link has failed (commfail). When the point's link has a LinkDef, a
// commfail is that link alarm's business: the point's quality alarm is
// suppressed by design while its value has commfail, so that a link down
// raises one alarm, not one per point.
type QualityDef struct {
	Priority Priority
	Message  string // default "NAME: invalid" or "NAME: communication failure"
}

// LinkDef raises an alarm while a link is down (LinkState with Up false).
type LinkDef struct {
	Link     string
	Priority Priority
	Message  string // default "link LINK down"
	// Delay is how long the link must stay down before the alarm is raised (an on-delay): a reconnect within it,
	// such as the first connection after the start, raises nothing. 0 raises at once.
	Delay time.Duration
}

// CommandDef raises an alarm when a command on the point fails
// (CommandFailed). It clears when a later command on the point succeeds
// (CommandSucceeded); with AckOnly it returns to normal at once and waits
// for an acknowledgement, like a security alarm.
type CommandDef struct {
	Point    string
	Priority Priority
	AckOnly  bool
}

// SecurityDef makes each security event (Security) raise the alarm of its
// kind, which returns to normal at once and waits for an acknowledgement.
// Priority 0: security events raise no alarm.
type SecurityDef struct {
	Priority Priority
}

// Errors of New, each wrapped by a *DefError; branch with errors.Is.
var (
	ErrDefPriority  = errors.New("priority not in 1..4")
	ErrDefDuplicate = errors.New("duplicate alarm")
	ErrDefEmpty     = errors.New("no alarm defined")
	ErrDefLimits    = errors.New("limits out of order")
	ErrDefValue     = errors.New("bad value")
)

// DefError reports a definition that New rejects. New returns every
// DefError it finds, joined with errors.Join.
type DefError struct {
	What string // "point north.t1.temp", "link north", "command north.f1.breaker", "security"
	Err  error
}

// Error says which definition is wrong and why.
func (e *DefError) Error() string { return fmt.Sprintf("alarms: %s: %v", e.What, e.Err) }

// Unwrap returns the cause, for errors.Is.
func (e *DefError) Unwrap() error { return e.Err }

// validate checks defs and returns the joined DefErrors.
func (defs *Defs) validate() error {
	var errs []error
	fail := func(what string, err error) { errs = append(errs, &DefError{What: what, Err: err}) }
	prio := func(what, part string, p Priority) {
		if !p.Valid() {
			fail(what, fmt.Errorf("%s: %w: %d", part, ErrDefPriority, p))
		}
	}
	ids := make(map[string]bool)
	unique := func(what, id string) {
		if ids[id] {
			fail(what, fmt.Errorf("%w %q", ErrDefDuplicate, id))
		}
		ids[id] = true
	}
	for _, p := range defs.Points {
		what := fmt.Sprintf("point %q", p.Point)
		if p.Point == "" {
			fail(what, fmt.Errorf("%w: empty point ID", ErrDefValue))
		}
		if p.Discrete == nil && p.Limits == nil && p.Quality == nil {
			fail(what, ErrDefEmpty)
		}
		if d := p.Discrete; d != nil {
			prio(what, "discrete", d.Priority)
			if len(d.States) == 0 && d.Bits == 0 {
				fail(what, fmt.Errorf("discrete: %w: no state and no bit", ErrDefValue))
			}
			unique(what, alarmID(SourceDiscrete, p.Point, 0))
		}
		if q := p.Quality; q != nil {
			prio(what, "quality", q.Priority)
			unique(what, alarmID(SourceQuality, p.Point, 0))
		}
		if ls := p.Limits; ls != nil {
			all := ls.each()
			if len(all) == 0 {
				fail(what, fmt.Errorf("limits: %w", ErrDefEmpty))
			}
			if ls.Deadband < 0 || math.IsNaN(ls.Deadband) || math.IsInf(ls.Deadband, 0) {
				fail(what, fmt.Errorf("limits: %w: deadband %g, want 0 or more", ErrDefValue, ls.Deadband))
			}
			if ls.OnDelay < 0 {
				fail(what, fmt.Errorf("limits: %w: on-delay %v, want 0 or more", ErrDefValue, ls.OnDelay))
			}
			for i, l := range all {
				prio(what, "limit "+l.lim.String(), l.def.Priority)
				if math.IsNaN(l.def.Value) || math.IsInf(l.def.Value, 0) {
					fail(what, fmt.Errorf("limit %v: %w: %g", l.lim, ErrDefValue, l.def.Value))
				}
				if i > 0 && !(l.def.Value < all[i-1].def.Value) {
					fail(what, fmt.Errorf("%w: %v %g is not below %v %g", ErrDefLimits, l.lim, l.def.Value, all[i-1].lim, all[i-1].def.Value))
				}
				unique(what, alarmID(SourceLimit, p.Point, l.lim))
			}
		}
	}
	for _, l := range defs.Links {
		what := fmt.Sprintf("link %q", l.Link)
		if l.Link == "" {
			fail(what, fmt.Errorf("%w: empty link name", ErrDefValue))
		}
		prio(what, "link", l.Priority)
		unique(what, alarmID(SourceLink, l.Link, 0))
	}
	for _, c := range defs.Commands {
		what := fmt.Sprintf("command %q", c.Point)
		if c.Point == "" {
			fail(what, fmt.Errorf("%w: empty point ID", ErrDefValue))
		}
		prio(what, "command", c.Priority)
		unique(what, alarmID(SourceCommand, c.Point, 0))
	}
	if p := defs.Security.Priority; p != 0 && !p.Valid() {
		fail("security", fmt.Errorf("%w: %d", ErrDefPriority, p))
	}
	return errors.Join(errs...)
}

// alarmID returns the ID of an alarm: source, then the point, link or
// security kind, then the limit for limit alarms.
func alarmID(src Source, name string, lim Limit) string {
	if src == SourceLimit {
		return src.String() + ":" + name + ":" + lim.String()
	}
	return src.String() + ":" + name
}
