package frontstation

import (
	"fmt"
	"time"

	"hmi/frontstation/iec104"
	"hmi/points"
)

// kindOf maps a monitor type to the point kind it feeds.
func kindOf(t iec104.TypeID) (points.Kind, bool) {
	switch t {
	case iec104.M_SP_NA_1, iec104.M_SP_TB_1:
		return points.Single, true
	case iec104.M_DP_NA_1, iec104.M_DP_TB_1:
		return points.Double, true
	case iec104.M_ST_NA_1, iec104.M_ST_TB_1:
		return points.Step, true
	case iec104.M_BO_NA_1, iec104.M_BO_TB_1:
		return points.Bitstring, true
	case iec104.M_ME_NA_1, iec104.M_ME_TD_1:
		return points.Normalized, true
	case iec104.M_ME_NB_1, iec104.M_ME_TE_1:
		return points.Scaled, true
	case iec104.M_ME_NC_1, iec104.M_ME_TF_1:
		return points.Float, true
	case iec104.M_IT_NA_1, iec104.M_IT_TB_1:
		return points.Counter, true
	}
	return 0, false
}

func analog(k points.Kind) bool {
	return k == points.Normalized || k == points.Scaled || k == points.Float
}

// receive handles one ASDU from the active connection. It runs on the
// connection's goroutine: it must not block.
func (l *Link) receive(b []byte) {
	now := time.Now()
	a, err := iec104.ParseASDU(b)
	if err != nil {
		l.countErr("malformed_asdu")
		l.event(EventAnomaly, "", "malformed ASDU % X: %v", b, err)
		return
	}
	if l.cfg.Observe != nil {
		l.observe(a, now)
	}
	switch {
	case a.Type == iec104.M_EI_NA_1:
		l.rxObjects.Add(uint64(a.Count))
		coi := -1
		if len(a.Payload) > 0 {
			coi = int(a.Payload[len(a.Payload)-1])
		}
		if l.cfg.Manual {
			l.event(EventDevice, "", "station CA %d reports end of initialisation (COI %d)", a.CA, coi)
			break
		}
		l.event(EventDevice, "", "station CA %d reports end of initialisation (COI %d): interrogating", a.CA, coi)
		l.Interrogate()
	case a.Type.IsMonitor():
		l.monitor(a, now)
	case a.Type.IsCommand():
		l.rxObjects.Add(uint64(a.Count))
		if cmd := l.cmd.Load(); cmd != nil {
			cmd.response(l, a, now)
		} else {
			l.security("unsolicited_confirmation", "", "%v %v for CA %d matches no command of this HMI", a.Type, a.Cause, a.CA)
		}
	case a.Type.IsSystem():
		l.rxObjects.Add(uint64(a.Count))
		l.systemResponse(a, now)
	default:
		if l.unknownType(a.Type) {
			l.event(EventAnomaly, "", "ASDU of unknown type %d (cause %v, CA %d, %d objects) ignored (counted, reported once per type)", uint8(a.Type), a.Cause, a.CA, a.Count)
		}
	}
}

// unknownType counts an ASDU of a type the link does not handle and
// reports whether it is the first of that type, so that a device sending
// one every second does not flood the journal.
func (l *Link) unknownType(t iec104.TypeID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs["unknown_type"]++
	n := l.unknownTypes[t]
	l.unknownTypes[t] = n + 1
	return n == 0
}

// observe hands an ASDU and its objects to LinkConfig.Observe.
func (l *Link) observe(a iec104.ASDU, now time.Time) {
	l.rxMu.Lock()
	defer l.rxMu.Unlock()
	objs, err := a.Objects(l.objBuf[:0])
	l.objBuf = objs
	if err != nil {
		objs = nil
	}
	l.cfg.Observe(a, objs, now)
}

// monitor maps process information to points and applies it.
func (l *Link) monitor(a iec104.ASDU, now time.Time) {
	kind, ok := kindOf(a.Type)
	if !ok {
		if l.unknownType(a.Type) {
			l.event(EventAnomaly, "", "monitor type %v is not supported (cause %v, CA %d; counted, reported once per type)", a.Type, a.Cause, a.CA)
		}
		return
	}
	l.rxMu.Lock()
	defer l.rxMu.Unlock()
	objs, err := a.Objects(l.objBuf[:0])
	l.objBuf = objs
	if err != nil {
		l.countErr("malformed_asdu")
		l.event(EventAnomaly, "", "%v: %v", a.Type, err)
		return
	}
	l.rxObjects.Add(uint64(len(objs)))
	if a.IsNegative() {
		l.event(EventAnomaly, "", "%v with negative cause %v ignored", a.Type, a.Cause)
		return
	}
	ups := l.updates[:0]
	timed := a.Type.HasTime()
	cmd := l.cmd.Load()
	for i := range objs {
		o := &objs[i]
		pm, ok := l.index[addrKey{a.CA, o.IOA, kind}]
		if !ok {
			l.unknownAddress(addrKey{a.CA, o.IOA, kind}, a.Type)
			continue
		}
		v := o.Value(a.Type)
		if pm.scale >= 0 && analog(kind) {
			sc := l.scales[pm.scale]
			v = v*sc.factor + sc.offset
		}
		u := points.Update{Point: pm.point, Value: v, Quality: points.Quality(o.Quality) & points.IECMask, RecvTime: now}
		if timed && !o.Time.Invalid && o.Time.Validate() == nil {
			u.SourceTime = o.Time.Time(l.cfg.DeviceZone)
			// A device repeats unacknowledged events after a reconnect or a
			// switch-over: an older time tag than the point's has been seen,
			// and so has the same time tag with the same value. The same time
			// tag with another value is a new event: two changes within one
			// millisecond (or one tick of a coarse device clock) are not lost.
			if cur := l.cache.Get(pm.point); !cur.SourceTime.IsZero() &&
				(u.SourceTime.Before(cur.SourceTime) || u.SourceTime.Equal(cur.SourceTime) && u.Value == cur.Value) {
				l.replays.Add(1)
				continue
			}
		}
		switch a.Cause {
		case iec104.CauseReturnRemote:
			if cmd == nil || !cmd.caused(pm.point, now) {
				id := l.cache.Def(pm.point).ID
				l.security("remote_change", id, "%s changed to %v by a remote command (cause 11) that this HMI did not send", id, v)
			}
		case iec104.CauseReturnLocal:
			id := l.cache.Def(pm.point).ID
			l.security("local_operation", id, "%s changed to %v by a local operation at the station (cause 12)", id, v)
		}
		ups = append(ups, u)
	}
	l.updates = ups
	if len(ups) > 0 {
		l.cache.Apply(ups)
	}
}

func (l *Link) unknownAddress(k addrKey, t iec104.TypeID) {
	l.unknownObjs.Add(1)
	l.mu.Lock()
	n := l.unknown[k]
	l.unknown[k] = n + 1
	l.mu.Unlock()
	if n == 0 && !l.cfg.QuietUnmapped {
		l.event(EventAnomaly, "", "%v at CA %d IOA %d maps to no point (counted, logged once)", t, k.ca, k.ioa)
	}
}

// UnknownAddresses returns how many objects arrived at each address that
// maps to no point, keyed "CA/IOA/kind".
func (l *Link) UnknownAddresses() map[string]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]uint64, len(l.unknown))
	for k, n := range l.unknown {
		m[formatAddr(k)] = n
	}
	return m
}

func formatAddr(k addrKey) string {
	return fmt.Sprintf("%d/%d/%v", k.ca, k.ioa, k.kind)
}

// systemResponse tracks confirmations of interrogation, clock sync, counter
// interrogation and test commands.
func (l *Link) systemResponse(a iec104.ASDU, now time.Time) {
	l.mu.Lock()
	sent, pending := l.pendingSys[a.Type]
	var done, stationGI bool
	var result error // for a waiting System call
	switch {
	case !pending:
	case a.IsNegative():
		delete(l.pendingSys, a.Type)
		done = true
		result = &RefusedError{Link: l.cfg.Name, Type: a.Type, Cause: a.Cause, CA: a.CA}
	case a.Cause == iec104.CauseActivationCon && a.Type != iec104.C_IC_NA_1 && a.Type != iec104.C_CI_NA_1:
		delete(l.pendingSys, a.Type)
		done = true
	case a.Cause == iec104.CauseActivationCon:
		if w := l.sysWaits[a.Type]; w != nil {
			w.confirmed = now
		}
	case a.Cause == iec104.CauseActivationTerm:
		delete(l.pendingSys, a.Type)
		done = true
		if a.Type == iec104.C_IC_NA_1 && !l.giStart.IsZero() {
			l.lastGI, l.giTime, l.giStart = now, now.Sub(l.giStart), time.Time{}
		}
		stationGI = a.Type == iec104.C_IC_NA_1 && stationQOI(a)
	}
	if w := l.sysWaits[a.Type]; done && w != nil {
		delete(l.sysWaits, a.Type)
		w.done <- result
	}
	l.mu.Unlock()
	switch {
	case !pending:
		l.security("unsolicited_confirmation", "", "%v %v for CA %d that this HMI did not request", a.Type, a.Cause, a.CA)
	case a.IsNegative():
		l.countErr("negative_con")
		l.event(EventDevice, "", "station CA %d refused %v (cause %v, negative)", a.CA, a.Type, a.Cause)
	case done:
		l.log.Debug("system command complete", "type", a.Type, "cause", a.Cause, "took", now.Sub(sent))
	}
	if stationGI {
		// The station has sent all it has: the link's points are no longer
		// in commfail, also those it did not send (they keep their values).
		l.cache.SetCommFail(l.cfg.Name, false, now)
	}
}

// stationQOI reports whether an interrogation ASDU carries QOI 20: the
// station interrogation, not a group's.
func stationQOI(a iec104.ASDU) bool {
	var buf [1]iec104.Object
	objs, err := a.Objects(buf[:0])
	return err == nil && len(objs) == 1 && objs[0].Qualifier == 20
}
