package frontstation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"hmi/frontstation/iec104"
	"hmi/points"
)

// CommandType is the kind of command a control sends.
type CommandType uint8

// Command types.
const (
	SingleCommand      CommandType = iota + 1 // C_SC: value 0 (OFF) or 1 (ON)
	DoubleCommand                             // C_DC: value 1 (OFF) or 2 (ON), as DPI
	StepCommand                               // C_RC: value 1 (lower) or 2 (higher), as RCS
	SetpointNormalized                        // C_SE_NA: engineering value, scaled to -1..1
	SetpointScaled                            // C_SE_NB: engineering value, scaled to int16
	SetpointFloat                             // C_SE_NC: engineering value, scaled, as float32
)

var commandNames = [...]string{"", "single", "double", "step", "setpoint_normalized", "setpoint_scaled", "setpoint_float"}

func (t CommandType) String() string {
	if int(t) < len(commandNames) && t != 0 {
		return commandNames[t]
	}
	return "CommandType(" + strconv.Itoa(int(t)) + ")"
}

// ParseCommandType parses the names String returns.
func ParseCommandType(s string) (CommandType, error) {
	for i, n := range commandNames {
		if n == s && i > 0 {
			return CommandType(i), nil
		}
	}
	return 0, fmt.Errorf("frontstation: unknown command type %q", s)
}

// typeID returns the IEC type of the command, with or without time tag.
func (t CommandType) typeID(timeTag bool) iec104.TypeID {
	base := [...]iec104.TypeID{0, iec104.C_SC_NA_1, iec104.C_DC_NA_1, iec104.C_RC_NA_1, iec104.C_SE_NA_1, iec104.C_SE_NB_1, iec104.C_SE_NC_1}[t]
	if timeTag {
		return base + (iec104.C_SC_TA_1 - iec104.C_SC_NA_1)
	}
	return base
}

// Control is the configuration of one point's control.
type Control struct {
	Point           points.Handle // the point the control belongs to (its status or measured value)
	ID              string        // that point's ID
	Link            string
	CA              uint16
	IOA             uint32 // the command's IOA
	Type            CommandType
	SBO             bool           // select before operate; false: direct execute
	QU              uint8          // qualifier: QU 0..31 for commands, QL 0..127 for set-points
	TimeTag         bool           // send types 58..63 with a CP56Time2a
	Zone            *time.Location // zone of that time tag; nil: UTC
	SelectTimeout   time.Duration  // a selection not executed within this is cancelled; 0: 30 s
	ResponseTimeout time.Duration  // per step; 0: 10 s
	ActTerm         bool           // the device sends ACTTERM after execution
	Scale, Offset   float64        // set-points: raw = (value - Offset) / Scale; 0 scale means 1
}

// CommandState is a command's place in its lifecycle.
type CommandState uint8

// Command states: requested -> selecting -> selected -> executing ->
// confirmed -> terminated, or failed, or cancelled.
const (
	Requested CommandState = iota + 1
	Selecting
	Selected
	Executing
	Confirmed // execute confirmed; final when the device sends no ACTTERM
	Terminated
	Failed
	Cancelled
)

var stateNames = [...]string{"", "requested", "selecting", "selected", "executing", "confirmed", "terminated", "failed", "cancelled"}

func (s CommandState) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return "CommandState(" + strconv.Itoa(int(s)) + ")"
}

// Final reports whether nothing more will happen to the command.
func (s CommandState) Final() bool {
	return s == Terminated || s == Failed || s == Cancelled
}

// Step is one step of a command: what was sent or received, and when.
type Step struct {
	Name     string // select, select_con, execute, execute_con, execute_term, cancel, cancel_con, timeout, link_lost
	At       time.Time
	Cause    iec104.Cause // of the ASDU; 0 for steps that are not ASDUs
	Negative bool
	Latency  time.Duration // since the step it answers
}

// Origin says who asked for a command, for the audit trail.
type Origin struct {
	User, Session, Client string
}

// Record is everything about one command.
type Record struct {
	ID                                         string
	Point                                      string
	Link                                       string
	Type                                       CommandType
	Value                                      float64
	SBO                                        bool
	QU                                         uint8
	Origin                                     Origin
	State                                      CommandState
	Steps                                      []Step
	Err                                        string        // why it failed, for people
	Done                                       bool          // nothing more will happen: a final state, or confirmed without ACTTERM expected
	SelectLatency, ExecuteLatency, TermLatency time.Duration // select->ACTCON, execute->ACTCON, execute->ACTTERM
}

// Errors a command request is refused with at once.
var (
	ErrNoControl      = errors.New("the point has no control")
	ErrBusy           = errors.New("another command is pending on the point")
	ErrUnknownCommand = errors.New("no such command")
	ErrNotSelected    = errors.New("the command is not selected")
	ErrBadValue       = errors.New("value not allowed for this control")
	ErrQuarantine     = errors.New("the previous command on the point timed out; its late answer is awaited")
)

// respEvent is what the receive path hands to a waiting command.
type respEvent struct {
	asdu iec104.Header
	obj  iec104.Object
	at   time.Time
	lost error // the link was lost
}

type pending struct {
	ctl     *Control
	rec     Record
	key     respKey
	ch      chan respEvent // buffered; the receive path never blocks on it
	selTime *time.Timer    // select timeout
	busy    bool           // a step is running (guarded by Commander.mu)
}

type respKey struct {
	link string
	typ  iec104.TypeID
	ca   uint16
	ioa  uint32
}

// Commander runs commands on links: direct execute and select before
// operate, one pending command per point, each step timed and recorded.
type Commander struct {
	log    *slog.Logger
	onStep func(Record)
	links  map[string]*Link
	ctls   map[string]*Control // by point ID
	nextID atomic.Uint64
	idBase string

	mu         sync.Mutex
	byPoint    map[string]*pending         // guarded by mu
	byID       map[string]*pending         // guarded by mu
	byKey      map[respKey]*pending        // guarded by mu
	quarantine map[respKey]time.Time       // guarded by mu; keys whose last command timed out, until when
	done       map[string]Record           // guarded by mu; finished commands, most recent
	doneOrder  []string                    // guarded by mu
	causedAt   map[points.Handle]time.Time // guarded by mu; when a command of ours last changed the point
}

// keepDone is how many finished commands Get still finds.
const keepDone = 1000

// causeWindow is how long after a command a status change with cause 11 is
// taken as its result.
const causeWindow = time.Minute

// NewCommander builds a commander for the controls, on the links (matched
// by name). onStep, when not nil, gets a copy of the record after every
// step, synchronously, before the command goes on: an audit trail commits
// each step there before the operator is told. It never runs on a
// connection's receive path.
func NewCommander(controls []Control, links []*Link, logger *slog.Logger, onStep func(Record)) (*Commander, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if onStep == nil {
		onStep = func(Record) {}
	}
	c := &Commander{
		log: logger, onStep: onStep,
		links: map[string]*Link{}, ctls: map[string]*Control{},
		byPoint: map[string]*pending{}, byID: map[string]*pending{}, byKey: map[respKey]*pending{},
		quarantine: map[respKey]time.Time{}, done: map[string]Record{}, causedAt: map[points.Handle]time.Time{},
		idBase: strconv.FormatInt(time.Now().UnixMilli(), 36),
	}
	for _, l := range links {
		c.links[l.Name()] = l
	}
	for i := range controls {
		ctl := controls[i]
		if _, ok := c.links[ctl.Link]; !ok {
			return nil, fmt.Errorf("frontstation: control of %s: unknown link %q", ctl.ID, ctl.Link)
		}
		if ctl.Type < SingleCommand || ctl.Type > SetpointFloat {
			return nil, fmt.Errorf("frontstation: control of %s: invalid type %d", ctl.ID, ctl.Type)
		}
		if _, dup := c.ctls[ctl.ID]; dup {
			return nil, fmt.Errorf("frontstation: two controls for point %s", ctl.ID)
		}
		if ctl.SelectTimeout <= 0 {
			ctl.SelectTimeout = 30 * time.Second
		}
		if ctl.ResponseTimeout <= 0 {
			ctl.ResponseTimeout = 10 * time.Second
		}
		if ctl.Scale == 0 {
			ctl.Scale = 1
		}
		c.ctls[ctl.ID] = &ctl
	}
	for _, l := range links {
		l.cmd.Store(c)
	}
	return c, nil
}

// Control returns the control of a point.
func (c *Commander) Control(point string) (Control, bool) {
	ctl, ok := c.ctls[point]
	if !ok {
		return Control{}, false
	}
	return *ctl, true
}

// Get returns a command's record, pending or finished.
func (c *Commander) Get(id string) (Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.byID[id]; ok {
		return cloneRecord(p.rec), true
	}
	r, ok := c.done[id]
	return r, ok
}

func cloneRecord(r Record) Record {
	r.Steps = append([]Step(nil), r.Steps...)
	return r
}

// encode builds the command ASDU.
// encode builds the command ASDU; sent is its object, which the station's
// confirmations must echo.
func (ctl *Control) encode(value float64, sel bool, cause iec104.Cause) (b []byte, sent iec104.Object, err error) {
	o := iec104.Object{IOA: ctl.IOA, Select: sel, QU: ctl.QU}
	switch ctl.Type {
	case SingleCommand:
		if value != 0 && value != 1 {
			return nil, o, fmt.Errorf("%w: single command takes 0 (OFF) or 1 (ON), got %v", ErrBadValue, value)
		}
		o.State = uint8(value)
	case DoubleCommand, StepCommand:
		if value != 1 && value != 2 {
			what := "1 (OFF) or 2 (ON)"
			if ctl.Type == StepCommand {
				what = "1 (lower) or 2 (higher)"
			}
			return nil, o, fmt.Errorf("%w: %v command takes %s, got %v", ErrBadValue, ctl.Type, what, value)
		}
		o.State = uint8(value)
	case SetpointNormalized, SetpointScaled, SetpointFloat:
		raw := (value - ctl.Offset) / ctl.Scale
		if math.IsNaN(raw) || math.IsInf(raw, 0) {
			return nil, o, fmt.Errorf("%w: set-point %v", ErrBadValue, value)
		}
		switch ctl.Type {
		case SetpointNormalized:
			if raw < -1 || raw >= 1 {
				return nil, o, fmt.Errorf("%w: normalized set-point %v is %v after scaling, outside -1..1", ErrBadValue, value, raw)
			}
			o.Int = iec104.NormalizedRaw(raw)
		case SetpointScaled:
			if r := math.Round(raw); r < math.MinInt16 || r > math.MaxInt16 {
				return nil, o, fmt.Errorf("%w: scaled set-point %v is %v after scaling, outside -32768..32767", ErrBadValue, value, r)
			}
			o.Int = int32(math.Round(raw))
		default:
			if math.Abs(raw) > math.MaxFloat32 {
				return nil, o, fmt.Errorf("%w: float set-point %v out of range", ErrBadValue, value)
			}
			o.Float = float32(raw)
		}
	}
	if ctl.TimeTag {
		o.Time = iec104.NewCP56(time.Now(), ctl.Zone)
	}
	b, err = iec104.AppendASDU(nil, iec104.Header{Type: ctl.Type.typeID(ctl.TimeTag), Cause: cause, CA: ctl.CA}, []iec104.Object{o})
	return b, o, err
}

// Select starts a command on a point. An SBO control sends the select and
// returns once it is confirmed (state selected) or refused; a direct
// control executes at once and returns when the execution is confirmed and,
// where expected, terminated.
func (c *Commander) Select(ctx context.Context, point string, value float64, origin Origin) (Record, error) {
	ctl, ok := c.ctls[point]
	if !ok {
		return Record{}, fmt.Errorf("%s: %w", point, ErrNoControl)
	}
	l := c.links[ctl.Link]
	if st, _ := l.State(); st != Active {
		return Record{}, fmt.Errorf("%s: %w (it is %v)", point, ErrLinkNotActive, st)
	}
	if _, _, err := ctl.encode(value, ctl.SBO, iec104.CauseActivation); err != nil {
		return Record{}, fmt.Errorf("%s: %w", point, err)
	}
	key := respKey{ctl.Link, ctl.Type.typeID(ctl.TimeTag), ctl.CA, ctl.IOA}
	now := time.Now()
	c.mu.Lock()
	if p, busy := c.byPoint[point]; busy {
		c.mu.Unlock()
		return Record{}, fmt.Errorf("%s: %w (command %s is %v)", point, ErrBusy, p.rec.ID, p.rec.State)
	}
	if until, q := c.quarantine[key]; q && now.Before(until) {
		c.mu.Unlock()
		return Record{}, fmt.Errorf("%s: %w (for %v more)", point, ErrQuarantine, until.Sub(now).Round(time.Second))
	}
	if other, busy := c.byKey[key]; busy {
		c.mu.Unlock()
		return Record{}, fmt.Errorf("%s: %w (command %s on %s uses the same address)", point, ErrBusy, other.rec.ID, other.rec.Point)
	}
	p := &pending{ctl: ctl, key: key, ch: make(chan respEvent, 8), busy: true}
	p.rec = Record{
		ID: c.idBase + "-" + strconv.FormatUint(c.nextID.Add(1), 10), Point: point, Link: ctl.Link,
		Type: ctl.Type, Value: value, SBO: ctl.SBO, QU: ctl.QU, Origin: origin, State: Requested,
	}
	c.byPoint[point], c.byID[p.rec.ID], c.byKey[key] = p, p, p
	c.mu.Unlock()
	c.onStep(cloneRecord(p.rec))
	if ctl.SBO {
		return c.run(ctx, p, "select", Selecting)
	}
	return c.run(ctx, p, "execute", Executing)
}

// Execute executes a selected command with the value and qualifier of its
// selection, and returns when the execution is confirmed and, where
// expected, terminated.
func (c *Commander) Execute(ctx context.Context, id string) (Record, error) {
	p, err := c.claim(id)
	if err != nil {
		return Record{}, err
	}
	p.selTime.Stop()
	return c.run(ctx, p, "execute", Executing)
}

// Cancel cancels a selected command: DEACT is sent and DEACTCON awaited.
func (c *Commander) Cancel(ctx context.Context, id string) (Record, error) {
	p, err := c.claim(id)
	if err != nil {
		return Record{}, err
	}
	p.selTime.Stop()
	return c.run(ctx, p, "cancel", Selected)
}

// claim takes a selected command for its next step.
func (c *Commander) claim(id string) (*pending, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.byID[id]
	if !ok {
		if r, done := c.done[id]; done {
			return nil, fmt.Errorf("command %s: %w (it is %v)", id, ErrNotSelected, r.State)
		}
		return nil, fmt.Errorf("command %s: %w", id, ErrUnknownCommand)
	}
	if p.busy || p.rec.State != Selected {
		return nil, fmt.Errorf("command %s: %w (it is %v)", id, ErrNotSelected, p.rec.State)
	}
	p.busy = true
	return p, nil
}

// run sends one step (select, execute or cancel) and waits for its answers.
func (c *Commander) run(ctx context.Context, p *pending, step string, state CommandState) (Record, error) {
	ctl := p.ctl
	sel, cause := step == "select", iec104.CauseActivation
	if step == "cancel" {
		sel, cause = ctl.SBO, iec104.CauseDeactivation
	}
	b, sentObj, err := ctl.encode(p.rec.Value, sel, cause)
	if err != nil {
		return c.finish(p, Failed, err.Error())
	}
	drain(p.ch)
	c.mu.Lock()
	p.rec.State = state
	c.mu.Unlock()
	sent := time.Now()
	if err := c.links[ctl.Link].sendCommand(ctx, b); err != nil {
		return c.finish(p, Failed, fmt.Sprintf("%s not sent: %v", step, err))
	}
	c.addStep(p, Step{Name: step, At: sent, Cause: cause})
	c.log.Info("command step", "id", p.rec.ID, "point", p.rec.Point, "step", step, "value", p.rec.Value)

	wantTerm := step == "execute" && ctl.ActTerm
	timer := time.NewTimer(ctl.ResponseTimeout)
	defer timer.Stop()
	confirmed := false
	for {
		select {
		case ev := <-p.ch:
			if ev.lost != nil {
				c.addStep(p, Step{Name: "link_lost", At: ev.at})
				return c.finish(p, Failed, fmt.Sprintf("link lost during %s: %v", step, ev.lost))
			}
			h, o := ev.asdu, ev.obj
			lat := ev.at.Sub(sent)
			if h.IsNegative() {
				c.addStep(p, Step{Name: step + "_con", At: ev.at, Cause: h.Cause, Negative: true, Latency: lat})
				return c.finish(p, Failed, fmt.Sprintf("%s refused by the station: %s", step, describeNegative(h)))
			}
			if o.Select != sel || o.State != sentObj.State || o.Int != sentObj.Int || o.Float != sentObj.Float {
				c.addStep(p, Step{Name: step + "_con", At: ev.at, Cause: h.Cause, Latency: lat})
				c.links[ctl.Link].security("confirmation_mismatch", p.rec.Point, "command %s: %v confirmation does not echo what was sent (S/E %v, state %d)", p.rec.ID, h.Cause, o.Select, o.State)
				return c.finish(p, Failed, "the confirmation does not match the command sent")
			}
			switch {
			case step == "cancel" && h.Cause == iec104.CauseDeactivationCon:
				c.addStep(p, Step{Name: "cancel_con", At: ev.at, Cause: h.Cause, Latency: lat})
				return c.finish(p, Cancelled, "")
			case step != "cancel" && h.Cause == iec104.CauseActivationCon && !confirmed:
				c.addStep(p, Step{Name: step + "_con", At: ev.at, Cause: h.Cause, Latency: lat})
				c.mu.Lock()
				if step == "select" {
					p.rec.SelectLatency = lat
				} else {
					p.rec.ExecuteLatency = lat
					c.causedAt[ctl.Point] = ev.at
				}
				c.mu.Unlock()
				if step == "select" {
					return c.selected(p)
				}
				confirmed = true
				if !wantTerm {
					return c.finish(p, Confirmed, "")
				}
				c.mu.Lock()
				p.rec.State = Confirmed
				c.mu.Unlock()
				c.onStep(c.snapshot(p))
			case wantTerm && confirmed && h.Cause == iec104.CauseActivationTerm:
				c.addStep(p, Step{Name: "execute_term", At: ev.at, Cause: h.Cause, Latency: lat})
				c.mu.Lock()
				p.rec.TermLatency = lat
				c.causedAt[ctl.Point] = ev.at
				c.mu.Unlock()
				return c.finish(p, Terminated, "")
			default:
				c.links[ctl.Link].event(EventAnomaly, p.rec.Point, "command %s: unexpected %v %v during %s", p.rec.ID, h.Type, h.Cause, step)
			}
		case <-timer.C:
			c.addStep(p, Step{Name: "timeout", At: time.Now()})
			what := "ACTCON"
			switch {
			case step == "cancel":
				what = "DEACTCON"
			case confirmed:
				what = "ACTTERM"
			}
			c.mu.Lock()
			c.quarantine[p.key] = time.Now().Add(ctl.ResponseTimeout)
			c.mu.Unlock()
			return c.finish(p, Failed, fmt.Sprintf("no %s for the %s within %v", what, step, ctl.ResponseTimeout))
		}
	}
}

func describeNegative(h iec104.Header) string {
	switch h.Cause {
	case iec104.CauseUnknownType:
		return "unknown type (cause 44)"
	case iec104.CauseUnknownCause:
		return "unknown cause of transmission (cause 45)"
	case iec104.CauseUnknownCA:
		return "unknown common address (cause 46)"
	case iec104.CauseUnknownIOA:
		return "unknown object address (cause 47)"
	}
	return fmt.Sprintf("negative %v (cause %d)", h.Cause, h.Cause)
}

func drain(ch chan respEvent) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// selected parks a confirmed selection until execute, cancel or its timeout.
func (c *Commander) selected(p *pending) (Record, error) {
	c.mu.Lock()
	p.rec.State = Selected
	p.busy = false
	p.selTime = time.AfterFunc(p.ctl.SelectTimeout, func() { c.selectTimeout(p) })
	r := cloneRecord(p.rec)
	c.mu.Unlock()
	c.onStep(r)
	return r, nil
}

func (c *Commander) selectTimeout(p *pending) {
	c.mu.Lock()
	if p.busy || p.rec.State != Selected {
		c.mu.Unlock()
		return
	}
	p.busy = true
	c.mu.Unlock()
	c.log.Info("select timeout: cancelling", "id", p.rec.ID, "point", p.rec.Point)
	ctx, cancel := context.WithTimeout(context.Background(), p.ctl.ResponseTimeout)
	defer cancel()
	c.run(ctx, p, "cancel", Selected)
}

func (c *Commander) addStep(p *pending, s Step) {
	c.mu.Lock()
	p.rec.Steps = append(p.rec.Steps, s)
	r := cloneRecord(p.rec)
	c.mu.Unlock()
	c.onStep(r)
}

func (c *Commander) snapshot(p *pending) Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneRecord(p.rec)
}

// finish ends a command. For failures the error says why.
func (c *Commander) finish(p *pending, st CommandState, why string) (Record, error) {
	c.mu.Lock()
	p.rec.State, p.rec.Err, p.rec.Done = st, why, true
	if p.selTime != nil {
		p.selTime.Stop()
	}
	delete(c.byPoint, p.rec.Point)
	delete(c.byID, p.rec.ID)
	if c.byKey[p.key] == p {
		delete(c.byKey, p.key)
	}
	r := cloneRecord(p.rec)
	c.done[r.ID] = r
	c.doneOrder = append(c.doneOrder, r.ID)
	if len(c.doneOrder) > keepDone {
		delete(c.done, c.doneOrder[0])
		c.doneOrder = c.doneOrder[1:]
	}
	c.mu.Unlock()
	c.onStep(r)
	if l := c.links[p.rec.Link]; st == Failed {
		l.event(EventCommand, p.rec.Point, "command %s on %s failed: %s", r.ID, r.Point, why)
	} else {
		l.event(EventCommand, p.rec.Point, "command %s on %s %v", r.ID, r.Point, st)
	}
	if st == Failed {
		return r, fmt.Errorf("command %s on %s: %s", r.ID, r.Point, why)
	}
	return r, nil
}

// response routes a command ASDU from the device to the command waiting
// for it. It runs on a connection's goroutine and never blocks.
func (c *Commander) response(l *Link, a iec104.ASDU, now time.Time) {
	var buf [1]iec104.Object
	objs, err := a.Objects(buf[:0])
	if err != nil || len(objs) != 1 {
		l.event(EventAnomaly, "", "%v %v with %d objects: %v", a.Type, a.Cause, a.Count, err)
		return
	}
	key := respKey{l.Name(), a.Type, a.CA, objs[0].IOA}
	c.mu.Lock()
	p, ok := c.byKey[key]
	waiting := ok && p.busy
	_, late := c.quarantine[key]
	c.mu.Unlock()
	switch {
	case waiting:
		select {
		case p.ch <- respEvent{asdu: a.Header, obj: objs[0], at: now}:
		default:
			l.event(EventAnomaly, p.rec.Point, "command %s: too many answers, %v %v dropped", p.rec.ID, a.Type, a.Cause)
		}
	case late:
		l.event(EventAnomaly, "", "late %v %v for CA %d IOA %d after its command timed out: ignored", a.Type, a.Cause, a.CA, objs[0].IOA)
	case a.Cause == iec104.CauseActivation || a.Cause == iec104.CauseDeactivation:
		l.security("station_command", "", "the station sent a command %v %v for CA %d IOA %d", a.Type, a.Cause, a.CA, objs[0].IOA)
	default:
		l.security("unsolicited_confirmation", "", "%v %v for CA %d IOA %d matches no pending command of this HMI", a.Type, a.Cause, a.CA, objs[0].IOA)
	}
}

// linkLost fails every command waiting on the link.
func (c *Commander) linkLost(l *Link, err error) {
	if err == nil {
		err = ErrLinkNotActive
	}
	now := time.Now()
	c.mu.Lock()
	var waiting, parked []*pending
	for _, p := range c.byID {
		if p.rec.Link != l.Name() {
			continue
		}
		if p.busy {
			waiting = append(waiting, p)
		} else {
			p.busy = true
			parked = append(parked, p)
		}
	}
	c.mu.Unlock()
	for _, p := range waiting {
		select {
		case p.ch <- respEvent{at: now, lost: err}:
		default:
		}
	}
	for _, p := range parked {
		c.addStep(p, Step{Name: "link_lost", At: now})
		c.finish(p, Failed, fmt.Sprintf("link lost while selected: %v", err))
	}
}

// caused reports whether a command of this HMI changed the point recently.
func (c *Commander) caused(h points.Handle, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.byID {
		if p.ctl.Point == h && (p.rec.State == Executing || p.rec.State == Confirmed) {
			return true
		}
	}
	at, ok := c.causedAt[h]
	return ok && now.Sub(at) < causeWindow
}
