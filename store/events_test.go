package store

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/alarms"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

func TestEventsQuery(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	evs := []Event{
		{Time: t0, Recv: t0.Add(time.Millisecond), Kind: KindPoint, Point: "north.f1.brk", Area: "north/f1", Link: "north",
			Message: "Feeder 1 breaker: on", Value: ptr(2), State: "on", Quality: "good"},
		{Time: t0.Add(time.Second), Kind: KindPoint, Point: "north.f2.brk", Area: "north/f2", Link: "north",
			Message: "Feeder 2 breaker: off", Value: ptr(1), State: "off", Quality: "IV"},
		{Time: t0.Add(2 * time.Second), Kind: KindLink, Link: "south", Area: "south", Message: "link active"},
		{Time: t0.Add(3 * time.Second), Kind: KindOperator, User: "alice", Area: "northeast", Message: "acknowledged"},
		{Time: t0.Add(4 * time.Second), Kind: KindAlarm, Point: "north.f1.brk", Area: "north/f1", Message: "raise: trip"},
		{Time: t0.Add(5 * time.Second), Kind: KindSecurity, Area: "north", Message: "unexpected COT 11"},
	}
	for i, e := range evs {
		var err error
		if i%2 == 0 {
			err = s.QueueEvent(e)
		} else {
			err = s.AddEvent(ctx, e)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	msgs := func(es []Event) []string {
		var m []string
		for _, e := range es {
			m = append(m, e.Message)
		}
		return m
	}
	for _, tt := range []struct {
		name string
		q    EventQuery
		want []string
	}{
		{"all", EventQuery{}, []string{"unexpected COT 11", "raise: trip", "acknowledged", "link active",
			"Feeder 2 breaker: off", "Feeder 1 breaker: on"}},
		{"from", EventQuery{From: t0.Add(4 * time.Second)}, []string{"unexpected COT 11", "raise: trip"}},
		{"to", EventQuery{To: t0.Add(time.Second)}, []string{"Feeder 1 breaker: on"}},
		{"from to", EventQuery{From: t0.Add(time.Second), To: t0.Add(3 * time.Second)}, []string{"link active", "Feeder 2 breaker: off"}},
		{"point", EventQuery{Point: "north.f1.brk"}, []string{"raise: trip", "Feeder 1 breaker: on"}},
		{"area", EventQuery{Area: "north"}, []string{"unexpected COT 11", "raise: trip", "Feeder 2 breaker: off", "Feeder 1 breaker: on"}},
		{"area slash", EventQuery{Area: "north/"}, []string{"unexpected COT 11", "raise: trip", "Feeder 2 breaker: off", "Feeder 1 breaker: on"}},
		{"sub-area", EventQuery{Area: "north/f2"}, []string{"Feeder 2 breaker: off"}},
		{"kind", EventQuery{Kind: KindPoint}, []string{"Feeder 2 breaker: off", "Feeder 1 breaker: on"}},
		{"text", EventQuery{Text: "BREAKER"}, []string{"Feeder 2 breaker: off", "Feeder 1 breaker: on"}},
		{"text in user", EventQuery{Text: "alic"}, []string{"acknowledged"}},
		{"combined", EventQuery{Area: "north", Kind: KindPoint, Text: "off"}, []string{"Feeder 2 breaker: off"}},
		{"limit", EventQuery{Limit: 2}, []string{"unexpected COT 11", "raise: trip"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := s.Events(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(msgs(got), tt.want) {
				t.Errorf("got %q, want %q", msgs(got), tt.want)
			}
		})
	}

	got, _, err := s.Events(ctx, EventQuery{Point: "north.f1.brk", Kind: KindPoint})
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	e := got[0]
	if !e.Time.Equal(t0) || !e.Recv.Equal(t0.Add(time.Millisecond)) || e.Value == nil || *e.Value != 2 ||
		e.State != "on" || e.Quality != "good" || e.Link != "north" || e.ID == 0 {
		t.Errorf("round trip: %+v", e)
	}
	got, _, err = s.Events(ctx, EventQuery{Kind: KindLink})
	if err != nil || len(got) != 1 || got[0].Value != nil || got[0].Recv.IsZero() || !got[0].Time.Equal(t0.Add(2*time.Second)) {
		t.Errorf("an event without value or receive time: %+v, %v", got, err)
	}
}

func TestEventsPagination(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	const n = 1000
	for i := range n {
		// Many events share a time, so the order falls back on the ID.
		if err := s.QueueEvent(Event{Time: t0.Add(time.Duration(i/7) * time.Millisecond), Kind: KindPoint,
			Message: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var all []Event
	cursor, pages := "", 0
	for {
		page, next, err := s.Events(ctx, EventQuery{Limit: 13, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		pages++
		if next == "" {
			break
		}
		if len(page) != 13 {
			t.Fatalf("page %d has %d events and a next cursor", pages, len(page))
		}
		cursor = next
	}
	if len(all) != n || pages != (n+12)/13 {
		t.Fatalf("%d events in %d pages, want %d in %d", len(all), pages, n, (n+12)/13)
	}
	seen := make(map[int64]bool)
	for i, e := range all {
		if seen[e.ID] {
			t.Fatalf("event %d twice", e.ID)
		}
		seen[e.ID] = true
		if i > 0 {
			p := all[i-1]
			if e.Time.After(p.Time) || (e.Time.Equal(p.Time) && e.ID > p.ID) {
				t.Fatalf("event %d (%v) after %d (%v): not newest first", e.ID, e.Time, p.ID, p.Time)
			}
		}
	}

	for _, bad := range []string{"x", "!!!", encodeCursor(cursorAudit, 5), encodeCursor(cursorEvent, 1)} {
		if _, _, err := s.Events(ctx, EventQuery{Cursor: bad}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", bad, err)
		}
	}
}

func TestEventsTextLiteral(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	for _, m := range []string{"100% sure", "100 sure", "a_b", "axb", "it's", "its", "x;-- drop table events", "x drop",
		`back\slash`, "backslash"} {
		if err := s.QueueEvent(Event{Kind: KindOperator, Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ text, want string }{
		{"%", "100% sure"}, {"_", "a_b"}, {"'", "it's"}, {";--", "x;-- drop table events"}, {`\`, `back\slash`},
		{"0%", "100% sure"},
	} {
		got, _, err := s.Events(ctx, EventQuery{Text: tt.text})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Message != tt.want {
			var m []string
			for _, e := range got {
				m = append(m, e.Message)
			}
			t.Errorf("Text %q: %q, want only %q", tt.text, m, tt.want)
		}
	}
	if n := count(t, s.db, "SELECT count(*) FROM events"); n != 10 {
		t.Errorf("%d events left", n)
	}
}

// countingWriter counts the writes it receives.
type countingWriter struct {
	w      io.Writer
	writes int
	bytes  int
	first  int // size of the first write
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.writes == 0 {
		c.first = len(p)
	}
	c.writes++
	c.bytes += len(p)
	return c.w.Write(p)
}

func TestExportCSV(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	const n = 5000
	for i := range n {
		e := Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Kind: KindPoint, Point: "p" + strconv.Itoa(i%10),
			Area: "north", Message: "value " + strconv.Itoa(i), Value: ptr(float64(i) / 4)}
		if err := s.QueueEvent(e); err != nil {
			t.Fatal(err)
		}
	}
	tricky := []string{`quote " inside`, "comma, inside", "new\nline", "=cmd|' /C calc'!A0", "-1+1", "ünïcode"}
	for i, m := range tricky {
		if err := s.QueueEvent(Event{Time: t0.Add(-time.Duration(i+1) * time.Second), Kind: KindOperator, User: "bob",
			Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	cw := &countingWriter{w: pw}
	done := make(chan error, 1)
	go func() {
		err := s.ExportCSV(ctx, EventQuery{}, cw)
		pw.CloseWithError(err)
		done <- err
	}()
	recs, err := csv.NewReader(pr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if cw.writes < 10 || cw.first >= cw.bytes/10 {
		t.Errorf("%d writes, the first of %d bytes of %d: not streamed", cw.writes, cw.first, cw.bytes)
	}
	if len(recs) != n+len(tricky)+1 {
		t.Fatalf("%d records, want a header and %d", len(recs), n+len(tricky))
	}
	if !slices.Equal(recs[0], csvHeader) {
		t.Errorf("header %q", recs[0])
	}
	first := recs[1]
	if first[1] != t0.Add((n-1)*time.Millisecond).Format(time.RFC3339Nano) || first[11] != "value "+strconv.Itoa(n-1) ||
		first[8] != strconv.FormatFloat(float64(n-1)/4, 'g', -1, 64) {
		t.Errorf("first record %q", first)
	}
	for _, r := range recs[1:] {
		if _, err := time.Parse(time.RFC3339Nano, r[1]); err != nil {
			t.Fatalf("time %q: %v", r[1], err)
		}
	}
	var gotTricky []string
	for _, r := range recs[n+1:] {
		gotTricky = append(gotTricky, r[11])
	}
	wantTricky := []string{`quote " inside`, "comma, inside", "new\nline", "'=cmd|' /C calc'!A0", "'-1+1", "ünïcode"}
	if !slices.Equal(gotTricky, wantTricky) {
		t.Errorf("quoted fields %q, want %q", gotTricky, wantTricky)
	}

	// Filters and limit apply.
	var b strings.Builder
	if err := s.ExportCSV(ctx, EventQuery{Point: "p3", Limit: 5}, &b); err != nil {
		t.Fatal(err)
	}
	recs, err = csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || len(recs) != 6 {
		t.Fatalf("%d records, %v; want a header and 5", len(recs), err)
	}
	for _, r := range recs[1:] {
		if r[4] != "p3" {
			t.Errorf("point %q, want p3", r[4])
		}
	}
	if err := s.ExportCSV(ctx, EventQuery{Cursor: "bad"}, io.Discard); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

// eventMessages returns the messages of every event, in the order written (by ID).
func eventMessages(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.db.Query("SELECT message FROM events ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ms []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestQueuedOrderMixed(t *testing.T) {
	// The writer writes the queued events that follow each other several per statement, and everything else one by
	// one: all in the order queued, in one transaction here.
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MaxDelay: time.Hour, MaxBatch: 1 << 20})
	var want []string
	for i := range 1000 {
		m := strconv.Itoa(i)
		if err := s.QueueEvent(Event{Kind: KindPoint, Point: "p", Message: m}); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
		switch {
		case i%97 == 0:
			if err := s.QueueSample("p", t0.Add(time.Duration(i)*time.Second), float64(i)); err != nil {
				t.Fatal(err)
			}
		case i%131 == 0:
			a := alarms.Alarm{ID: "a" + m, Source: alarms.SourceDiscrete, Point: "p", Priority: 1,
				State: alarms.ActiveUnacked, Underlying: alarms.ActiveUnacked, Message: "trip " + m}
			if err := s.QueueTransition(alarms.Transition{Alarm: a, From: alarms.Normal, At: t0, Action: "raise"}); err != nil {
				t.Fatal(err)
			}
			want = append(want, "raise: trip "+m)
		}
	}
	if err := s.AddEvent(ctx, Event{Kind: KindOperator, Message: "sync"}); err != nil {
		t.Fatal(err)
	}
	want = append(want, "sync")
	if got := eventMessages(t, s); !slices.Equal(got, want) {
		t.Errorf("events in the order %q, want %q", got, want)
	}
	if st := s.Stats(); st.Written != 1000+11+7 || st.Failed != 0 || st.Batches != 1 {
		t.Errorf("Stats %+v, want 1018 written in 1 batch", st)
	}
	if n := count(t, s.db, "SELECT count(*) FROM history_samples"); n != 11 {
		t.Errorf("%d samples, want 11", n)
	}
}

// lockedLog is the output of a logger that the writer goroutine writes while the test reads it.
type lockedLog struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (b *lockedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestQueuedEventFails(t *testing.T) {
	// An event that the database refuses (here a trigger does, as a constraint would) fails alone: the events queued
	// around it, which the writer had put in the same statement, are written, in order, and the writer goes on
	// writing several events per statement afterwards.
	ctx := context.Background()
	var logs lockedLog
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := openStore(t, t.TempDir(), Options{MaxDelay: time.Hour, MaxBatch: 1 << 20, Logger: log})
	if _, err := s.db.ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.message = 'bad'
		BEGIN SELECT RAISE(FAIL, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	const retry = "a statement per event" // the writer's log when it writes a batch again
	var want []string
	for i := range 300 {
		m := strconv.Itoa(i)
		if i == 150 {
			m = "bad"
		} else {
			want = append(want, m)
		}
		if err := s.QueueEvent(Event{Kind: KindPoint, Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := eventMessages(t, s); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if st := s.Stats(); st.Written != 299 || st.Failed != 1 {
		t.Errorf("Stats %+v, want 299 written, 1 failed", st)
	}
	if n := strings.Count(logs.String(), retry); n != 1 {
		t.Errorf("log %q: %d retries a statement per event, want 1", logs.String(), n)
	}

	for i := range 300 {
		if err := s.QueueEvent(Event{Kind: KindPoint, Message: "after " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.db, "SELECT count(*) FROM events"); n != 599 {
		t.Errorf("%d events, want 599", n)
	}
	if n := strings.Count(logs.String(), retry); n != 1 {
		t.Errorf("log %q: %d retries a statement per event after a batch without a refused event, want 1", logs.String(), n)
	}
}
