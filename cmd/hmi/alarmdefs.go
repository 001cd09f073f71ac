package main

import (
	"hmi/alarms"
	"hmi/config"
)

// alarmDefs turns the configuration's alarm settings into the engine's
// definitions: every link has its link-down alarm, every point with an
// alarm: block its state, limit and quality alarms, every control with a
// failure priority its command alarm.
func alarmDefs(cfg *config.Config) alarms.Defs {
	var d alarms.Defs
	for _, l := range cfg.Links {
		d.Links = append(d.Links, alarms.LinkDef{Link: l.Name, Priority: alarms.Priority(l.Alarm.Priority), Delay: l.Alarm.Delay.D()})
	}
	for _, p := range cfg.Points {
		if a := p.Alarm; a != nil {
			pd := alarms.PointDef{Point: p.ID}
			if len(a.States) > 0 {
				pd.Discrete = &alarms.DiscreteDef{States: a.StateValues, Bits: a.Bits, Priority: alarms.Priority(a.Priority), Message: a.Message}
			}
			if lim := a.Limits; lim != nil {
				ld := &alarms.LimitsDef{Deadband: lim.Deadband, OnDelay: lim.OnDelay.D()}
				one := func(l *config.Limit) *alarms.LimitDef {
					if l == nil {
						return nil
					}
					return &alarms.LimitDef{Value: l.Value, Priority: alarms.Priority(l.Priority)}
				}
				ld.HH, ld.H, ld.L, ld.LL = one(lim.HH), one(lim.H), one(lim.L), one(lim.LL)
				pd.Limits = ld
			}
			if q := a.Quality; q != nil {
				pd.Quality = &alarms.QualityDef{Priority: alarms.Priority(q.Priority)}
			}
			d.Points = append(d.Points, pd)
		}
		if c := p.Control; c != nil && c.FailureAlarmPriority > 0 {
			d.Commands = append(d.Commands, alarms.CommandDef{Point: p.ID, Priority: alarms.Priority(c.FailureAlarmPriority)})
		}
	}
	d.Security = alarms.SecurityDef{Priority: alarms.Priority(cfg.Alarms.SecurityPriority)}
	return d
}
