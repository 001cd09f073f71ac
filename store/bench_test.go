package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"hmi/alarms"
)

// benchYear is the database with a year of 1-second samples of one point, built once by the first benchmark that
// needs it and removed by TestMain.
var benchYear struct {
	once  sync.Once
	dir   string
	setup time.Duration
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchYear.dir != "" {
		os.RemoveAll(benchYear.dir)
	}
	os.Exit(code)
}

// benchEvent is a typical point event.
func benchEvent(i int) Event {
	v := float64(i % 2)
	return Event{Kind: KindPoint, Point: "station" + strconv.Itoa(i%50) + ".feeder" + strconv.Itoa(i%20) + ".breaker",
		Area: "station" + strconv.Itoa(i%50) + "/feeder" + strconv.Itoa(i%20), Link: "station" + strconv.Itoa(i%50),
		Message: "Breaker: closed", Value: &v, State: "closed", Quality: "good"}
}

// benchEvents returns the distinct events of points points, built before the timer starts so that the producer's own
// work is not counted against the store: for 100 points, those of benchEvent (which repeats every 100); for more, a
// plant of 100 stations with 10 areas each.
func benchEvents(points int) []Event {
	evs := make([]Event, points)
	for i := range evs {
		if points == 100 {
			evs[i] = benchEvent(i)
			continue
		}
		v := float64(i % 2)
		st := "station" + strconv.Itoa(i%100)
		evs[i] = Event{Kind: KindPoint, Point: st + ".bay" + strconv.Itoa(i/100) + ".breaker",
			Area: st + "/bay" + strconv.Itoa(i/100%10), Link: st, Message: "Breaker: closed", Value: &v, State: "closed",
			Quality: "good"}
	}
	return evs
}

// cpuTime is the CPU time (user + system) the process has used: producer, writer and runtime together.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// callTimes keeps the longest of the QueueEvent calls timed, and counts those over a millisecond: on a busy machine
// the scheduler alone can hold a goroutine that long now and then, a store that makes its producers wait would
// show in many.
type callTimes struct {
	max  time.Duration
	slow int
}

func (c *callTimes) add(d time.Duration) {
	c.max = max(c.max, d)
	if d > time.Millisecond {
		c.slow++
	}
}

func (c *callTimes) report(b *testing.B) {
	b.ReportMetric(float64(c.max.Nanoseconds()), "max-queue-ns")
	b.ReportMetric(float64(c.slow), "queue-calls>1ms")
}

// checkCommitted fails b unless the journal holds exactly want events and the writer counted them all written.
func checkCommitted(b *testing.B, s *Store, want int) {
	b.Helper()
	if n := count(b, s.db, "SELECT count(*) FROM events"); n != want {
		b.Fatalf("%d events in the journal, want %d", n, want)
	}
	if st := s.Stats(); st.Written != uint64(want) || st.Failed != 0 || st.QueueDepth != 0 {
		b.Fatalf("Stats %+v, want Written %d, Failed 0, QueueDepth 0", st, want)
	}
}

// BenchmarkEventIngest queues b.N events as fast as the producer can, and measures how many per second reach the
// journal, committed (Flush returns after the last commit; the rows are counted afterwards). The store never makes
// the producer wait: when the queue is full the producer is refused, and here it tries the same event again a
// little later, so every event is written; refusals counts those refusals, max-queue-ns is the longest a
// QueueEvent call took, cpu-ns/event the process's CPU time (user + system, all goroutines) per event.
func BenchmarkEventIngest(b *testing.B) {
	for _, tt := range []struct {
		sync   string
		points int
	}{{"FULL", 100}, {"NORMAL", 100}, {"FULL", 10000}} {
		b.Run(fmt.Sprintf("synchronous=%s/points=%d", tt.sync, tt.points), func(b *testing.B) {
			s := openStore(b, b.TempDir(), Options{Synchronous: tt.sync})
			ctx := context.Background()
			evs := benchEvents(tt.points)
			refusals := 0
			var calls callTimes
			now := time.Now()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			start := time.Now()
			for i := 0; i < b.N; i++ {
				e := evs[i%len(evs)]
				e.Time, e.Recv = now, now
				for {
					t := time.Now()
					err := s.QueueEvent(e)
					calls.add(time.Since(t))
					if err == nil {
						break
					}
					if !errors.Is(err, ErrQueueFull) {
						b.Fatal(err)
					}
					refusals++
					time.Sleep(100 * time.Microsecond)
				}
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start)
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			checkCommitted(b, s, b.N)
			st := s.Stats()
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
			b.ReportMetric(float64(refusals), "refusals")
			calls.report(b)
			b.ReportMetric(float64(st.Written)/float64(max(st.Batches, 1)), "events/commit")
		})
	}
}

// BenchmarkEventIngestPaced queues events at a steady rate, as a front-end processor would, with no retry: every
// refusal is an event lost to the journal (and counted by the store).
func BenchmarkEventIngestPaced(b *testing.B) {
	for _, rate := range []int{10000, 50000, 100000} {
		b.Run(fmt.Sprintf("rate=%d/s", rate), func(b *testing.B) {
			s := openStore(b, b.TempDir(), Options{})
			ctx := context.Background()
			evs := benchEvents(100)
			const tick = time.Millisecond
			perTick := rate / 1000
			maxDepth := 0
			var calls callTimes
			b.ResetTimer()
			cpu0 := cpuTime(b)
			start := time.Now()
			next := start
			for i := 0; i < b.N; {
				for j := 0; j < perTick && i < b.N; j++ {
					t := time.Now()
					err := s.QueueEvent(evs[i%len(evs)])
					calls.add(time.Since(t))
					if err != nil && !errors.Is(err, ErrQueueFull) {
						b.Fatal(err)
					}
					i++
				}
				maxDepth = max(maxDepth, s.QueueDepth())
				next = next.Add(tick)
				time.Sleep(time.Until(next))
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start)
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			st := s.Stats()
			checkCommitted(b, s, b.N-int(st.Refused))
			b.ReportMetric(float64(st.Written)/el.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
			b.ReportMetric(float64(st.Refused), "refusals")
			calls.report(b)
			b.ReportMetric(float64(maxDepth), "max-depth")
		})
	}
}

// BenchmarkHistoryInsert queues b.N samples of 100 points and measures the samples per second committed, roll-ups
// included.
func BenchmarkHistoryInsert(b *testing.B) {
	s := openStore(b, b.TempDir(), Options{})
	ctx := context.Background()
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = "station" + strconv.Itoa(i/10) + ".t" + strconv.Itoa(i%10) + ".temp"
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	refusals := 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		at := base.Add(time.Duration(i/len(ids)) * time.Second)
		for {
			err := s.QueueSample(ids[i%len(ids)], at, float64(i%1000)/10)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrQueueFull) {
				b.Fatal(err)
			}
			refusals++
			time.Sleep(100 * time.Microsecond)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "samples/s")
	b.ReportMetric(float64(refusals), "refusals")
}

// BenchmarkTransitionIngest queues b.N alarm transitions (an alarm flood) and measures how many per second are
// committed: each is an upsert of the alarm's state, a transition row and an event.
func BenchmarkTransitionIngest(b *testing.B) {
	s := openStore(b, b.TempDir(), Options{})
	ctx := context.Background()
	refusals := 0
	now := time.Now()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		a := alarms.Alarm{ID: "discrete:p" + strconv.Itoa(i%10000), Source: alarms.SourceDiscrete, Point: "p" + strconv.Itoa(i%10000),
			Area: "north", Priority: 2, State: alarms.ActiveUnacked, Underlying: alarms.ActiveUnacked, Message: "trip",
			Value: 1, RaisedAt: now}
		for {
			err := s.QueueTransition(alarms.Transition{Alarm: a, From: alarms.Normal, At: now, Action: "raise"})
			if err == nil {
				break
			}
			if !errors.Is(err, ErrQueueFull) {
				b.Fatal(err)
			}
			refusals++
			time.Sleep(100 * time.Microsecond)
		}
	}
	if err := s.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "transitions/s")
	b.ReportMetric(float64(refusals), "refusals")
}

// BenchmarkEventQuery measures the latency of event queries on a journal of a million events: 1000 points, 8
// kinds, 50 areas, over 30 days.
func BenchmarkEventQuery(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	s := openStore(b, dir, Options{})
	const n = 1000000
	start := time.Now()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	step := int64(30*24*time.Hour) / n
	if _, err := s.db.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?1)
		INSERT INTO events (t, recv, kind, point, area, link, user_name, message, value, state, quality)
		SELECT ?2 + i * ?3, ?2 + i * ?3 + 5000000,
			CASE i % 8 WHEN 0 THEN 'point' WHEN 1 THEN 'point' WHEN 2 THEN 'point' WHEN 3 THEN 'alarm'
				WHEN 4 THEN 'command' WHEN 5 THEN 'link' WHEN 6 THEN 'operator' ELSE 'anomaly' END,
			'station' || (i % 50) || '.p' || (i % 1000), 'station' || (i % 50) || '/bay' || (i % 7), 'station' || (i % 50),
			CASE WHEN i % 8 = 6 THEN 'alice' ELSE '' END,
			'Breaker ' || (i % 1000) || CASE WHEN i % 2 = 0 THEN ': closed' ELSE ': open' END ||
				CASE WHEN i % 100003 = 0 THEN ' needle' ELSE '' END,
			i % 2, CASE WHEN i % 2 = 0 THEN 'closed' ELSE 'open' END, 'good'
		FROM c`, n, base, step); err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: %d events in %v", n, time.Since(start))
	_, deep, err := s.Events(ctx, EventQuery{Limit: 10000})
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		q    EventQuery
	}{
		{"newest 100", EventQuery{}},
		{"page after 10000", EventQuery{Cursor: deep}},
		{"point", EventQuery{Point: "station7.p507"}},
		{"area", EventQuery{Area: "station7"}},
		{"kind", EventQuery{Kind: KindCommand}},
		{"one day", EventQuery{From: time.Unix(0, base+int64(10*24*time.Hour)), To: time.Unix(0, base+int64(11*24*time.Hour))}},
		{"text common", EventQuery{Text: "closed"}},
		{"text rare (full scan)", EventQuery{Text: "needle"}},
		{"area kind text", EventQuery{Area: "station7/bay3", Kind: KindPoint, Text: "open"}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				evs, _, err := s.Events(ctx, tt.q)
				if err != nil || len(evs) == 0 {
					b.Fatal(len(evs), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/query")
		})
	}
}

// yearStart is the first second of the year of history in BenchmarkHistoryYear.
var yearStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const yearSeconds = 365 * 24 * 3600

// buildYear writes a year of 1-second samples of the point "year" into a new database, a day per transaction, in
// SQL (WITH RECURSIVE), through the roll-up trigger as every sample goes.
func buildYear() (string, time.Duration, error) {
	dir, err := os.MkdirTemp("", "hmi-store-year-")
	if err != nil {
		return "", 0, err
	}
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		return dir, 0, err
	}
	defer s.Close()
	start := time.Now()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return dir, 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = OFF`); err != nil {
		return dir, 0, err
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO history_points (id, point) VALUES (1, 'year')`); err != nil {
		return dir, 0, err
	}
	t0 := yearStart.UnixMilli()
	for day := range 365 {
		// A daily wave with noise, in 0.01 steps.
		if _, err := conn.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?2)
			INSERT INTO history_samples (point_id, t, v)
			SELECT 1, ?3 + i * 1000, 50.0 + abs(i % 86400 - 43200) / 1000.0 + ((i * 7919) % 211) / 100.0 FROM c`,
			day*86400, (day+1)*86400, t0); err != nil {
			return dir, 0, err
		}
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return dir, 0, err
	}
	return dir, time.Since(start), nil
}

// BenchmarkHistoryYear queries a year of 1-second samples of one point (31.5 million rows) at 500 buckets, and
// shorter spans. The database is built once (setup-s, not part of ns/op).
func BenchmarkHistoryYear(b *testing.B) {
	benchYear.once.Do(func() { benchYear.dir, benchYear.setup, benchYear.err = buildYear() })
	if benchYear.err != nil {
		b.Fatal(benchYear.err)
	}
	ctx := context.Background()
	s := openStore(b, benchYear.dir, Options{})
	if n := count(b, s.db, `SELECT count(*) FROM history_1h`); n != 365*24 {
		b.Fatalf("%d hours of roll-ups", n)
	}
	if fi, err := os.Stat(s.Path()); err == nil {
		b.Logf("a year of 1-second samples: %d MB, built in %v", fi.Size()>>20, benchYear.setup.Round(time.Second))
	}
	for _, tt := range []struct {
		name     string
		from, to time.Time
		buckets  int
	}{
		{"year/500", yearStart, yearStart.Add(yearSeconds * time.Second), 500},
		{"month/500", yearStart.Add(100 * 24 * time.Hour), yearStart.Add(130 * 24 * time.Hour), 500},
		{"day/500", yearStart.Add(200 * 24 * time.Hour), yearStart.Add(201 * 24 * time.Hour), 500},
		{"19h51m/500 (raw, the widest span of raw samples)", yearStart.Add(50 * 24 * time.Hour), yearStart.Add(50*24*time.Hour + 500*143*time.Second), 500},
		{"hour/500", yearStart.Add(300 * 24 * time.Hour), yearStart.Add(300*24*time.Hour + time.Hour), 500},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var bs []Bucket
			for b.Loop() {
				var err error
				if bs, err = s.History(ctx, "year", tt.from, tt.to, tt.buckets); err != nil {
					b.Fatal(err)
				}
			}
			n := 0
			for _, x := range bs {
				n += x.Count
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/query")
			b.ReportMetric(float64(len(bs)), "buckets")
			b.ReportMetric(float64(n), "samples")
			b.ReportMetric(benchYear.setup.Seconds(), "setup-s")
		})
	}
}
