package frontstation

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/points"
	"hmi/sim"
)

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchStation runs n simulators of size points each at rate (sim.Unlimited
// for full rate) and one link per simulator into one cache.
func benchStation(b *testing.B, n, size int, rate float64) (*points.Cache, []*Link) {
	c, ls, _ := benchStationSims(b, n, size, rate)
	return c, ls
}

// benchStationSims is benchStation that also returns the simulators.
func benchStationSims(b *testing.B, n, size int, rate float64) (*points.Cache, []*Link, []*sim.Server) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var defs []points.Def
	var cfgs []LinkConfig
	var sims []*sim.Server
	for i := range n {
		cfg := sim.Generate(size)
		srv, err := sim.New(sim.Options{Config: cfg, Rate: rate, Seed: uint64(i + 1)})
		if err != nil {
			b.Fatal(err)
		}
		sims = append(sims, srv)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() { srv.Run(ctx, ln); close(done) }()
		b.Cleanup(func() { <-done })
		name := fmt.Sprintf("rtu%d", i)
		lc := LinkConfig{Name: name, Addresses: []string{ln.Addr().String()}, CA: cfg.CA, APCI: iec104.DefaultConfig()}
		for _, sp := range cfg.Points {
			k, _ := points.ParseKind(sp.Kind.String())
			id := fmt.Sprintf("%s.p%d", name, sp.IOA)
			defs = append(defs, points.Def{ID: id, Kind: k, Link: name, CA: cfg.CA, IOA: sp.IOA})
			lc.Points = append(lc.Points, PointMap{ID: id, CA: cfg.CA, IOA: sp.IOA, Kind: k})
		}
		cfgs = append(cfgs, lc)
	}
	cache, err := points.New(defs)
	if err != nil {
		b.Fatal(err)
	}
	var links []*Link
	for _, lc := range cfgs {
		for j := range lc.Points {
			lc.Points[j].Point, _ = cache.Lookup(lc.Points[j].ID)
		}
		l, err := NewLink(lc, cache)
		if err != nil {
			b.Fatal(err)
		}
		links = append(links, l)
		done := make(chan struct{})
		go func() { l.Run(ctx); close(done) }()
		b.Cleanup(func() { <-done })
	}
	b.Cleanup(cancel)
	for _, l := range links {
		for l.Stats().LastInterrogation.IsZero() {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return cache, links, sims
}

func rxObjects(links []*Link) uint64 {
	var n uint64
	for _, l := range links {
		n += l.Stats().RxObjects
	}
	return n
}

// benchIngest measures objects received and applied to the cache while
// b.N objects arrive. CPU time counts the simulators too: they run in the
// same process.
func benchIngest(b *testing.B, links []*Link) {
	start, cpu0, t0 := rxObjects(links), cpuTime(b), time.Now()
	b.ResetTimer()
	for rxObjects(links)-start < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	got, cpu, d := rxObjects(links)-start, cpuTime(b)-cpu0, time.Since(t0)
	b.ReportMetric(float64(got)/d.Seconds(), "objects/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(got), "cpu-ns/object")
}

// BenchmarkIngestOneLink: hmi sim at full rate -> one link -> cache.
func BenchmarkIngestOneLink(b *testing.B) {
	_, links := benchStation(b, 1, 1000, sim.Unlimited)
	benchIngest(b, links)
}

// BenchmarkIngest100Links: 100 simulators at full rate -> 100 links -> one cache.
func BenchmarkIngest100Links(b *testing.B) {
	_, links := benchStation(b, 100, 100, sim.Unlimited)
	benchIngest(b, links)
}

// BenchmarkInterrogation100k: time from the interrogation command to its
// ACTTERM with every one of 100 000 points applied.
func BenchmarkInterrogation100k(b *testing.B) {
	_, links := benchStation(b, 1, 100_000, 0)
	l := links[0]
	st, since := l.State()
	if st != Active {
		b.Fatalf("link %v", st)
	}
	first := l.Stats().LastInterrogation.Sub(since)
	interrogations(b, l)
	b.ReportMetric(first.Seconds()*1000, "ms-startdt-to-gi-done")
}

// BenchmarkPaced100Links: 100 simulators of 1 000 points, each making 5 000
// changes per second (500 000/s in all), into 100 links and one cache.
// Each iteration is one second of that load (-benchtime=10x: ten seconds).
// It reports the rate applied, the CPU used (of all cores, simulators
// included: they run in this process), and the backlog, the changes the
// simulators made but the links did not apply yet, after the first second
// and at the end: flat when the HMI keeps up. (The simulators never let
// more than a second of changes accumulate, and slow down instead: a
// falling applied rate shows that too.)
func BenchmarkPaced100Links(b *testing.B) { paced(b, 100, 1000, 5000) }

// BenchmarkScaleLinks is how the cost grows with the number of links: 10, 100 and 300 links of 1 000 points, each
// making 1 000 changes per second (-benchtime=10x: ten seconds each).
func BenchmarkScaleLinks(b *testing.B) {
	for _, n := range []int{10, 100, 300} {
		b.Run(fmt.Sprintf("links=%d", n), func(b *testing.B) { paced(b, n, 1000, 1000) })
	}
}

// BenchmarkScaleRate is how the cost grows with the change rate: 100 links of 1 000 points making 10 000, 100 000
// and 500 000 changes per second in all.
func BenchmarkScaleRate(b *testing.B) {
	for _, rate := range []int{10_000, 100_000, 500_000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { paced(b, 100, 1000, float64(rate)/100) })
	}
}

// paced runs links simulators of size points, each making perLink changes per second, into as many links and one
// cache; each iteration is one second of that load.
func paced(b *testing.B, links, size int, perLink float64) {
	_, ls, sims := benchStationSims(b, links, size, perLink)
	// Let the generators settle after the interrogations.
	time.Sleep(500 * time.Millisecond)
	made := func() (n uint64) {
		for _, s := range sims {
			n += s.Changes()
		}
		return n
	}
	start, made0, cpu0, t0 := rxObjects(ls), made(), cpuTime(b), time.Now()
	// The changes the simulators made since t0 that the links have not applied yet (besides those of before t0).
	backlog := func() float64 {
		return float64(made()-made0) - float64(rxObjects(ls)-start)
	}
	var first, last, worst float64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		time.Sleep(time.Second)
		last = backlog()
		if i == 0 {
			first = last
		}
		worst = max(worst, last)
	}
	b.StopTimer()
	got, cpu, d := rxObjects(ls)-start, cpuTime(b)-cpu0, time.Since(t0)
	b.ReportMetric(float64(got)/d.Seconds(), "objects/s")
	b.ReportMetric(100*cpu.Seconds()/d.Seconds(), "cpu%")
	b.ReportMetric(100*cpu.Seconds()/d.Seconds()/float64(runtime.NumCPU()), "cpu%-of-all-cores")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(got, 1)), "cpu-ns/object")
	b.ReportMetric(first, "backlog-first")
	b.ReportMetric(last, "backlog-last")
	b.ReportMetric(worst, "backlog-max")
}

// BenchmarkMemoryLive measures the heap that 1 000 000 configured points take once live: the point cache, the
// configuration's strings (IDs like "rtu7.f123.current", names, areas, units), the maps of 10 links of 100 000
// points each, and a value of every point applied. B/point is all of it divided by the points: what the HMI holds
// per point, not counting its web server or database. Run with -benchtime=1x.
func BenchmarkMemoryLive(b *testing.B) { memoryLive(b, 1_000_000, 10) }

// BenchmarkScalePoints is how memory grows with the points: 10 000, 100 000 and 1 000 000 live points, in links
// of at most 100 000.
func BenchmarkScalePoints(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("points=%d", n), func(b *testing.B) { memoryLive(b, n, max(n/100_000, 1)) })
	}
}

// interrogations runs b.N station interrogations on l, one at a time, and reports their mean time, act to ACTTERM
// with every point applied.
func interrogations(b *testing.B, l *Link) {
	var total time.Duration
	for b.Loop() {
		before := l.Stats().LastInterrogation
		l.Interrogate()
		for l.Stats().LastInterrogation.Equal(before) {
			time.Sleep(time.Millisecond)
		}
		total += l.Stats().InterrogationTime
	}
	b.ReportMetric(total.Seconds()*1000/float64(b.N), "ms/interrogation")
}

// BenchmarkScaleInterrogation is how the interrogation time grows with the points of one station: 10 000,
// 100 000 and 300 000.
func BenchmarkScaleInterrogation(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 300_000} {
		b.Run(fmt.Sprintf("points=%d", n), func(b *testing.B) {
			_, links := benchStation(b, 1, n, 0)
			interrogations(b, links[0])
		})
	}
}

func memoryLive(b *testing.B, n, links int) {
	var perPoint float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		per := n / links
		defs := make([]points.Def, n)
		cfgs := make([]LinkConfig, links)
		for i := range defs {
			l := i / per
			link := fmt.Sprintf("rtu%d", l)
			f := fmt.Sprintf("f%d", (i%per)/10)
			defs[i] = points.Def{ID: fmt.Sprintf("%s.%s.m%d", link, f, i%10), Name: fmt.Sprintf("Feeder %d measurement %d", (i%per)/10, i%10),
				Area: link + "/" + f, Kind: points.Float, Unit: "kV", Link: link, CA: 1, IOA: uint32(i%per + 1), MaxAge: time.Minute}
			if cfgs[l].Name == "" {
				cfgs[l] = LinkConfig{Name: link, Addresses: []string{"127.0.0.1:2404"}, CA: 1, APCI: iec104.DefaultConfig()}
			}
		}
		cache, err := points.New(defs)
		if err != nil {
			b.Fatal(err)
		}
		var ls []*Link
		for l := range cfgs {
			for i := l * per; i < (l+1)*per; i++ {
				h, _ := cache.Lookup(defs[i].ID)
				cfgs[l].Points = append(cfgs[l].Points, PointMap{Point: h, ID: defs[i].ID, CA: 1, IOA: defs[i].IOA, Kind: points.Float})
			}
			lk, err := NewLink(cfgs[l], cache)
			if err != nil {
				b.Fatal(err)
			}
			ls = append(ls, lk)
			cfgs[l].Points = nil
		}
		defs = nil
		now := time.Now()
		ups := make([]points.Update, 0, 1000)
		for i := range n {
			ups = append(ups, points.Update{Point: points.Handle(i), Value: float64(i), RecvTime: now, SourceTime: now})
			if len(ups) == cap(ups) {
				cache.Apply(ups)
				ups = ups[:0]
			}
		}
		ups = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(cache)
		runtime.KeepAlive(ls)
		perPoint = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	}
	b.ReportMetric(perPoint, "B/point")
}
