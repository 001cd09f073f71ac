package store

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"hmi/points"
)

// sample is a brute-force copy of what was recorded.
type sample struct {
	t int64 // Unix ms
	v float64
}

// bruteBucket summarises the samples in [start, end) as History should.
func bruteBucket(ss []sample, start, end int64) (b Bucket, ok bool) {
	var sum float64
	lastT := int64(math.MinInt64)
	i := sort.Search(len(ss), func(i int) bool { return ss[i].t >= start })
	j := sort.Search(len(ss), func(i int) bool { return ss[i].t >= end })
	for _, s := range ss[i:j] {
		if b.Count == 0 {
			b.Min, b.Max = s.v, s.v
		}
		b.Min, b.Max = min(b.Min, s.v), max(b.Max, s.v)
		sum += s.v
		b.Count++
		if s.t > lastT {
			lastT, b.Last = s.t, s.v
		}
	}
	if b.Count > 0 {
		b.Avg = sum / float64(b.Count)
	}
	return b, b.Count > 0
}

func TestHistoryBuckets(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	start := t0.Add(-17 * time.Minute).UnixMilli() // not on a minute or hour
	var ss []sample
	for ts := start; ts < start+3*24*3600*1000; ts += 20000 + rng.Int64N(40000) {
		v := math.Round(rng.NormFloat64()*1000) / 100
		ss = append(ss, sample{ts, v})
		if err := s.QueueSample("north.t1.temp", time.UnixMilli(ts), v); err != nil {
			t.Fatal(err)
		}
		// Another point's samples must not mix in.
		if len(ss)%10 == 0 {
			if err := s.QueueSample("other", time.UnixMilli(ts), 1e6); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A second sample in the same millisecond is ignored, and not counted twice in the roll-ups.
	if err := s.QueueSample("north.t1.temp", time.UnixMilli(ss[10].t), -1e9); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d samples", len(ss))

	check := func(t *testing.T, from, to time.Time, n int, wantLevel string) {
		t.Helper()
		bs, err := s.History(ctx, "north.t1.temp", from, to, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(bs) == 0 || len(bs) > n+1 {
			t.Fatalf("%d buckets for %d asked", len(bs), n)
		}
		width := bs[0].End.Sub(bs[0].Start)
		level := "raw"
		switch {
		case width%time.Hour == 0:
			level = "hour"
		case width%time.Minute == 0:
			level = "minute"
		}
		if level != wantLevel {
			t.Errorf("bucket width %v: level %s, want %s", width, level, wantLevel)
		}
		span := to.Sub(from)
		if width < span/time.Duration(n) || width > span/time.Duration(n)*5/4+time.Hour/4 {
			t.Errorf("bucket width %v for %v in %d buckets", width, span, n)
		}
		total := 0
		for i, b := range bs {
			if b.End.Sub(b.Start) != width || (i > 0 && !b.Start.After(bs[i-1].Start)) ||
				(b.Start.Sub(bs[0].Start))%width != 0 {
				t.Fatalf("bucket %d: %v to %v, not on the grid of width %v", i, b.Start, b.End, width)
			}
			want, ok := bruteBucket(ss, b.Start.UnixMilli(), b.End.UnixMilli())
			if !ok {
				t.Fatalf("bucket %d at %v has %d samples, brute force none", i, b.Start, b.Count)
			}
			if b.Count != want.Count || b.Min != want.Min || b.Max != want.Max || b.Last != want.Last ||
				math.Abs(b.Avg-want.Avg) > 1e-9*math.Max(1, math.Abs(want.Avg)) {
				t.Fatalf("bucket %d at %v: %+v, brute force %+v", i, b.Start, b, want)
			}
			total += b.Count
		}
		// Every sample of [from, to) is in a bucket: none is missing.
		all, _ := bruteBucket(ss, from.UnixMilli(), to.UnixMilli())
		around, _ := bruteBucket(ss, bs[0].Start.UnixMilli(), bs[len(bs)-1].End.UnixMilli())
		if all.Count > total || around.Count != total {
			t.Errorf("buckets hold %d samples, [from, to) %d, their span %d", total, all.Count, around.Count)
		}
		if bs[0].Start.After(from) && all.Count > 0 {
			if first, _ := bruteBucket(ss, from.UnixMilli(), bs[0].Start.UnixMilli()); first.Count > 0 {
				t.Errorf("%d samples before the first bucket", first.Count)
			}
		}
	}
	from := time.UnixMilli(start)
	for _, tt := range []struct {
		name     string
		from, to time.Time
		n        int
		level    string
	}{
		{"hour, raw", from.Add(time.Hour + 1234*time.Millisecond), from.Add(2 * time.Hour), 100, "raw"},
		{"day, minutes", from.Add(3 * time.Hour), from.Add(27 * time.Hour), 200, "minute"},
		{"3 days, hours", from, from.Add(72 * time.Hour), 12, "hour"},
		{"3 days, minutes", from, from.Add(72 * time.Hour), 500, "minute"},
		{"one bucket", from.Add(-time.Hour), from.Add(100 * time.Hour), 1, "hour"},
		{"more buckets than samples", from.Add(time.Hour), from.Add(time.Hour + time.Minute), 500, "raw"},
	} {
		t.Run(tt.name, func(t *testing.T) { check(t, tt.from, tt.to, tt.n, tt.level) })
	}

	if bs, err := s.History(ctx, "nobody", from, from.Add(time.Hour), 10); err != nil || bs != nil {
		t.Errorf("history of an unknown point: %v, %v", bs, err)
	}
	if _, err := s.History(ctx, "north.t1.temp", from, from, 10); err == nil {
		t.Error("empty span: no error")
	}
	if _, err := s.History(ctx, "north.t1.temp", from, from.Add(time.Hour), 0); err == nil {
		t.Error("0 buckets: no error")
	}

	// Prune: the samples before the hour of the cut go, with their roll-ups; what is left still adds up.
	cut := from.Add(30 * time.Hour).Add(25 * time.Minute)
	evCut := cut.Add(time.Hour)
	for i := range 10 {
		if err := s.QueueEvent(Event{Time: evCut.Add(time.Duration(i-5) * time.Second), Kind: KindPoint}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := s.Prune(ctx, cut, cut)
	if err != nil {
		t.Fatal(err)
	}
	hourCut := cut.Truncate(time.Hour).UnixMilli()
	var kept []sample
	pruned := 0
	for i, x := range ss {
		if x.t >= hourCut {
			kept = append(kept, x)
		} else if pruned++; (i+1)%10 == 0 {
			pruned++ // the other point's
		}
	}
	if r.Samples != int64(pruned) || r.Events != 0 {
		t.Errorf("Prune: %+v, want %d samples (of two points), 0 events", r, pruned)
	}
	ss = kept
	check(t, from, from.Add(72*time.Hour), 12, "hour")
	check(t, from, from.Add(72*time.Hour), 500, "minute")
	if n := count(t, s.db, `SELECT count(*) FROM history_1m WHERE start < ?`, hourCut); n != 0 {
		t.Errorf("%d minute roll-ups before the cut", n)
	}
	samples := count(t, s.db, `SELECT count(*) FROM history_samples`)
	if r, err := s.Prune(ctx, evCut, time.Time{}); err != nil || r.Events != 5 || r.Samples != 0 {
		t.Errorf("Prune of events only: %+v, %v; want 5 events, no sample", r, err)
	}
	if n := count(t, s.db, `SELECT count(*) FROM history_samples`); n != samples {
		t.Errorf("%d samples after pruning events only, want %d", n, samples)
	}
	if n := count(t, s.db, `SELECT count(*) FROM events`); n != 5 {
		t.Errorf("%d events left, want 5", n)
	}
}

func TestHistoryPruneChunks(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	s.pruneChunk = 100
	n := 3*s.pruneChunk + 17
	for i := range n {
		if err := s.QueueSample("p", time.UnixMilli(int64(i)*1000), float64(i)); err != nil {
			t.Fatal(err)
		}
		if err := s.QueueEvent(Event{Time: time.Unix(int64(i), 0), Kind: KindPoint}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	end := time.Unix(int64(n), 0).Add(2 * time.Hour)
	r, err := s.Prune(ctx, end, end)
	if err != nil || r.Samples != int64(n) || r.Events != int64(n) {
		t.Errorf("Prune: %+v, %v; want %d samples and events", r, err, n)
	}
	for _, tb := range []string{"history_samples", "history_1m", "history_1h", "events"} {
		if c := count(t, s.db, "SELECT count(*) FROM "+tb); c != 0 {
			t.Errorf("%d rows left in %s", c, tb)
		}
	}
}

// historyCache returns a cache of one float point "t" and one single point "b".
func historyCache(t *testing.T) *points.Cache {
	t.Helper()
	c, err := points.New([]points.Def{
		{ID: "t", Name: "Temperature", Area: "north", Kind: points.Float, Link: "north"},
		{ID: "b", Name: "Breaker", Area: "north/f1", Kind: points.Double, Link: "north", Labels: []string{"moving", "open", "closed", "bad"}},
		{ID: "s", Kind: points.Single, Link: "north"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHistoryRecorderRules(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	c := historyCache(t)
	if _, err := NewHistoryRecorder(s, c, map[string]HistorySpec{"b": {}}, nil); err == nil {
		t.Error("history of a double point: no error")
	}
	if _, err := NewHistoryRecorder(s, c, map[string]HistorySpec{"nope": {}}, nil); err == nil {
		t.Error("history of an unknown point: no error")
	}
	h, err := NewHistoryRecorder(s, c, map[string]HistorySpec{"t": {Deadband: 0.5, MaxInterval: time.Minute}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	val := func(v float64, q points.Quality, d time.Duration) {
		now = now.Add(d)
		h.observe(0, points.Value{Value: v, Quality: q, RecvTime: now}, now)
	}
	val(10, 0, 0)                         // first: recorded
	val(10.4, 0, time.Second)             // within the deadband
	val(9.6, 0, time.Second)              // within the deadband
	val(10.6, 0, time.Second)             // moved 0.6 > 0.5: recorded
	val(20, points.IV, time.Second)       // invalid: not recorded
	val(20, points.CommFail, time.Second) // link down: not recorded
	val(10.7, 0, time.Second)             // within the deadband of 10.6
	val(10.8, 0, time.Minute)             // a minute since the last sample: recorded though within the deadband
	val(math.NaN(), 0, time.Second)       // NaN: not recorded
	c.Apply([]points.Update{{Point: 0, Value: 10.9, RecvTime: now}})
	h.due(now.Add(30 * time.Second)) // not due yet
	h.due(now.Add(61 * time.Second)) // due: the present value, at that time
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT t, v FROM history_samples ORDER BY t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []sample
	for rows.Next() {
		var x sample
		if err := rows.Scan(&x.t, &x.v); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	want := []sample{
		{t0.UnixMilli(), 10},
		{t0.Add(3 * time.Second).UnixMilli(), 10.6},
		{t0.Add(6*time.Second + time.Minute).UnixMilli(), 10.8},
		{now.Add(61 * time.Second).UnixMilli(), 10.9},
	}
	if len(got) != len(want) {
		t.Fatalf("samples %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("sample %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestHistoryRecorderRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := openStore(t, t.TempDir(), Options{MaxDelay: time.Millisecond})
	c := historyCache(t)
	h, err := NewHistoryRecorder(s, c, map[string]HistorySpec{"t": {Deadband: 1, MaxInterval: 100 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	src := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Apply([]points.Update{{Point: 0, Value: 5, SourceTime: src}})
	// The change is recorded at its source time, and then the value again at least every 100 ms.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && count(t, s.db, `SELECT count(*) FROM history_samples`) < 3 {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.db, `SELECT count(*) FROM history_samples WHERE t = ?`, src.UnixMilli()); n != 1 {
		t.Errorf("%d samples at the source time", n)
	}
	if n := count(t, s.db, `SELECT count(*) FROM history_samples WHERE v = 5`); n < 3 {
		t.Errorf("%d samples, want the change and at least two repeats", n)
	}
}

// TestHistoryRecorderWithoutPoints: a configuration that records no point
// must not subscribe to every point (which panicked on the first update).
func TestHistoryRecorderWithoutPoints(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{MaxDelay: time.Millisecond})
	c := historyCache(t)
	h, err := NewHistoryRecorder(s, c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	c.Apply([]points.Update{{Point: 0, Value: 1}, {Point: 1, Value: 2}})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
