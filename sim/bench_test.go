package sim

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

// BenchmarkSpontaneous measures the unlimited-rate load generator: one
// connection on loopback to a minimal master that only acknowledges (w=8,
// by its iec104.Conn) and counts objects. One op is one received ASDU.
//
//	go test -run '^$' -bench Spontaneous -benchtime 5s ./sim/
func BenchmarkSpontaneous(b *testing.B) {
	for _, bc := range []struct {
		name    string
		points  int
		timeTag bool
	}{
		{"1000points", 1000, false},
		{"1000points-tb", 1000, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := Generate(bc.points)
			for i := range cfg.Points {
				cfg.Points[i].TimeTag = bc.timeTag
			}
			srv, err := New(Options{Config: cfg, Rate: Unlimited})
			if err != nil {
				b.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			srvDone := make(chan error, 1)
			go func() { srvDone <- srv.Run(ctx, ln) }()

			var asdus, objects atomic.Int64
			want := int64(b.N)
			reached := make(chan struct{})
			nc, err := iec104.Dial(ctx, ln.Addr().String(), time.Second, nil)
			if err != nil {
				b.Fatal(err)
			}
			conn, err := iec104.NewConn(nc, iec104.Options{Role: iec104.Controlling, Config: iec104.DefaultConfig(),
				OnASDU: func(a []byte) {
					objects.Add(int64(a[1] & 0x7F))
					if asdus.Add(1) == want {
						close(reached)
					}
				}})
			if err != nil {
				b.Fatal(err)
			}
			connDone := make(chan error, 1)
			go func() { connDone <- conn.Run(ctx) }()
			b.ResetTimer()
			start := time.Now()
			if err := conn.StartDT(ctx); err != nil {
				b.Fatal(err)
			}
			select {
			case <-reached:
			case <-time.After(time.Minute):
				b.Fatalf("%d of %d ASDUs in a minute", asdus.Load(), want)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			n := objects.Load()
			b.ReportMetric(float64(n)/elapsed.Seconds(), "objects/s")
			b.ReportMetric(float64(asdus.Load())/elapsed.Seconds(), "ASDUs/s")
			b.ReportMetric(float64(n)/float64(asdus.Load()), "objects/ASDU")
			cancel()
			<-connDone
			if err := <-srvDone; err != nil {
				b.Fatal(fmt.Errorf("server: %w", err))
			}
		})
	}
}
