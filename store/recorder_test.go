package store

import (
	"context"
	"testing"
	"time"

	"hmi/points"
)

func TestRecorder(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MaxDelay: time.Millisecond})
	c := historyCache(t)
	r := NewRecorder(s, c, nil)
	c.SetHook(r.Change)

	soe := time.Date(2025, 1, 1, 0, 0, 0, 123e6, time.UTC)
	recv := soe.Add(40 * time.Millisecond)
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if count(t, s.db, `SELECT count(*) FROM events`) >= n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("fewer than %d events", n)
	}
	c.Apply([]points.Update{{Point: 1, Value: 2, SourceTime: soe, RecvTime: recv}})
	wait(1)
	c.Apply([]points.Update{{Point: 0, Value: 42, RecvTime: recv}}) // analog: not an event
	c.Apply([]points.Update{{Point: 2, Value: 1, RecvTime: recv.Add(time.Second)}})
	wait(2)
	before := time.Now()
	c.SetCommFail("north", true, before) // a change of quality alone
	wait(4)
	evs, _, err := s.Events(ctx, EventQuery{Point: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events of b, want 2", len(evs))
	}
	e := evs[1]
	if !e.Time.Equal(soe) || !e.Recv.Equal(recv) || e.Kind != KindPoint || e.Area != "north/f1" || e.Link != "north" ||
		e.Value == nil || *e.Value != 2 || e.State != "closed" || e.Quality != "good" || e.Message != "Breaker: closed" {
		t.Errorf("event %+v", e)
	}
	e = evs[0]
	if e.Time.Before(before) || e.State != "closed" || e.Quality != "commfail" || e.Message != "Breaker: closed [commfail]" {
		t.Errorf("commfail event %+v", e)
	}
	evs, _, err = s.Events(ctx, EventQuery{Point: "s"})
	if err != nil || len(evs) != 2 || evs[1].State != "on" || !evs[1].Time.Equal(recv.Add(time.Second)) || evs[1].Message != "s: on" {
		t.Errorf("single point events %+v, %v", evs, err)
	}
	// The analog point had a value: no event. The single point s had none when the link failed: no value.
	if n := count(t, s.db, `SELECT count(*) FROM events WHERE point = 't'`); n != 0 {
		t.Errorf("%d events of the analog point", n)
	}
}

// TestRecorderSeesEveryChange: two changes of a point in one batch, faster
// than any reader, are two events in the sequence of events.
func TestRecorderSeesEveryChange(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MaxDelay: time.Millisecond})
	c := historyCache(t)
	c.SetHook(NewRecorder(s, c, nil).Change)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Apply([]points.Update{
		{Point: 1, Value: 1, SourceTime: t0, RecvTime: t0},
		{Point: 1, Value: 2, SourceTime: t0.Add(10 * time.Millisecond), RecvTime: t0},
		{Point: 1, Value: 1, SourceTime: t0.Add(20 * time.Millisecond), RecvTime: t0},
	})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs, _, err := s.Events(ctx, EventQuery{Point: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3 (every change of the batch)", len(evs))
	}
	for i, want := range []time.Duration{20, 10, 0} { // newest first
		if got := evs[i].Time; !got.Equal(t0.Add(want * time.Millisecond)) {
			t.Errorf("event %d at %v, want %v", i, got, t0.Add(want*time.Millisecond))
		}
	}
}

func TestStateLabel(t *testing.T) {
	for _, tt := range []struct {
		d    points.Def
		v    float64
		want string
	}{
		{points.Def{Kind: points.Single}, 1, "on"},
		{points.Def{Kind: points.Double}, 0, "intermediate"},
		{points.Def{Kind: points.Double}, 3, "indeterminate"},
		{points.Def{Kind: points.Double, Labels: []string{"a", "b"}}, 1, "b"},
		{points.Def{Kind: points.Double, Labels: []string{"a", "b"}}, 2, "2"},
		{points.Def{Kind: points.Step}, -5, "-5"},
		{points.Def{Kind: points.Bitstring}, 0xdead, "0x0000DEAD"},
	} {
		if got := stateLabel(tt.d, tt.v); got != tt.want {
			t.Errorf("stateLabel(%v, %v) = %q, want %q", tt.d.Kind, tt.v, got, tt.want)
		}
	}
}
