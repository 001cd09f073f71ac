package store

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"hmi/alarms"
)

func TestAlarmJournal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, Options{MaxDelay: time.Hour, MaxBatch: 1 << 20})

	raised := alarms.Alarm{ID: "limit:north.t1.temp:HH", Source: alarms.SourceLimit, Point: "north.t1.temp", Link: "north",
		Area: "north/t1", Priority: 1, State: alarms.ActiveUnacked, Message: "T1 temperature HH", Value: 98.5,
		RaisedAt: t0, Underlying: alarms.ActiveUnacked}
	// The engine's own transition is queued (and, with these options, not committed by itself) ...
	if err := s.QueueTransition(alarms.Transition{Alarm: raised, From: alarms.Normal, At: t0, Action: "raise"}); err != nil {
		t.Fatal(err)
	}
	// ... and the operator's acknowledgement that follows is committed on return, after it.
	acked := raised
	acked.State, acked.Underlying, acked.AckedBy, acked.AckedAt, acked.Comment =
		alarms.ActiveAcked, alarms.ActiveAcked, "alice", t0.Add(time.Minute), "seen"
	if err := s.SaveTransition(ctx, alarms.Transition{Alarm: acked, From: alarms.ActiveUnacked, At: t0.Add(time.Minute),
		User: "alice", Action: "ack", Comment: "seen"}); err != nil {
		t.Fatal(err)
	}
	link := alarms.Alarm{ID: "link:south", Source: alarms.SourceLink, Link: "south", Priority: 2, State: alarms.Shelved,
		Underlying: alarms.ActiveUnacked, Message: "link south down", Value: math.NaN(), RaisedAt: t0,
		ShelvedBy: "bob", ShelvedUntil: t0.Add(8 * time.Hour), Comment: "maintenance"}
	if err := s.SaveTransition(ctx, alarms.Transition{Alarm: link, From: alarms.ActiveUnacked, At: t0.Add(2 * time.Minute),
		User: "bob", Action: "shelve", Comment: "maintenance"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, Options{})
	as, err := s.LoadAlarms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 {
		t.Fatalf("%d alarms, want 2", len(as))
	}
	got := as[0] // by ID: "limit:..." before "link:..."
	if got.ID != acked.ID || got.Source != acked.Source || got.Point != acked.Point || got.Link != acked.Link ||
		got.Area != acked.Area || got.Priority != acked.Priority || got.State != acked.State || got.Message != acked.Message ||
		got.Value != acked.Value || !got.RaisedAt.Equal(acked.RaisedAt) || !got.ClearedAt.IsZero() ||
		got.AckedBy != "alice" || !got.AckedAt.Equal(acked.AckedAt) || got.Comment != "seen" ||
		got.Underlying != alarms.ActiveAcked {
		t.Errorf("loaded %+v, want %+v", got, acked)
	}
	got = as[1]
	if got.ID != "link:south" || got.Source != alarms.SourceLink || got.State != alarms.Shelved ||
		got.Underlying != alarms.ActiveUnacked || !math.IsNaN(got.Value) || got.ShelvedBy != "bob" ||
		!got.ShelvedUntil.Equal(link.ShelvedUntil) {
		t.Errorf("loaded %+v, want %+v", got, link)
	}

	h, err := s.AlarmHistory(ctx, acked.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].Action != "ack" || h[0].User != "alice" || h[0].Comment != "seen" ||
		h[0].From != alarms.ActiveUnacked || h[0].Alarm.State != alarms.ActiveAcked || !h[0].At.Equal(t0.Add(time.Minute)) ||
		h[1].Action != "raise" || h[1].User != "" || h[1].From != alarms.Normal || h[1].Alarm.Value != 98.5 {
		t.Errorf("history %+v", h)
	}
	if h, err := s.AlarmHistory(ctx, acked.ID, 1); err != nil || len(h) != 1 || h[0].Action != "ack" {
		t.Errorf("history limited to 1: %+v, %v", h, err)
	}

	// Each transition is an event of kind alarm.
	evs, _, err := s.Events(ctx, EventQuery{Kind: KindAlarm})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].Message != "shelve: link south down (maintenance)" || evs[0].User != "bob" ||
		evs[0].Value != nil || evs[1].State != "active_acked" || evs[2].Point != "north.t1.temp" || *evs[2].Value != 98.5 {
		t.Errorf("alarm events %+v", evs)
	}
}

func TestAlarmBatchAndQueueFull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, Options{QueueSize: 1, MaxDelay: time.Millisecond, BusyTimeout: time.Minute})
	a := func(id string, st alarms.State) alarms.Transition {
		return alarms.Transition{Alarm: alarms.Alarm{ID: id, Source: alarms.SourceDiscrete, Priority: 3, State: st,
			Underlying: st}, From: alarms.ActiveUnacked, At: t0, User: "alice", Action: "ack"}
	}
	// All or none: the second has no ID, so neither is written.
	if err := s.SaveTransitions(ctx, []alarms.Transition{a("x", alarms.ActiveAcked), a("", alarms.ActiveAcked)}); err == nil {
		t.Error("a batch with a bad transition: no error")
	}
	if n := count(t, s.db, `SELECT count(*) FROM alarm_transitions`); n != 0 {
		t.Errorf("%d transitions of a failed batch written", n)
	}
	if err := s.SaveTransitions(ctx, []alarms.Transition{a("x", alarms.ActiveAcked), a("y", alarms.ActiveAcked)}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.db, `SELECT count(*) FROM alarm_transitions`); n != 2 {
		t.Errorf("%d transitions of a batch of 2 written", n)
	}

	// A full queue is ErrQueueFull for the store and for the engine.
	db := rawDB(t, dir)
	hold, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if _, err := hold.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		full = s.QueueTransition(a("z", alarms.ActiveUnacked))
		time.Sleep(time.Millisecond)
	}
	if !errors.Is(full, ErrQueueFull) || !errors.Is(full, alarms.ErrQueueFull) {
		t.Errorf("QueueTransition on a full queue: %v, want ErrQueueFull and alarms.ErrQueueFull", full)
	}
	if _, err := hold.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}
