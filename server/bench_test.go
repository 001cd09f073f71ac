package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hmi/alarms"
	"hmi/points"
	"hmi/web"
)

// BenchmarkLiveLatency measures the latency from cache.Apply to the WebSocket frame received by the clients:
// 100 clients on loopback, each subscribed to every point of a 1000-point plant, while 20 000 changes per second
// (batches of 20 every millisecond, random points) go into the cache. Each change carries its apply time in its
// value; a client takes the time a frame arrives, before decoding it. Changes that a later change of the same
// point replaced before a flush are coalesced away by design and have no latency. b.N is the number of changes.
//
//	go test -run '^$' -bench BenchmarkLiveLatency -benchtime 100000x ./server/
func BenchmarkLiveLatency(b *testing.B) { liveLatency(b, 100, 1000, 1000, 20000) }

// BenchmarkFanOut is the fan-out of a large plant: 100 000 points, 50 000 changes per second at random points,
// 100 clients each showing a page of 1 000 points (together all of them), so each client gets about 500 changes a
// second. Same measurement as BenchmarkLiveLatency.
//
//	go test -run '^$' -bench BenchmarkFanOut -benchtime 250000x ./server/
func BenchmarkFanOut(b *testing.B) { liveLatency(b, 100, 100_000, 1000, 50000) }

// BenchmarkScaleClients is how the fan-out grows with the browsers: 10, 100 and 300 clients of a 1 000-point page
// each, 50 000 changes per second over 100 000 points.
//
//	go test -run '^$' -bench BenchmarkScaleClients -benchtime 150000x ./server/
func BenchmarkScaleClients(b *testing.B) {
	for _, n := range []int{10, 100, 300} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { liveLatency(b, n, 100_000, 1000, 50000) })
	}
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveLatency runs clients that subscribe to perClient consecutive points each (client i from point
// i*perClient, wrapping), while rate changes per second go to random points of npoints.
func liveLatency(b *testing.B, clients, npoints, perClient, rate int) {
	batch := max(rate/1000, 1) // per millisecond
	e := newBigEnv(b, npoints)
	e.serve()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		ids := make([]string, perClient)
		for j := range ids {
			ids[j] = bigID((i*perClient + j) % npoints)
		}
		conns[i] = e.mustDial(ctx, "viewer")
		defer conns[i].CloseNow()
		send(ctx, b, conns[i], map[string]any{"type": "subscribe", "points": ids})
		next(ctx, b, conns[i], "snapshot")
	}
	epoch := time.Now()
	type sample struct{ lat []time.Duration }
	results := make([]sample, clients)
	var wg sync.WaitGroup
	var frames, bytes int64
	var mu sync.Mutex
	for i, c := range conns {
		wg.Go(func() {
			var m struct {
				Type   string `json:"type"`
				Points []struct {
					Value float64 `json:"value"`
				} `json:"points"`
			}
			var lat []time.Duration
			var n, sz int64
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					break
				}
				at := time.Since(epoch)
				n++
				sz += int64(len(data))
				m.Points = m.Points[:0]
				if json.Unmarshal(data, &m) != nil || m.Type != "points" {
					continue
				}
				for _, p := range m.Points {
					if p.Value > 0 {
						lat = append(lat, at-time.Duration(p.Value)*time.Microsecond)
					}
				}
			}
			results[i].lat = lat
			mu.Lock()
			frames += n
			bytes += sz
			mu.Unlock()
		})
	}

	rng := rand.New(rand.NewPCG(1, 2))
	updates := make([]points.Update, batch)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime(b)
	for k := 0; k*batch < b.N; k++ {
		if d := time.Until(start.Add(time.Duration(k) * time.Second / time.Duration(rate/batch))); d > 0 {
			time.Sleep(d)
		}
		stamp := float64(time.Since(epoch).Microseconds())
		for j := range updates {
			updates[j] = points.Update{Point: points.Handle(rng.IntN(npoints)), Value: stamp}
		}
		e.cache.Apply(updates)
	}
	elapsed := time.Since(start)
	time.Sleep(300 * time.Millisecond) // the last flush
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	cancel()
	wg.Wait()

	var all []time.Duration
	for _, r := range results {
		all = append(all, r.lat...)
	}
	if len(all) == 0 {
		b.Fatal("no change received")
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "changes/s")
	b.ReportMetric(float64(frames)/elapsed.Seconds(), "frames/s")
	b.ReportMetric(float64(bytes)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(len(all))/float64(clients), "delivered/client")
	// The clients' reading and decoding run in this process too: the server's share is less.
	b.ReportMetric(100*cpu.Seconds()/(elapsed+300*time.Millisecond).Seconds()/float64(runtime.NumCPU()), "cpu%-of-all-cores")
}

// BenchmarkPages renders the point list of 1 000 rows and the alarm list of 1 000 alarms through the server's
// whole handler (routing, session, CSRF, security headers, templates), in process, and reports the p50 and p99
// time per page. b.N is the number of renders of each page.
//
//	go test -run '^$' -bench BenchmarkPages -benchtime 200x ./server/
func BenchmarkPages(b *testing.B) {
	const n = 1000
	defs := make([]points.Def, n)
	adefs := alarms.Defs{}
	for i := range defs {
		defs[i] = points.Def{ID: bigID(i), Name: "Feeder " + fmt.Sprint(i) + " current", Area: "plant/f" + fmt.Sprint(i%20),
			Kind: points.Float, Unit: "A", Link: "north", CA: 1, IOA: uint32(i + 1)}
		adefs.Points = append(adefs.Points, alarms.PointDef{Point: bigID(i),
			Limits: &alarms.LimitsDef{H: &alarms.LimitDef{Value: 100, Priority: alarms.Priority(1 + i%4)}}})
	}
	cache, err := points.New(defs)
	if err != nil {
		b.Fatal(err)
	}
	engine, err := alarms.New(adefs, &memJournal{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = engine.Run(ctx, cache) }()
	defer func() { cancel(); <-done }()
	e := newEnv(b, func(cfg *Config, d *web.Deps) {
		d.Points, d.Alarms = cache, engine
		d.Controls, d.Displays = nil, nil
	})
	e.cache, e.engine = cache, engine
	now := time.Now()
	ups := make([]points.Update, n)
	for i := range ups {
		ups[i] = points.Update{Point: points.Handle(i), Value: 150 + float64(i)/7, RecvTime: now, SourceTime: now}
	}
	cache.Apply(ups)
	waitFor(b, 10*time.Second, "1 000 alarms", func() bool { return len(engine.List(alarms.Filter{})) >= n })

	for _, page := range []struct{ name, path, want string }{
		{"points", "/points", bigID(n - 1)},
		{"alarms", "/alarms", bigID(n - 1)},
	} {
		b.Run(page.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			size := 0
			for b.Loop() {
				t0 := time.Now()
				w := e.do(req{method: "GET", path: page.path, user: "viewer"})
				lat = append(lat, time.Since(t0))
				if w.Code != 200 || !strings.Contains(w.Body.String(), page.want) {
					b.Fatalf("%s: %d, %d bytes, want %q in it", page.path, w.Code, w.Body.Len(), page.want)
				}
				size = w.Body.Len()
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50_ms")
			b.ReportMetric(pct(0.99), "p99_ms")
			b.ReportMetric(float64(size)/1000, "kB/page")
		})
	}
}
