// Package demo is the embedded demo plant of hmi: its configuration and
// single-line diagrams, the certificates of its TLS RTU, and Substation,
// the process model that drives a simulator's points so that the plant
// behaves plausibly (a breaker that opens drops its feeder's load, a tap
// change moves the voltage, protection trips now and then).
package demo

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"hmi/frontstation/iec104"
	"hmi/sim"
)

// Point binds a point ID of the configuration to the simulator's point.
type Point struct {
	IOA    uint32
	Kind   sim.Kind
	Scale  float64 // engineering = raw*Scale + Offset; 0 means 1
	Offset float64
}

// Station is what the model acts on: sim.Server does.
type Station interface {
	Get(ioa uint32) (iec104.Object, bool)
	Set(ioa uint32, value float64, q iec104.Quality) error
}

// Options tune a Substation. The zero value is the demo's.
type Options struct {
	Tick time.Duration // model step; default 1s
	// FirstTrip is the earliest time after start of the first random
	// protection trip; TripEvery the mean time between trips after it.
	// Defaults 90s and 10m; a negative TripEvery makes no random trips.
	FirstTrip, TripEvery time.Duration
	Seed                 uint64
	Logger               *slog.Logger
}

// Electrical constants of the demo: 20 kV busbars fed by 40 MVA
// transformers whose tap changer moves the voltage by 1.25 % a step.
const (
	nominalKV   = 20.0
	ratedMVA    = 40.0
	tapStep     = 0.0125
	tapMin      = -8
	tapMax      = 8
	impedanceKV = 1.2  // voltage drop at rated load
	capMvar     = 2.4  // capacitor bank at nominal voltage
	pvMW        = 6.0  // solar park peak
	avrBand     = 0.15 // kV: the regulator acts beyond set-point +- this
	avrDelay    = 5    // ticks beyond the band before a tap change
	loadPeriod  = 10 * time.Minute
	sunPeriod   = 20 * time.Minute
	refreshAll  = 30 * time.Second // analogs are reported at least this often
	powerFactor = 0.95
)

// Substation drives the points of one substation, which it finds by their
// IDs, STATION.BAY.ROLE:
//
//   - a bay with roles breaker and p or current is a feeder: its load (p, q,
//     current, energy) flows while its breaker and disconnector (when it has
//     one) are closed and the busbar is live; trip is its protection (a
//     random trip, or a command that sets it, opens the breaker; the trip
//     stays until reset, and the breaker reopens while it is tripped);
//   - bay "pv" is a solar park (p follows the sun, capped by limit, in %),
//     bay "cap" a capacitor bank (q when its breaker is closed, raising the
//     busbar voltage);
//   - a bay with role tap is the transformer: hv_breaker feeds the busbar,
//     tap moves its voltage, avr (auto) changes the tap to hold
//     voltage_setpoint, loading and oil_temp follow the load, the alarm
//     word's bit 1 is set while the oil is hot;
//   - bay "bus" has voltage and frequency.
//
// Roles it does not know are left alone. Every method is safe for
// concurrent use with Run.
type Substation struct {
	st    Station
	opts  Options
	log   *slog.Logger
	rng   *rand.Rand
	bind  map[string]Point
	wake  chan struct{}
	start time.Time

	feeders []*feeder
	tr      string // transformer bay prefix "STATION.BAY", "" for none
	bus     string
	pv, cap string

	// model state, owned by Run
	temp      float64
	avrCount  int
	nextTrip  time.Time
	lastFull  time.Time
	reported  map[uint32]float64
	energyAcc map[uint32]float64
}

type feeder struct {
	id    string  // "STATION.BAY"
	base  float64 // MW
	phase float64
}

// NewSubstation binds the model to the points of st; points maps the
// configuration's point IDs to the simulator's points. It fails when the
// points do not make a substation (no feeder and no transformer).
func NewSubstation(st Station, points map[string]Point, opts Options) (*Substation, error) {
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	if opts.FirstTrip == 0 {
		opts.FirstTrip = 90 * time.Second
	}
	if opts.TripEvery == 0 {
		opts.TripEvery = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Substation{
		st: st, opts: opts, log: opts.Logger, bind: points,
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0xde30)),
		wake:     make(chan struct{}, 1),
		reported: map[uint32]float64{}, energyAcc: map[uint32]float64{},
	}
	bays := map[string]map[string]bool{}
	for id := range points {
		i := strings.LastIndexByte(id, '.')
		if i <= 0 {
			continue
		}
		bay, role := id[:i], id[i+1:]
		if bays[bay] == nil {
			bays[bay] = map[string]bool{}
		}
		bays[bay][role] = true
	}
	names := make([]string, 0, len(bays))
	for b := range bays {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		roles := bays[b]
		short := b[strings.LastIndexByte(b, '.')+1:]
		switch {
		case short == "bus":
			m.bus = b
		case short == "pv":
			m.pv = b
		case short == "cap":
			m.cap = b
		case roles["tap"]:
			if m.tr != "" {
				return nil, fmt.Errorf("demo: two transformers, %s and %s: the model has one", m.tr, b)
			}
			m.tr = b
		case roles["breaker"] && (roles["p"] || roles["current"]):
			h := fnv.New64a()
			h.Write([]byte(b))
			x := h.Sum64()
			m.feeders = append(m.feeders, &feeder{id: b, base: 2.5 + float64(x%300)/100, phase: float64(x%628) / 100})
		}
	}
	if len(m.feeders) == 0 && m.tr == "" {
		return nil, errors.New("demo: no feeder (BAY.breaker with BAY.p or BAY.current) and no transformer (BAY.tap) among the points")
	}
	return m, nil
}

// Executed tells the model that a command changed the point at ioa: it
// reacts at once instead of at the next tick. It never blocks.
func (m *Substation) Executed(uint32) {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Prime sets the plant's initial state: switches closed, regulator in
// auto, plausible analogs. Call it before the simulator serves.
func (m *Substation) Prime() error {
	var errs []error
	set := func(id string, v float64) {
		if _, ok := m.bind[id]; ok {
			errs = append(errs, m.set(id, v, true))
		}
	}
	for _, f := range m.feeders {
		set(f.id+".disconnector", 2)
		set(f.id+".breaker", 2)
		set(f.id+".earth", 1)
		set(f.id+".local", 0)
		set(f.id+".trip", 0)
		set(f.id+".energy", float64(100000+m.rng.IntN(900000)))
	}
	if m.tr != "" {
		set(m.tr+".hv_breaker", 2)
		set(m.tr+".avr", 1)
		set(m.tr+".tap", 2)
		set(m.tr+".voltage_setpoint", 20.4)
		set(m.tr+".alarms", 0)
	}
	if m.pv != "" {
		set(m.pv+".breaker", 2)
		set(m.pv+".limit", 100)
		set(m.pv+".energy", float64(50000+m.rng.IntN(100000)))
	}
	if m.cap != "" {
		set(m.cap+".breaker", 1)
	}
	m.temp = 40
	m.start = time.Now()
	m.step(m.start, true)
	return errors.Join(errs...)
}

// Run steps the model every tick, and at once after a command, until ctx
// ends.
func (m *Substation) Run(ctx context.Context) error {
	if m.start.IsZero() {
		if err := m.Prime(); err != nil {
			return err
		}
	}
	m.nextTrip = m.start.Add(m.opts.FirstTrip + time.Duration(m.rng.Int64N(int64(m.opts.FirstTrip/2)+1)))
	t := time.NewTicker(m.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			m.step(now, true)
		case <-m.wake:
			m.step(time.Now(), false)
		}
	}
}

// get returns a point's engineering value; ok is false when the model has
// no such point.
func (m *Substation) get(id string) (float64, bool) {
	p, ok := m.bind[id]
	if !ok {
		return 0, false
	}
	o, ok := m.st.Get(p.IOA)
	if !ok {
		return 0, false
	}
	var raw float64
	switch p.Kind {
	case sim.Single, sim.Double:
		raw = float64(o.State)
	case sim.Step:
		raw = float64(o.Step)
	case sim.Bitstring:
		raw = float64(o.Bits)
	case sim.Normalized:
		raw = float64(o.Int) / 32768
	case sim.Scaled, sim.Counter:
		raw = float64(o.Int)
	case sim.Float:
		raw = float64(o.Float)
	}
	return raw*p.scale() + p.Offset, true
}

func (p Point) scale() float64 {
	if p.Scale == 0 {
		return 1
	}
	return p.Scale
}

// is reports whether the discrete point id has value v; a missing point
// counts as v (a feeder without a disconnector is always connected).
func (m *Substation) is(id string, v float64) bool {
	x, ok := m.get(id)
	return !ok || x == v
}

// set reports the engineering value v of id when it moved enough since it
// was last reported (or force is set).
func (m *Substation) set(id string, v float64, force bool) error {
	p, ok := m.bind[id]
	if !ok {
		return nil
	}
	raw := (v - p.Offset) / p.scale()
	switch p.Kind {
	case sim.Normalized:
		raw = max(-1, min(raw, 32767.0/32768))
	case sim.Scaled:
		raw = math.Round(max(math.MinInt16, min(raw, math.MaxInt16)))
	case sim.Counter:
		raw = math.Floor(raw)
	case sim.Float:
		raw = float64(float32(raw))
	}
	switch p.Kind {
	case sim.Single, sim.Double, sim.Step, sim.Bitstring:
		// Commands change these too: compare with the station's value.
		if cur, ok := m.get(id); ok && cur == v && !force {
			return nil
		}
	default:
		last, seen := m.reported[p.IOA]
		if !force && seen && math.Abs(raw-last) < m.deadband(p, raw) {
			return nil
		}
	}
	m.reported[p.IOA] = raw
	if err := m.st.Set(p.IOA, raw, 0); err != nil {
		return fmt.Errorf("demo: %s: %w", id, err)
	}
	return nil
}

// deadband of an analog: half a percent of the value, at least a small
// absolute step, so that a live value keeps moving without flooding.
func (m *Substation) deadband(p Point, raw float64) float64 {
	switch p.Kind {
	case sim.Float:
		return max(0.005*math.Abs(raw), 0.005)
	case sim.Normalized:
		return 0.002
	}
	return 1 // scaled and counter: any change
}

func (m *Substation) noise(rel float64) float64 { return 1 + rel*(2*m.rng.Float64()-1) }

// step advances the model to now. tick is false for a step caused by a
// command: the plant reacts, but no time passes for the energy counters.
func (m *Substation) step(now time.Time, tick bool) {
	force := tick && now.Sub(m.lastFull) >= refreshAll
	if force {
		m.lastFull = now
	}
	var errs []error
	set := func(id string, v float64) { errs = append(errs, m.set(id, v, force)) }
	sw := func(id string, v float64) { errs = append(errs, m.set(id, v, false)) }
	t := now.Sub(m.start).Seconds()
	dt := m.opts.Tick.Seconds()

	if tick && m.opts.TripEvery > 0 && !m.nextTrip.IsZero() && now.After(m.nextTrip) {
		m.randomTrip(now)
	}

	live := m.tr == "" || m.is(m.tr+".hv_breaker", 2)
	tap := 0.0
	if v, ok := m.get(m.tr + ".tap"); ok {
		tap = v
		if tap < tapMin || tap > tapMax {
			tap = max(tapMin, min(tap, tapMax))
			sw(m.tr+".tap", tap)
		}
	}

	// Loads.
	var pSum, qSum float64
	for _, f := range m.feeders {
		if v, ok := m.get(f.id + ".trip"); ok && v == 1 && !m.is(f.id+".breaker", 1) {
			sw(f.id+".breaker", 1) // the protection opens the breaker
			m.log.Info("demo: protection opened the breaker", "feeder", f.id)
		}
		on := live && m.is(f.id+".breaker", 2) && m.is(f.id+".disconnector", 2)
		p := 0.0
		if on {
			p = f.base * (0.85 + 0.15*math.Sin(2*math.Pi*t/loadPeriod.Seconds()+f.phase)) * m.noise(0.01)
		}
		q := p * math.Tan(math.Acos(powerFactor)) * m.noise(0.02)
		pSum += p
		qSum += q
		set(f.id+".p", p)
		set(f.id+".q", q)
		if tick {
			m.count(f.id+".energy", p*1000*dt/3600)
		}
	}
	if m.pv != "" {
		p := 0.0
		if live && m.is(m.pv+".breaker", 2) {
			sun := max(0, math.Sin(math.Pi*math.Mod(t/sunPeriod.Seconds()+0.25, 1)))
			limit := 100.0
			if v, ok := m.get(m.pv + ".limit"); ok {
				limit = max(0, min(v, 100))
			}
			p = min(pvMW*sun*m.noise(0.03), pvMW*limit/100)
		}
		pSum -= p
		set(m.pv+".p", p)
		if tick {
			m.count(m.pv+".energy", p*1000*dt/3600)
		}
	}
	capQ := 0.0
	if m.cap != "" && live && m.is(m.cap+".breaker", 2) {
		capQ = capMvar
	}
	qSum -= capQ

	// Busbar voltage: the transformer's tap, the load's drop, the bank's rise.
	s := math.Hypot(pSum, qSum)
	v := 0.0
	if live {
		grid := 1 + 0.01*math.Sin(2*math.Pi*t/900)
		v = nominalKV*grid*(1+tapStep*tap) - impedanceKV*(s/ratedMVA) + 0.4*capQ/capMvar
		v *= m.noise(0.001)
	}
	set(m.bus+".voltage", v)
	if m.bus != "" {
		set(m.bus+".frequency", 50+0.03*math.Sin(2*math.Pi*t/300)+0.01*(2*m.rng.Float64()-1))
	}
	if m.cap != "" {
		set(m.cap+".q", capQ*(v/nominalKV)*(v/nominalKV))
	}

	// Feeder currents at the actual voltage.
	for _, f := range m.feeders {
		p, _ := m.get(f.id + ".p")
		q, _ := m.get(f.id + ".q")
		i := 0.0
		if v > 1 {
			i = math.Hypot(p, q) * 1000 / (math.Sqrt(3) * v)
		}
		set(f.id+".current", i)
	}

	if m.tr != "" {
		m.transformer(v, s, dt, tick, set, sw)
	}
	if err := errors.Join(errs...); err != nil {
		m.log.Warn("demo: model step", "err", err)
	}
}

// count adds kWh to an energy counter, reporting in steps of 10 kWh (a
// counter that reported every second would crowd the link's traffic).
func (m *Substation) count(id string, kwh float64) {
	p, ok := m.bind[id]
	if !ok || kwh <= 0 {
		return
	}
	m.energyAcc[p.IOA] += kwh
	whole := math.Floor(m.energyAcc[p.IOA])
	if whole < 10 {
		return
	}
	m.energyAcc[p.IOA] -= whole
	v, _ := m.get(id)
	if v+whole > math.MaxInt32 {
		v = 0
	}
	if err := m.set(id, v+whole, true); err != nil {
		m.log.Warn("demo: energy counter", "err", err)
	}
}

// transformer updates loading and oil temperature, and runs the voltage
// regulator.
func (m *Substation) transformer(v, s, dt float64, tick bool, set, sw func(string, float64)) {
	load := s / ratedMVA
	set(m.tr+".loading", 100*load)
	if tick {
		target := 30 + 60*load*load
		m.temp += (target - m.temp) * dt / 120
	}
	set(m.tr+".oil_temp", m.temp*m.noise(0.002))
	if word, ok := m.get(m.tr + ".alarms"); ok {
		bits := uint32(word)
		hot := m.temp > 75 || (bits&2 != 0 && m.temp > 72)
		nb := bits &^ 2
		if hot {
			nb |= 2
		}
		if nb != bits {
			sw(m.tr+".alarms", float64(nb))
		}
	}
	if !tick || !m.is(m.tr+".avr", 1) || v < 1 {
		m.avrCount = 0
		return
	}
	sp, ok := m.get(m.tr + ".voltage_setpoint")
	if !ok {
		return
	}
	tap, _ := m.get(m.tr + ".tap")
	switch {
	case v < sp-avrBand && tap < tapMax:
		m.avrCount++
	case v > sp+avrBand && tap > tapMin:
		m.avrCount--
	default:
		m.avrCount = 0
	}
	if m.avrCount >= avrDelay || m.avrCount <= -avrDelay {
		d := 1.0
		if m.avrCount < 0 {
			d = -1
		}
		m.avrCount = 0
		sw(m.tr+".tap", tap+d)
		m.log.Info("demo: voltage regulator changed the tap", "transformer", m.tr, "tap", tap+d, "voltage", v, "setpoint", sp)
	}
}

// randomTrip trips one energized feeder with a protection, and schedules
// the next trip.
func (m *Substation) randomTrip(now time.Time) {
	m.nextTrip = now.Add(time.Duration(m.rng.ExpFloat64() * float64(m.opts.TripEvery)))
	var cands []*feeder
	for _, f := range m.feeders {
		if _, ok := m.bind[f.id+".trip"]; ok && m.is(f.id+".trip", 0) && m.is(f.id+".breaker", 2) {
			cands = append(cands, f)
		}
	}
	// Keep the demo alive: never trip the last feeder in service.
	if len(cands) < 2 {
		return
	}
	f := cands[m.rng.IntN(len(cands))]
	m.log.Info("demo: protection trip", "feeder", f.id)
	if err := m.set(f.id+".trip", 1, true); err != nil {
		m.log.Warn("demo: trip", "err", err)
	}
}

// Feeders returns the IDs ("STATION.BAY") of the feeders the model found.
func (m *Substation) Feeders() []string {
	out := make([]string, 0, len(m.feeders))
	for _, f := range m.feeders {
		out = append(out, f.id)
	}
	return out
}
