package server

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hmi/points"
)

// BenchmarkLiveLatency measures the latency from cache.Apply to the WebSocket frame received by the clients:
// 100 clients on loopback, each subscribed to every point of a 1000-point plant, while 20 000 changes per second
// (batches of 20 every millisecond, random points) go into the cache. Each change carries its apply time in its
// value; a client takes the time a frame arrives, before decoding it. Changes that a later change of the same
// point replaced before a flush are coalesced away by design and have no latency. b.N is the number of changes.
//
//	go test -run '^$' -bench BenchmarkLiveLatency -benchtime 100000x ./server/
func BenchmarkLiveLatency(b *testing.B) {
	const (
		clients = 100
		npoints = 1000
		rate    = 20000 // changes per second
		batch   = 20    // per millisecond
	)
	e := newBigEnv(b, npoints)
	e.serve()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := make([]string, npoints)
	for i := range ids {
		ids[i] = bigID(i)
	}
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
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
	start := time.Now()
	for k := 0; k*batch < b.N; k++ {
		if d := time.Until(start.Add(time.Duration(k) * time.Second / (rate / batch))); d > 0 {
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
}
