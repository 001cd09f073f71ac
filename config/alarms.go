package config

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"hmi/points"
)

// Alarm and history defaults, as documented on the fields.
const (
	DefaultAlarmPriority          = 2
	DefaultLinkAlarmPriority      = 2
	DefaultLinkAlarmDelay         = 10 * time.Second
	DefaultSecurityAlarmPriority  = 2
	DefaultCommandFailurePriority = 3
	DefaultHistoryMaxInterval     = 15 * time.Minute
	DefaultHistoryRetention       = 365 * 24 * time.Hour
	DefaultEventsRetention        = 365 * 24 * time.Hour
)

// Alarms are the plant-wide alarm settings. Alarm priorities run from 1
// (critical) to 4 (low).
type Alarms struct {
	// SecurityPriority is the priority of the alarms that security events
	// raise (a command or a confirmation this HMI did not cause, a TLS
	// failure, ...), 0..4; 0 raises none. Default 2.
	SecurityPriority int `yaml:"security_priority"`
	// CommandFailurePriority is the default of every control's
	// failure_alarm_priority, 0..4; 0: no command failure alarms. Default 3.
	CommandFailurePriority int `yaml:"command_failure_priority"`
}

// History is the retention of the recorded values of points.
type History struct {
	// Retention is how long samples are kept; 0 keeps them forever.
	// Default 8760h (365 days).
	Retention Duration `yaml:"retention"`
}

// Events is the retention of the event journal.
type Events struct {
	// Retention is how long events are kept; 0 keeps them forever.
	// Default 8760h (365 days).
	Retention Duration `yaml:"retention"`
}

// LinkAlarm is the alarm a link raises while it is down. When it is up,
// the commfail of the link's points raises no alarm of its own: their
// quality alarms are suppressed by design.
type LinkAlarm struct {
	// Priority, 1..4. Default 2.
	Priority int `yaml:"priority"`
	// Delay is how long the link must be down before the alarm is raised:
	// a reconnect within it, and the first connection at start, raise
	// none (the link's events are journalled all the same). Default 10s;
	// 0 raises at once.
	Delay Duration `yaml:"delay"`
}

// PointAlarm is the alarms on a point's value and quality. It sets at
// least one of states, limits and quality.
type PointAlarm struct {
	// Priority, 1..4, is the priority of the state alarm and the default
	// of the limits' and of the quality alarm's. Default 2.
	Priority int `yaml:"priority"`
	// States raise an alarm while the value is one of them: labels or
	// numbers of a single (0, 1), double (0..3) or step (-64..63) point;
	// for a bitstring, bits (labels or 0..31), the alarm raised while any
	// of them is set. Only on those kinds.
	States []string `yaml:"states"`
	// Message is what the operator reads for the state alarm. Default:
	// "NAME: STATE". Only with states.
	Message string `yaml:"message"`
	// Limits raise alarms on an analog value (normalized, scaled and float
	// points), in engineering units (after scale).
	Limits *Limits `yaml:"limits"`
	// Quality, when set, raises an alarm while the value is invalid (IV)
	// or its link has failed; the latter only when the link's own alarm
	// does not say it already.
	Quality *QualityAlarm `yaml:"quality"`

	// StateValues are States as raw values, for single, double and step
	// points (not a key).
	StateValues []int64 `yaml:"-"`
	// Bits are States as a mask of bits, for bitstrings (not a key).
	Bits uint32 `yaml:"-"`
}

// Limits are the analog limits of a point, each an alarm of its own. A high
// limit raises when the value goes above it and clears when the value is
// back to the limit minus Deadband; a low limit mirrors that. The limits
// given are ordered ll < l < h < hh.
type Limits struct {
	HH *Limit `yaml:"hh"` // high-high
	H  *Limit `yaml:"h"`  // high
	L  *Limit `yaml:"l"`  // low
	LL *Limit `yaml:"ll"` // low-low
	// Deadband is the hysteresis for clearing, 0 or more. Default 0.
	Deadband float64 `yaml:"deadband"`
	// OnDelay is how long the value must stay beyond a limit before the
	// alarm raises. Default 0.
	OnDelay Duration `yaml:"on_delay"`
}

// Limit is one analog limit.
type Limit struct {
	Value    float64 `yaml:"value"`    // required
	Priority int     `yaml:"priority"` // 1..4; default: the alarm's priority
}

// QualityAlarm is the alarm on a point's quality.
type QualityAlarm struct {
	// Priority, 1..4. Default: the alarm's priority.
	Priority int `yaml:"priority"`
}

// PointHistory records a point's values (normalized, scaled, float and
// counter points).
type PointHistory struct {
	// Deadband: a value is recorded when it differs from the last recorded
	// by more than this, 0 or more (0: every change). Default 0.
	Deadband float64 `yaml:"deadband"`
	// MaxInterval records the value at least this often even when it does
	// not move; 0 records changes only. Default 15m.
	MaxInterval Duration `yaml:"max_interval"`
}

// analog kinds have a measured value that limits apply to.
func analog(kind points.Kind) bool {
	return kind == points.Normalized || kind == points.Scaled || kind == points.Float
}

// priority checks an alarm priority, 1..4.
func (k *checker) priority(path string, p int) bool { return k.intRange(path, p, 1, 4) }

// checkAlarmSettings applies the defaults of the top-level alarms, history
// and events sections and checks them.
func (k *checker) checkAlarmSettings() {
	a := &k.c.Alarms
	setDefault(k, "alarms.security_priority", &a.SecurityPriority, DefaultSecurityAlarmPriority)
	k.intRange("alarms.security_priority", a.SecurityPriority, 0, 4)
	setDefault(k, "alarms.command_failure_priority", &a.CommandFailurePriority, DefaultCommandFailurePriority)
	k.intRange("alarms.command_failure_priority", a.CommandFailurePriority, 0, 4)
	setDefault(k, "history.retention", &k.c.History.Retention, Duration(DefaultHistoryRetention))
	setDefault(k, "events.retention", &k.c.Events.Retention, Duration(DefaultEventsRetention))
}

// checkLinkAlarm applies the default of a link's alarm and checks it.
func (k *checker) checkLinkAlarm(p string, l *Link) {
	pp := join(p, "alarm.priority")
	setDefault(k, pp, &l.Alarm.Priority, DefaultLinkAlarmPriority)
	k.priority(pp, l.Alarm.Priority)
	dp := join(p, "alarm.delay")
	setDefault(k, dp, &l.Alarm.Delay, Duration(DefaultLinkAlarmDelay))
	if l.Alarm.Delay < 0 {
		k.fail(dp, "must not be negative")
	}
}

// checkFailureAlarm applies the default of a control's failure alarm
// priority and checks it.
func (k *checker) checkFailureAlarm(cp string, c *Control) {
	fp := join(cp, "failure_alarm_priority")
	setDefault(k, fp, &c.FailureAlarmPriority, k.c.Alarms.CommandFailurePriority)
	if k.given(fp) {
		k.intRange(fp, c.FailureAlarmPriority, 0, 4)
	}
}

// checkPointAlarm applies the defaults of a point's alarm and checks it
// against the point's kind and labels.
func (k *checker) checkPointAlarm(p string, pt *Point) {
	a := pt.Alarm
	ap := join(p, "alarm")
	if k.isBad(ap) {
		return
	}
	pp := join(ap, "priority")
	setDefault(k, pp, &a.Priority, DefaultAlarmPriority)
	okPrio := k.priority(pp, a.Priority)
	if !k.has(join(ap, "states")) && a.Limits == nil && a.Quality == nil {
		k.fail(ap, "sets no alarm (want states, limits or quality)")
		return
	}

	sp := join(ap, "states")
	switch {
	case !k.has(sp):
		if k.given(join(ap, "message")) {
			k.fail(join(ap, "message"), "applies only with states")
		}
	case !discrete(pt.Kind):
		k.fail(sp, "a %s point has no states (states apply to single, double, step and bitstring points)", pt.Kind)
	case len(a.States) == 0:
		k.fail(sp, "want at least one state")
	default:
		k.checkStates(sp, pt)
	}

	if ls := a.Limits; ls != nil {
		lp := join(ap, "limits")
		if !analog(pt.Kind) {
			k.fail(lp, "a %s point takes no limits (limits apply to normalized, scaled and float points)", pt.Kind)
		} else {
			k.checkLimits(lp, ls, a.Priority, okPrio)
		}
	}
	if q := a.Quality; q != nil {
		qp := join(ap, "quality.priority")
		setDefault(k, qp, &q.Priority, a.Priority)
		if k.given(qp) || okPrio {
			k.priority(qp, q.Priority)
		}
	}
}

// checkStates resolves a discrete point's alarm states.
func (k *checker) checkStates(sp string, pt *Point) {
	a := pt.Alarm
	seen := make(map[int64]string)
	for i, s := range a.States {
		si := index(sp, i)
		if !k.required(si, s) {
			continue
		}
		var v int64
		if pt.Kind == points.Bitstring {
			b, ok := bitValue(pt, s)
			if !ok {
				want := "want 0..31"
				if len(pt.Labels) > 0 {
					want += " or " + strings.Join(pt.Labels, ", ")
				}
				k.fail(si, "%q is not a bit of point %q (%s)", s, pt.ID, want)
				continue
			}
			v = int64(b)
			a.Bits |= 1 << b
		} else {
			var ok bool
			if v, ok = stateValue(pt, s); !ok {
				k.fail(si, "%q is not a state of point %q (%s)", s, pt.ID, states(pt))
				continue
			}
			if _, dup := seen[v]; !dup {
				a.StateValues = append(a.StateValues, v)
			}
		}
		if first, dup := seen[v]; dup {
			k.fail(si, "%q is the same state as %q", s, first)
			continue
		}
		seen[v] = s
	}
}

// bitValue reads s as a bit of the bitstring pt: one of its labels, or
// 0..31.
func bitValue(pt *Point, s string) (uint, bool) {
	if i := slices.Index(pt.Labels, s); i >= 0 {
		return uint(i), true
	}
	b, err := strconv.ParseUint(s, 10, 8)
	return uint(b), err == nil && b < 32
}

// checkLimits applies the defaults of a point's limits and checks them.
func (k *checker) checkLimits(lp string, ls *Limits, prio int, okPrio bool) {
	all := []struct {
		name string
		l    *Limit
	}{{"ll", ls.LL}, {"l", ls.L}, {"h", ls.H}, {"hh", ls.HH}}
	var below string // the highest limit given so far, from the lowest
	var belowValue float64
	n := 0
	for _, e := range all {
		if e.l == nil {
			continue
		}
		n++
		p := join(lp, e.name)
		if k.isBad(p) {
			continue
		}
		vp := join(p, "value")
		okValue := k.given(vp)
		if !okValue && !k.isBad(vp) {
			k.fail(vp, "required")
		}
		pp := join(p, "priority")
		setDefault(k, pp, &e.l.Priority, prio)
		if k.given(pp) || okPrio {
			k.priority(pp, e.l.Priority)
		}
		if !okValue {
			continue
		}
		if below != "" && e.l.Value <= belowValue {
			k.fail(vp, "%g is not above %s (%g): want ll < l < h < hh", e.l.Value, below, belowValue)
		}
		below, belowValue = e.name, e.l.Value
	}
	if n == 0 && !k.isBad(lp) {
		k.fail(lp, "want at least one of hh, h, l, ll")
	}
	if ls.Deadband < 0 {
		k.fail(join(lp, "deadband"), "%g, want 0 or more", ls.Deadband)
	}
}

// checkPointHistory applies the defaults of a point's history and checks
// it.
func (k *checker) checkPointHistory(p string, pt *Point) {
	h := pt.History
	hp := join(p, "history")
	if k.isBad(hp) {
		return
	}
	if !analog(pt.Kind) && pt.Kind != points.Counter {
		k.fail(hp, "a %s point has no history (history applies to normalized, scaled, float and counter points)", pt.Kind)
	}
	if h.Deadband < 0 {
		k.fail(join(hp, "deadband"), "%g, want 0 or more", h.Deadband)
	}
	setDefault(k, join(hp, "max_interval"), &h.MaxInterval, Duration(DefaultHistoryMaxInterval))
}
