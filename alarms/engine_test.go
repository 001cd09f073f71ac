package alarms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"hmi/points"
)

// do runs one step of a scenario on the alarm "discrete:trip".
func (h *harness) do(what string) error {
	h.t.Helper()
	const id = "discrete:trip"
	ctx := h.t.Context()
	h.now = h.now.Add(time.Second)
	switch what {
	case "on":
		h.set("trip", 1, 0)
	case "off":
		h.set("trip", 0, 0)
	case "ack":
		return h.e.Ack(ctx, "op", []string{id}, "seen")
	case "shelve":
		return h.e.Shelve(ctx, "op", id, time.Hour, "chattering")
	case "unshelve":
		return h.e.Unshelve(ctx, "op", id, "fixed")
	case "expire":
		h.advance(time.Hour)
	case "oos":
		return h.e.OutOfService(ctx, "eng", id, true, "relay test")
	case "in":
		return h.e.OutOfService(ctx, "eng", id, false, "done")
	default:
		h.t.Fatalf("unknown step %q", what)
	}
	return nil
}

// TestTransitions walks every ISA-18.2 transition of the engine, checking
// the displayed and underlying state after each step, and the transitions
// the step journaled.
func TestTransitions(t *testing.T) {
	type step struct {
		do           string
		state, under State
		actions      []string // journaled by the step
	}
	var (
		on       = step{"on", ActiveUnacked, ActiveUnacked, []string{"raise"}}
		ack      = step{"ack", ActiveAcked, ActiveAcked, []string{"ack"}}
		clearAck = step{"off", ReturnedUnacked, ReturnedUnacked, []string{"clear"}}
		shelve   = step{"shelve", Shelved, ActiveUnacked, []string{"shelve"}}
		oos      = step{"oos", OutOfService, Normal, []string{"out_of_service"}}
	)
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"normal to active_unacked", []step{on}},
		{"active_unacked to active_acked", []step{on, ack}},
		{"active_acked to normal", []step{on, ack, {"off", Normal, Normal, []string{"clear"}}}},
		{"active_unacked to returned_unacked", []step{on, clearAck}},
		{"returned_unacked to normal", []step{on, clearAck, {"ack", Normal, Normal, []string{"ack"}}}},
		{"returned_unacked to active_unacked", []step{on, clearAck, {"on", ActiveUnacked, ActiveUnacked, []string{"raise"}}}},
		{"acked alarm raised again is unacked", []step{on, ack, {"off", Normal, Normal, []string{"clear"}}, on}},
		{"shelved keeps evaluating", []step{on, shelve,
			{"off", Shelved, ReturnedUnacked, []string{"clear"}},
			{"on", Shelved, ActiveUnacked, []string{"raise"}},
			{"unshelve", ActiveUnacked, ActiveUnacked, []string{"unshelve"}}}},
		{"shelve expires", []step{on, shelve, {"expire", ActiveUnacked, ActiveUnacked, []string{"shelve_expired"}}}},
		{"shelve expires after return", []step{on, shelve,
			{"off", Shelved, ReturnedUnacked, []string{"clear"}},
			{"expire", ReturnedUnacked, ReturnedUnacked, []string{"shelve_expired"}}}},
		{"shelve a normal alarm", []step{{"shelve", Shelved, Normal, []string{"shelve"}},
			{"on", Shelved, ActiveUnacked, []string{"raise"}}, {"unshelve", ActiveUnacked, ActiveUnacked, []string{"unshelve"}}}},
		{"out of service, back with the condition", []step{on, oos,
			{"off", OutOfService, Normal, nil}, {"on", OutOfService, Normal, nil},
			{"in", ActiveUnacked, ActiveUnacked, []string{"in_service", "raise"}}}},
		{"out of service, back without the condition", []step{on, oos,
			{"off", OutOfService, Normal, nil}, {"in", Normal, Normal, []string{"in_service"}}}},
		{"out of service ends a shelve", []step{on, shelve, {"oos", OutOfService, Normal, []string{"out_of_service"}},
			{"expire", OutOfService, Normal, nil}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, plantDefs(), plantAlarms(), nil)
			h.set("trip", 0, 0)
			for i, s := range tt.steps {
				n := len(h.j.actions("discrete:trip"))
				if err := h.do(s.do); err != nil {
					t.Fatalf("step %d %s: %v", i, s.do, err)
				}
				a := h.alarm("discrete:trip")
				if a.State != s.state || a.Underlying != s.under {
					t.Fatalf("step %d %s: state %v (underlying %v), want %v (underlying %v)", i, s.do, a.State, a.Underlying, s.state, s.under)
				}
				if got := h.j.actions("discrete:trip")[n:]; !slices.Equal(got, s.actions) {
					t.Fatalf("step %d %s: journaled %q, want %q", i, s.do, got, s.actions)
				}
			}
			// Every operator transition was committed with its user and a
			// comment; the engine's have none.
			for _, tr := range h.j.savedCopy() {
				if tr.User == "" || tr.Comment == "" {
					t.Errorf("operator transition %s without user or comment: %+v", tr.Action, tr)
				}
			}
			h.j.mu.Lock()
			defer h.j.mu.Unlock()
			for _, tr := range h.j.queued {
				if tr.User != "" {
					t.Errorf("engine transition %s with user %q", tr.Action, tr.User)
				}
			}
		})
	}
}

// TestActionErrors checks that actions refused leave the alarm as it was
// and say why.
func TestActionErrors(t *testing.T) {
	const id = "discrete:trip"
	for _, tt := range []struct {
		name  string
		setup []string
		act   func(h *harness) error
		want  error
	}{
		{"ack normal", nil, func(h *harness) error { return h.e.Ack(h.t.Context(), "op", []string{id}, "") }, ErrNotAckable},
		{"ack acked", []string{"on", "ack"}, func(h *harness) error { return h.e.Ack(h.t.Context(), "op", []string{id}, "") }, ErrNotAckable},
		{"ack shelved", []string{"on", "shelve"}, func(h *harness) error { return h.e.Ack(h.t.Context(), "op", []string{id}, "") }, ErrNotAckable},
		{"ack out of service", []string{"on", "oos"}, func(h *harness) error { return h.e.Ack(h.t.Context(), "op", []string{id}, "") }, ErrNotAckable},
		{"ack unknown", nil, func(h *harness) error { return h.e.Ack(h.t.Context(), "op", []string{"discrete:nope"}, "") }, ErrUnknown},
		{"ack without user", []string{"on"}, func(h *harness) error { return h.e.Ack(h.t.Context(), "", []string{id}, "") }, ErrNoUser},
		{"shelve twice", []string{"shelve"}, func(h *harness) error { return h.e.Shelve(h.t.Context(), "op", id, time.Minute, "") }, ErrShelved},
		{"shelve out of service", []string{"oos"}, func(h *harness) error { return h.e.Shelve(h.t.Context(), "op", id, time.Minute, "") }, ErrOutOfService},
		{"shelve for 0", nil, func(h *harness) error { return h.e.Shelve(h.t.Context(), "op", id, 0, "") }, ErrDuration},
		{"shelve too long", nil, func(h *harness) error { return h.e.Shelve(h.t.Context(), "op", id, MaxShelve+1, "") }, ErrDuration},
		{"unshelve not shelved", []string{"on"}, func(h *harness) error { return h.e.Unshelve(h.t.Context(), "op", id, "") }, ErrNotShelved},
		{"out of service twice", []string{"oos"}, func(h *harness) error { return h.e.OutOfService(h.t.Context(), "op", id, true, "") }, ErrOutOfService},
		{"in service twice", nil, func(h *harness) error { return h.e.OutOfService(h.t.Context(), "op", id, false, "") }, ErrInService},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, plantDefs(), plantAlarms(), nil)
			h.set("trip", 0, 0)
			for _, s := range tt.setup {
				if err := h.do(s); err != nil {
					t.Fatalf("setup %s: %v", s, err)
				}
			}
			before := h.alarm(id)
			n := len(h.j.all)
			err := tt.act(h)
			wantErr(t, tt.name, err, tt.want)
			var oe *OpError
			if !errors.As(err, &oe) || !strings.HasPrefix(err.Error(), "alarms: ") {
				t.Errorf("error %q (%T), want an *OpError starting with \"alarms: \"", err, err)
			}
			if after := h.alarm(id); after != before {
				t.Errorf("alarm changed:\n%+v\nwant\n%+v", after, before)
			}
			if len(h.j.all) != n {
				t.Errorf("journaled %d transitions, want none", len(h.j.all)-n)
			}
		})
	}
	t.Run("error text", func(t *testing.T) {
		h := newHarness(t, plantDefs(), plantAlarms(), nil)
		h.set("trip", 0, 0)
		err := h.e.Ack(t.Context(), "op", []string{id}, "")
		if got, want := err.Error(), `alarms: ack "discrete:trip": not in a state that can be acknowledged (state normal)`; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// TestAck acknowledges one, several and all visible alarms, each with a
// committed transition carrying the user and the comment.
func TestAck(t *testing.T) {
	var pdefs []points.Def
	var defs Defs
	for i := range 6 {
		area := "north/bay" + fmt.Sprint(i%2)
		if i >= 4 {
			area = "south"
		}
		id := fmt.Sprintf("p%d", i)
		pdefs = append(pdefs, points.Def{ID: id, Area: area, Kind: points.Single, Link: "a", IOA: uint32(i + 1)})
		defs.Points = append(defs.Points, PointDef{Point: id, Discrete: &DiscreteDef{States: []int64{1}, Priority: Priority(1 + i%4)}})
	}
	h := newHarness(t, pdefs, defs, nil)
	for i := range 6 {
		h.now = h.now.Add(time.Second)
		h.set(fmt.Sprintf("p%d", i), 1, 0)
	}
	if got := len(h.e.List(Filter{})); got != 6 {
		t.Fatalf("List: %d alarms, want 6", got)
	}
	ctx := t.Context()
	h.now = h.now.Add(time.Minute)

	// One.
	if err := h.e.Ack(ctx, "ann", []string{"discrete:p0"}, "one"); err != nil {
		t.Fatal(err)
	}
	// Several, one of them unknown and one acked already: the others are
	// acknowledged, the error names both.
	err := h.e.Ack(ctx, "bob", []string{"discrete:p1", "discrete:zz", "discrete:p0", "discrete:p2"}, "several")
	wantErr(t, "Ack several", err, ErrUnknown)
	wantErr(t, "Ack several", err, ErrNotAckable)
	// All visible in an area.
	n, err := h.e.AckAll(ctx, "cid", Filter{Area: "north"}, "all north")
	if err != nil || n != 1 {
		t.Fatalf("AckAll north: %d, %v; want 1, nil", n, err)
	}
	// All visible of priority 1..2 (p4 has priority 1, p5 priority 2).
	n, err = h.e.AckAll(ctx, "dee", Filter{Priorities: []Priority{1, 2}}, "all urgent")
	if err != nil || n != 2 {
		t.Fatalf("AckAll priorities: %d, %v; want 2, nil", n, err)
	}
	n, err = h.e.AckAll(ctx, "dee", Filter{}, "none left")
	if err != nil || n != 0 {
		t.Fatalf("AckAll again: %d, %v; want 0, nil", n, err)
	}

	type ackd struct{ id, user, comment string }
	var got []ackd
	for _, tr := range h.j.savedCopy() {
		if tr.Action != ActionAck || tr.Alarm.State != ActiveAcked || tr.From != ActiveUnacked || !tr.At.Equal(h.now) ||
			tr.Alarm.AckedBy != tr.User || !tr.Alarm.AckedAt.Equal(h.now) {
			t.Errorf("transition %+v, want ack from active_unacked to active_acked by its user at %v", tr, h.now)
		}
		got = append(got, ackd{tr.Alarm.ID, tr.User, tr.Comment})
	}
	want := []ackd{
		{"discrete:p0", "ann", "one"},
		{"discrete:p1", "bob", "several"}, {"discrete:p2", "bob", "several"},
		{"discrete:p3", "cid", "all north"},
		{"discrete:p4", "dee", "all urgent"}, {"discrete:p5", "dee", "all urgent"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("committed acks:\n%v\nwant\n%v", got, want)
	}
	if got := h.e.Summary()[1]; got.ActiveAcked != 2 || got.Unacked() != 0 {
		t.Errorf("Summary priority 1: %+v, want 2 active_acked", got)
	}
}

// TestLimits checks HH/H/L limits with a deadband: a value wandering
// around a limit raises once and clears once it is past the deadband.
func TestLimits(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values []float64
		want   map[string][]string // actions per alarm
	}{
		{"no chattering around H", []float64{50, 101, 99.5, 100.5, 99, 98.5, 100.1, 97.9, 99.9, 100, 100.01},
			map[string][]string{"limit:temp:H": {"raise", "clear", "raise"}}},
		{"HH and H", []float64{50, 111, 109, 107.9, 97},
			map[string][]string{"limit:temp:HH": {"raise", "clear"}, "limit:temp:H": {"raise", "clear"}}},
		{"L with its deadband", []float64{50, 9, 11, 11.9, 8, 12.1, 11, 9.99},
			map[string][]string{"limit:temp:L": {"raise", "clear", "raise"}}},
		{"a jump across both sides", []float64{50, 120, 0, 50},
			map[string][]string{"limit:temp:HH": {"raise", "clear"}, "limit:temp:H": {"raise", "clear"}, "limit:temp:L": {"raise", "clear"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, plantDefs(), plantAlarms(), nil)
			for _, v := range tt.values {
				h.now = h.now.Add(time.Second)
				h.set("temp", v, 0)
			}
			for _, id := range []string{"limit:temp:HH", "limit:temp:H", "limit:temp:L"} {
				if got := h.j.actions(id); !slices.Equal(got, tt.want[id]) {
					t.Errorf("%s: %q, want %q", id, got, tt.want[id])
				}
			}
		})
	}
	t.Run("message and value", func(t *testing.T) {
		h := newHarness(t, plantDefs(), plantAlarms(), nil)
		h.set("temp", 105.5, 0)
		a := h.alarm("limit:temp:H")
		if want := "Oil temperature: high 105.5 °C (limit 100 °C)"; a.Message != want || a.Value != 105.5 || !a.RaisedAt.Equal(t0) {
			t.Errorf("got %q, value %v at %v; want %q, 105.5 at %v", a.Message, a.Value, a.RaisedAt, want, t0)
		}
		if a.Area != "north/t1" || a.Link != "a" || a.Point != "temp" || a.Priority != 2 {
			t.Errorf("got %+v, want area north/t1, link a, point temp, priority 2", a)
		}
	})
	t.Run("invalid values hold the state", func(t *testing.T) {
		h := newHarness(t, plantDefs(), plantAlarms(), nil)
		h.set("temp", 105, 0)
		h.set("temp", 0, points.IV)
		h.wantState("limit:temp:H", ActiveUnacked, ActiveUnacked)
		if got := h.j.actions("limit:temp:L"); len(got) != 0 {
			t.Errorf("limit:temp:L: %q on an invalid value, want nothing", got)
		}
	})
}

// TestOnDelay checks that a limit raises only when the value stays beyond
// it for the on-delay, measured on the values' receive times and by Tick.
func TestOnDelay(t *testing.T) {
	defs := Defs{Points: []PointDef{{Point: "temp", Limits: &LimitsDef{H: &LimitDef{Value: 100, Priority: 2}, Deadband: 1, OnDelay: 10 * time.Second}}}}
	const id = "limit:temp:H"
	h := newHarness(t, plantDefs(), defs, nil)
	h.set("temp", 50, 0)

	// A spike shorter than the delay raises nothing, however long after.
	h.now = t0.Add(time.Second)
	h.set("temp", 120, 0)
	h.now = t0.Add(9 * time.Second)
	h.set("temp", 130, 0)
	h.now = t0.Add(10 * time.Second)
	h.set("temp", 99, 0)
	h.advance(time.Hour)
	if got := h.j.actions(id); len(got) != 0 {
		t.Fatalf("spike: %q, want nothing", got)
	}

	// A value that stays, without another update: Tick raises at the end
	// of the delay, timed from when it went beyond.
	start := h.now.Add(time.Second)
	h.now = start
	h.set("temp", 101, 0)
	h.advance(9*time.Second + 999*time.Millisecond)
	h.wantState(id, Normal, Normal)
	h.advance(time.Millisecond)
	h.wantState(id, ActiveUnacked, ActiveUnacked)
	if a := h.alarm(id); !a.RaisedAt.Equal(start.Add(10*time.Second)) || a.Value != 101 {
		t.Errorf("RaisedAt %v, value %v; want %v, 101", a.RaisedAt, a.Value, start.Add(10*time.Second))
	}
	// It clears at once past the deadband (the on-delay is for raising).
	h.now = h.now.Add(time.Second)
	h.set("temp", 98.9, 0)
	h.wantState(id, ReturnedUnacked, ReturnedUnacked)

	// A value that stays with updates: the update after the delay raises;
	// the raise time is the source time of the first value plus the delay.
	start = h.now.Add(time.Minute)
	h.now = start
	src := start.Add(-300 * time.Millisecond)
	hd, _ := h.cache.Lookup("temp")
	h.cache.Apply([]points.Update{{Point: hd, Value: 105, SourceTime: src, RecvTime: h.now}})
	h.step()
	h.now = start.Add(11 * time.Second)
	h.set("temp", 106, 0)
	h.wantState(id, ActiveUnacked, ActiveUnacked)
	if a := h.alarm(id); !a.RaisedAt.Equal(src.Add(10 * time.Second)) {
		t.Errorf("RaisedAt %v, want %v", a.RaisedAt, src.Add(10*time.Second))
	}
	if got, want := h.j.actions(id), []string{"raise", "clear", "raise"}; !slices.Equal(got, want) {
		t.Errorf("journaled %q, want %q", got, want)
	}
}

// TestDiscrete checks alarm states of single, double and bitstring points,
// and their messages.
func TestDiscrete(t *testing.T) {
	pdefs := append(plantDefs(), points.Def{ID: "word", Name: "Alarm word", Kind: points.Bitstring, Labels: []string{"buchholz", "oil", "winding"}, Link: "a", IOA: 9})
	defs := plantAlarms()
	defs.Points = append(defs.Points, PointDef{Point: "word", Discrete: &DiscreteDef{Bits: 1<<0 | 1<<2, Priority: 1}})
	h := newHarness(t, pdefs, defs, nil)
	for _, tt := range []struct {
		point string
		value float64
		id    string
		state State
		msg   string
	}{
		{"trip", 1, "discrete:trip", ActiveUnacked, "Feeder trip: tripped"},
		{"brk", 2, "discrete:brk", Normal, ""},
		{"brk", 3, "discrete:brk", ActiveUnacked, "breaker not in position"},
		{"brk", 0, "discrete:brk", ActiveUnacked, "breaker not in position"},
		{"brk", 1, "discrete:brk", ReturnedUnacked, "breaker not in position"},
		{"word", 2, "discrete:word", Normal, ""},
		{"word", 5, "discrete:word", ActiveUnacked, "Alarm word: buchholz, winding"},
		{"word", 0, "discrete:word", ReturnedUnacked, "Alarm word: buchholz, winding"},
		{"word", 6, "discrete:word", ActiveUnacked, "Alarm word: winding"},
	} {
		h.now = h.now.Add(time.Second)
		h.set(tt.point, tt.value, 0)
		a := h.alarm(tt.id)
		if a.State != tt.state || a.Message != tt.msg {
			t.Errorf("%s = %v: %v %q, want %v %q", tt.point, tt.value, a.State, a.Message, tt.state, tt.msg)
		}
	}
}

// TestQuality checks the quality alarm: invalid, and commfail on a link
// without a link alarm.
func TestQuality(t *testing.T) {
	h := newHarness(t, plantDefs(), plantAlarms(), nil)
	h.set("trip", 0, 0)
	h.set("flow", 5, 0)
	h.wantState("quality:trip", Normal, Normal)

	h.set("trip", 0, points.IV)
	h.wantState("quality:trip", ActiveUnacked, ActiveUnacked)
	if a := h.alarm("quality:trip"); a.Message != "Feeder trip: invalid" || a.Priority != 3 {
		t.Errorf("got %q priority %d, want \"Feeder trip: invalid\" priority 3", a.Message, a.Priority)
	}
	h.set("trip", 0, points.NT) // not topical is no alarm
	h.wantState("quality:trip", ReturnedUnacked, ReturnedUnacked)

	// Link b has no link alarm: its points' commfail is their quality alarm.
	h.now = h.now.Add(time.Minute)
	h.cache.SetCommFail("b", true, h.now)
	h.step()
	h.wantState("quality:flow", ActiveUnacked, ActiveUnacked)
	if a := h.alarm("quality:flow"); a.Message != "Outflow: communication failure" || !a.RaisedAt.Equal(h.now) {
		t.Errorf("got %q at %v, want \"Outflow: communication failure\" at %v", a.Message, a.RaisedAt, h.now)
	}
	h.cache.SetCommFail("b", false, h.now)
	h.step()
	h.wantState("quality:flow", ReturnedUnacked, ReturnedUnacked)
}

// TestLinkDownSuppression: a link with 100 points going down raises one
// alarm, the link's, and suppresses the 100 quality alarms, whichever of
// the link state and the points' commfail the engine learns first; when
// the link comes back they are unsuppressed and evaluated again.
func TestLinkDownSuppression(t *testing.T) {
	for _, order := range []string{"link state first", "commfail first"} {
		t.Run(order, func(t *testing.T) {
			var pdefs []points.Def
			defs := Defs{Links: []LinkDef{{Link: "rtu", Priority: 1}}}
			for i := range 100 {
				id := fmt.Sprintf("p%03d", i)
				pdefs = append(pdefs, points.Def{ID: id, Area: "rtu", Kind: points.Float, Link: "rtu", IOA: uint32(i + 1)})
				defs.Points = append(defs.Points, PointDef{Point: id, Quality: &QualityDef{Priority: 3}})
			}
			h := newHarness(t, pdefs, defs, nil)
			for i := range 100 {
				h.set(fmt.Sprintf("p%03d", i), float64(i), 0)
			}
			// One point is invalid before the link fails.
			h.set("p007", 7, points.IV)

			h.now = h.now.Add(time.Minute)
			down := func() {
				h.cache.SetCommFail("rtu", true, h.now)
				h.step()
			}
			link := func(up bool) {
				h.e.LinkState(LinkState{Link: "rtu", Up: up, At: h.now, Reason: "connection refused"})
				h.step()
			}
			if order == "link state first" {
				link(false)
				down()
			} else {
				down()
				link(false)
			}
			if got := h.j.count(ActionRaise); got != 2 { // p007 invalid, and the link
				t.Errorf("%d raises, want 2 (p007 invalid, link down)", got)
			}
			if got, want := ids(h.e.List(Filter{})), []string{"link:rtu"}; !slices.Equal(got, want) {
				t.Errorf("List: %q, want %q", got, want)
			}
			// p007 is still invalid underneath: suppressed, not normal.
			if got := h.e.Summary()[3].Suppressed; got != 100 {
				t.Errorf("%d suppressed, want 100", got)
			}
			h.wantState("quality:p007", Suppressed, ActiveUnacked)
			h.wantState("quality:p001", Suppressed, Normal)
			if a := h.alarm("link:rtu"); a.Message != "link rtu down: connection refused" || a.State != ActiveUnacked {
				t.Errorf("link alarm %v %q, want active_unacked \"link rtu down: connection refused\"", a.State, a.Message)
			}

			// Back: the link alarm returns, the points are evaluated on
			// their new values.
			h.now = h.now.Add(time.Minute)
			link(true)
			for i := range 100 {
				q := points.Quality(0)
				if i == 3 {
					q = points.IV
				}
				h.set(fmt.Sprintf("p%03d", i), float64(i), q)
			}
			h.cache.SetCommFail("rtu", false, h.now)
			h.step()
			if got := h.e.Summary()[3].Suppressed; got != 0 {
				t.Errorf("%d suppressed after the link is back, want 0", got)
			}
			h.wantState("link:rtu", ReturnedUnacked, ReturnedUnacked)
			h.wantState("quality:p003", ActiveUnacked, ActiveUnacked)
			h.wantState("quality:p007", ReturnedUnacked, ReturnedUnacked)
			h.wantState("quality:p001", Normal, Normal)
			if got, want := h.j.count(ActionSuppress), 100; got != want {
				t.Errorf("%d suppress transitions, want %d", got, want)
			}
			if got, want := h.j.count(ActionUnsuppress), 100; got != want {
				t.Errorf("%d unsuppress transitions, want %d", got, want)
			}
		})
	}
}

// TestLinkBlip: a link that goes down and up before the engine looks
// still raises and clears its alarm.
func TestLinkBlip(t *testing.T) {
	h := newHarness(t, plantDefs(), plantAlarms(), nil)
	h.e.LinkState(LinkState{Link: "a", Up: false, At: t0})
	h.e.LinkState(LinkState{Link: "a", Up: true, At: t0.Add(time.Second)})
	h.e.LinkState(LinkState{Link: "nope", Up: false, At: t0})
	h.step()
	h.wantState("link:a", ReturnedUnacked, ReturnedUnacked)
	if a := h.alarm("link:a"); !a.RaisedAt.Equal(t0) || !a.ClearedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("raised %v, cleared %v; want %v, %v", a.RaisedAt, a.ClearedAt, t0, t0.Add(time.Second))
	}
}

// TestLinkDelay: a link alarm with a delay is raised only when the link stays down that long (at the loss plus
// the delay, with the state the link is in then); a link back within it, within one round or a later one, raises
// nothing.
func TestLinkDelay(t *testing.T) {
	defs := plantAlarms()
	for i := range defs.Links {
		defs.Links[i].Delay = 10 * time.Second
	}
	h := newHarness(t, plantDefs(), defs, nil)

	// Down and up within the delay: nothing, now or later.
	h.e.LinkState(LinkState{Link: "a", Up: false, At: h.now, Reason: "connecting"})
	h.step()
	h.advance(5 * time.Second)
	h.e.LinkState(LinkState{Link: "a", Up: true, At: h.now})
	h.step()
	h.advance(time.Minute)
	h.wantState("link:a", Normal, Normal)
	if n := h.j.count(ActionRaise); n != 0 {
		t.Fatalf("%d raises for a link back within its delay", n)
	}

	// Down for longer: raised when the delay has passed.
	lost := h.now
	h.e.LinkState(LinkState{Link: "a", Up: false, At: lost, Reason: "connecting"})
	h.step()
	h.advance(5 * time.Second)
	h.e.LinkState(LinkState{Link: "a", Up: false, At: h.now, Reason: "disconnected"})
	h.step()
	h.wantState("link:a", Normal, Normal)
	h.advance(5 * time.Second)
	h.wantState("link:a", ActiveUnacked, ActiveUnacked)
	if a := h.alarm("link:a"); !a.RaisedAt.Equal(lost.Add(10*time.Second)) || a.Message != "link a down: disconnected" {
		t.Errorf("raised at %v with %q, want %v and the link's present state", a.RaisedAt, a.Message, lost.Add(10*time.Second))
	}
	h.e.LinkState(LinkState{Link: "a", Up: true, At: h.now})
	h.step()
	h.wantState("link:a", ReturnedUnacked, ReturnedUnacked)
}

// TestCommandAlarms: a failed command raises its point's command alarm; a
// later success clears it; an ack-only one returns to normal at once.
func TestCommandAlarms(t *testing.T) {
	h := newHarness(t, plantDefs(), plantAlarms(), nil)
	h.e.CommandFailed(CommandFailure{Point: "brk", Reason: "negative confirmation", At: t0})
	h.e.CommandFailed(CommandFailure{Point: "flow", Reason: "no alarm for this one", At: t0})
	h.step()
	h.wantState("command:brk", ActiveUnacked, ActiveUnacked)
	if a := h.alarm("command:brk"); a.Message != "Breaker: command failed: negative confirmation" || a.Area != "north/f1" {
		t.Errorf("got %q in %q, want \"Breaker: command failed: negative confirmation\" in north/f1", a.Message, a.Area)
	}
	h.e.CommandSucceeded("brk", t0.Add(time.Minute))
	h.step()
	h.wantState("command:brk", ReturnedUnacked, ReturnedUnacked)

	h.e.CommandFailed(CommandFailure{Point: "trip", Reason: "timeout", At: t0})
	h.step()
	h.wantState("command:trip", ReturnedUnacked, ReturnedUnacked)
	if got, want := h.j.actions("command:trip"), []string{"raise", "clear"}; !slices.Equal(got, want) {
		t.Errorf("ack-only: %q, want %q", got, want)
	}
	if err := h.e.Ack(t.Context(), "op", []string{"command:trip", "command:brk"}, ""); err != nil {
		t.Fatal(err)
	}
	h.wantState("command:trip", Normal, Normal)
	h.wantState("command:brk", Normal, Normal)
}

// TestSecurityAlarms: each security event raises its kind's alarm, which
// returns to normal at once and waits for an acknowledgement; its value
// counts the events since it was last normal.
func TestSecurityAlarms(t *testing.T) {
	h := newHarness(t, plantDefs(), plantAlarms(), nil)
	ev := SecurityEvent{Kind: "unsolicited_command", Link: "a", Point: "brk", Message: "brk changed by a remote command", At: t0}
	h.e.Security(ev)
	h.step()
	const id = "security:unsolicited_command"
	h.wantState(id, ReturnedUnacked, ReturnedUnacked)
	a := h.alarm(id)
	if a.Message != ev.Message || a.Value != 1 || a.Link != "a" || a.Point != "brk" || a.Priority != 2 {
		t.Errorf("got %+v, want the event's message, link and point, value 1, priority 2", a)
	}
	ev.At = t0.Add(time.Second)
	h.e.Security(ev)
	h.e.Security(ev)
	h.e.Security(SecurityEvent{Message: "TLS handshake failed", At: t0})
	h.step()
	if a := h.alarm(id); a.Value != 3 || a.State != ReturnedUnacked {
		t.Errorf("after 3 events: %v, value %v; want returned_unacked, 3", a.State, a.Value)
	}
	h.wantState("security:security", ReturnedUnacked, ReturnedUnacked)
	if got, want := h.j.actions(id), []string{"raise", "clear", "raise", "clear"}; !slices.Equal(got, want) {
		t.Errorf("journaled %q, want %q", got, want)
	}
	if err := h.e.Ack(t.Context(), "op", []string{id}, "checked"); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, Normal, Normal)
	h.e.Security(ev)
	h.step()
	if a := h.alarm(id); a.Value != 1 {
		t.Errorf("after the ack, a new event: value %v, want 1", a.Value)
	}
}

// TestShelveExpiry: a shelve ends by itself at its expiry, in the state
// underneath.
func TestShelveExpiry(t *testing.T) {
	h := newHarness(t, plantDefs(), plantAlarms(), nil)
	h.set("temp", 105, 0)
	if err := h.e.Shelve(t.Context(), "op", "limit:temp:H", 30*time.Minute, "sensor being replaced"); err != nil {
		t.Fatal(err)
	}
	a := h.alarm("limit:temp:H")
	if a.State != Shelved || a.ShelvedBy != "op" || !a.ShelvedUntil.Equal(t0.Add(30*time.Minute)) || a.Comment != "sensor being replaced" {
		t.Fatalf("got %+v, want shelved by op until %v", a, t0.Add(30*time.Minute))
	}
	if got := ids(h.e.List(Filter{States: []State{Shelved}})); !slices.Equal(got, []string{"limit:temp:H"}) {
		t.Errorf("List shelved: %q", got)
	}
	h.advance(29 * time.Minute)
	h.wantState("limit:temp:H", Shelved, ActiveUnacked)
	h.now = h.now.Add(30 * time.Second)
	h.set("temp", 50, 0)
	h.wantState("limit:temp:H", Shelved, ReturnedUnacked)
	h.advance(30 * time.Second)
	h.wantState("limit:temp:H", ReturnedUnacked, ReturnedUnacked)
	tr := h.j.all[len(h.j.all)-1]
	if tr.Action != ActionShelveExpired || tr.User != "" || tr.From != Shelved || !tr.At.Equal(t0.Add(30*time.Minute)) || !tr.Alarm.ShelvedUntil.IsZero() {
		t.Errorf("last transition %+v, want shelve_expired from shelved at %v", tr, t0.Add(30*time.Minute))
	}
}

// TestRestart saves the alarms' states through the journal, starts a new
// engine on it, and checks the reload and the re-evaluation against the
// live values.
func TestRestart(t *testing.T) {
	var pdefs []points.Def
	var defs Defs
	for i, id := range []string{"stays", "cleared", "ackedcleared", "ackedstays", "shelved", "oos", "quiet"} {
		pdefs = append(pdefs, points.Def{ID: id, Kind: points.Single, Link: "a", IOA: uint32(i + 1)})
		defs.Points = append(defs.Points, PointDef{Point: id, Discrete: &DiscreteDef{States: []int64{1}, Priority: 2}})
	}
	j := newJournal()
	h := newHarness(t, pdefs, defs, j)
	for _, p := range pdefs {
		h.set(p.ID, 1, 0)
	}
	ctx := t.Context()
	h.now = t0.Add(time.Minute)
	if err := h.e.Ack(ctx, "op", []string{"discrete:ackedcleared", "discrete:ackedstays"}, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Shelve(ctx, "op", "discrete:shelved", time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	if err := h.e.OutOfService(ctx, "eng", "discrete:oos", true, ""); err != nil {
		t.Fatal(err)
	}
	h.set("quiet", 0, 0)
	before := map[string]Alarm{}
	for _, p := range pdefs {
		before[p.ID] = h.alarm("discrete:" + p.ID)
	}

	// The server stops; while it is down, "cleared" and "ackedcleared"
	// return to normal. The new engine shows the saved states until values
	// come.
	h2 := newHarness(t, pdefs, defs, j)
	h2.now = t0.Add(10 * time.Minute)
	for _, p := range pdefs {
		if got, want := h2.alarm("discrete:"+p.ID), before[p.ID]; got != want {
			t.Errorf("%s reloaded:\n%+v\nwant\n%+v", p.ID, got, want)
		}
	}
	n := len(j.all)
	for _, p := range pdefs {
		v := 1.0
		if p.ID == "cleared" || p.ID == "ackedcleared" || p.ID == "quiet" {
			v = 0
		}
		h2.set(p.ID, v, 0)
	}
	for _, tt := range []struct {
		id           string
		state, under State
	}{
		{"stays", ActiveUnacked, ActiveUnacked},
		{"cleared", ReturnedUnacked, ReturnedUnacked},
		{"ackedcleared", Normal, Normal},
		{"ackedstays", ActiveAcked, ActiveAcked},
		{"shelved", Shelved, ActiveUnacked},
		{"oos", OutOfService, Normal},
		{"quiet", ReturnedUnacked, ReturnedUnacked},
	} {
		h2.wantState("discrete:"+tt.id, tt.state, tt.under)
	}
	if a := h2.alarm("discrete:stays"); !a.RaisedAt.Equal(t0) {
		t.Errorf("stays: RaisedAt %v, want the original %v", a.RaisedAt, t0)
	}
	if got, want := len(j.all)-n, 2; got != want { // the two clears
		t.Errorf("%d transitions on re-evaluation, want %d: %q", got, want, j.actions("")[n:])
	}
	// The shelve keeps its expiry.
	h2.advance(t0.Add(61 * time.Minute).Sub(h2.now))
	h2.wantState("discrete:shelved", ActiveUnacked, ActiveUnacked)
	if err := h2.e.OutOfService(ctx, "eng", "discrete:oos", false, ""); err != nil {
		t.Fatal(err)
	}
	h2.wantState("discrete:oos", ActiveUnacked, ActiveUnacked)
}

// TestRestartExpiredShelve: a shelve that expired while the server was
// down ends when the engine starts.
func TestRestartExpiredShelve(t *testing.T) {
	j := newJournal()
	j.state["discrete:trip"] = Alarm{ID: "discrete:trip", State: Shelved, Underlying: ActiveUnacked, ShelvedBy: "op",
		ShelvedUntil: t0.Add(-time.Minute), RaisedAt: t0.Add(-time.Hour)}
	j.state["link:gone"] = Alarm{ID: "link:gone", State: ActiveUnacked}
	j.state["quality:trip"] = Alarm{ID: "quality:trip", State: Suppressed, Underlying: Normal}
	j.state["security:tls"] = Alarm{ID: "security:tls", State: ReturnedUnacked, Underlying: ReturnedUnacked, Value: 2}
	h := newHarness(t, plantDefs(), plantAlarms(), j)
	h.wantState("discrete:trip", ActiveUnacked, ActiveUnacked)
	h.wantState("security:tls", ReturnedUnacked, ReturnedUnacked)
	if _, ok := h.e.Get("link:gone"); ok {
		t.Errorf("an alarm without definition was loaded")
	}
	// The point has no value yet: the suppression loaded stands, and holds
	// when the link is found down.
	h.wantState("quality:trip", Suppressed, Normal)
	n := len(j.all)
	h.cache.SetCommFail("a", true, h.now)
	h.step()
	h.wantState("quality:trip", Suppressed, Normal)
	if len(j.all) != n {
		t.Errorf("transitions %q, want none", j.actions("")[n:])
	}
	h.cache.SetCommFail("a", false, h.now)
	h.step()
	h.wantState("quality:trip", Normal, Normal)
}

// TestOutOfServiceLink: a link alarm back in service takes the link's
// latest state.
func TestOutOfServiceLink(t *testing.T) {
	h := newHarness(t, plantDefs(), plantAlarms(), nil)
	ctx := t.Context()
	h.e.LinkState(LinkState{Link: "a", Up: false, At: t0})
	h.step()
	if err := h.e.OutOfService(ctx, "eng", "link:a", true, "RTU replaced"); err != nil {
		t.Fatal(err)
	}
	for _, up := range []bool{true, false, true, false} {
		h.e.LinkState(LinkState{Link: "a", Up: up, At: t0})
		h.step()
	}
	h.wantState("link:a", OutOfService, Normal)
	if got := h.e.List(Filter{}); len(got) != 0 {
		t.Errorf("List: %q, want nothing", ids(got))
	}
	if got := h.e.Summary()[2].OutOfService; got != 1 {
		t.Errorf("Summary: %d out of service, want 1", got)
	}
	if err := h.e.OutOfService(ctx, "eng", "link:a", false, "done"); err != nil {
		t.Fatal(err)
	}
	h.wantState("link:a", ActiveUnacked, ActiveUnacked)
}

// TestBusy: while an operator action commits, the engine holds the
// alarm's own transitions back and applies them after, in order.
func TestBusy(t *testing.T) {
	j := newJournal()
	h := newHarness(t, plantDefs(), plantAlarms(), j)
	h.set("trip", 1, 0)
	j.gate, j.entered = make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() { done <- h.e.Ack(context.Background(), "op", []string{"discrete:trip"}, "") }()
	<-j.entered // the ack is committing
	h.set("trip", 0, 0)
	h.wantState("discrete:trip", ActiveUnacked, ActiveUnacked)
	if got := len(h.e.List(Filter{})); got != 1 { // readers are not held up
		t.Errorf("List: %d, want 1", got)
	}
	j.gate <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.wantState("discrete:trip", Normal, Normal)
	if got, want := j.actions("discrete:trip"), []string{"raise", "ack", "clear"}; !slices.Equal(got, want) {
		t.Errorf("journaled %q, want %q", got, want)
	}
}

// TestSaveFails: an action whose transition the journal does not commit
// changes nothing and says so.
func TestSaveFails(t *testing.T) {
	j := newJournal()
	h := newHarness(t, plantDefs(), plantAlarms(), j)
	h.set("trip", 1, 0)
	j.saveErr = errors.New("disk full")
	err := h.e.Ack(t.Context(), "op", []string{"discrete:trip"}, "")
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v, want the journal's", err)
	}
	h.wantState("discrete:trip", ActiveUnacked, ActiveUnacked)
	j.saveErr = nil
	h.set("trip", 0, 0) // the engine goes on
	h.wantState("discrete:trip", ReturnedUnacked, ReturnedUnacked)
}

// TestQueueFull: transitions that the journal's queue refuses wait in the
// engine, in order, and are counted; an operator action commits those of
// its alarm first.
func TestQueueFull(t *testing.T) {
	var pdefs []points.Def
	var defs Defs
	for i := range 10 {
		id := fmt.Sprintf("p%d", i)
		pdefs = append(pdefs, points.Def{ID: id, Kind: points.Single, Link: "a", IOA: uint32(i + 1)})
		defs.Points = append(defs.Points, PointDef{Point: id, Discrete: &DiscreteDef{States: []int64{1}, Priority: 2}})
	}
	j := newJournal()
	j.capacity = 4
	h := newHarness(t, pdefs, defs, j)
	for i := range 10 {
		h.set(fmt.Sprintf("p%d", i), 1, 0)
	}
	st := h.e.Stats()
	if st.Backlog != 6 || st.QueueFull == 0 || st.Lost != 0 {
		t.Errorf("stats %+v, want a backlog of 6, refusals counted, nothing lost", st)
	}
	for i := range 10 {
		h.wantState(fmt.Sprintf("discrete:p%d", i), ActiveUnacked, ActiveUnacked)
	}
	// Ack p7: its raise, in the backlog, is committed before the ack.
	if err := h.e.Ack(t.Context(), "op", []string{"discrete:p7"}, ""); err != nil {
		t.Fatal(err)
	}
	if got, want := j.actions("discrete:p7"), []string{"raise", "ack"}; !slices.Equal(got, want) {
		t.Errorf("p7: %q, want %q", got, want)
	}
	// Room again: the rest follows in order.
	j.mu.Lock()
	j.capacity = 0
	j.mu.Unlock()
	h.advance(time.Second)
	if st := h.e.Stats(); st.Backlog != 0 {
		t.Errorf("backlog %d after the queue has room, want 0", st.Backlog)
	}
	var order []string
	for _, tr := range j.all {
		if tr.Action == ActionRaise {
			order = append(order, tr.Alarm.Point)
		}
	}
	if want := []string{"p0", "p1", "p2", "p3", "p7", "p4", "p5", "p6", "p8", "p9"}; !slices.Equal(order, want) {
		t.Errorf("raises journaled in the order %q, want %q", order, want)
	}
}

// TestSubscribe: a subscriber sees every transition; one that does not
// read is dropped and the engine goes on.
func TestSubscribe(t *testing.T) {
	h := newHarness(t, plantDefs(), plantAlarms(), nil)
	fast := h.e.Subscribe()
	defer fast.Close()
	slow := h.e.Subscribe()
	defer slow.Close()

	var got []string
	for i := range SubscriptionBuffer + 1 {
		h.set("trip", float64((i+1)%2), 0)
		for len(fast.C()) > 0 {
			tr := <-fast.C()
			got = append(got, tr.Action)
		}
	}
	if len(got) != SubscriptionBuffer+1 || got[0] != "raise" || got[1] != "clear" {
		t.Errorf("fast subscriber: %d transitions starting %q, want %d, raise, clear", len(got), got[:min(2, len(got))], SubscriptionBuffer+1)
	}
	if fast.Dropped() {
		t.Error("fast subscriber dropped")
	}
	if !slow.Dropped() {
		t.Fatal("slow subscriber not dropped")
	}
	n := 0
	for range slow.C() { // closed after what it had buffered
		n++
	}
	if n != SubscriptionBuffer {
		t.Errorf("slow subscriber had %d transitions, want %d", n, SubscriptionBuffer)
	}
	if st := h.e.Stats(); st.SubscribersDropped != 1 {
		t.Errorf("SubscribersDropped %d, want 1", st.SubscribersDropped)
	}
	slow.Close() // idempotent
}

// TestDefErrors checks that New rejects bad definitions, every problem
// at once.
func TestDefErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		defs Defs
		want []string
	}{
		{"priorities", Defs{
			Points:   []PointDef{{Point: "p", Discrete: &DiscreteDef{States: []int64{1}, Priority: 0}, Quality: &QualityDef{Priority: 5}}},
			Links:    []LinkDef{{Link: "a"}},
			Security: SecurityDef{Priority: 9},
		}, []string{
			`alarms: point "p": discrete: priority not in 1..4: 0`,
			`alarms: point "p": quality: priority not in 1..4: 5`,
			`alarms: link "a": link: priority not in 1..4: 0`,
			`alarms: security: priority not in 1..4: 9`,
		}},
		{"limits", Defs{Points: []PointDef{{Point: "p", Limits: &LimitsDef{
			HH: &LimitDef{Value: 10, Priority: 1}, H: &LimitDef{Value: 10, Priority: 1}, L: &LimitDef{Value: 20, Priority: 1}, Deadband: -1}}}},
			[]string{
				`alarms: point "p": limits: bad value: deadband -1, want 0 or more`,
				`alarms: point "p": limits out of order: H 10 is not below HH 10`,
				`alarms: point "p": limits out of order: L 20 is not below H 10`,
			}},
		{"empty and duplicate", Defs{
			Points:   []PointDef{{Point: "p"}, {Point: "q", Discrete: &DiscreteDef{Priority: 1}}, {Point: "r", Quality: &QualityDef{Priority: 1}}, {Point: "r", Quality: &QualityDef{Priority: 1}}},
			Commands: []CommandDef{{Point: "", Priority: 1}},
		}, []string{
			`alarms: point "p": no alarm defined`,
			`alarms: point "q": discrete: bad value: no state and no bit`,
			`alarms: point "r": duplicate alarm "quality:r"`,
			`alarms: command "": bad value: empty point ID`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.defs, newJournal(), nil)
			var de *DefError
			if !errors.As(err, &de) {
				t.Fatalf("error %v, want *DefError", err)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	t.Run("unknown point at Run", func(t *testing.T) {
		cache, _ := points.New(plantDefs())
		e, err := New(Defs{Points: []PointDef{{Point: "nope", Quality: &QualityDef{Priority: 1}}}}, newJournal(), nil)
		if err != nil {
			t.Fatal(err)
		}
		err = e.Run(t.Context(), cache)
		if err == nil || !strings.Contains(err.Error(), `no point "nope"`) {
			t.Errorf("Run: %v, want no point \"nope\"", err)
		}
		if err := e.Run(t.Context(), cache); err == nil {
			t.Error("second Run: no error")
		}
	})
	t.Run("not running", func(t *testing.T) {
		e, err := New(plantAlarms(), newJournal(), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, "Ack before Run", e.Ack(t.Context(), "op", []string{"discrete:trip"}, ""), ErrNotRunning)
	})
}
