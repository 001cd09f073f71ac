package alarms

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hmi/points"
)

// discardJournal keeps nothing.
type discardJournal struct{}

func (discardJournal) LoadAlarms(context.Context) ([]Alarm, error)      { return nil, nil }
func (discardJournal) SaveTransition(context.Context, Transition) error { return nil }
func (discardJournal) QueueTransition(Transition) error                 { return nil }

// floodPlant is n float points on 10 links, each with an H limit at 100.
func floodPlant(n int) ([]points.Def, Defs) {
	pdefs := make([]points.Def, n)
	defs := Defs{Points: make([]PointDef, n)}
	for i := range n {
		id := fmt.Sprintf("f%05d", i)
		pdefs[i] = points.Def{ID: id, Area: fmt.Sprintf("area%d", i%10), Kind: points.Float, Link: fmt.Sprintf("l%d", i%10), IOA: uint32(i + 1)}
		defs.Points[i] = PointDef{Point: id, Limits: &LimitsDef{H: &LimitDef{Value: 100, Priority: Priority(1 + i%4)}, Deadband: 1}}
	}
	return pdefs, defs
}

// applyAll gives every point value v, in batches of 100 as links do, and
// returns the time each Apply took.
func applyAll(cache *points.Cache, v float64, lat []time.Duration) []time.Duration {
	batch := make([]points.Update, 0, 100)
	for h := range points.Handle(cache.Len()) {
		batch = append(batch, points.Update{Point: h, Value: v})
		if len(batch) == cap(batch) || int(h) == cache.Len()-1 {
			start := time.Now()
			cache.Apply(batch)
			lat = append(lat, time.Since(start))
			batch = batch[:0]
		}
	}
	return lat
}

// stats summarises latencies: total and maximum.
func stats(lat []time.Duration) (total, worst time.Duration) {
	for _, d := range lat {
		total += d
		worst = max(worst, d)
	}
	return total, worst
}

// TestFlood puts 10 000 points into alarm at once (and out, and in again)
// while a reader lists and counts alarms without pause. It checks progress,
// not times: every Apply returns, the reader's calls complete during the
// flood, and the engine catches up with all 10 000 alarms within a bound.
// The timings are logged (go test -v -run TestFlood), with those of the
// same Applies on a cache without the engine for comparison.
func TestFlood(t *testing.T) {
	const n = 10000
	pdefs, defs := floodPlant(n)

	// The same Applies without the engine.
	bare, err := points.New(pdefs)
	if err != nil {
		t.Fatal(err)
	}
	var bareLat []time.Duration
	for _, v := range []float64{150, 50, 150} {
		bareLat = applyAll(bare, v, bareLat)
	}

	cache, err := points.New(pdefs)
	if err != nil {
		t.Fatal(err)
	}
	j := newJournal()
	e, err := New(defs, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := e.Run(ctx, cache); err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	})
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(time.Minute) // a bound for a loaded CI machine; it takes milliseconds
	waitFor := func(what string, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the engine did not catch up (stats %+v)", what, e.Stats())
			}
			time.Sleep(100 * time.Microsecond)
		}
		return time.Since(start)
	}
	waitFor("start", func() bool { return e.Stats().Evaluated >= n })

	// The reader: List of priority 1 and Summary, without pause.
	var (
		calls   atomic.Int64
		slowest atomic.Int64
		stop    = make(chan struct{})
		readers sync.WaitGroup
	)
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			e.List(Filter{Priorities: []Priority{1}})
			e.Summary()
			d := time.Since(start)
			if int64(d) > slowest.Load() {
				slowest.Store(int64(d))
			}
			calls.Add(1)
		}
	})

	active := func() int {
		s := 0
		for _, c := range e.Summary() {
			s += c.ActiveUnacked + c.ActiveAcked
		}
		return s
	}
	var lat []time.Duration
	for round, tt := range []struct {
		v      float64
		active int
	}{{150, n}, {50, 0}, {150, n}} {
		before := calls.Load()
		lat = applyAll(cache, tt.v, lat)
		catchUp := waitFor(fmt.Sprintf("round %d", round), func() bool { return active() == tt.active })
		during := calls.Load() - before
		t.Logf("round %d: %d alarms %s; engine caught up %v after the last Apply; reader calls meanwhile: %d",
			round, n, map[bool]string{true: "raised", false: "cleared"}[tt.active == n], catchUp, during)
	}
	// The reader goes on after the flood.
	after := calls.Load()
	waitFor("reader", func() bool { return calls.Load() > after+1 })
	close(stop)
	readers.Wait()

	if got := len(e.List(Filter{})); got != n {
		t.Errorf("List: %d alarms, want %d", got, n)
	}
	if got, want := j.count(ActionRaise), 2*n; got != want {
		t.Errorf("%d raises journaled, want %d", got, want)
	}
	if got, want := j.count(ActionClear), n; got != want {
		t.Errorf("%d clears journaled, want %d", got, want)
	}
	total, worst := stats(lat)
	bareTotal, bareWorst := stats(bareLat)
	t.Logf("Apply of %d updates x3 with the engine: %v (%.0f updates/s, slowest call %v); without: %v (%.0f updates/s, slowest %v)",
		n, total, 3*n/total.Seconds(), worst, bareTotal, 3*n/bareTotal.Seconds(), bareWorst)
	t.Logf("reader: %d List+Summary calls, slowest %v; stats %+v", calls.Load(), time.Duration(slowest.Load()), e.Stats())
}

// BenchmarkEvaluate measures the engine's evaluation alone: 10 000 limit
// alarms raised, then cleared, per two iterations, each change making a
// transition. alarms/s counts the transitions.
func BenchmarkEvaluate(b *testing.B) {
	const n = 10000
	pdefs, defs := floodPlant(n)
	cache, err := points.New(pdefs)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(defs, discardJournal{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	sub, err := e.start(b.Context(), cache)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	buf := e.poll(sub, nil)
	updates := make([][]points.Update, 2)
	for k, v := range []float64{150, 50} {
		for h := range points.Handle(n) {
			updates[k] = append(updates[k], points.Update{Point: h, Value: v})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		cache.Apply(updates[i%2])
		b.StartTimer()
		buf = e.poll(sub, buf[:0])
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "alarms/s")
	if got := e.Stats().Transitions; got != uint64(b.N)*n {
		b.Fatalf("%d transitions, want %d", got, b.N*n)
	}
}

// BenchmarkFlood measures end to end: 10 000 points into (or out of) alarm
// with one Apply each batch of 100, until Run has evaluated them all.
func BenchmarkFlood(b *testing.B) {
	const n = 10000
	pdefs, defs := floodPlant(n)
	cache, err := points.New(pdefs)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(defs, discardJournal{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	wg.Go(func() { e.Run(ctx, cache) })
	defer func() { cancel(); wg.Wait() }()
	for e.Stats().Evaluated < n {
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		want := e.Stats().Transitions + n
		applyAll(cache, []float64{150, 50}[i%2], nil)
		for e.Stats().Transitions < want {
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "alarms/s")
}
