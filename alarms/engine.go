package alarms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"hmi/points"
)

// Transition actions (Transition.Action).
const (
	ActionRaise         = "raise"          // the condition appeared: to active_unacked
	ActionClear         = "clear"          // the condition went: to returned_unacked or normal
	ActionAck           = "ack"            // an operator acknowledged
	ActionShelve        = "shelve"         // an operator shelved
	ActionUnshelve      = "unshelve"       // an operator unshelved
	ActionShelveExpired = "shelve_expired" // the shelve ended at ShelvedUntil
	ActionSuppress      = "suppress"       // suppressed by design (its link is down)
	ActionUnsuppress    = "unsuppress"     // no longer suppressed
	ActionOutOfService  = "out_of_service" // an engineer took it out of service
	ActionInService     = "in_service"     // back in service
)

// Bounds of the engine's memory and work.
const (
	// MaxShelve is the longest an alarm may be shelved.
	MaxShelve = 7 * 24 * time.Hour
	// SubscriptionBuffer is how many transitions a subscriber may fall
	// behind before it is dropped.
	SubscriptionBuffer = 4096
	// maxBacklog is how many engine transitions wait for room in the
	// journal's queue before the engine drops (and counts) the next.
	maxBacklog = 1 << 16
	// maxSecurityKinds is how many security kinds get an alarm of their
	// own; later kinds share the alarm "security:other".
	maxSecurityKinds = 64
	// chunk is how many point changes the engine evaluates per hold of its
	// lock, so that readers get in between during a flood.
	chunk = 256
	// retryEvery is how soon the engine offers its backlog to the journal
	// again.
	retryEvery = 100 * time.Millisecond
	// logEvery is the least time between two warnings about the journal's
	// queue.
	logEvery = 10 * time.Second
)

// Engine evaluates alarm conditions on the point cache and on the inputs
// it is given (link states, security events, command outcomes), keeps each
// alarm's ISA-18.2 state, and carries out the operators' actions.
//
// Run is its only goroutine, which its caller owns and which returns when
// the context ends. Inputs never block; queries read under a read lock
// that the engine releases every few hundred changes; operator actions
// commit through the Journal before they return. Its methods are safe for
// concurrent use.
type Engine struct {
	journal Journal
	log     *slog.Logger
	now     func() time.Time // the clock of actions and timers; time.Now outside tests

	// Immutable after New.
	links    map[string]*alarm // link alarms by link name
	commands map[string]*alarm // command alarms by point ID
	secPrio  Priority          // 0: no security alarms

	running   atomic.Bool
	evaluated atomic.Uint64 // point changes evaluated

	opMu sync.Mutex // serialises operator actions; held while one commits, never by the engine

	mu      sync.RWMutex // guards the fields below and every *alarm
	loaded  bool         // Run has loaded the journal: actions and queries work
	cache   *points.Cache
	byID    map[string]*alarm
	byPoint [][]*alarm          // point alarms by handle, from Run on
	nsec    int                 // security alarms in byID
	visible []*alarm            // the alarms List shows, in no order; alarm.vis is the index + 1
	timed   map[*alarm]struct{} // on-delays running and shelves
	next    time.Time           // no deadline of timed is earlier; zero when none
	counts  [5][OutOfService + 1]int
	backlog []Transition // engine transitions the journal's queue refused, in order
	stats   Stats        // but Evaluated, Backlog, Alarms, InputsDropped, SubscribersDropped
	lastLog time.Time

	inMu      sync.Mutex // guards the inputs not yet taken by the engine
	inLinks   map[string]*edge[LinkState]
	inCmds    map[string]*edge[commandInput]
	inSec     map[string]*securityInput
	inDropped uint64
	wake      chan struct{} // capacity 1: inputs are pending, or the next deadline moved

	subMu       sync.Mutex // guards subs and subsDropped; taken after mu when both are held
	subs        []*Subscription
	subsDropped uint64
}

// Stats are the engine's counters.
type Stats struct {
	Alarms             int    // alarms known
	Evaluated          uint64 // point changes evaluated
	Transitions        uint64 // transitions made, the engine's and the operators'
	Backlog            int    // engine transitions waiting for room in the journal's queue
	QueueFull          uint64 // times QueueTransition refused a transition
	Lost               uint64 // engine transitions not journaled: the backlog was full
	InputsDropped      uint64 // security events beyond the kinds the engine tracks at once
	SubscribersDropped uint64 // subscribers dropped for falling behind
}

// alarm is the engine's record of one alarm; Engine.mu guards it.
type alarm struct {
	s state // what transitions change

	// The definition; point details are filled in by Run.
	h        points.Handle // the point of a point alarm; -1 otherwise
	limit    Limit
	lim      float64 // the limit's value
	deadband float64
	onDelay  time.Duration
	states   []int64
	bits     uint32
	msg      string // the configured message
	covered  bool   // a quality alarm whose point's link has a link alarm
	ackOnly  bool   // returns to normal at once: security, command with AckOnly
	name     string // the point's name, or the link's
	unit     string
	labels   []string
	kind     points.Kind

	// Evaluation.
	cond      bool      // the condition is present (after the on-delay)
	condAt    time.Time // when cond last changed
	condValue float64   // the value with which cond last changed
	condMsg   string    // detail for the message: reason, event text, quality
	wantSup   bool      // suppression by design is due
	supAt     time.Time // when wantSup last changed
	condLink  string    // security alarms: the link and point of the last event
	condPoint string
	commfail  bool      // the point had commfail at the last evaluation
	seen      bool      // a quality alarm has seen its point's quality since the start
	pending   bool      // an on-delay runs: beyond the limit (or the link down) since pendRecv
	pendRecv  time.Time // receive time of the first value beyond the limit, or of the link's loss
	pendAt    time.Time // its source time (its receive time without one)
	pendValue float64
	momentary int  // events of an ack-only alarm not yet annunciated
	busy      bool // an operator action on it is being committed
	timed     bool // in Engine.timed
	vis       int  // its index in Engine.visible + 1; 0 when not there
}

// state is what an alarm's transitions change: its public fields and the
// overlays on its ISA-18.2 state (Alarm.Underlying).
type state struct {
	Alarm
	shelved    bool
	oos        bool
	suppressed bool
}

// display is the state an alarm shows: out of service, shelved and
// suppressed hide the underlying state, in that order.
func (s *state) display() State {
	switch {
	case s.oos:
		return OutOfService
	case s.shelved:
		return Shelved
	case s.suppressed:
		return Suppressed
	}
	return s.Underlying
}

// listed reports whether List shows alarms in state st: active,
// unacknowledged or shelved.
func listed(st State) bool {
	return st == ActiveUnacked || st == ActiveAcked || st == ReturnedUnacked || st == Shelved
}

// New returns an engine for defs. journal keeps the alarms' states and
// transitions; log may be nil. The error, when defs are not valid, joins a
// *DefError for each problem.
func New(defs Defs, journal Journal, log *slog.Logger) (*Engine, error) {
	if journal == nil {
		return nil, errors.New("alarms: no journal")
	}
	if err := defs.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{
		journal:  journal,
		log:      log,
		now:      time.Now,
		links:    make(map[string]*alarm),
		commands: make(map[string]*alarm),
		secPrio:  defs.Security.Priority,
		byID:     make(map[string]*alarm),
		timed:    make(map[*alarm]struct{}),
		inLinks:  make(map[string]*edge[LinkState]),
		inCmds:   make(map[string]*edge[commandInput]),
		inSec:    make(map[string]*securityInput),
		wake:     make(chan struct{}, 1),
	}
	for _, p := range defs.Points {
		if d := p.Discrete; d != nil {
			a := e.add(SourceDiscrete, p.Point, 0, d.Priority)
			a.states, a.bits, a.msg = append([]int64(nil), d.States...), d.Bits, d.Message
		}
		if ls := p.Limits; ls != nil {
			for _, l := range ls.each() {
				a := e.add(SourceLimit, p.Point, l.lim, l.def.Priority)
				a.lim, a.deadband, a.onDelay, a.msg = l.def.Value, ls.Deadband, ls.OnDelay, l.def.Message
			}
		}
		if q := p.Quality; q != nil {
			a := e.add(SourceQuality, p.Point, 0, q.Priority)
			a.msg = q.Message
		}
	}
	for _, l := range defs.Links {
		a := e.add(SourceLink, l.Link, 0, l.Priority)
		a.msg, a.onDelay = l.Message, l.Delay
		e.links[l.Link] = a
	}
	for _, c := range defs.Commands {
		a := e.add(SourceCommand, c.Point, 0, c.Priority)
		a.ackOnly = c.AckOnly
		e.commands[c.Point] = a
	}
	return e, nil
}

// add creates an alarm, normal, named by a point ID, a link name or a
// security kind; mu is held, or New runs.
func (e *Engine) add(src Source, name string, lim Limit, prio Priority) *alarm {
	a := &alarm{h: -1, limit: lim, name: name}
	a.s.Alarm = Alarm{ID: alarmID(src, name, lim), Source: src, Priority: prio, Underlying: Normal}
	switch src {
	case SourceLink:
		a.s.Link, a.s.Area = name, name
	case SourceSecurity:
	default:
		a.s.Point = name
	}
	e.byID[a.s.ID] = a
	e.update(a)
	return a
}

// Run resolves the point alarms against cache, loads the alarms' last
// states from the journal, and then evaluates: the changes of the points
// that have alarms, the inputs, the on-delays and the shelves' expiry.
// Alarms loaded active stay so until their point's value says otherwise:
// a condition that cleared while the server was down makes an unacknowledged
// alarm returned_unacked and an acknowledged one normal. Run returns
// ctx.Err() when ctx ends, or an error at once when a point of the
// definitions is not in cache or the journal cannot be read. Call it once.
func (e *Engine) Run(ctx context.Context, cache *points.Cache) error {
	sub, err := e.start(ctx, cache)
	if err != nil {
		return err
	}
	defer sub.Close()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var changes []points.Change
	for {
		var tc <-chan time.Time
		if d, ok := e.deadline(); ok {
			timer.Reset(max(0, d.Sub(e.now())))
			tc = timer.C
		}
		select {
		case <-ctx.Done():
			e.mu.Lock()
			e.flush()
			if n := len(e.backlog); n > 0 {
				e.log.Warn("alarms: transitions not journaled at shutdown", "count", n)
			}
			e.mu.Unlock()
			return ctx.Err()
		case <-sub.Ready():
			changes = e.poll(sub, changes[:0])
		case <-e.wake:
			e.drainInputs()
		case <-tc:
			// Values first, so that an on-delay ends on what is known.
			changes = e.poll(sub, changes[:0])
			e.Tick(e.now())
		}
		if cap(changes) > 1<<16 {
			changes = nil // a flood's buffer: let the collector have it
		}
	}
}

// start is Run up to its loop: resolve, load, subscribe.
func (e *Engine) start(ctx context.Context, cache *points.Cache) (*points.Subscription, error) {
	if !e.running.CompareAndSwap(false, true) {
		return nil, errors.New("alarms: Run called twice")
	}
	byPoint := make([][]*alarm, cache.Len())
	var handles []points.Handle
	var errs []error
	e.mu.Lock()
	for _, a := range e.byID {
		if a.s.Point == "" {
			continue
		}
		h, ok := cache.Lookup(a.s.Point)
		if !ok {
			errs = append(errs, fmt.Errorf("alarms: alarm %s: no point %q in the cache", a.s.ID, a.s.Point))
			continue
		}
		d := cache.Def(h)
		a.name, a.unit, a.labels, a.kind = d.Name, d.Unit, d.Labels, d.Kind
		if a.name == "" {
			a.name = d.ID
		}
		a.s.Area, a.s.Link = d.Area, d.Link
		if a.s.Source == SourceCommand {
			continue
		}
		a.h = h
		if a.s.Source == SourceQuality {
			a.covered = e.links[d.Link] != nil
		}
		if len(byPoint[h]) == 0 {
			handles = append(handles, h)
		}
		byPoint[h] = append(byPoint[h], a)
	}
	e.mu.Unlock()
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}

	saved, err := e.journal.LoadAlarms(ctx)
	if err != nil {
		return nil, fmt.Errorf("alarms: load the alarms' states: %w", err)
	}
	sub := cache.Subscribe(handles)
	e.mu.Lock()
	e.cache, e.byPoint = cache, byPoint
	e.restore(saved)
	e.loaded = true
	e.mu.Unlock()
	sub.Resync()
	e.drainInputs()
	e.Tick(e.now())
	return sub, nil
}

// restore takes the states the journal saved; mu is held.
func (e *Engine) restore(saved []Alarm) {
	var unknown int
	for _, sa := range saved {
		a := e.byID[sa.ID]
		if a == nil && e.secPrio != 0 && strings.HasPrefix(sa.ID, SourceSecurity.String()+":") {
			a = e.security(strings.TrimPrefix(sa.ID, SourceSecurity.String()+":"))
		}
		if a == nil || a.s.ID != sa.ID {
			unknown++
			continue
		}
		s := &a.s
		s.RaisedAt, s.ClearedAt, s.Message, s.Value = sa.RaisedAt, sa.ClearedAt, sa.Message, sa.Value
		s.AckedBy, s.AckedAt, s.Comment = sa.AckedBy, sa.AckedAt, sa.Comment
		switch u := sa.Underlying; {
		case u >= Normal && u <= ReturnedUnacked:
			s.Underlying = u
		case sa.State >= Normal && sa.State <= ReturnedUnacked:
			s.Underlying = sa.State
		default:
			s.Underlying = Normal
		}
		s.shelved, s.oos, s.suppressed = false, false, false
		switch sa.State {
		case Shelved:
			s.shelved, s.ShelvedBy, s.ShelvedUntil = true, sa.ShelvedBy, sa.ShelvedUntil
			e.schedule(a, s.ShelvedUntil)
		case OutOfService:
			s.oos, s.Underlying = true, Normal
		case Suppressed:
			s.suppressed, a.wantSup = true, true
			a.commfail = true
		}
		a.cond = s.Underlying == ActiveUnacked || s.Underlying == ActiveAcked
		a.condAt, a.condValue = s.RaisedAt, s.Value
		if a.ackOnly {
			a.cond = false // its condition was momentary
			if s.Underlying == ActiveUnacked {
				s.Underlying = ReturnedUnacked
			}
		}
		e.update(a)
	}
	if unknown > 0 {
		e.log.Info("alarms: saved alarms without a definition ignored", "count", unknown)
	}
}

// poll evaluates the pending changes of sub, a chunk per hold of mu.
func (e *Engine) poll(sub *points.Subscription, buf []points.Change) []points.Change {
	buf = sub.Next(buf)
	for start := 0; start < len(buf); start += chunk {
		end := min(start+chunk, len(buf))
		e.mu.Lock()
		for _, c := range buf[start:end] {
			for _, a := range e.byPoint[c.Point] {
				e.evalPoint(a, c.Value, c.Value.RecvTime)
				e.settle(a)
			}
		}
		e.flush()
		e.mu.Unlock()
		e.evaluated.Add(uint64(end - start))
	}
	return buf
}

// Tick ends the on-delays and the shelves due at now. Run calls it on its
// own timer; a test may call it with times of its choosing.
func (e *Engine) Tick(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.loaded {
		return
	}
	e.next = time.Time{}
	for a := range e.timed {
		if a.pending {
			if due := a.pendRecv.Add(a.onDelay); !now.Before(due) {
				a.pending = false
				a.cond, a.condAt, a.condValue = true, a.pendAt.Add(a.onDelay), a.pendValue
				e.settle(a)
			} else {
				e.schedule(a, due)
			}
		}
		if a.s.shelved && !a.busy {
			if !now.Before(a.s.ShelvedUntil) {
				from := a.s.State
				until := a.s.ShelvedUntil
				a.s.shelved, a.s.ShelvedBy, a.s.ShelvedUntil = false, "", time.Time{}
				e.transit(a, from, ActionShelveExpired, until, "", "")
				e.settle(a)
			} else {
				e.schedule(a, a.s.ShelvedUntil)
			}
		}
		if !a.pending && !a.s.shelved {
			delete(e.timed, a)
			a.timed = false
		}
	}
	e.flush()
}

// schedule records that a needs Tick at t; mu is held.
func (e *Engine) schedule(a *alarm, t time.Time) {
	if !a.timed {
		e.timed[a] = struct{}{}
		a.timed = true
	}
	if e.next.IsZero() || t.Before(e.next) {
		e.next = t
		e.signal() // Run sets its timer again
	}
}

// deadline is when Run should call Tick next.
func (e *Engine) deadline() (time.Time, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	d := e.next
	if len(e.backlog) > 0 {
		if retry := e.now().Add(retryEvery); d.IsZero() || retry.Before(d) {
			d = retry
		}
	}
	return d, !d.IsZero()
}

// update sets a's displayed state from its overlays and underlying state,
// and keeps the counts and the visible set; mu is held.
func (e *Engine) update(a *alarm) {
	old, now := a.s.State, a.s.display()
	p := a.s.Priority
	if old != 0 {
		e.counts[p][old]--
	}
	e.counts[p][now]++
	a.s.State = now
	switch show := listed(now); {
	case show && a.vis == 0:
		e.visible = append(e.visible, a)
		a.vis = len(e.visible)
	case !show && a.vis != 0:
		last := e.visible[len(e.visible)-1]
		e.visible[a.vis-1], last.vis = last, a.vis
		e.visible[len(e.visible)-1] = nil
		e.visible = e.visible[:len(e.visible)-1]
		a.vis = 0
	}
}

// transit records a transition of a to its present state: counts, journal,
// subscribers. user is empty for the engine's own; those are queued in the
// journal. mu is held.
func (e *Engine) transit(a *alarm, from State, action string, at time.Time, user, comment string) {
	e.update(a)
	t := Transition{Alarm: a.s.Alarm, From: from, At: at, User: user, Action: action, Comment: comment}
	e.stats.Transitions++
	e.queue(t)
	e.publish(t)
}

// queue hands an engine transition to the journal, behind any backlog; mu
// is held.
func (e *Engine) queue(t Transition) {
	if len(e.backlog) == 0 {
		err := e.journal.QueueTransition(t)
		if err == nil {
			return
		}
		e.refused(err)
	}
	if len(e.backlog) >= maxBacklog {
		e.stats.Lost++
		e.warn()
		return
	}
	e.backlog = append(e.backlog, t)
}

// flush offers the backlog to the journal again; mu is held.
func (e *Engine) flush() {
	for i, t := range e.backlog {
		if err := e.journal.QueueTransition(t); err != nil {
			e.refused(err)
			n := copy(e.backlog, e.backlog[i:])
			clear(e.backlog[n:])
			e.backlog = e.backlog[:n]
			return
		}
	}
	if cap(e.backlog) > 1024 {
		e.backlog = nil
	} else {
		clear(e.backlog)
		e.backlog = e.backlog[:0]
	}
}

// refused counts a refusal of QueueTransition; mu is held.
func (e *Engine) refused(err error) {
	e.stats.QueueFull++
	if !errors.Is(err, ErrQueueFull) {
		e.log.Warn("alarms: journal refused a transition", "err", err)
	}
	e.warn()
}

// warn logs the journal's troubles, at most every logEvery; mu is held.
func (e *Engine) warn() {
	if now := time.Now(); now.Sub(e.lastLog) >= logEvery {
		e.lastLog = now
		e.log.Warn("alarms: journal queue full; transitions wait in the engine's backlog",
			"refused", e.stats.QueueFull, "backlog", len(e.backlog), "lost", e.stats.Lost)
	}
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.RLock()
	s := e.stats
	s.Backlog = len(e.backlog)
	s.Alarms = len(e.byID)
	e.mu.RUnlock()
	e.inMu.Lock()
	s.InputsDropped = e.inDropped
	e.inMu.Unlock()
	e.subMu.Lock()
	s.SubscribersDropped = e.subsDropped
	e.subMu.Unlock()
	s.Evaluated = e.evaluated.Load()
	return s
}
