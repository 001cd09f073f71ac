package points

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
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

// liveDefs returns n float points as a configuration file gives them, in blocks of n/links per link: IDs like
// "rtu7.f123.m4", names like "Feeder 123 measurement 4", areas like "rtu7/f123" (10 points each), unit "kV", link
// "rtu7", every string allocated per point as a YAML decoder does (frontstation's BenchmarkMemoryLive makes the same).
func liveDefs(n, links int) []Def {
	per := (n + links - 1) / links
	defs := make([]Def, n)
	for i := range defs {
		link := fmt.Sprintf("rtu%d", i/per)
		f := fmt.Sprintf("f%d", (i%per)/10)
		defs[i] = Def{
			ID: fmt.Sprintf("%s.%s.m%d", link, f, i%10), Name: fmt.Sprintf("Feeder %d measurement %d", (i%per)/10, i%10),
			Area: link + "/" + f, Kind: Float, Unit: strings.Clone("kV"), Link: link, CA: 1, IOA: uint32(i%per + 1),
			MaxAge: time.Minute,
		}
	}
	return defs
}

// BenchmarkMemory measures the heap that a cache of n points takes: "B/point" is what New adds while the caller's
// Defs exist, the index and the cache's copy of the Defs included; "B/point+strings" is the cache once the caller
// has dropped its Defs, with the strings that the cache retains. defs=shared are benchDefs (short IDs and names, one
// area, unit and link string shared by all points); defs=copied are liveDefs (every string allocated per point, as
// a configuration decoder gives them). Run with -benchtime=1x.
func BenchmarkMemory(b *testing.B) {
	for _, bc := range []struct {
		n    int
		defs string
		make func(n, links int) []Def
	}{
		{100_000, "shared", benchDefs}, {1_000_000, "shared", benchDefs}, {1_000_000, "copied", liveDefs},
	} {
		b.Run(fmt.Sprintf("points=%d/defs=%s", bc.n, bc.defs), func(b *testing.B) {
			var perPoint, withStrings float64
			for b.Loop() {
				var start, before, after, dropped runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&start)
				defs := bc.make(bc.n, 100)
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
				perPoint = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(bc.n)
				withStrings = float64(int64(dropped.HeapAlloc)-int64(start.HeapAlloc)) / float64(bc.n)
			}
			b.ReportMetric(perPoint, "B/point")
			b.ReportMetric(withStrings, "B/point+strings")
		})
	}
}

// BenchmarkLookup measures Lookup in a cache of 1 000 000 liveDefs, of IDs that exist (in random order, each a
// fresh copy as a web request brings it) and of IDs that do not.
func BenchmarkLookup(b *testing.B) {
	const n = 1_000_000
	defs := liveDefs(n, 10)
	c := newCache(b, defs)
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, 4096)
	for _, hit := range []bool{true, false} {
		name := "hit"
		for i := range ids {
			ids[i] = strings.Clone(defs[rng.IntN(n)].ID)
			if !hit {
				ids[i] += "x"
			}
		}
		if !hit {
			name = "miss"
		}
		b.Run(name, func(b *testing.B) {
			k := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := c.Lookup(ids[k%len(ids)]); ok != hit {
					b.Fatalf("Lookup(%q) found %v, want %v", ids[k%len(ids)], ok, hit)
				}
				k++
			}
		})
	}
}

// BenchmarkDef measures Def of random points of a cache of 1 000 000 liveDefs: "hot" of 4096 points over and over,
// "cold" of points all over the cache, as the event journal's hook asks for them.
func BenchmarkDef(b *testing.B) {
	const n = 1_000_000
	c := newCache(b, liveDefs(n, 10))
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bc := range []struct {
		name   string
		points int
	}{{"hot", 4096}, {"cold", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			hs := make([]Handle, bc.points)
			for i := range hs {
				hs[i] = Handle(rng.IntN(n))
			}
			var sink int
			k := 0
			b.ReportAllocs()
			for b.Loop() {
				d := c.Def(hs[k%len(hs)])
				sink += len(d.ID) + int(d.Kind)
				k++
			}
			runtime.KeepAlive(sink)
		})
	}
}

// BenchmarkSweep measures a Sweep of 1 000 000 points with a MaxAge, none of them due.
func BenchmarkSweep(b *testing.B) {
	const n = 1_000_000
	c := newCache(b, benchDefs(n, 100))
	ups := make([]Update, 0, 1000)
	now := time.Now()
	for i := range n {
		ups = append(ups, Update{Point: Handle(i), Value: 1, RecvTime: now})
		if len(ups) == cap(ups) {
			c.Apply(ups)
			ups = ups[:0]
		}
	}
	for b.Loop() {
		c.Sweep(now)
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkSetCommFail measures SetCommFail on and off of a link of 10 000 points in a cache of 1 000 000.
func BenchmarkSetCommFail(b *testing.B) {
	const n = 1_000_000
	c := newCache(b, benchDefs(n, 100))
	on := false
	for b.Loop() {
		on = !on
		c.SetCommFail("rtu7", on, t0)
	}
	b.ReportMetric(float64(b.N*n/100)/b.Elapsed().Seconds(), "points/s")
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
