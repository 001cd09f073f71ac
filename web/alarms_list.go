package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"hmi/alarms"
	"hmi/templates"
)

// shelveDurations are the durations the alarm page offers.
var shelveDurations = []templates.Option{
	{Value: "15m", Label: "15 minutes"}, {Value: "1h", Label: "1 hour", Selected: true}, {Value: "4h", Label: "4 hours"},
	{Value: "8h", Label: "8 hours (a shift)"}, {Value: "24h", Label: "24 hours"}, {Value: "168h", Label: "7 days"},
}

// listedStates are the states the alarm list shows, and their words.
var listedStates = []struct {
	s    alarms.State
	text string
}{
	{alarms.ActiveUnacked, "active, unacknowledged"},
	{alarms.ActiveAcked, "active, acknowledged"},
	{alarms.ReturnedUnacked, "returned, unacknowledged"},
	{alarms.Shelved, "shelved"},
	{alarms.OutOfService, "out of service"},
}

// sourceText says what raises an alarm: "state", "limit HH", "quality", "link down", "command failure",
// "security event".
func sourceText(al alarms.Alarm) string {
	switch al.Source {
	case alarms.SourceDiscrete:
		return "state"
	case alarms.SourceLimit:
		return "limit " + al.ID[strings.LastIndexByte(al.ID, ':')+1:]
	case alarms.SourceLink:
		return "link down"
	case alarms.SourceCommand:
		return "command failure"
	case alarms.SourceSecurity:
		return "security event"
	}
	return al.Source.String()
}

func stateText(s alarms.State) string {
	for _, l := range listedStates {
		if l.s == s {
			return l.text
		}
	}
	return strings.ReplaceAll(s.String(), "_", " ")
}

// alarmFilter reads the filter of the alarm list and API: area, priority (1..4), state (a state name).
func alarmFilter(r *http.Request) (alarms.Filter, templates.AlarmFilter, error) {
	q := r.URL.Query()
	tf := templates.AlarmFilter{Area: q.Get("area"), Priority: q.Get("priority"), State: q.Get("state")}
	f := alarms.Filter{Area: tf.Area}
	if tf.Priority != "" {
		p, err := strconv.Atoi(tf.Priority)
		if err != nil || !alarms.Priority(p).Valid() {
			return f, tf, errorf(CodeInvalid, "priority: want 1, 2, 3 or 4")
		}
		f.Priorities = []alarms.Priority{alarms.Priority(p)}
	}
	if tf.State != "" {
		s, err := alarms.ParseState(tf.State)
		if err != nil {
			return f, tf, errorf(CodeInvalid, "state: unknown state "+strconv.Quote(tf.State))
		}
		f.States = []alarms.State{s}
	}
	return f, tf, nil
}

// AlarmsList shows the alarms that need attention, by priority then time (GET /alarms?area&priority&state).
func (a *App) AlarmsList(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	f, tf, err := alarmFilter(r)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	p := templates.AlarmsPage{Page: a.page(w, r, "alarms", "Alarms"), Filter: tf, CanAct: id.Role().AtLeast(RoleOperator),
		CanService: mayService(id)}
	now := a.cfg.Now()
	for _, al := range a.visibleAlarms(id, f) {
		p.Rows = append(p.Rows, alarmRow(al, now))
	}
	if len(f.States) == 0 || slices.Contains(f.States, alarms.OutOfService) {
		for _, al := range a.outOfServiceAlarms(id, f) {
			p.OutOfService = append(p.OutOfService, alarmRow(al, now))
		}
	}
	p.Areas = a.areaOptions(id, tf.Area, "all areas")
	p.Priorities = []templates.Option{{Value: "", Label: "all priorities"}}
	for i := 1; i <= 4; i++ {
		v := strconv.Itoa(i)
		p.Priorities = append(p.Priorities, templates.Option{Value: v, Label: v, Selected: v == tf.Priority})
	}
	p.States = []templates.Option{{Value: "", Label: "all states"}}
	for _, s := range listedStates {
		p.States = append(p.States, templates.Option{Value: s.s.String(), Label: s.text, Selected: s.s.String() == tf.State})
	}
	p.Durations = shelveDurations
	a.render(w, r, http.StatusOK, templates.Alarms(p))
}

// alarmRow formats an alarm for the lists; times are short (shortTime), with the full time in RaisedFull.
func alarmRow(al alarms.Alarm, now time.Time) templates.AlarmRow {
	row := templates.AlarmRow{
		ID: al.ID, Point: al.Point, Area: al.Area, Link: al.Link, Priority: int(al.Priority),
		State: al.State.String(), StateText: stateText(al.State), Message: al.Message,
		RaisedAt: shortTime(al.RaisedAt, now), RaisedFull: dateTimeText(al.RaisedAt), RaisedISO: isoTime(al.RaisedAt),
		AckedBy: al.AckedBy, AckedAt: shortTime(al.AckedAt, now), Comment: al.Comment,
		Unacked: al.State == alarms.ActiveUnacked || al.State == alarms.ReturnedUnacked,
		Shelved: al.State == alarms.Shelved, Source: sourceText(al),
	}
	if row.Shelved {
		row.ShelvedUntil = shortTime(al.ShelvedUntil, now)
	}
	return row
}
