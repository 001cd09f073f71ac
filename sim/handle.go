package sim

import (
	"encoding/hex"
	"log/slog"
	"math"
	"time"

	"hmi/frontstation/iec104"
)

// responder is where the answers to one session's requests go.
type responder struct {
	owner  uint64 // session id: selections belong to it
	log    *slog.Logger
	send   func(asdu []byte) error // to the requesting connection, in order
	others func(asdu []byte)       // to every other started connection, without waiting
}

// echo returns a copy of the request raw with cause c, the P/N bit neg and
// the request's test bit.
func echo(raw []byte, c iec104.Cause, neg bool) []byte {
	b := append([]byte(nil), raw...)
	b[2] = byte(c) | raw[2]&0x80
	if neg {
		b[2] |= 0x40
	}
	return b
}

// confirmation is the cause that answers a request's cause: ACTCON for an
// activation, DEACTCON for a deactivation; a read (COT 5) is answered with 5.
func confirmation(c iec104.Cause) iec104.Cause {
	switch c {
	case iec104.CauseActivation:
		return iec104.CauseActivationCon
	case iec104.CauseDeactivation:
		return iec104.CauseDeactivationCon
	}
	return c
}

// handle answers one ASDU received from the controlling station. It never
// panics on malformed input: an ASDU that does not parse is logged and
// ignored. The error is that of sending an answer.
func (s *Server) handle(r *responder, raw []byte) error {
	a, err := iec104.ParseASDU(raw)
	if err != nil {
		r.log.Warn("sim: malformed ASDU ignored", "err", err, "asdu", hexPrefix(raw))
		return nil
	}
	r.log.Debug("sim: request", "type", a.Type, "cause", a.Cause, "negative", a.Negative, "test", a.Test, "ca", a.CA, "objects", a.Count)
	cmd := commandKindOf(a.Type)
	switch a.Type {
	case iec104.C_IC_NA_1, iec104.C_CI_NA_1, iec104.C_CS_NA_1, iec104.C_TS_TA_1, iec104.C_RD_NA_1:
	default:
		if cmd == 0 {
			r.log.Info("sim: unknown type", "type", a.Type)
			return r.send(echo(raw, iec104.CauseUnknownType, true))
		}
	}
	if a.CA != s.ca {
		broadcastOK := a.Type == iec104.C_IC_NA_1 || a.Type == iec104.C_CI_NA_1 || a.Type == iec104.C_CS_NA_1
		if a.CA != iec104.GlobalCA || !broadcastOK {
			r.log.Info("sim: unknown common address", "type", a.Type, "ca", a.CA)
			return r.send(echo(raw, iec104.CauseUnknownCA, true))
		}
		// A broadcast is answered with the station's own address.
		raw = append([]byte(nil), raw...)
		raw[4], raw[5] = byte(s.ca), byte(s.ca>>8)
		a.CA = s.ca
	}
	var causeOK bool
	switch a.Type {
	case iec104.C_RD_NA_1:
		causeOK = a.Cause == iec104.CauseRequest
	case iec104.C_CI_NA_1, iec104.C_CS_NA_1, iec104.C_TS_TA_1:
		causeOK = a.Cause == iec104.CauseActivation
	default: // interrogation and commands
		causeOK = a.Cause == iec104.CauseActivation || a.Cause == iec104.CauseDeactivation
	}
	if !causeOK {
		r.log.Info("sim: unknown cause", "type", a.Type, "cause", a.Cause)
		return r.send(echo(raw, iec104.CauseUnknownCause, true))
	}
	if a.Count != 1 {
		r.log.Info("sim: request rejected", "type", a.Type, "reason", "not exactly one object", "objects", a.Count)
		return r.send(echo(raw, confirmation(a.Cause), true))
	}
	var buf [1]iec104.Object
	objs, err := a.Objects(buf[:0])
	if err != nil || len(objs) != 1 {
		r.log.Warn("sim: malformed ASDU ignored", "err", err, "asdu", hexPrefix(raw))
		return nil
	}
	o := objs[0]
	if cmd != 0 {
		return s.command(r, raw, a, o)
	}
	if a.Type != iec104.C_RD_NA_1 && o.IOA != 0 {
		r.log.Info("sim: system command with an IOA", "type", a.Type, "ioa", o.IOA)
		return r.send(echo(raw, iec104.CauseUnknownIOA, true))
	}
	switch a.Type {
	case iec104.C_IC_NA_1:
		return s.interrogate(r, raw, a, o)
	case iec104.C_CI_NA_1:
		return s.counterInterrogate(r, raw, a, o)
	case iec104.C_CS_NA_1:
		return s.clockSync(r, raw, a, o)
	case iec104.C_TS_TA_1:
		return r.send(echo(raw, iec104.CauseActivationCon, false))
	default: // C_RD_NA_1
		return s.read(r, raw, a, o)
	}
}

func hexPrefix(b []byte) string {
	if len(b) > 64 {
		return hex.EncodeToString(b[:64]) + "..."
	}
	return hex.EncodeToString(b)
}

// interrogate answers a station (QOI 20) or group (21..36) interrogation:
// ACTCON, the points without time tags and with cause QOI, ACTTERM.
// Counters are not part of it (counter interrogation reads them).
func (s *Server) interrogate(r *responder, raw []byte, a iec104.ASDU, o iec104.Object) error {
	if a.Cause == iec104.CauseDeactivation {
		// The interrogation ran to its end before this was read: nothing to stop.
		return r.send(echo(raw, iec104.CauseDeactivationCon, true))
	}
	qoi := o.Qualifier
	if qoi < 20 || qoi > 36 {
		r.log.Info("sim: interrogation rejected", "qoi", qoi)
		return r.send(echo(raw, iec104.CauseActivationCon, true))
	}
	if err := r.send(echo(raw, iec104.CauseActivationCon, false)); err != nil {
		return err
	}
	group := int(qoi) - 20
	var b batch
	s.mu.Lock()
	for k := Single; k <= Float; k++ {
		for _, p := range s.byKind[k] {
			if group == 0 || p.Group == group {
				b.add(k.TypeID(false), p.obj)
			}
		}
	}
	s.mu.Unlock()
	if err := b.pack(iec104.Header{Cause: iec104.Cause(qoi), Test: a.Test, CA: s.ca}, r.send); err != nil {
		return err
	}
	return r.send(echo(raw, iec104.CauseActivationTerm, false))
}

// counterInterrogate answers C_CI_NA_1: ACTCON, the counters of the
// requested group with cause 37 (general) or 38..41, ACTTERM. FRZ 0 reads
// the running values, 1 freezes them (the sequence number counts up) and
// sends the frozen values, 2 does the same and then resets the counters, 3
// resets them and sends the zeros.
func (s *Server) counterInterrogate(r *responder, raw []byte, a iec104.ASDU, o iec104.Object) error {
	rqt, frz := int(o.Qualifier&0x3F), o.Qualifier>>6
	if rqt < 1 || rqt > 5 {
		r.log.Info("sim: counter interrogation rejected", "qcc", o.Qualifier)
		return r.send(echo(raw, iec104.CauseActivationCon, true))
	}
	if err := r.send(echo(raw, iec104.CauseActivationCon, false)); err != nil {
		return err
	}
	cause := iec104.CauseCounterGeneral
	if rqt < 5 {
		cause = iec104.CauseCounterGroup1 + iec104.Cause(rqt-1)
	}
	var b batch
	s.mu.Lock()
	tm := iec104.NewCP56(s.nowLocked(), s.loc)
	for _, p := range s.byKind[Counter] {
		if rqt != 5 && p.Group != rqt {
			continue
		}
		if frz == 1 || frz == 2 {
			p.obj.CounterSeq = (p.obj.CounterSeq + 1) & 0x1F
			p.frozen = p.obj
			p.obj.Carry = false
		}
		if frz >= 2 {
			p.obj.Int = 0
			p.obj.Carry = false
		}
		rep := p.obj
		if frz == 1 || frz == 2 {
			rep = p.frozen
		}
		if p.TimeTag {
			rep.Time = tm
		}
		b.add(Counter.TypeID(p.TimeTag), rep)
	}
	s.mu.Unlock()
	if err := b.pack(iec104.Header{Cause: cause, Test: a.Test, CA: s.ca}, r.send); err != nil {
		return err
	}
	return r.send(echo(raw, iec104.CauseActivationTerm, false))
}

// clockSync sets the station clock to the time of a C_CS_NA_1 and confirms
// with the station's (now adjusted) clock, as lib60870 does.
func (s *Server) clockSync(r *responder, raw []byte, a iec104.ASDU, o iec104.Object) error {
	if err := o.Time.Validate(); err != nil || o.Time.Invalid {
		r.log.Info("sim: clock synchronisation rejected", "time", o.Time.String(), "err", err)
		return r.send(echo(raw, iec104.CauseActivationCon, true))
	}
	t := o.Time.Time(s.loc)
	s.mu.Lock()
	s.offset = time.Until(t)
	now := s.nowLocked()
	s.mu.Unlock()
	r.log.Info("sim: clock synchronised", "time", t, "offset", time.Until(now).Round(time.Millisecond))
	b, err := iec104.AppendASDU(nil, iec104.Header{Type: iec104.C_CS_NA_1, Cause: iec104.CauseActivationCon, Test: a.Test, OA: a.OA, CA: s.ca},
		[]iec104.Object{{Time: iec104.NewCP56(now, s.loc)}})
	if err != nil {
		return err
	}
	return r.send(b)
}

// read answers C_RD_NA_1 with the point (cause 5), or cause 47 when no point
// has the IOA.
func (s *Server) read(r *responder, raw []byte, a iec104.ASDU, o iec104.Object) error {
	p := s.byIOA[o.IOA]
	if p == nil {
		r.log.Info("sim: read of an unknown IOA", "ioa", o.IOA)
		return r.send(echo(raw, iec104.CauseUnknownIOA, true))
	}
	s.mu.Lock()
	obj := p.report(p.TimeTag, iec104.NewCP56(s.nowLocked(), s.loc))
	s.mu.Unlock()
	b, err := iec104.AppendASDU(nil, iec104.Header{Type: p.Kind.TypeID(p.TimeTag), Cause: iec104.CauseRequest, Test: a.Test, OA: a.OA, CA: s.ca},
		[]iec104.Object{obj})
	if err != nil {
		return err
	}
	return r.send(b)
}

// command handles a process command (select, execute, deactivate) and, on
// execute, changes the bound point and reports it with cause 11.
func (s *Server) command(r *responder, raw []byte, a iec104.ASDU, o iec104.Object) error {
	c := s.commands[o.IOA]
	if c == nil {
		r.log.Info("sim: command for an unknown IOA", "type", a.Type, "ioa", o.IOA)
		return r.send(echo(raw, iec104.CauseUnknownIOA, true))
	}
	reject := func(reason string) error {
		r.log.Info("sim: command rejected", "type", a.Type, "ioa", o.IOA, "cause", a.Cause, "select", o.Select, "reason", reason)
		return r.send(echo(raw, confirmation(a.Cause), true))
	}
	if commandKindOf(a.Type) != c.Kind {
		return reject("type does not fit the command kind " + c.Kind.String())
	}
	now := time.Now()
	if a.Cause == iec104.CauseDeactivation {
		s.mu.Lock()
		sel := c.sel
		ok := sel != nil && sel.owner == r.owner && now.Before(sel.deadline)
		if sel != nil && sel.owner == r.owner {
			c.sel = nil
		}
		s.mu.Unlock()
		if !ok {
			return reject("no select to cancel")
		}
		r.log.Info("sim: select cancelled", "type", a.Type, "ioa", o.IOA)
		return r.send(echo(raw, iec104.CauseDeactivationCon, false))
	}
	switch {
	case (c.Kind == DoubleCommand || c.Kind == StepCommand) && (o.State == 0 || o.State == 3):
		return reject("state 0 and 3 are not permitted")
	case c.Kind == SetpointFloat && (math.IsNaN(float64(o.Float)) || math.IsInf(float64(o.Float), 0)):
		return reject("set-point is not a finite number")
	case a.Type.HasTime() && o.Time.Validate() != nil:
		return reject("invalid time tag")
	}
	want := o
	want.Select, want.Time = false, iec104.CP56Time2a{}
	if o.Select {
		if !c.SBO {
			return reject("select on a direct-execute command")
		}
		s.mu.Lock()
		busy := c.sel != nil && c.sel.owner != r.owner && now.Before(c.sel.deadline)
		if !busy {
			c.sel = &selection{owner: r.owner, typ: a.Type, obj: want, deadline: now.Add(c.timeout)}
		}
		s.mu.Unlock()
		if busy {
			return reject("selected by another connection")
		}
		r.log.Info("sim: selected", "type", a.Type, "ioa", o.IOA, "timeout", c.timeout)
		return r.send(echo(raw, iec104.CauseActivationCon, false))
	}

	// Execute.
	var ret []byte
	s.mu.Lock()
	reason := ""
	if c.SBO {
		sel := c.sel
		if sel != nil && sel.owner == r.owner {
			c.sel = nil // an execute ends the select, whether it matches or not
		}
		switch {
		case sel == nil || sel.owner != r.owner:
			reason = "execute without select"
		case !now.Before(sel.deadline):
			reason = "select timed out"
		case sel.typ != a.Type || sel.obj != want:
			reason = "execute does not match the select"
		}
	}
	if reason == "" && c.point != nil && !a.Test {
		p := c.point
		v := p.obj
		switch c.Kind {
		case SingleCommand, DoubleCommand:
			v.State = o.State
		case StepCommand:
			d := int8(1)
			if o.State == 1 {
				d = -1
			}
			if v.Step+d < -64 || v.Step+d > 63 {
				reason = "step position at its limit"
			}
			v.Step += d
			v.Transient = false
		case SetpointNormalized, SetpointScaled:
			v.Int = o.Int
		case SetpointFloat:
			v.Float = o.Float
		}
		if reason == "" {
			p.obj = v
			obj := p.report(p.TimeTag, iec104.NewCP56(s.nowLocked(), s.loc))
			var err error
			ret, err = iec104.AppendASDU(nil, iec104.Header{Type: p.Kind.TypeID(p.TimeTag), Cause: iec104.CauseReturnRemote, OA: a.OA, CA: s.ca},
				[]iec104.Object{obj})
			if err != nil {
				s.mu.Unlock()
				return err
			}
		}
	}
	s.mu.Unlock()
	if reason != "" {
		return reject(reason)
	}
	r.log.Info("sim: command executed", "type", a.Type, "ioa", o.IOA, "value", o.Value(a.Type), "qu", o.QU, "test", a.Test)
	if err := r.send(echo(raw, iec104.CauseActivationCon, false)); err != nil {
		return err
	}
	if c.ActTerm {
		if err := r.send(echo(raw, iec104.CauseActivationTerm, false)); err != nil {
			return err
		}
	}
	if ret == nil {
		return nil
	}
	if err := r.send(ret); err != nil {
		return err
	}
	r.others(ret)
	if f := s.opts.OnExecute; f != nil {
		f(c.point.IOA)
	}
	return nil
}
