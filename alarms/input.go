package alarms

import "time"

// LinkState says that a link went up (active) or down (any other state).
// cmd/hmi feeds it from the front end's link state events.
type LinkState struct {
	Link   string
	Up     bool
	At     time.Time // zero: when the engine is told
	Reason string    // why it is down, for the message
}

// SecurityEvent is something this HMI did not cause, or a TLS failure
// (ARCHITECTURE.md, Security events).
type SecurityEvent struct {
	// Kind classifies the event ("unsolicited_command", "unmatched_confirmation",
	// "tls"); each kind has one alarm, "security:KIND". Empty: "security".
	Kind    string
	Link    string
	Point   string // point ID, when the event concerns one
	Message string // what the operator reads
	At      time.Time
}

// CommandFailure is a command that ended in failure: negative confirmation,
// timeout, link lost.
type CommandFailure struct {
	Point  string // the point the command operates
	Reason string
	At     time.Time
}

// commandInput is a command outcome, failed or not.
type commandInput struct {
	ok     bool
	reason string
	at     time.Time
}

// edge keeps what the engine must see of a two-state input between two
// rounds: the first bad state (link down, command failed) and the latest
// state, so that a down and up in quick succession still raises and clears.
type edge[T any] struct {
	first *T
	last  T
}

// put records in, bad or not.
func (ed *edge[T]) put(in T, bad bool) {
	if bad && ed.first == nil {
		c := in
		ed.first = &c
	}
	ed.last = in
}

// securityInput is the security events of one kind between two rounds.
type securityInput struct {
	n    int
	last SecurityEvent
}

// LinkState tells the engine that a link went up or down. It never blocks;
// a link without a link alarm is ignored.
func (e *Engine) LinkState(ls LinkState) {
	if e.links[ls.Link] == nil {
		return
	}
	if ls.At.IsZero() {
		ls.At = e.now()
	}
	e.inMu.Lock()
	ed := e.inLinks[ls.Link]
	if ed == nil {
		ed = new(edge[LinkState])
		e.inLinks[ls.Link] = ed
	}
	ed.put(ls, !ls.Up)
	e.inMu.Unlock()
	e.signal()
}

// CommandFailed tells the engine that a command on a point failed. It
// never blocks; a point without a command alarm is ignored.
func (e *Engine) CommandFailed(f CommandFailure) {
	e.command(f.Point, commandInput{ok: false, reason: f.Reason, at: f.At})
}

// CommandSucceeded tells the engine that a command on a point succeeded,
// which clears its command alarm (unless that is ack-only). It never
// blocks.
func (e *Engine) CommandSucceeded(point string, at time.Time) {
	e.command(point, commandInput{ok: true, at: at})
}

func (e *Engine) command(point string, in commandInput) {
	if e.commands[point] == nil {
		return
	}
	if in.at.IsZero() {
		in.at = e.now()
	}
	e.inMu.Lock()
	ed := e.inCmds[point]
	if ed == nil {
		ed = new(edge[commandInput])
		e.inCmds[point] = ed
	}
	ed.put(in, !in.ok)
	e.inMu.Unlock()
	e.signal()
}

// Security tells the engine of a security event, which raises the alarm of
// its kind and returns it to normal at once: it waits, returned_unacked,
// for an acknowledgement. It never blocks. Events of more kinds than the
// engine tracks at once (64) between two of its rounds are counted in
// Stats.InputsDropped.
func (e *Engine) Security(ev SecurityEvent) {
	if e.secPrio == 0 {
		return
	}
	if ev.Kind == "" {
		ev.Kind = "security"
	}
	if ev.At.IsZero() {
		ev.At = e.now()
	}
	e.inMu.Lock()
	in := e.inSec[ev.Kind]
	if in == nil {
		if len(e.inSec) >= maxSecurityKinds {
			e.inDropped++
			e.inMu.Unlock()
			return
		}
		in = new(securityInput)
		e.inSec[ev.Kind] = in
	}
	in.n++
	in.last = ev
	e.inMu.Unlock()
	e.signal()
}

// signal wakes Run without waiting.
func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// drainInputs applies the inputs given since the last round.
func (e *Engine) drainInputs() {
	e.inMu.Lock()
	links, cmds, sec := e.inLinks, e.inCmds, e.inSec
	if len(links)+len(cmds)+len(sec) == 0 {
		// Nothing to take; the maps stay the inputs' (do not read them after unlocking).
		e.inMu.Unlock()
		return
	}
	e.inLinks = make(map[string]*edge[LinkState])
	e.inCmds = make(map[string]*edge[commandInput])
	e.inSec = make(map[string]*securityInput)
	e.inMu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	for name, ed := range links {
		a := e.links[name]
		if ed.first != nil {
			e.linkInput(a, *ed.first)
		}
		e.linkInput(a, ed.last)
	}
	for point, ed := range cmds {
		a := e.commands[point]
		if ed.first != nil {
			e.commandInput(a, *ed.first)
		}
		if ed.last.ok || ed.first == nil || *ed.first != ed.last {
			e.commandInput(a, ed.last)
		}
	}
	for kind, in := range sec {
		a := e.security(kind)
		a.condAt, a.condMsg, a.condLink, a.condPoint = in.last.At, in.last.Message, in.last.Link, in.last.Point
		a.momentary += in.n
		e.settle(a)
	}
	e.flush()
}

// linkInput applies a link state to its alarm; mu is held. A loss waits for the link's on-delay (Tick raises the
// alarm when it has passed); the link's return ends the wait or the condition.
func (e *Engine) linkInput(a *alarm, ls LinkState) {
	switch {
	case ls.Up:
		a.pending = false
		if a.cond {
			a.cond, a.condAt, a.condMsg = false, ls.At, ls.Reason
		}
	case a.cond:
	case a.onDelay > 0:
		if !a.pending {
			a.pending, a.pendRecv, a.pendAt = true, ls.At, ls.At
			e.schedule(a, ls.At.Add(a.onDelay))
		}
		a.condMsg = ls.Reason // the state it is in now
	default:
		a.cond, a.condAt, a.condMsg = true, ls.At, ls.Reason
	}
	e.settle(a)
}

// commandInput applies a command outcome to its alarm; mu is held.
func (e *Engine) commandInput(a *alarm, in commandInput) {
	if a.ackOnly {
		if !in.ok {
			a.condAt, a.condMsg = in.at, in.reason
			a.momentary++
		}
	} else if c := !in.ok; c != a.cond || c {
		a.cond, a.condAt, a.condMsg = c, in.at, in.reason
	}
	e.settle(a)
}

// security returns the alarm of a security kind, made on first use; mu is
// held.
func (e *Engine) security(kind string) *alarm {
	if a := e.byID[alarmID(SourceSecurity, kind, 0)]; a != nil {
		return a
	}
	if e.nsec >= maxSecurityKinds {
		kind = "other"
		if a := e.byID[alarmID(SourceSecurity, kind, 0)]; a != nil {
			return a
		}
	}
	a := e.add(SourceSecurity, kind, 0, e.secPrio)
	a.ackOnly = true
	e.nsec++
	return a
}
