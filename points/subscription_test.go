package points

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// pending reports whether the subscription's Ready channel holds a signal, and takes it.
func pending(s *Subscription) bool {
	select {
	case <-s.Ready():
		return true
	default:
		return false
	}
}

// points returns the handles of changes.
func points(changes []Change) []Handle {
	var hs []Handle
	for _, ch := range changes {
		hs = append(hs, ch.Point)
	}
	return hs
}

func TestSubscriptionCoalesces(t *testing.T) {
	c := newCache(t, testDefs(10, 0))
	sub := c.Subscribe(nil)
	defer sub.Close()
	if pending(sub) {
		t.Fatalf("Ready before any change: signalled, want not")
	}
	for i := range 100 {
		c.Apply([]Update{{Point: 4, Value: float64(i), RecvTime: at(time.Duration(i))}})
	}
	if !pending(sub) {
		t.Fatalf("Ready after 100 changes: not signalled, want signalled")
	}
	got := sub.Next(nil)
	want := Change{Point: 4, Value: c.Get(4)}
	if len(got) != 1 || got[0] != want || got[0].Value.Value != 99 {
		t.Fatalf("Next after 100 updates of point 4 = %+v, want one change %+v with value 99", got, want)
	}
	if got := sub.Next(nil); len(got) != 0 {
		t.Errorf("second Next = %+v, want nothing", got)
	}

	// 100 updates of one point in one batch: the same
	batch := make([]Update, 100)
	for i := range batch {
		batch[i] = Update{Point: 2, Value: float64(1000 + i), RecvTime: at(time.Second)}
	}
	c.Apply(batch)
	got = sub.Next(nil)
	if len(got) != 1 || got[0].Point != 2 || got[0].Value.Value != 1099 || got[0].Value.Seq != c.Get(2).Seq {
		t.Errorf("Next after a batch of 100 updates of point 2 = %+v, want one change with value 1099 and Seq %d",
			got, c.Get(2).Seq)
	}
}

func TestSubscriptionOrderBySeq(t *testing.T) {
	c := newCache(t, testDefs(3000, 0))
	sub := c.Subscribe(nil)
	defer sub.Close()
	order := []Handle{2999, 5, 1024, 1023, 0, 64, 63, 2048, 5} // across words and pages; 5 twice
	for i, h := range order {
		c.Apply([]Update{{Point: h, Value: float64(i + 1), RecvTime: at(0)}})
	}
	got := sub.Next(make([]Change, 1, 16))
	if want := []Handle{0, 2999, 1024, 1023, 0, 64, 63, 2048, 5}; !slices.Equal(points(got), want) {
		t.Errorf("Next(dst of 1) points = %v, want %v (dst[0], then in order of last change)", points(got), want)
	}
	for i := 2; i < len(got); i++ {
		if got[i].Value.Seq <= got[i-1].Value.Seq {
			t.Errorf("change %d Seq %d not above change %d Seq %d", i, got[i].Value.Seq, i-1, got[i-1].Value.Seq)
		}
	}
	if v := got[len(got)-1].Value.Value; v != 9 {
		t.Errorf("point 5 value = %v, want 9 (its last update)", v)
	}
}

func TestSubscriptionFilter(t *testing.T) {
	c := newCache(t, testDefs(5000, 0))
	watched := []Handle{3, 1500, 4999, -1, 5000, 3} // with invalid handles and a repeat
	sub := c.Subscribe(watched)
	defer sub.Close()
	none := c.Subscribe([]Handle{})
	defer none.Close()

	var batch []Update
	for h := range Handle(5000) {
		if h != 1500 {
			batch = append(batch, Update{Point: h, Value: 1, RecvTime: at(0)})
		}
	}
	c.Apply(batch)
	if got, want := points(sub.Next(nil)), []Handle{3, 4999}; !slices.Equal(got, want) {
		t.Errorf("Next with filter %v = %v, want %v", watched, got, want)
	}
	if pending(none) || len(none.Next(nil)) != 0 {
		t.Errorf("a subscription with an empty filter got a change")
	}

	c.Apply([]Update{{Point: 7, Value: 2, RecvTime: at(0)}, {Point: 8, Value: 2, RecvTime: at(0)}})
	if pending(sub) {
		t.Errorf("Ready after changes outside the filter: signalled, want not")
	}
	c.Apply([]Update{{Point: 1500, Value: 2, RecvTime: at(0)}})
	if !pending(sub) {
		t.Errorf("Ready after a change in the filter: not signalled, want signalled")
	}
	if got, want := points(sub.Next(nil)), []Handle{1500}; !slices.Equal(got, want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
}

func TestSubscriptionResyncAndClose(t *testing.T) {
	c := newCache(t, testDefs(2100, 0))
	c.Apply([]Update{{Point: 2050, Value: 5, RecvTime: at(0)}})
	sub := c.Subscribe([]Handle{2050, 1, 2})
	if got := sub.Next(nil); len(got) != 0 {
		t.Errorf("Next right after Subscribe = %+v, want nothing (no change since)", got)
	}
	sub.Resync()
	if !pending(sub) {
		t.Errorf("Ready after Resync: not signalled, want signalled")
	}
	got := sub.Next(nil)
	if !slices.Equal(points(got), []Handle{1, 2, 2050}) || got[2].Value.Value != 5 || got[0].Value.Quality != Initial {
		t.Errorf("Next after Resync = %+v, want points 1 and 2 (Initial), then 2050 with value 5", got)
	}

	all := c.Subscribe(nil)
	all.Resync()
	if got := all.Next(nil); len(got) != 2100 {
		t.Errorf("Next after Resync of a subscription to all %d points: %d changes", 2100, len(got))
	}

	sub.Close()
	sub.Close() // idempotent
	c.Apply([]Update{{Point: 1, Value: 1, RecvTime: at(0)}})
	if got := sub.Next(nil); len(got) != 0 || pending(sub) {
		t.Errorf("Next after Close = %+v, want nothing and no signal", got)
	}
	if got := points(all.Next(nil)); !slices.Equal(got, []Handle{1}) {
		t.Errorf("the other subscription after Close: Next = %v, want [1]", got)
	}
	all.Close()
	if subs := c.subs.Load(); len(*subs) != 0 {
		t.Errorf("%d subscriptions registered after closing all, want 0", len(*subs))
	}
}

func TestSubscriptionThatNeverReads(t *testing.T) {
	const n = 20_000
	c := newCache(t, testDefs(n, time.Second))
	idle := c.Subscribe(nil)
	defer idle.Close()
	filtered := c.Subscribe([]Handle{1, 15_000})
	defer filtered.Close()

	batch := make([]Update, 1000)
	apply := func(round int) {
		for i := range batch {
			batch[i] = Update{Point: Handle((round*len(batch) + i*37) % n), Value: float64(round), RecvTime: at(0)}
		}
		c.Apply(batch)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	go func() { // a time bound: Apply must not wait for the subscriber
		defer close(done)
		for round := range 100 { // 100 000 updates, each point 5 times
			apply(round)
		}
		c.SetCommFail("rtu1", true, at(0))
		c.Sweep(at(time.Hour))
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("100 000 updates with a subscriber that never reads took more than a minute")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<10 {
		t.Errorf("heap grew by %d bytes over 100 000 updates, want it flat", grown)
	}
	if allocs := testing.AllocsPerRun(20, func() { apply(7) }); allocs != 0 {
		t.Errorf("Apply with idle subscribers: %v allocations per call, want 0", allocs)
	}

	got := idle.Next(nil)
	if len(got) != n {
		t.Fatalf("Next after everything changed: %d changes, want %d (one per point)", len(got), n)
	}
	if !got[0].Value.Quality.Has(CommFail) {
		t.Errorf("change %+v: want the latest value, with CommFail", got[0])
	}
	if got := points(filtered.Next(nil)); !slices.Equal(got, []Handle{1, 15_000}) &&
		!slices.Equal(got, []Handle{15_000, 1}) {
		t.Errorf("filtered Next = %v, want points 1 and 15000", got)
	}
}

func TestRunSweeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		defs := testDefs(2, 3*time.Second)
		defs[1].MaxAge = 10 * time.Second
		c := newCache(t, defs)
		c.Apply([]Update{{Point: 0, Value: 1}, {Point: 1, Value: 1}}) // RecvTime: the bubble's now
		sub := c.Subscribe(nil)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- c.Run(ctx) }()

		time.Sleep(3*time.Second + time.Millisecond) // the ticks at 1s, 2s, 3s: point 0 not older than 3s yet
		synctest.Wait()
		if got := c.Get(0).Quality; got != 0 {
			t.Errorf("after 3s: quality of point 0 = %v, want good", got)
		}
		time.Sleep(time.Second) // tick at 4s
		synctest.Wait()
		if got, want := c.Get(0).Quality, Stale; got != want {
			t.Errorf("after 4s: quality of point 0 = %v, want %v", got, want)
		}
		if got := c.Get(1).Quality; got != 0 {
			t.Errorf("after 4s: quality of point 1 = %v, want good", got)
		}
		if !pending(sub) {
			t.Errorf("Ready after a point went stale: not signalled")
		}
		if got := points(sub.Next(nil)); !slices.Equal(got, []Handle{0}) {
			t.Errorf("Next after 4s = %v, want [0]", got)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

func TestRunEveryBadInterval(t *testing.T) {
	c := newCache(t, testDefs(1, time.Second))
	for _, d := range []time.Duration{0, -time.Second} {
		err := c.RunEvery(t.Context(), d)
		if err == nil || !strings.HasPrefix(err.Error(), "points: ") {
			t.Errorf("RunEvery(%v) = %v, want a points: error", d, err)
		}
	}
}

func TestRunEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, testDefs(1, 100*time.Millisecond))
		c.Apply([]Update{{Point: 0, Value: 1}})
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- c.RunEvery(ctx, 50*time.Millisecond) }()
		time.Sleep(160 * time.Millisecond) // ticks at 50, 100, 150 ms: stale at 150
		synctest.Wait()
		if got, want := c.Get(0).Quality, Stale; got != want {
			t.Errorf("after 160ms with a sweep every 50ms: quality = %v, want %v", got, want)
		}
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("RunEvery returned %v, want context.Canceled", err)
		}
	})
}

func TestSortBySeq(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var scratch []uint64
	for _, tt := range []struct {
		n    int
		base uint64 // smallest Seq
		span uint64 // Seqs spread over [base, base+span)
	}{
		{0, 1, 1}, {1, 1, 1}, {2, 5, 2}, {100, 1, 1000}, {127, 1, 200}, {128, 1, 200}, {1000, 1 << 40, 1 << 20},
		{5000, 7, 1 << 31}, {3000, 1, 1 << 33}, {300, 1, 1 << 63},
	} {
		seqs := map[uint64]bool{}
		var changes []Change
		for len(changes) < tt.n {
			seq := tt.base + rng.Uint64N(tt.span)
			if !seqs[seq] {
				seqs[seq] = true
				changes = append(changes, Change{Point: Handle(len(changes)), Value: Value{Seq: seq, Value: float64(seq)}})
			}
		}
		scratch = sortBySeq(changes, scratch)
		for i, ch := range changes {
			if ch.Value.Value != float64(ch.Value.Seq) {
				t.Fatalf("n %d span %d: change %d = %+v, its fields were separated", tt.n, tt.span, i, ch)
			}
			if i > 0 && ch.Value.Seq <= changes[i-1].Value.Seq {
				t.Fatalf("n %d span %d: Seq %d at %d after %d", tt.n, tt.span, ch.Value.Seq, i, changes[i-1].Value.Seq)
			}
		}
		if got := len(changes); got != tt.n {
			t.Errorf("n %d: %d changes after sorting", tt.n, got)
		}
	}
}
