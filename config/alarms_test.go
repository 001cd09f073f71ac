package config

import (
	"slices"
	"testing"
	"time"
)

// TestAlarmValues checks the alarm and history settings as Parse resolves
// them: states to raw values and bits, priorities and their defaults.
func TestAlarmValues(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
alarms: {security_priority: 1}
events: {retention: 0}
links:
  - {name: a, addresses: ["h:1"], ca: 1}
  - {name: b, addresses: ["h:2"], ca: 2, alarm: {priority: 1}}
points:
  - {id: trip, link: a, ioa: 1, kind: single, labels: [normal, tripped], alarm: {states: [tripped], priority: 1, message: Trip}}
  - {id: brk, link: a, ioa: 2, kind: double, labels: [open, closed], alarm: {states: [0, 3]},
     control: {type: double, failure_alarm_priority: 0}}
  - {id: brk4, link: a, ioa: 3, kind: double, labels: [moving, open, closed, faulty], alarm: {states: [faulty, moving]},
     control: {type: double}}
  - {id: bits, link: a, ioa: 4, kind: bitstring, labels: [buchholz, oil], alarm: {states: [oil, 5, buchholz]}}
  - {id: tap, link: a, ioa: 5, kind: step, alarm: {states: [-3, "63"]}}
  - id: temp
    link: a
    ioa: 6
    kind: float
    alarm:
      priority: 3
      limits:
        hh: {value: 110, priority: 1}
        h: {value: 100}
        ll: {value: -10.5}
        deadband: 2
        on_delay: 10s
      quality: {}
    history: {deadband: 0.5}
  - {id: e, link: a, ioa: 7, kind: counter, history: {max_interval: 0}}
  - {id: plain, link: a, ioa: 8, kind: float}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Alarms, (Alarms{SecurityPriority: 1, CommandFailurePriority: DefaultCommandFailurePriority}); got != want {
		t.Errorf("Alarms = %+v, want %+v", got, want)
	}
	if c.History.Retention.D() != DefaultHistoryRetention || c.Events.Retention != 0 {
		t.Errorf("retention: history %v, events %v; want %v, 0", c.History.Retention, c.Events.Retention, DefaultHistoryRetention)
	}
	if got := []int{c.Links[0].Alarm.Priority, c.Links[1].Alarm.Priority}; !slices.Equal(got, []int{DefaultLinkAlarmPriority, 1}) {
		t.Errorf("link alarm priorities %v, want [%d 1]", got, DefaultLinkAlarmPriority)
	}

	for _, tt := range []struct {
		id       string
		priority int
		states   []int64
		bits     uint32
		message  string
	}{
		{"trip", 1, []int64{1}, 0, "Trip"},
		{"brk", DefaultAlarmPriority, []int64{0, 3}, 0, ""},
		{"brk4", DefaultAlarmPriority, []int64{3, 0}, 0, ""},
		{"bits", DefaultAlarmPriority, nil, 1<<1 | 1<<5 | 1<<0, ""},
		{"tap", DefaultAlarmPriority, []int64{-3, 63}, 0, ""},
	} {
		a := c.Point(tt.id).Alarm
		if a.Priority != tt.priority || !slices.Equal(a.StateValues, tt.states) || a.Bits != tt.bits || a.Message != tt.message {
			t.Errorf("%s: priority %d, states %v, bits %#x, message %q; want %d, %v, %#x, %q",
				tt.id, a.Priority, a.StateValues, a.Bits, a.Message, tt.priority, tt.states, tt.bits, tt.message)
		}
	}
	if got := []int{c.Point("brk").Control.FailureAlarmPriority, c.Point("brk4").Control.FailureAlarmPriority}; !slices.Equal(got, []int{0, DefaultCommandFailurePriority}) {
		t.Errorf("failure alarm priorities %v, want [0 %d]", got, DefaultCommandFailurePriority)
	}

	temp := c.Point("temp")
	ls := temp.Alarm.Limits
	for _, tt := range []struct {
		name     string
		l        *Limit
		value    float64
		priority int
	}{{"hh", ls.HH, 110, 1}, {"h", ls.H, 100, 3}, {"ll", ls.LL, -10.5, 3}} {
		if tt.l == nil || tt.l.Value != tt.value || tt.l.Priority != tt.priority {
			t.Errorf("limit %s = %+v, want value %g, priority %d", tt.name, tt.l, tt.value, tt.priority)
		}
	}
	if ls.L != nil || ls.Deadband != 2 || ls.OnDelay.D() != 10*time.Second {
		t.Errorf("limits %+v, want no l, deadband 2, on_delay 10s", ls)
	}
	if q := temp.Alarm.Quality; q == nil || q.Priority != 3 {
		t.Errorf("quality %+v, want priority 3 (the alarm's)", q)
	}
	if got, want := *temp.History, (PointHistory{Deadband: 0.5, MaxInterval: Duration(DefaultHistoryMaxInterval)}); got != want {
		t.Errorf("temp history %+v, want %+v", got, want)
	}
	if got, want := *c.Point("e").History, (PointHistory{}); got != want {
		t.Errorf("e history %+v, want %+v", got, want)
	}
	if p := c.Point("plain"); p.Alarm != nil || p.History != nil {
		t.Errorf("plain: alarm %+v, history %+v, want none", p.Alarm, p.History)
	}
}

// TestExampleAlarms checks that config.example.yaml shows every alarm and
// history setting.
func TestExampleAlarms(t *testing.T) {
	c, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, p := range c.Points {
		if a := p.Alarm; a != nil {
			seen["states"] = seen["states"] || len(a.StateValues) > 0
			seen["bits"] = seen["bits"] || a.Bits != 0
			seen["message"] = seen["message"] || a.Message != ""
			seen["quality"] = seen["quality"] || a.Quality != nil
			if ls := a.Limits; ls != nil {
				seen["hh"] = seen["hh"] || ls.HH != nil
				seen["h"] = seen["h"] || ls.H != nil
				seen["l"] = seen["l"] || ls.L != nil
				seen["ll"] = seen["ll"] || ls.LL != nil
				seen["deadband"] = seen["deadband"] || ls.Deadband > 0
				seen["on_delay"] = seen["on_delay"] || ls.OnDelay > 0
			}
		}
		if h := p.History; h != nil {
			seen["history "+p.Kind.String()] = true
		}
		if p.Control != nil && p.Control.FailureAlarmPriority != c.Alarms.CommandFailurePriority {
			seen["failure_alarm_priority"] = true
		}
	}
	for _, k := range []string{"states", "bits", "message", "quality", "hh", "h", "l", "ll", "deadband", "on_delay",
		"history normalized", "history scaled", "history counter", "failure_alarm_priority"} {
		if !seen[k] {
			t.Errorf("the example shows no %s", k)
		}
	}
}
