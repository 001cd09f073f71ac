package demo

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"hmi/frontstation/iec104"
	"hmi/sim"
)

// testStation is a real simulator with a small substation: a transformer,
// a busbar, two feeders, a solar park and a capacitor bank.
func testStation(t *testing.T) (*sim.Server, map[string]Point) {
	t.Helper()
	kinds := map[string]sim.Kind{
		"s.t1.hv_breaker": sim.Double, "s.t1.tap": sim.Step, "s.t1.avr": sim.Single, "s.t1.voltage_setpoint": sim.Float,
		"s.t1.oil_temp": sim.Float, "s.t1.loading": sim.Normalized, "s.t1.alarms": sim.Bitstring,
		"s.bus.voltage": sim.Float, "s.bus.frequency": sim.Scaled,
		"s.pv.breaker": sim.Double, "s.pv.p": sim.Float, "s.pv.limit": sim.Scaled, "s.pv.energy": sim.Counter,
		"s.cap.breaker": sim.Double, "s.cap.q": sim.Float,
	}
	for _, f := range []string{"s.f1", "s.f2", "s.f3"} {
		for role, k := range map[string]sim.Kind{"breaker": sim.Double, "disconnector": sim.Double, "trip": sim.Single,
			"current": sim.Float, "p": sim.Float, "q": sim.Float, "energy": sim.Counter} {
			kinds[f+"."+role] = k
		}
	}
	binds := map[string]Point{}
	var cfg sim.Config
	cfg.CA = 1
	ioa := uint32(1)
	for id, k := range kinds {
		p := Point{IOA: ioa, Kind: k}
		switch id {
		case "s.t1.loading":
			p.Scale = 100
		case "s.bus.frequency":
			p.Scale = 0.01
		}
		binds[id] = p
		cfg.Points = append(cfg.Points, sim.Point{IOA: ioa, Name: id, Kind: k})
		ioa++
	}
	srv, err := sim.New(sim.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return srv, binds
}

func newModel(t *testing.T, opts Options) *Substation {
	t.Helper()
	srv, binds := testStation(t)
	opts.TripEvery = -1
	m, err := NewSubstation(srv, binds, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Prime(); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *Substation) must(t *testing.T, id string) float64 {
	t.Helper()
	v, ok := m.get(id)
	if !ok {
		t.Fatalf("no point %s", id)
	}
	return v
}

// operate changes a point as a command would, and lets the model react.
func (m *Substation) operate(t *testing.T, id string, v float64) {
	t.Helper()
	p := m.bind[id]
	if err := m.st.Set(p.IOA, (v-p.Offset)/p.scale(), 0); err != nil {
		t.Fatal(err)
	}
	m.Executed(p.IOA)
	<-m.wake
	m.step(time.Now(), false)
}

func TestPrimePlausible(t *testing.T) {
	m := newModel(t, Options{})
	if v := m.must(t, "s.bus.voltage"); v < 19 || v > 21.5 {
		t.Errorf("busbar voltage %.2f kV, want about 20", v)
	}
	if f := m.must(t, "s.bus.frequency"); math.Abs(f-50) > 0.1 {
		t.Errorf("frequency %.2f", f)
	}
	for _, f := range m.Feeders() {
		p, i := m.must(t, f+".p"), m.must(t, f+".current")
		if p < 1 || p > 7 || i < 20 || i > 250 {
			t.Errorf("%s: %.2f MW %.1f A, want a few MW and tens of amperes", f, p, i)
		}
		if m.must(t, f+".breaker") != 2 || m.must(t, f+".disconnector") != 2 || m.must(t, f+".trip") != 0 {
			t.Errorf("%s: not closed and healthy at start", f)
		}
	}
	if l := m.must(t, "s.t1.loading"); l < 10 || l > 60 {
		t.Errorf("loading %.1f %%", l)
	}
}

func TestBreakerDropsLoad(t *testing.T) {
	m := newModel(t, Options{})
	other := m.must(t, "s.f2.p")
	m.operate(t, "s.f1.breaker", 1)
	if p, i, q := m.must(t, "s.f1.p"), m.must(t, "s.f1.current"), m.must(t, "s.f1.q"); p != 0 || i != 0 || q != 0 {
		t.Errorf("feeder 1 open: %.2f MW %.2f Mvar %.1f A, want 0", p, q, i)
	}
	if p := m.must(t, "s.f2.p"); math.Abs(p-other) > 0.2*other {
		t.Errorf("feeder 2 moved from %.2f to %.2f MW when feeder 1 opened", other, p)
	}
	m.operate(t, "s.f1.breaker", 2)
	if p := m.must(t, "s.f1.p"); p < 1 {
		t.Errorf("feeder 1 closed again: %.2f MW", p)
	}
	m.operate(t, "s.f1.disconnector", 1)
	if p := m.must(t, "s.f1.p"); p != 0 {
		t.Errorf("feeder 1 disconnector open: %.2f MW", p)
	}
}

func TestTapMovesVoltage(t *testing.T) {
	m := newModel(t, Options{})
	m.operate(t, "s.t1.avr", 0) // manual
	before := m.must(t, "s.bus.voltage")
	tap := m.must(t, "s.t1.tap")
	m.operate(t, "s.t1.tap", tap+2)
	after := m.must(t, "s.bus.voltage")
	if d := after - before; d < 0.3 || d > 0.7 {
		t.Errorf("two taps up: %.3f -> %.3f kV (%+.3f), want about +0.5", before, after, d)
	}
	m.operate(t, "s.t1.tap", 30) // beyond the changer's range: held at the end stop
	if v := m.must(t, "s.t1.tap"); v != tapMax {
		t.Errorf("tap %v, want the end stop %d", v, tapMax)
	}
}

func TestRegulatorHoldsSetpoint(t *testing.T) {
	m := newModel(t, Options{})
	m.operate(t, "s.t1.voltage_setpoint", 21)
	now := time.Now()
	for i := range 200 {
		m.step(now.Add(time.Duration(i)*time.Second), true)
	}
	if v := m.must(t, "s.bus.voltage"); math.Abs(v-21) > avrBand+0.1 {
		t.Errorf("regulator in auto: %.2f kV after 200 s, set-point 21", v)
	}
}

func TestTripOpensBreaker(t *testing.T) {
	m := newModel(t, Options{})
	m.operate(t, "s.f3.trip", 1) // test trip from the protection's command
	if b := m.must(t, "s.f3.breaker"); b != 1 {
		t.Fatalf("tripped feeder's breaker %v, want open (1)", b)
	}
	if p := m.must(t, "s.f3.p"); p != 0 {
		t.Errorf("tripped feeder carries %.2f MW", p)
	}
	m.operate(t, "s.f3.breaker", 2) // closed onto the unreset trip: opens again
	if b := m.must(t, "s.f3.breaker"); b != 1 {
		t.Errorf("breaker closed while tripped stays %v, want reopened", b)
	}
	m.operate(t, "s.f3.trip", 0)
	m.operate(t, "s.f3.breaker", 2)
	if p := m.must(t, "s.f3.p"); p < 1 {
		t.Errorf("after reset and close: %.2f MW", p)
	}
}

func TestRandomTrips(t *testing.T) {
	srv, binds := testStation(t)
	m, err := NewSubstation(srv, binds, Options{FirstTrip: time.Second, TripEvery: time.Second, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Prime(); err != nil {
		t.Fatal(err)
	}
	m.nextTrip = m.start.Add(time.Second)
	for i := range 120 {
		m.step(m.start.Add(time.Duration(i)*time.Second), true)
	}
	tripped := 0
	for _, f := range m.Feeders() {
		if m.must(t, f+".trip") == 1 {
			tripped++
			if m.must(t, f+".breaker") != 1 {
				t.Errorf("%s tripped with its breaker closed", f)
			}
		}
	}
	if tripped != len(m.Feeders())-1 {
		t.Errorf("%d feeders tripped after 2 minutes of a trip a second, want all but the last in service (%d)", tripped, len(m.Feeders())-1)
	}
}

func TestEnergyAndHVBreaker(t *testing.T) {
	m := newModel(t, Options{})
	e0 := m.must(t, "s.f1.energy")
	now := time.Now()
	for i := range 3600 {
		m.step(now.Add(time.Duration(i)*time.Second), true)
	}
	e1 := m.must(t, "s.f1.energy")
	p := m.must(t, "s.f1.p")
	if d := e1 - e0; d < 0.5*p*1000 || d > 2*p*1000 {
		t.Errorf("an hour at about %.2f MW counted %.0f kWh", p, d)
	}
	m.operate(t, "s.t1.hv_breaker", 1)
	if v := m.must(t, "s.bus.voltage"); v != 0 {
		t.Errorf("busbar at %.2f kV with the transformer's breaker open", v)
	}
	for _, f := range m.Feeders() {
		if i := m.must(t, f+".current"); i != 0 {
			t.Errorf("%s carries %.1f A on a dead busbar", f, i)
		}
	}
}

func TestNewSubstationRefusesNonsense(t *testing.T) {
	srv, _ := testStation(t)
	_, err := NewSubstation(srv, map[string]Point{"a.b.c": {IOA: 1, Kind: sim.Float}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "no feeder") {
		t.Fatalf("err = %v, want no feeder", err)
	}
}

func TestRunStopsAndReacts(t *testing.T) {
	srv, binds := testStation(t)
	m, err := NewSubstation(srv, binds, Options{Tick: time.Hour, TripEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	// Run primes; then a command wakes it at once (the tick is an hour).
	deadline := time.Now().Add(5 * time.Second)
	for {
		if o, _ := srv.Get(binds["s.f1.breaker"].IOA); o.State == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not primed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := srv.Set(binds["s.f1.breaker"].IOA, 1, iec104.Quality(0)); err != nil {
		t.Fatal(err)
	}
	m.Executed(binds["s.f1.breaker"].IOA)
	for {
		if o, _ := srv.Get(binds["s.f1.p"].IOA); o.Float == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reaction to the command within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
