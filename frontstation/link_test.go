package frontstation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/capture"
	"hmi/frontstation/iec104"
	"hmi/points"
	"hmi/sim"
)

// fastAPCI keeps fault tests short: t1 = 2 s.
func fastAPCI() iec104.Config {
	return iec104.Config{K: 12, W: 8, T0: 2 * time.Second, T1: 2 * time.Second, T2: time.Second, T3: 5 * time.Second}
}

// simStation is a running simulator on loopback.
type simStation struct {
	srv    *sim.Server
	cfg    sim.Config
	addr   string
	cancel context.CancelFunc
	done   chan error
}

// startSim runs a simulator on addr ("127.0.0.1:0" for any port).
func startSim(t *testing.T, cfg sim.Config, rate float64, addr string) *simStation {
	t.Helper()
	srv, err := sim.New(sim.Options{Config: cfg, Rate: rate, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ { // a restarted simulator may need its old port a moment
		if ln, err = net.Listen("tcp", addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &simStation{srv: srv, cfg: cfg, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Run(ctx, ln) }()
	t.Cleanup(s.stop)
	return s
}

func (s *simStation) stop() {
	s.cancel()
	<-s.done
	s.done <- nil // later stops return at once
}

// plant is the HMI side: a cache and a link for a simulator's points.
type plant struct {
	t      *testing.T
	cache  *points.Cache
	link   *Link
	cmd    *Commander
	byIOA  map[uint32]points.Handle
	kinds  map[uint32]points.Kind
	mu     sync.Mutex
	events []Event
	cancel context.CancelFunc
	done   chan error
}

func pointID(ioa uint32) string { return fmt.Sprintf("p%d", ioa) }

// newPlant builds the cache and link for cfg's points and controls for its
// commands, with mod applied to the link configuration, and runs the link.
func newPlant(t *testing.T, cfg sim.Config, addrs []string, mod func(*LinkConfig, []Control)) *plant {
	t.Helper()
	p := &plant{t: t, byIOA: map[uint32]points.Handle{}, kinds: map[uint32]points.Kind{}, done: make(chan error, 1)}
	var defs []points.Def
	for _, sp := range cfg.Points {
		k, err := points.ParseKind(sp.Kind.String())
		if err != nil {
			t.Fatal(err)
		}
		defs = append(defs, points.Def{ID: pointID(sp.IOA), Kind: k, Link: "rtu", CA: cfg.CA, IOA: sp.IOA})
		p.kinds[sp.IOA] = k
	}
	cache, err := points.New(defs)
	if err != nil {
		t.Fatal(err)
	}
	p.cache = cache
	lc := LinkConfig{
		Name: "rtu", Addresses: addrs, CA: cfg.CA, APCI: fastAPCI(), ClockSync: true, CounterPeriod: time.Hour,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		Events: func(e Event) { p.mu.Lock(); p.events = append(p.events, e); p.mu.Unlock() },
	}
	for _, sp := range cfg.Points {
		h, _ := cache.Lookup(pointID(sp.IOA))
		p.byIOA[sp.IOA] = h
		lc.Points = append(lc.Points, PointMap{Point: h, ID: pointID(sp.IOA), CA: cfg.CA, IOA: sp.IOA, Kind: p.kinds[sp.IOA]})
	}
	var ctls []Control
	for _, sc := range cfg.Commands {
		if sc.Point == 0 {
			continue
		}
		typ, err := ParseCommandType(sc.Kind.String())
		if err != nil {
			t.Fatal(err)
		}
		ctls = append(ctls, Control{
			Point: p.byIOA[sc.Point], ID: pointID(sc.Point), Link: "rtu", CA: cfg.CA, IOA: sc.IOA, Type: typ,
			SBO: sc.SBO, ActTerm: sc.ActTerm, ResponseTimeout: 2 * time.Second,
		})
	}
	if mod != nil {
		mod(&lc, ctls)
	}
	if p.link, err = NewLink(lc, cache); err != nil {
		t.Fatal(err)
	}
	if p.cmd, err = NewCommander(ctls, []*Link{p.link}, nil, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() { p.done <- p.link.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-p.done })
	return p
}

// eventually polls cond every 10 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *plant) interrogated(after time.Time) {
	p.t.Helper()
	eventually(p.t, "an interrogation to complete", func() bool {
		st, _ := p.link.State()
		return st == Active && p.link.Stats().LastInterrogation.After(after)
	})
}

func (p *plant) eventsOf(k EventKind) []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Event
	for _, e := range p.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// simValue is the value the cache should hold for a simulator object.
func simValue(k points.Kind, o iec104.Object) float64 {
	t := map[points.Kind]iec104.TypeID{
		points.Single: iec104.M_SP_NA_1, points.Double: iec104.M_DP_NA_1, points.Step: iec104.M_ST_NA_1,
		points.Bitstring: iec104.M_BO_NA_1, points.Normalized: iec104.M_ME_NA_1, points.Scaled: iec104.M_ME_NB_1,
		points.Float: iec104.M_ME_NC_1, points.Counter: iec104.M_IT_NA_1,
	}[k]
	return o.Value(t)
}

// matches checks every point of the cache against the simulator.
func (p *plant) matches(s *simStation) error {
	for ioa, h := range p.byIOA {
		o, ok := s.srv.Get(ioa)
		if !ok {
			return fmt.Errorf("simulator has no IOA %d", ioa)
		}
		v := p.cache.Get(h)
		if want := simValue(p.kinds[ioa], o); v.Value != want {
			return fmt.Errorf("IOA %d (%v): cache %v, simulator %v", ioa, p.kinds[ioa], v.Value, want)
		}
		if !v.Quality.Good() {
			return fmt.Errorf("IOA %d: quality %v", ioa, v.Quality)
		}
	}
	return nil
}

// matchesSoon waits for the counter interrogation that follows the
// station interrogation, then checks every point.
func (p *plant) matchesSoon(s *simStation) {
	p.t.Helper()
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for err = p.matches(s); err != nil && time.Now().Before(deadline); err = p.matches(s) {
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatal(err)
	}
}

func TestInterrogationFillsCache(t *testing.T) {
	s := startSim(t, sim.Generate(64), 0, "127.0.0.1:0")
	start := time.Now()
	p := newPlant(t, s.cfg, []string{s.addr}, nil)
	p.interrogated(start)
	p.matchesSoon(s)
	st := p.link.Stats()
	if st.RxObjects < 64 || st.InterrogationTime <= 0 || st.UnknownAddresses != 0 {
		t.Fatalf("stats %+v: want >= 64 objects, an interrogation time, no unknown address", st)
	}
	if len(p.link.Traffic(0, nil)) == 0 {
		t.Fatal("traffic ring empty")
	}
	if sec := p.eventsOf(EventSecurity); len(sec) > 0 {
		t.Fatalf("security events: %v", sec)
	}
}

func TestSpontaneousChangesArrive(t *testing.T) {
	s := startSim(t, sim.Generate(64), 500, "127.0.0.1:0")
	start := time.Now()
	p := newPlant(t, s.cfg, []string{s.addr}, nil)
	p.interrogated(start)
	seq := p.cache.Seq()
	objs := p.link.Stats().RxObjects
	eventually(t, "spontaneous changes", func() bool {
		return p.cache.Seq() > seq+100 && p.link.Stats().RxObjects > objs+100
	})
}

func TestUnknownAddressesCountedAndLoggedOnce(t *testing.T) {
	cfg := sim.Generate(16)
	s := startSim(t, cfg, 0, "127.0.0.1:0")
	start := time.Now()
	p := newPlant(t, cfg, []string{s.addr}, func(lc *LinkConfig, _ []Control) {
		lc.Points = lc.Points[2:] // the HMI does not know two of the station's points (single points)
	})
	p.interrogated(start)
	p.link.Interrogate()
	eventually(t, "a second interrogation", func() bool { return p.link.Stats().UnknownObjects >= 4 })
	if n := p.link.Stats().UnknownAddresses; n != 2 {
		t.Fatalf("%d unknown addresses, want 2", n)
	}
	for _, sp := range cfg.Points[:2] {
		key := fmt.Sprintf("%d/%d/single", cfg.CA, sp.IOA)
		if n := p.link.UnknownAddresses()[key]; n < 2 {
			t.Errorf("unknown address %s counted %d times, want one per interrogation (2): %v", key, n, p.link.UnknownAddresses())
		}
	}
	logged := 0
	for _, e := range p.eventsOf(EventAnomaly) {
		if strings.Contains(e.Message, "maps to no point") {
			logged++
		}
	}
	if logged != 2 {
		t.Fatalf("%d 'maps to no point' events, want 2 (one per address)", logged)
	}
}

func TestCommandsEveryType(t *testing.T) {
	for _, timeTag := range []bool{false, true} {
		t.Run(fmt.Sprintf("time_tag=%v", timeTag), func(t *testing.T) { testCommandsEveryType(t, timeTag) })
	}
}

// testCommandsEveryType runs every command of a generated station, with
// types 45..50 or, with timeTag, 58..63.
func testCommandsEveryType(t *testing.T, timeTag bool) {
	cfg := sim.Generate(64)
	s := startSim(t, cfg, 0, "127.0.0.1:0")
	start := time.Now()
	p := newPlant(t, cfg, []string{s.addr}, func(_ *LinkConfig, ctls []Control) {
		for i := range ctls {
			ctls[i].TimeTag = timeTag
		}
	})
	p.interrogated(start)
	ctx := context.Background()
	for _, sc := range cfg.Commands {
		if sc.Point == 0 {
			continue
		}
		t.Run(fmt.Sprintf("%v/ioa%d/sbo=%v/actterm=%v", sc.Kind, sc.IOA, sc.SBO, sc.ActTerm), func(t *testing.T) {
			id := pointID(sc.Point)
			ctl, _ := p.cmd.Control(id)
			var value, want float64
			switch ctl.Type {
			case SingleCommand:
				cur, _ := s.srv.Get(sc.Point)
				value = float64(1 - cur.State)
				want = value
			case DoubleCommand:
				cur, _ := s.srv.Get(sc.Point)
				value = 2
				if cur.State == 2 {
					value = 1
				}
				want = value
			case StepCommand:
				cur, _ := s.srv.Get(sc.Point)
				value, want = 2, float64(cur.Step+1)
			case SetpointNormalized:
				value, want = 0.25, 0.25
			case SetpointScaled:
				value, want = 1234, 1234
			case SetpointFloat:
				value, want = 42.5, 42.5
			}
			r, err := p.cmd.Select(ctx, id, value, Origin{User: "test"})
			if err != nil {
				t.Fatalf("select: %v (%+v)", err, r)
			}
			if sc.SBO {
				if r.State != Selected || r.SelectLatency <= 0 {
					t.Fatalf("after select: %v, select latency %v; want selected", r.State, r.SelectLatency)
				}
				if r, err = p.cmd.Execute(ctx, r.ID); err != nil {
					t.Fatalf("execute: %v (%+v)", err, r)
				}
			}
			wantState := Confirmed
			if sc.ActTerm {
				wantState = Terminated
			}
			if r.State != wantState || !r.Done || r.ExecuteLatency <= 0 || (sc.ActTerm && r.TermLatency <= 0) {
				t.Fatalf("record %+v: want %v, done, with latencies", r, wantState)
			}
			h := p.byIOA[sc.Point]
			eventually(t, "the status point to follow", func() bool { return p.cache.Get(h).Value == want })
			if got, ok := p.cmd.Get(r.ID); !ok || got.State != wantState {
				t.Fatalf("Get(%s) = %+v, %v", r.ID, got, ok)
			}
		})
	}
	if sec := p.eventsOf(EventSecurity); len(sec) > 0 {
		t.Fatalf("security events for the HMI's own commands: %v", sec)
	}
}

func TestCommandRefusals(t *testing.T) {
	cfg := sim.Generate(64)
	s := startSim(t, cfg, 0, "127.0.0.1:0")
	start := time.Now()
	var sboSingle, directSingle Control
	p := newPlant(t, cfg, []string{s.addr}, func(_ *LinkConfig, ctls []Control) {
		for i := range ctls {
			if ctls[i].Type == SingleCommand && ctls[i].SBO && ctls[i].ActTerm {
				sboSingle = ctls[i]
			}
			if ctls[i].Type == SingleCommand && !ctls[i].SBO {
				// The HMI believes this direct-only command needs a select: the station refuses the select.
				ctls[i].SBO = true
				directSingle = ctls[i]
			}
		}
	})
	p.interrogated(start)
	ctx := context.Background()

	if _, err := p.cmd.Select(ctx, "nope", 1, Origin{}); !errors.Is(err, ErrNoControl) {
		t.Fatalf("select on a point without control: %v", err)
	}
	if _, err := p.cmd.Select(ctx, sboSingle.ID, 7, Origin{}); !errors.Is(err, ErrBadValue) {
		t.Fatalf("single command with value 7: %v", err)
	}
	r, err := p.cmd.Select(ctx, directSingle.ID, 1, Origin{})
	if err == nil || r.State != Failed || !strings.Contains(r.Err, "refused") {
		t.Fatalf("select the station refuses: %v, %+v", err, r)
	}

	r, err = p.cmd.Select(ctx, sboSingle.ID, 1, Origin{})
	if err != nil || r.State != Selected {
		t.Fatalf("select: %v %+v", err, r)
	}
	if _, err := p.cmd.Select(ctx, sboSingle.ID, 1, Origin{}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second select on a selected point: %v", err)
	}
	if r, err = p.cmd.Cancel(ctx, r.ID); err != nil || r.State != Cancelled {
		t.Fatalf("cancel: %v %+v", err, r)
	}
	if _, err := p.cmd.Execute(ctx, r.ID); !errors.Is(err, ErrNotSelected) {
		t.Fatalf("execute after cancel: %v", err)
	}
	if _, err := p.cmd.Execute(ctx, "no-such-id"); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("execute of an unknown command: %v", err)
	}
	names := func(r Record) string {
		var n []string
		for _, s := range r.Steps {
			n = append(n, s.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(r); got != "select,select_con,cancel,cancel_con" {
		t.Fatalf("steps %s", got)
	}
}

func TestSelectTimeoutCancels(t *testing.T) {
	cfg := sim.Generate(64)
	s := startSim(t, cfg, 0, "127.0.0.1:0")
	start := time.Now()
	var id string
	p := newPlant(t, cfg, []string{s.addr}, func(_ *LinkConfig, ctls []Control) {
		for i := range ctls {
			if ctls[i].SBO {
				ctls[i].SelectTimeout = 300 * time.Millisecond
				id = ctls[i].ID
			}
		}
	})
	p.interrogated(start)
	r, err := p.cmd.Select(context.Background(), id, p.validValue(id), Origin{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the selection to be cancelled", func() bool {
		got, _ := p.cmd.Get(r.ID)
		return got.State == Cancelled
	})
	if _, err := p.cmd.Execute(context.Background(), r.ID); !errors.Is(err, ErrNotSelected) {
		t.Fatalf("execute after the select timeout: %v", err)
	}
}

func (p *plant) validValue(id string) float64 {
	ctl, _ := p.cmd.Control(id)
	switch ctl.Type {
	case SingleCommand:
		return 1
	case DoubleCommand, StepCommand:
		return 2
	}
	return 0.5
}

func TestLinkLossSetsCommFailAndRecovers(t *testing.T) {
	cfg := sim.Generate(32)
	s := startSim(t, cfg, 0, "127.0.0.1:0")
	start := time.Now()
	p := newPlant(t, cfg, []string{s.addr}, nil)
	p.interrogated(start)
	s.stop()
	eventually(t, "commfail on every point", func() bool {
		for _, h := range p.byIOA {
			if !p.cache.Get(h).Quality.Has(points.CommFail) {
				return false
			}
		}
		return true
	})
	if st, _ := p.link.State(); st == Active {
		t.Fatal("link still active after the simulator stopped")
	}
	restart := time.Now()
	s2 := startSim(t, cfg, 0, s.addr)
	p.interrogated(restart)
	p.matchesSoon(s2)
	if p.link.Stats().Reconnects == 0 {
		t.Fatal("no reconnect counted")
	}
}

func TestTrafficCaptureRotates(t *testing.T) {
	cfg := sim.Generate(64)
	s := startSim(t, cfg, 2000, "127.0.0.1:0")
	dir := t.TempDir()
	start := time.Now()
	p := newPlant(t, cfg, []string{s.addr}, func(lc *LinkConfig, _ []Control) {
		lc.Capture = CaptureConfig{Dir: dir, MaxBytes: 4000, MaxFiles: 3}
	})
	p.interrogated(start)
	eventually(t, "several rotations", func() bool { return p.link.Stats().RxFrames > 300 })
	p.cancel()
	<-p.done
	p.done <- nil
	files, err := filepath.Glob(filepath.Join(dir, "rtu-*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d capture files, want the 3 newest kept: %v", len(files), files)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		// A file is rotated once it passes MaxBytes: at most one frame more.
		if fi.Size() > 4000+400 {
			t.Errorf("%s: %d bytes, want about 4000 at most", f, fi.Size())
		}
		n := 0
		if err := capture.ReadFile(f, capture.Options{Port: uint16(portOf(t, s.addr))}, func(r *capture.Record) error {
			if r.Err != nil {
				t.Errorf("%s: packet %d: %v", f, r.Packet, r.Err)
			}
			n++
			return nil
		}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if n == 0 {
			t.Errorf("%s: no APDU", f)
		}
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTestRTTWhileConnected: the TESTFR round trip of the live connection
// shows in the link's statistics, not only after the connection ends.
func TestTestRTTWhileConnected(t *testing.T) {
	cfg := sim.Generate(16)
	s := startSim(t, cfg, 0, "127.0.0.1:0")
	start := time.Now()
	p := newPlant(t, cfg, []string{s.addr}, func(lc *LinkConfig, _ []Control) {
		lc.APCI.T3 = 100 * time.Millisecond // idle quickly: TESTFR
	})
	p.interrogated(start)
	eventually(t, "a TESTFR round trip", func() bool { return p.link.Stats().TestRTT > 0 })
	if st, _ := p.link.State(); st != Active {
		t.Fatalf("link %v, want the same connection still active", st)
	}
}
