package points

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// stressValue is what the stress test's writers store for counter k: the value, the source and receive times and
// the IV bit all derive from k, so a reader can tell a torn Value.
func stressValue(h Handle, k int) Update {
	q := Quality(0)
	if k%2 == 1 {
		q = IV
	}
	tm := t0.Add(time.Duration(k) * time.Microsecond)
	return Update{Point: h, Value: float64(k), Quality: q, SourceTime: tm, RecvTime: tm}
}

// checkStress reports what is wrong with a Value that stressValue wrote, or "".
func checkStress(v Value) string {
	if v.Quality.Has(Initial) { // with a Seq when CommFail came and went
		if v.Value != 0 || !v.SourceTime.IsZero() || !v.RecvTime.IsZero() || v.Quality&IECMask != 0 {
			return fmt.Sprintf("initial value with data: %+v", v)
		}
		return ""
	}
	k := int(v.Value)
	want := stressValue(0, k)
	if !v.SourceTime.Equal(want.SourceTime) || !v.RecvTime.Equal(want.RecvTime) || v.Quality&IECMask != want.Quality ||
		v.Seq == 0 {
		return fmt.Sprintf("torn value: %+v, want times %v and IEC quality %v for value %d", v, want.RecvTime, want.Quality, k)
	}
	return ""
}

// TestStress runs writers (two per link on one link, so that they fight for points), CommFail toggles, sweeps,
// readers and subscribers at once, for a bounded number of batches, then checks that every subscriber ends with
// the cache's last value of every point it watches.
func TestStress(t *testing.T) {
	const (
		n       = 4096
		batches = 300
		size    = 64
	)
	links := []string{"a", "b", "c", "d"}
	c := newCache(t, testDefs(n, time.Millisecond, links...))
	linkPoints := map[string][]Handle{}
	for h := range Handle(n) {
		linkPoints[c.Def(h).Link] = append(linkPoints[c.Def(h).Link], h)
	}

	errs := make(chan string, 100)
	report := func(format string, args ...any) {
		select {
		case errs <- fmt.Sprintf(format, args...):
		default:
		}
	}

	// Subscribers: all points, a filter, and one that never reads; each keeps the last value it got per point.
	type watcher struct {
		sub  *Subscription
		last map[Handle]Value
	}
	filter := []Handle{0, 1, 2, 3, 1000, 1001, 4095}
	watchers := []*watcher{
		{sub: c.Subscribe(nil)}, {sub: c.Subscribe(nil)}, {sub: c.Subscribe(filter)},
	}
	idle := c.Subscribe(nil)
	defer idle.Close()
	drain := func(w *watcher) {
		for _, ch := range w.sub.Next(nil) {
			if msg := checkStress(ch.Value); msg != "" {
				report("subscriber: point %d: %s", ch.Point, msg)
			}
			if old, ok := w.last[ch.Point]; ok && ch.Value.Seq < old.Seq {
				report("subscriber: point %d: Seq went back from %d to %d", ch.Point, old.Seq, ch.Value.Seq)
			}
			w.last[ch.Point] = ch.Value
		}
	}

	var writers, others sync.WaitGroup
	stop := make(chan struct{})
	for i, l := range append(links, "a") { // link a gets two writers
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			hs := linkPoints[l]
			batch := make([]Update, size)
			for b := range batches {
				for j := range batch {
					batch[j] = stressValue(hs[rng.IntN(len(hs))], b*size+j+1)
				}
				c.Apply(batch)
			}
		})
	}
	others.Go(func() { // link c fails and comes back
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.SetCommFail("c", i%2 == 0, t0)
		}
	})
	others.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			c.Sweep(t0.Add(time.Duration(i) * time.Millisecond))
		}
	})
	for r := range 2 {
		others.Go(func() { // readers: Get and Snapshot, with Seq never going back
			rng := rand.New(rand.NewPCG(uint64(r), 2))
			seen := make([]uint64, n)
			var snap []Value
			for {
				select {
				case <-stop:
					return
				default:
				}
				h := Handle(rng.IntN(n))
				v := c.Get(h)
				if msg := checkStress(v); msg != "" {
					report("Get(%d): %s", h, msg)
				}
				if v.Seq < seen[h] {
					report("Get(%d): Seq went back from %d to %d", h, seen[h], v.Seq)
				}
				seen[h] = v.Seq
				if rng.IntN(64) == 0 {
					snap = c.Snapshot(snap[:0], nil)
					for h, v := range snap {
						if msg := checkStress(v); msg != "" {
							report("Snapshot[%d]: %s", h, msg)
						}
					}
				}
			}
		})
	}
	others.Go(func() { // subscriptions come and go
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := c.Subscribe([]Handle{5, 6, 7})
			s.Next(nil)
			s.Close()
		}
	})
	for _, w := range watchers {
		w.last = map[Handle]Value{}
		others.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-w.sub.Ready():
					drain(w)
				}
			}
		})
	}

	done := make(chan struct{})
	go func() {
		writers.Wait()
		close(stop)
		others.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("stress test still running after 2 minutes")
	}
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}

	// Quiet now: what each subscriber got, plus what is pending, is the cache's last value of each point.
	for i, w := range watchers {
		drain(w)
		hs := filter
		if i < 2 {
			hs = nil
		}
		for j, v := range c.Snapshot(nil, hs) {
			h := Handle(j)
			if hs != nil {
				h = hs[j]
			}
			if v.Seq == 0 {
				continue
			}
			if got := w.last[h]; got != v {
				t.Errorf("subscriber %d: last change of point %d = %+v, want the cache's %+v", i, h, got, v)
			}
		}
		w.sub.Close()
	}
	if got := len(idle.Next(nil)); got > n {
		t.Errorf("the idle subscriber has %d changes pending, want at most %d", got, n)
	}
}
