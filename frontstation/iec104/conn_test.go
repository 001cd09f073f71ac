package iec104

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// peer is the far end of a net.Pipe, scripted frame by frame. Its reader
// goroutine copies every frame into a channel so tests can both wait for a
// frame (letting the bubble's clock run) and check that nothing was sent.
type peer struct {
	t      *testing.T
	nc     net.Conn
	frames chan APDU
}

func newPeer(t *testing.T, nc net.Conn) *peer {
	p := &peer{t: t, nc: nc, frames: make(chan APDU, 100000)}
	go func() {
		var buf [MaxAPDU]byte
		for {
			b, err := ReadAPDU(nc, buf[:])
			if err != nil {
				close(p.frames)
				return
			}
			a, err := ParseAPDU(b)
			if err != nil {
				t.Errorf("peer: conn sent a bad frame % X: %v", b, err)
				continue
			}
			a.ASDU = append([]byte(nil), a.ASDU...)
			p.frames <- a
		}
	}()
	return p
}

func (p *peer) write(frames ...[]byte) {
	p.t.Helper()
	for _, f := range frames {
		if _, err := p.nc.Write(f); err != nil {
			p.t.Fatalf("peer write: %v", err)
		}
	}
}

// next waits for the next frame; the fake clock runs while it waits.
func (p *peer) next() APDU {
	p.t.Helper()
	a, ok := <-p.frames
	if !ok {
		p.t.Fatal("peer: connection closed, wanted a frame")
	}
	return a
}

// quiet checks that the connection has sent nothing more by now.
func (p *peer) quiet() {
	p.t.Helper()
	synctest.Wait()
	select {
	case a, ok := <-p.frames:
		if ok {
			p.t.Fatalf("peer: got %v, wanted nothing", a)
		}
	default:
	}
}

func (p *peer) expectU(f UFunc) {
	p.t.Helper()
	if a := p.next(); a.Format != FormatU || a.U != f {
		p.t.Fatalf("peer: got %v, want %v", a, f)
	}
}

func (p *peer) expectS(nr uint16) {
	p.t.Helper()
	if a := p.next(); a.Format != FormatS || a.RecvSeq != nr {
		p.t.Fatalf("peer: got %v, want S(nr=%d)", a, nr)
	}
}

func (p *peer) expectI(ns, nr uint16) APDU {
	p.t.Helper()
	a := p.next()
	if a.Format != FormatI || a.SendSeq != ns || a.RecvSeq != nr {
		p.t.Fatalf("peer: got %v, want I(ns=%d nr=%d)", a, ns, nr)
	}
	return a
}

// testASDU is a spontaneous M_SP_NA_1 with one object whose IOA is n.
func testASDU(n int) []byte {
	b, err := AppendASDU(nil, Header{Type: M_SP_NA_1, Cause: CauseSpontaneous, CA: 1}, []Object{{IOA: uint32(n), State: uint8(n % 2)}})
	if err != nil {
		panic(err)
	}
	return b
}

func iframe(ns, nr uint16) []byte {
	b, _ := AppendI(nil, ns, nr, testASDU(int(ns)))
	return b
}

type harness struct {
	t      *testing.T
	c      *Conn
	p      *peer
	runErr chan error
	cancel context.CancelFunc
	asdus  chan []byte
}

// start runs a Conn of role r over a net.Pipe inside the current bubble.
func start(t *testing.T, r Role, cfg Config) *harness {
	t.Helper()
	return startOpts(t, Options{Role: r, Config: cfg})
}

// startOpts is start with more options; OnASDU is the harness's.
func startOpts(t *testing.T, opts Options) *harness {
	t.Helper()
	a, b := net.Pipe()
	h := &harness{t: t, runErr: make(chan error, 1), asdus: make(chan []byte, 100000)}
	opts.OnASDU = func(asdu []byte) {
		h.asdus <- append([]byte(nil), asdu...)
	}
	c, err := NewConn(a, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	h.p = newPeer(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.runErr <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		b.Close()
		<-c.Done()
	})
	return h
}

// closed waits for Run to end and checks it ended with want.
func (h *harness) closed(want error) error {
	h.t.Helper()
	err := <-h.runErr
	if !errors.Is(err, want) {
		h.t.Fatalf("Run returned %v, want %v", err, want)
	}
	var pe *ProtocolError
	if want != nil && !errors.As(err, &pe) {
		h.t.Fatalf("Run returned %T, want *ProtocolError", err)
	}
	return err
}

// activate brings a controlling connection to active with the peer's con.
func (h *harness) activate() {
	h.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- h.c.StartDT(context.Background()) }()
	h.p.expectU(StartDTAct)
	h.p.write(AppendU(nil, StartDTCon))
	if err := <-errc; err != nil {
		h.t.Fatalf("StartDT: %v", err)
	}
	if s := h.c.State(); s != StateActive {
		h.t.Fatalf("state %v after STARTDT con, want active", s)
	}
}

// activatePeer starts data transfer on a controlled connection from the peer.
func (h *harness) activatePeer() {
	h.t.Helper()
	h.p.write(AppendU(nil, StartDTAct))
	h.p.expectU(StartDTCon)
	synctest.Wait()
	if s := h.c.State(); s != StateActive {
		h.t.Fatalf("state %v after STARTDT act, want active", s)
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	if err := good.Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"t2 equal t1":      func(c *Config) { c.T2 = c.T1 },
		"t2 above t1":      func(c *Config) { c.T2 = c.T1 + time.Second },
		"w above 2k/3":     func(c *Config) { c.K, c.W = 12, 9 },
		"k zero":           func(c *Config) { c.K = 0 },
		"w zero":           func(c *Config) { c.W = 0 },
		"k above 32767":    func(c *Config) { c.K = 32768 },
		"negative timeout": func(c *Config) { c.T3 = -time.Second },
		"zero t0":          func(c *Config) { c.T0 = 0 },
	} {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
		if _, err := NewConn(nil, Options{Role: Controlling, Config: c}); err == nil {
			t.Errorf("%s: NewConn accepted %+v", name, c)
		}
	}
}

func TestStartDTHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlling, DefaultConfig())
		if s := h.c.State(); s != StateStopped {
			t.Fatalf("initial state %v, want stopped", s)
		}
		if err := h.c.Send(context.Background(), testASDU(1)); !errors.Is(err, ErrNotStarted) {
			t.Fatalf("Send before STARTDT: got %v, want ErrNotStarted", err)
		}
		h.activate()
		// Data flows both ways once started.
		if err := h.c.Send(context.Background(), testASDU(7)); err != nil {
			t.Fatal(err)
		}
		h.p.expectI(0, 0)
		h.p.write(iframe(0, 1))
		if got := <-h.asdus; string(got) != string(testASDU(0)) {
			t.Fatalf("received ASDU % X, want % X", got, testASDU(0))
		}
	})
}

func TestStartDTConTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		h := start(t, Controlling, cfg)
		t0 := time.Now()
		errc := make(chan error, 1)
		go func() { errc <- h.c.StartDT(context.Background()) }()
		h.p.expectU(StartDTAct)
		h.closed(ErrConTimeout)
		if d := time.Since(t0); d != cfg.T1 {
			t.Fatalf("closed after %v, want t1 = %v", d, cfg.T1)
		}
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("StartDT: got %v, want ErrClosed", err)
		}
	})
}

func TestReverseStartDTAccepted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlling, DefaultConfig())
		h.activatePeer()
	})
}

func TestIFrameBeforeStartDTCloses(t *testing.T) {
	for _, r := range []Role{Controlling, Controlled} {
		t.Run(r.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, r, DefaultConfig())
				h.p.write(iframe(0, 0))
				h.closed(ErrNotStarted)
			})
		})
	}
}

func TestTestFRAnsweredInEveryState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlling, DefaultConfig())
		h.p.write(AppendU(nil, TestFRAct)) // stopped
		h.p.expectU(TestFRCon)
		go h.c.StartDT(context.Background())
		h.p.expectU(StartDTAct)
		h.p.write(AppendU(nil, TestFRAct)) // starting
		h.p.expectU(TestFRCon)
		h.p.write(AppendU(nil, StartDTCon))
		h.p.write(AppendU(nil, TestFRAct)) // active
		h.p.expectU(TestFRCon)
		go h.c.StopDT(context.Background())
		h.p.expectU(StopDTAct)
		h.p.write(AppendU(nil, TestFRAct)) // stopping
		h.p.expectU(TestFRCon)
		h.p.write(AppendU(nil, StopDTCon))
		synctest.Wait()
		if s := h.c.State(); s != StateStopped {
			t.Fatalf("state %v, want stopped", s)
		}
	})
}

func TestTestFRAfterT3(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		h := start(t, Controlling, cfg)
		h.activate()
		t0 := time.Now()
		h.p.expectU(TestFRAct)
		if d := time.Since(t0); d != cfg.T3 {
			t.Fatalf("TESTFR act after %v idle, want t3 = %v", d, cfg.T3)
		}
		time.Sleep(time.Second)
		h.p.write(AppendU(nil, TestFRCon))
		synctest.Wait()
		if rtt := h.c.Stats().TestRTT; rtt != time.Second {
			t.Fatalf("TESTFR round trip %v, want 1s", rtt)
		}
		// Traffic from the peer restarts t3.
		time.Sleep(cfg.T3 - time.Second)
		h.p.write(iframe(0, 0))
		t1 := time.Now()
		h.p.expectS(1) // t2 acknowledges first
		h.p.expectU(TestFRAct)
		if d := time.Since(t1); d != cfg.T3 {
			t.Fatalf("second TESTFR act %v after the last frame, want t3 = %v", d, cfg.T3)
		}
		// No con within t1: the connection closes.
		h.closed(ErrConTimeout)
		if d := time.Since(t1); d != cfg.T3+cfg.T1 {
			t.Fatalf("closed %v after the last frame, want t3+t1 = %v", d, cfg.T3+cfg.T1)
		}
	})
}

func TestKWindowStallAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		h := start(t, Controlled, cfg)
		h.activatePeer()
		const n = 20
		sent := make(chan int, n)
		go func() {
			for i := range n {
				if err := h.c.Send(context.Background(), testASDU(i)); err != nil {
					t.Errorf("Send %d: %v", i, err)
					return
				}
				sent <- i
			}
		}()
		for i := range cfg.K {
			h.p.expectI(uint16(i), 0)
		}
		h.p.quiet() // the window is full: frame 13 waits
		if len(sent) != cfg.K {
			t.Fatalf("%d Sends returned with the window full, want %d", len(sent), cfg.K)
		}
		h.p.write(AppendS(nil, 5)) // acknowledge 0..4: five more may go
		for i := cfg.K; i < cfg.K+5; i++ {
			h.p.expectI(uint16(i), 0)
		}
		h.p.quiet()
		h.p.write(AppendS(nil, 17)) // the rest
		for i := cfg.K + 5; i < n; i++ {
			h.p.expectI(uint16(i), 0)
		}
		h.p.write(AppendS(nil, n))
		h.p.quiet()
	})
}

// TestUnacknowledgedKept: with KeepUnacked, the ASDUs the peer never
// acknowledged come back after the connection ends, sent ones first (oldest
// first), then queued ones, whether Send or Queue gave them and even when the
// sender reused its buffer.
func TestUnacknowledgedKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.K = 4
		cfg.W = 2
		h := startOpts(t, Options{Role: Controlled, Config: cfg, KeepUnacked: true})
		h.activatePeer()
		buf := make([]byte, 0, 64)
		for i := range 3 { // 0..2 by Send, with one buffer rewritten each time
			buf = append(buf[:0], testASDU(i)...)
			if err := h.c.Send(context.Background(), buf); err != nil {
				t.Fatal(err)
			}
		}
		for i := 3; i < 7; i++ { // 3 goes out, 4..6 wait for the window
			if err := h.c.Queue(testASDU(i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 4 {
			h.p.expectI(uint16(i), 0)
		}
		h.p.write(AppendS(nil, 2)) // 0 and 1 acknowledged: 4 and 5 may go
		h.p.expectI(4, 0)
		h.p.expectI(5, 0)
		if got := h.c.Unacknowledged(); got != nil {
			t.Fatalf("Unacknowledged before the end = %d ASDUs, want nil", len(got))
		}
		h.p.quiet()
		h.cancel()
		<-h.c.Done()
		got := h.c.Unacknowledged()
		var want [][]byte
		for i := 2; i < 7; i++ {
			want = append(want, testASDU(i))
		}
		if len(got) != len(want) {
			t.Fatalf("%d unacknowledged ASDUs, want %d (2..6)", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("unacknowledged[%d] = % X, want % X", i, got[i], want[i])
			}
		}
	})
}

// TestUnacknowledgedOff: without KeepUnacked nothing is kept.
func TestUnacknowledgedOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlled, DefaultConfig())
		h.activatePeer()
		if err := h.c.Send(context.Background(), testASDU(1)); err != nil {
			t.Fatal(err)
		}
		h.p.expectI(0, 0)
		h.cancel()
		<-h.c.Done()
		if got := h.c.Unacknowledged(); got != nil {
			t.Fatalf("Unacknowledged = %d ASDUs without KeepUnacked, want nil", len(got))
		}
	})
}

func TestSendWithdrawnOnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.K, cfg.W = 3, 2
		h := start(t, Controlled, cfg)
		h.activatePeer()
		for i := range 3 {
			if err := h.c.Send(context.Background(), testASDU(i)); err != nil {
				t.Fatal(err)
			}
			h.p.expectI(uint16(i), 0)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := h.c.Send(ctx, testASDU(99)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send with a full window: got %v, want deadline exceeded", err)
		}
		h.p.write(AppendS(nil, 3))
		h.p.quiet() // the withdrawn frame is never sent
	})
}

func TestT1ClosesWhenUnacknowledged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		h := start(t, Controlled, cfg)
		h.activatePeer()
		t0 := time.Now()
		if err := h.c.Send(context.Background(), testASDU(1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		if err := h.c.Send(context.Background(), testASDU(2)); err != nil {
			t.Fatal(err)
		}
		h.p.expectI(0, 0)
		h.p.expectI(1, 0)
		time.Sleep(9 * time.Second)
		h.p.write(AppendS(nil, 1)) // the first is acknowledged at 14 s
		synctest.Wait()
		if s := h.c.State(); s != StateActive {
			t.Fatalf("state %v, want active", s)
		}
		h.closed(ErrAckTimeout) // the second was sent at 5 s
		if d := time.Since(t0); d != 5*time.Second+cfg.T1 {
			t.Fatalf("closed at %v, want 5s + t1 = %v", d, 5*time.Second+cfg.T1)
		}
	})
}

func TestAckAfterWFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		h := start(t, Controlling, cfg)
		h.activate()
		for i := range 2 * cfg.W {
			h.p.write(iframe(uint16(i), 0))
			if i == cfg.W-1 {
				h.p.expectS(uint16(cfg.W))
			}
		}
		h.p.expectS(uint16(2 * cfg.W))
		h.p.quiet()
	})
}

func TestAckAfterT2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		h := start(t, Controlling, cfg)
		h.activate()
		t0 := time.Now()
		h.p.write(iframe(0, 0))
		time.Sleep(3 * time.Second)
		h.p.write(iframe(1, 0), iframe(2, 0))
		h.p.expectS(3)
		if d := time.Since(t0); d != cfg.T2 {
			t.Fatalf("S-frame %v after the first unacknowledged I-frame, want t2 = %v", d, cfg.T2)
		}
	})
}

func TestOwnIFrameCarriesAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlling, DefaultConfig())
		h.activate()
		h.p.write(iframe(0, 0), iframe(1, 0))
		synctest.Wait()
		if err := h.c.Send(context.Background(), testASDU(5)); err != nil {
			t.Fatal(err)
		}
		h.p.expectI(0, 2)
		h.p.quiet() // no separate S-frame, and none at t2 either
		time.Sleep(DefaultConfig().T2 + time.Second)
		h.p.quiet()
	})
}

func TestSequenceWrap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		h := start(t, Controlling, cfg)
		h.activate()
		// 32768 + 20 frames each way: N(S) and N(R) wrap from 32767 to 0.
		const n = seqModulo + 20
		go func() {
			for i := range n {
				if err := h.c.Send(context.Background(), testASDU(i)); err != nil {
					t.Errorf("Send %d: %v", i, err)
					return
				}
			}
		}()
		var vr uint16 // what the peer received from the conn
		for i := 0; i < n; i++ {
			a := h.p.next()
			for a.Format == FormatS {
				a = h.p.next()
			}
			if a.Format != FormatI || a.SendSeq != vr {
				t.Fatalf("frame %d: got %v, want I(ns=%d)", i, a, vr)
			}
			vr = (vr + 1) % seqModulo
			// The peer sends one I-frame per frame received, acknowledging it.
			h.p.write(iframe(uint16(i%seqModulo), vr))
			<-h.asdus
		}
		if vr != 20 {
			t.Fatalf("V(R) after %d frames = %d, want 20", n, vr)
		}
		if s := h.c.Stats(); s.TxI != n || s.RxI != n {
			t.Fatalf("stats %+v, want %d I-frames each way", s, n)
		}
	})
}

func TestSequenceErrorCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlling, DefaultConfig())
		h.activate()
		h.p.write(iframe(0, 0), iframe(2, 0))
		err := h.closed(ErrSequence)
		t.Log(err)
	})
}

func TestAckOutsideWindowCloses(t *testing.T) {
	for name, frame := range map[string][]byte{
		"S-frame": AppendS(nil, 2),
		"I-frame": iframe(0, 2),
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, Controlling, DefaultConfig())
				h.activate()
				if err := h.c.Send(context.Background(), testASDU(1)); err != nil {
					t.Fatal(err)
				}
				h.p.expectI(0, 0)
				h.p.write(AppendS(nil, 1), AppendS(nil, 1)) // repeating the last acknowledged number is fine
				h.p.write(frame)                            // only one frame was ever sent
				h.closed(ErrAckWindow)
			})
		})
	}
}

func TestAckWindowAcrossWrap(t *testing.T) {
	for _, tc := range []struct {
		base, vs, nr uint16
		ok           bool
	}{
		{32766, 2, 32767, true}, {32766, 2, 0, true}, {32766, 2, 2, true},
		{32766, 2, 3, false}, {32766, 2, 32765, false}, {0, 0, 0, true}, {0, 0, 1, false},
	} {
		m := &machine{c: &Conn{}, ackBase: tc.base, vs: tc.vs, sentAt: make([]time.Time, seqDiff(tc.vs, tc.base))}
		m.c.state.Store(uint32(StateActive))
		err := m.ackUpTo(tc.nr, time.Now())
		if (err == nil) != tc.ok {
			t.Errorf("base %d vs %d N(R) %d: got %v, want ok=%v", tc.base, tc.vs, tc.nr, err, tc.ok)
		}
		if err == nil && (len(m.sentAt) != int(seqDiff(tc.vs, tc.nr)) || m.ackBase != tc.nr) {
			t.Errorf("base %d vs %d N(R) %d: %d unacknowledged, base %d", tc.base, tc.vs, tc.nr, len(m.sentAt), m.ackBase)
		}
	}
}

func TestStopDTAcknowledgesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlling, DefaultConfig())
		h.activate()
		h.p.write(iframe(0, 0), iframe(1, 0), iframe(2, 0))
		synctest.Wait()
		errc := make(chan error, 1)
		go func() { errc <- h.c.StopDT(context.Background()) }()
		h.p.expectS(3) // everything acknowledged before STOPDT act
		h.p.expectU(StopDTAct)
		// The outstation may still send while it has not confirmed: acknowledged at once.
		h.p.write(iframe(3, 0))
		h.p.expectS(4)
		h.p.write(AppendU(nil, StopDTCon))
		if err := <-errc; err != nil {
			t.Fatalf("StopDT: %v", err)
		}
		// Stopped: no S- or I-frames any more, and an I-frame is a violation.
		if err := h.c.Send(context.Background(), testASDU(1)); !errors.Is(err, ErrNotStarted) {
			t.Fatalf("Send after STOPDT: got %v, want ErrNotStarted", err)
		}
		time.Sleep(DefaultConfig().T2 * 2)
		h.p.expectU(TestFRAct) // only U frames
		h.p.write(AppendU(nil, TestFRCon))
		h.p.write(iframe(4, 0))
		h.closed(ErrNotStarted)
	})
}

func TestStopDTWithOutstandingFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlled, DefaultConfig())
		h.activatePeer()
		for i := range 3 {
			if err := h.c.Send(context.Background(), testASDU(i)); err != nil {
				t.Fatal(err)
			}
			h.p.expectI(uint16(i), 0)
		}
		h.p.write(AppendU(nil, StopDTAct))
		h.p.quiet() // no STOPDT con while 3 frames are unacknowledged
		if s := h.c.State(); s != StateStopping {
			t.Fatalf("state %v, want stopping", s)
		}
		if err := h.c.Queue(testASDU(9)); !errors.Is(err, ErrNotStarted) {
			t.Fatalf("Queue while stopping: got %v, want ErrNotStarted", err)
		}
		h.p.write(AppendS(nil, 2))
		h.p.quiet()
		h.p.write(AppendS(nil, 3))
		h.p.expectU(StopDTCon)
		synctest.Wait()
		if s := h.c.State(); s != StateStopped {
			t.Fatalf("state %v, want stopped", s)
		}
		// And it can start again.
		h.activatePeer()
		if err := h.c.Send(context.Background(), testASDU(3)); err != nil {
			t.Fatal(err)
		}
		h.p.expectI(3, 0)
	})
}

func TestUnexpectedUFrames(t *testing.T) {
	for name, f := range map[string]UFunc{"STARTDT con": StartDTCon, "STOPDT con": StopDTCon} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(t, Controlling, DefaultConfig())
				h.p.write(AppendU(nil, f))
				h.closed(ErrUnexpectedU)
			})
		})
	}
	t.Run("invalid code", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, Controlling, DefaultConfig())
			h.p.write([]byte{0x68, 0x04, 0x17, 0, 0, 0})
			h.closed(ErrUFunction)
		})
	})
	t.Run("bad start byte", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, Controlling, DefaultConfig())
			// The connection stops reading after the bad octet: write without waiting.
			go h.p.nc.Write([]byte{0x69, 0x04, 0x07, 0, 0, 0})
			h.closed(ErrStartByte)
		})
	})
	t.Run("unsolicited TESTFR con is harmless", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(t, Controlling, DefaultConfig())
			h.p.write(AppendU(nil, TestFRCon))
			h.p.quiet()
			if s := h.c.State(); s != StateStopped {
				t.Fatalf("state %v, want stopped", s)
			}
		})
	})
}

func TestCloseAcknowledgesReceived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, Controlling, DefaultConfig())
		h.activate()
		h.p.write(iframe(0, 0), iframe(1, 0))
		synctest.Wait()
		h.cancel()
		h.p.expectS(2)
		if err := <-h.runErr; err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
		if s := h.c.State(); s != StateClosed {
			t.Fatalf("state %v, want closed", s)
		}
	})
}
