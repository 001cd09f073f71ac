package points

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchDefs returns n float points with short, distinct IDs and names, in blocks of n/links contiguous handles per
// link, each with a MaxAge (so that the Sweep list is full too).
func benchDefs(n, links int) []Def {
	linkNames := make([]string, links)
	for i := range linkNames {
		linkNames[i] = "rtu" + strconv.Itoa(i)
	}
	per := (n + links - 1) / links
	defs := make([]Def, n)
	for i := range defs {
		s := strconv.Itoa(i)
		defs[i] = Def{
			ID: "p" + s, Name: "P " + s, Area: "north/f1", Kind: Float, Unit: "kV",
			Link: linkNames[i/per], CA: 1, IOA: uint32(i % per), MaxAge: time.Minute,
		}
	}
	return defs
}

// BenchmarkApply measures Apply from parallel writers, one link each (run with -cpu 2 for two cores), in batches of
// 100 updates of random points of the link, every update a change. Subscribers: "all" ones watch every point and a
// goroutine each drains them whenever Ready fires, "filtered" ones watch 200 points each (a browser's display) and
// drain the same way, "idle" ones watch every point and never read.
func BenchmarkApply(b *testing.B) {
	const (
		n     = 100_000
		links = 16
		batch = 100
	)
	for _, bc := range []struct {
		subs int
		kind string
	}{
		{0, "none"}, {1, "all"}, {100, "all"}, {100, "filtered"}, {100, "idle"},
	} {
		b.Run(fmt.Sprintf("subs=%d/%s", bc.subs, bc.kind), func(b *testing.B) {
			c := newCache(b, benchDefs(n, links))
			var consumers sync.WaitGroup
			stop := make(chan struct{})
			var changes atomic.Int64
			for i := range bc.subs {
				var filter []Handle
				if bc.kind == "filtered" {
					for j := range 200 {
						filter = append(filter, Handle((i*997+j*131)%n))
					}
				}
				s := c.Subscribe(filter)
				defer s.Close()
				if bc.kind == "idle" {
					continue
				}
				consumers.Go(func() {
					var buf []Change
					for {
						select {
						case <-stop:
							return
						case <-s.Ready():
							buf = s.Next(buf[:0])
							changes.Add(int64(len(buf)))
						}
					}
				})
			}
			var next atomic.Int32
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				l := int(next.Add(1)-1) % links
				per := n / links
				rng := rand.New(rand.NewPCG(uint64(l), 3))
				ups := make([]Update, batch)
				now := time.Now()
				k := 0
				for pb.Next() {
					for i := range ups {
						k++
						ups[i] = Update{Point: Handle(l*per + rng.IntN(per)), Value: float64(k), RecvTime: now}
					}
					c.Apply(ups)
				}
			})
			b.StopTimer()
			close(stop)
			consumers.Wait()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N*batch)/sec, "updates/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/update")
			if bc.subs > 0 && bc.kind != "idle" {
				b.ReportMetric(float64(changes.Load())/sec, "delivered/s")
			}
		})
	}
}

// BenchmarkMemory measures the heap that a cache of n points takes: "B/point" is what New adds once the caller's
// Defs exist, the index and the cache's copy of the Defs included; "B/point+strings" is the same with the Defs'
// strings counted, as the cache retains them once the caller drops its slice. Run with -benchtime=1x.
func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("points=%d", n), func(b *testing.B) {
			var perPoint, withStrings float64
			for b.Loop() {
				var start, before, after, dropped runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&start)
				defs := benchDefs(n, 100)
				runtime.GC()
				runtime.ReadMemStats(&before)
				c, err := New(defs)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(defs)
				defs = nil
				runtime.GC()
				runtime.ReadMemStats(&dropped)
				runtime.KeepAlive(c)
				perPoint = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
				withStrings = float64(int64(dropped.HeapAlloc)-int64(start.HeapAlloc)) / float64(n)
			}
			b.ReportMetric(perPoint, "B/point")
			b.ReportMetric(withStrings, "B/point+strings")
		})
	}
}

// BenchmarkSubscriptionMemory measures what a subscription to every point, and one to 200 points, costs in a cache
// of 1 000 000 points.
func BenchmarkSubscriptionMemory(b *testing.B) {
	const n = 1_000_000
	c := newCache(b, benchDefs(n, 100))
	for _, filtered := range []bool{false, true} {
		name := "all"
		var filter []Handle
		if filtered {
			name = "filter=200"
			for j := range 200 {
				filter = append(filter, Handle(j*4999))
			}
		}
		b.Run(name, func(b *testing.B) {
			var size float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := c.Subscribe(filter)
				runtime.GC()
				runtime.ReadMemStats(&after)
				size = float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
				s.Close()
			}
			b.ReportMetric(size, "B/subscription")
		})
	}
}

// BenchmarkSnapshot measures Snapshot of all 10 000 points of a cache into a reused slice.
func BenchmarkSnapshot(b *testing.B) {
	const n = 10_000
	c := newCache(b, benchDefs(n, 10))
	ups := make([]Update, n)
	now := time.Now()
	for i := range ups {
		ups[i] = Update{Point: Handle(i), Value: float64(i), Quality: NT, SourceTime: now, RecvTime: now}
	}
	c.Apply(ups)
	dst := make([]Value, 0, n)
	b.ReportAllocs()
	for b.Loop() {
		dst = c.Snapshot(dst[:0], nil)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkNext measures draining a subscription to all of 100 000 points with 10 000 of them changed.
func BenchmarkNext(b *testing.B) {
	const n, changed = 100_000, 10_000
	c := newCache(b, benchDefs(n, 10))
	s := c.Subscribe(nil)
	defer s.Close()
	ups := make([]Update, changed)
	now := time.Now()
	var buf []Change
	b.ReportAllocs()
	k := 0
	for b.Loop() {
		b.StopTimer()
		for i := range ups {
			k++
			ups[i] = Update{Point: Handle(i * (n / changed)), Value: float64(k), RecvTime: now}
		}
		c.Apply(ups)
		b.StartTimer()
		buf = s.Next(buf[:0])
	}
	if len(buf) != changed {
		b.Fatalf("Next returned %d changes, want %d", len(buf), changed)
	}
	b.ReportMetric(float64(b.N*changed)/b.Elapsed().Seconds(), "changes/s")
}
