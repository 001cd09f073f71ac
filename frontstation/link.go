package frontstation

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hmi/frontstation/iec104"
	"hmi/points"
)

// State is the state of a link as operators see it.
type State uint8

// Link states (the strings are the HTTP contract's).
const (
	Disconnected State = iota + 1 // no connection
	Connecting                    // dialling, no connection yet
	Stopped                       // connected, data transfer not started
	Active                        // data transfer started on one connection
)

func (s State) String() string {
	switch s {
	case Disconnected:
		return "disconnected"
	case Connecting:
		return "connecting"
	case Stopped:
		return "stopped"
	case Active:
		return "active"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ErrLinkNotActive is returned for requests that need an active link.
var ErrLinkNotActive = errors.New("link is not active")

// ErrSystemPending is returned by System while another System call waits
// for a request of the same type.
var ErrSystemPending = errors.New("a request of this type is already pending")

// RefusedError is a station's negative answer to a system command.
type RefusedError struct {
	Link  string
	Type  iec104.TypeID
	Cause iec104.Cause
	CA    uint16
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("frontstation: link %s: station CA %d refused %v: %s", e.Link, e.CA, e.Type,
		describeNegative(iec104.Header{Cause: e.Cause, Negative: true}))
}

// PointMap binds a point of the cache to its IEC address on a link.
type PointMap struct {
	Point  points.Handle
	ID     string
	CA     uint16
	IOA    uint32
	Kind   points.Kind
	Scale  float64 // engineering value = raw*Scale + Offset for analog kinds; 0 means 1
	Offset float64
}

// CaptureConfig makes a link write its traffic to rotating pcap files.
type CaptureConfig struct {
	Dir      string // empty: no capture
	MaxBytes int64  // rotate when a file exceeds this size; 0: 10 MB
	MaxFiles int    // keep at most this many files of the link; 0: 10
}

// LinkConfig configures a Link.
type LinkConfig struct {
	Name      string
	Addresses []string // one or more host:port; several form a redundancy group, first preferred
	CA        uint16   // common address of the station
	OA        uint8    // originator address of what we send
	TLS       *tls.Config
	APCI      iec104.Config

	InterrogationPeriod time.Duration  // station interrogation after activation and then every period; 0: only after activation
	ClockSync           bool           // send clock synchronisation after activation
	ClockSyncPeriod     time.Duration  // and then every period; 0: only after activation
	ClockZone           *time.Location // zone of the clock we send; nil: UTC
	Counters            bool           // counter interrogation after activation
	CounterPeriod       time.Duration  // and then every period (a period alone implies Counters); 0: only after activation
	DeviceZone          *time.Location // zone of the device's time tags; nil: UTC

	// Manual: nothing is sent on activation or when the station reports its
	// initialisation (no clock sync, interrogation or counter
	// interrogation); the periodic ones still run when their periods are
	// set, and System sends on request.
	Manual bool
	// Once: no reconnection. Each address is connected once; Run returns
	// with the reason when the active connection ends, or when every
	// address has failed.
	Once bool
	// Observe, when set, gets every well-formed ASDU received, with its
	// decoded objects (none for a type this stack cannot decode), before
	// the link handles it (malformed ones raise an anomaly event instead). It runs on the receive path: it must not
	// block, and the slices are valid only during the call.
	Observe func(a iec104.ASDU, objs []iec104.Object, at time.Time)
	// QuietUnmapped: objects at addresses that map to no point are counted
	// (Stats.UnknownObjects) but raise no event; for a link that maps no
	// points on purpose and observes everything instead.
	QuietUnmapped bool

	BackoffMin, BackoffMax time.Duration // reconnect delay, doubled per failure with jitter; 0: 1 s and 30 s
	TrafficBuffer          int           // frames kept for the traffic view; 0: 500
	Capture                CaptureConfig

	Points []PointMap
	Logger *slog.Logger
	Events EventSink
}

// mapped is where an address's values go: the point, and the index of its
// scaling in Link.scales, or -1 for none (raw = engineering).
type mapped struct {
	point points.Handle
	scale int32
}

// scaling is an analog point's engineering = raw*factor + offset.
type scaling struct{ factor, offset float64 }

type addrKey struct {
	ca   uint16
	ioa  uint32
	kind points.Kind
}

// Stats are a link's counters.
type Stats struct {
	RxFrames, TxFrames   uint64
	RxObjects, TxObjects uint64
	Errors               map[string]uint64 // by kind
	Reconnects           uint64
	Replays              uint64 // time-tagged objects not newer than the point's value, not applied
	UnknownAddresses     int    // distinct (CA, IOA, kind) received that map to no point
	UnknownObjects       uint64 // objects received at those addresses
	LastInterrogation    time.Time
	InterrogationTime    time.Duration // from act to ACTTERM of the last complete interrogation
	TestRTT              time.Duration
}

// Link keeps one outstation's connections and feeds the cache.
type Link struct {
	cfg    LinkConfig
	cache  *points.Cache
	log    *slog.Logger
	index  map[addrKey]mapped // the points by address: about 30 bytes each
	scales []scaling          // of the points with a scale or an offset, by mapped.scale
	ring   *trafficRing
	cmd    atomic.Pointer[Commander]
	gi     chan struct{} // ask the active connection's duties for an interrogation

	mu           sync.Mutex
	state        State                       // guarded by mu
	since        time.Time                   // guarded by mu
	active       *iec104.Conn                // guarded by mu
	activeAddr   string                      // guarded by mu
	conns        []*iec104.Conn              // guarded by mu; per address, nil when not connected
	dialing      []bool                      // guarded by mu
	errs         map[string]uint64           // guarded by mu
	unknownTypes map[iec104.TypeID]uint64    // guarded by mu
	unknown      map[addrKey]uint64          // guarded by mu
	giStart      time.Time                   // guarded by mu; zero when no interrogation runs
	lastGI       time.Time                   // guarded by mu
	giTime       time.Duration               // guarded by mu
	pendingSys   map[iec104.TypeID]time.Time // guarded by mu; system commands sent and not yet confirmed
	sysWaits     map[iec104.TypeID]*sysWait  // guarded by mu; System calls waiting, by type
	activeCh     chan struct{}               // guarded by mu; closed while the link is active
	onceErrs     []error                     // guarded by mu; Once: why each address failed
	changed      chan struct{}

	rxFrames, txFrames, rxObjects, txObjects, reconnects, replays, unknownObjs atomic.Uint64
	testRTT                                                                    atomic.Int64

	rxMu    sync.Mutex // serialises the receive path (buffers below)
	objBuf  []iec104.Object
	updates []points.Update
}

// NewLink checks cfg and builds a link feeding cache. Run starts it.
func NewLink(cfg LinkConfig, cache *points.Cache) (*Link, error) {
	if cfg.Name == "" {
		return nil, errors.New("frontstation: link without a name")
	}
	if len(cfg.Addresses) == 0 {
		return nil, fmt.Errorf("frontstation: link %s: no address", cfg.Name)
	}
	for _, a := range cfg.Addresses {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("frontstation: link %s: address %q: %w", cfg.Name, a, err)
		}
	}
	if err := cfg.APCI.Validate(); err != nil {
		return nil, fmt.Errorf("frontstation: link %s: %w", cfg.Name, err)
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = time.Second
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(30*time.Second, cfg.BackoffMin)
	}
	if cfg.TrafficBuffer <= 0 {
		cfg.TrafficBuffer = 500
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = func(Event) {}
	}
	l := &Link{
		cfg:          cfg,
		cache:        cache,
		log:          cfg.Logger.With("link", cfg.Name),
		index:        make(map[addrKey]mapped, len(cfg.Points)),
		ring:         newTrafficRing(cfg.TrafficBuffer),
		gi:           make(chan struct{}, 1),
		state:        Disconnected,
		since:        time.Now(),
		conns:        make([]*iec104.Conn, len(cfg.Addresses)),
		dialing:      make([]bool, len(cfg.Addresses)),
		errs:         map[string]uint64{},
		unknown:      map[addrKey]uint64{},
		unknownTypes: map[iec104.TypeID]uint64{},
		pendingSys:   map[iec104.TypeID]time.Time{},
		sysWaits:     map[iec104.TypeID]*sysWait{},
		activeCh:     make(chan struct{}),
		onceErrs:     make([]error, len(cfg.Addresses)),
		changed:      make(chan struct{}, 1),
	}
	for _, p := range cfg.Points {
		k := addrKey{p.CA, p.IOA, p.Kind}
		if prev, dup := l.index[k]; dup {
			return nil, fmt.Errorf("frontstation: link %s: points %s and %s both at CA %d IOA %d (%v)", cfg.Name, cache.Def(prev.point).ID, p.ID, p.CA, p.IOA, p.Kind)
		}
		m := mapped{point: p.Point, scale: -1}
		if p.Scale == 0 {
			p.Scale = 1
		}
		if p.Scale != 1 || p.Offset != 0 {
			m.scale = int32(len(l.scales))
			l.scales = append(l.scales, scaling{p.Scale, p.Offset})
		}
		l.index[k] = m
	}
	// The map is all the link needs of the points: a million points'
	// configuration is not kept twice.
	l.cfg.Points = nil
	return l, nil
}

// Name is the link's name.
func (l *Link) Name() string { return l.cfg.Name }

// State returns the link's state and when it was entered.
func (l *Link) State() (State, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state, l.since
}

// Address is the address of the active connection, or the preferred one.
func (l *Link) Address() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.activeAddr != "" {
		return l.activeAddr
	}
	return l.cfg.Addresses[0]
}

// Stats returns the link's counters.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	errs := make(map[string]uint64, len(l.errs))
	for k, v := range l.errs {
		errs[k] = v
	}
	s := Stats{
		Errors:            errs,
		UnknownAddresses:  len(l.unknown),
		LastInterrogation: l.lastGI,
		InterrogationTime: l.giTime,
	}
	active := l.active
	l.mu.Unlock()
	s.RxFrames, s.TxFrames = l.rxFrames.Load(), l.txFrames.Load()
	s.RxObjects, s.TxObjects = l.rxObjects.Load(), l.txObjects.Load()
	s.Reconnects, s.Replays, s.UnknownObjects = l.reconnects.Load(), l.replays.Load(), l.unknownObjs.Load()
	s.TestRTT = time.Duration(l.testRTT.Load())
	if active != nil {
		// The live connection's last round trip, not only the one of the last connection that ended.
		if rtt := active.Stats().TestRTT; rtt > 0 {
			s.TestRTT = rtt
		}
	}
	return s
}

// Traffic returns copies of the kept frames with Seq > after, oldest first.
func (l *Link) Traffic(after uint64, dst []Frame) []Frame { return l.ring.since(after, dst) }

// Interrogate asks for a station interrogation on the active connection.
func (l *Link) Interrogate() {
	select {
	case l.gi <- struct{}{}:
	default:
	}
}

func (l *Link) countErr(kind string) {
	l.mu.Lock()
	l.errs[kind]++
	l.mu.Unlock()
}

func (l *Link) event(kind EventKind, point, format string, args ...any) {
	l.emit(Event{Kind: kind, Point: point, Message: fmt.Sprintf(format, args...)})
}

// security reports a security event of the given code.
func (l *Link) security(code, point, format string, args ...any) {
	l.emit(Event{Kind: EventSecurity, Code: code, Point: point, Message: fmt.Sprintf(format, args...)})
}

func (l *Link) emit(e Event) {
	e.Time, e.Link = time.Now(), l.cfg.Name
	if e.Kind == EventSecurity {
		l.log.Warn(e.Message, "event", e.Kind.String(), "code", e.Code, "point", e.Point)
	} else {
		l.log.Info(e.Message, "event", e.Kind.String(), "point", e.Point)
	}
	l.cfg.Events(e)
}

func (l *Link) notify() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// publish derives the link state from its connections. Call with mu held.
func (l *Link) publishLocked() {
	s := Disconnected
	switch {
	case l.active != nil:
		s = Active
	default:
		for i, c := range l.conns {
			if c != nil {
				s = Stopped
				break
			}
			if l.dialing[i] {
				s = Connecting
			}
		}
	}
	if s != l.state {
		from := l.state
		l.state, l.since = s, time.Now()
		switch {
		case s == Active:
			close(l.activeCh)
		case from == Active:
			l.activeCh = make(chan struct{})
		}
		msg := fmt.Sprintf("link %s: %v -> %v", l.cfg.Name, from, s)
		if l.activeAddr != "" && s == Active {
			msg += " via " + l.activeAddr
		}
		l.cfg.Events(Event{Time: l.since, Kind: EventLinkState, Link: l.cfg.Name, Message: msg, State: s})
		l.log.Info("link state", "state", s.String(), "from", from.String())
	}
}

// Run keeps the link up until ctx ends: every address is connected and
// supervised; one connection at a time is started. When ctx ends the
// active connection is stopped with STOPDT and everything is closed.
func (l *Link) Run(ctx context.Context) error {
	connCtx, cancelConns := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range l.cfg.Addresses {
		wg.Add(1)
		go func() { defer wg.Done(); l.supervise(connCtx, i) }()
	}
	// Once: closed when every supervisor has given up.
	var noneLeft chan struct{}
	if l.cfg.Once {
		noneLeft = make(chan struct{})
		go func() { wg.Wait(); close(noneLeft) }()
	}
	defer func() {
		cancelConns()
		wg.Wait()
		l.mu.Lock()
		l.active, l.activeAddr = nil, ""
		l.publishLocked()
		l.mu.Unlock()
		l.cache.SetCommFail(l.cfg.Name, true, time.Now())
	}()
	var active *iec104.Conn
	for {
		if active == nil {
			active = l.activate(ctx, connCtx)
		}
		var activeDone <-chan struct{}
		if active != nil {
			activeDone = active.Done()
		}
		select {
		case <-ctx.Done():
			if active != nil {
				stopCtx, cancel := context.WithTimeout(context.Background(), l.cfg.APCI.T1)
				if err := active.StopDT(stopCtx); err != nil {
					l.log.Warn("STOPDT at shutdown", "err", err)
				}
				cancel()
			}
			return nil
		case <-l.changed:
		case <-activeDone:
			l.lost(active)
			if l.cfg.Once {
				return l.endError(active)
			}
			active = nil
		case <-noneLeft:
			if active != nil { // its supervisor has returned: it has ended
				<-activeDone
				l.lost(active)
				return l.endError(active)
			}
			l.mu.Lock()
			err := errors.Join(l.onceErrs...)
			l.mu.Unlock()
			if err == nil {
				err = fmt.Errorf("frontstation: link %s: no connection", l.cfg.Name)
			}
			return err
		}
	}
}

// endError says why the active connection c ended, for Once.
func (l *Link) endError(c *iec104.Conn) error {
	if err := c.Err(); err != nil {
		return fmt.Errorf("frontstation: link %s: connection to %s lost: %w", l.cfg.Name, c.RemoteAddr(), err)
	}
	return fmt.Errorf("frontstation: link %s: connection to %s closed", l.cfg.Name, c.RemoteAddr())
}

// onceFailed records why address i failed, for Once; the first reason wins.
func (l *Link) onceFailed(i int, err error) {
	if !l.cfg.Once {
		return
	}
	l.mu.Lock()
	if l.onceErrs[i] == nil {
		l.onceErrs[i] = err
	}
	l.mu.Unlock()
}

// WaitActive returns once the link is active (at once if it is), or with
// context.Cause(ctx) when ctx ends first.
func (l *Link) WaitActive(ctx context.Context) error {
	l.mu.Lock()
	ch := l.activeCh
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// lost handles the end of the active connection.
func (l *Link) lost(c *iec104.Conn) {
	now := time.Now()
	l.mu.Lock()
	if l.active == c {
		l.active, l.activeAddr = nil, ""
	}
	l.giStart = time.Time{}
	clear(l.pendingSys)
	for t, w := range l.sysWaits {
		delete(l.sysWaits, t)
		w.done <- fmt.Errorf("frontstation: link %s: %v: %w: %v", l.cfg.Name, t, ErrLinkNotActive, connLost(c))
	}
	l.publishLocked()
	l.mu.Unlock()
	l.cache.SetCommFail(l.cfg.Name, true, now)
	if cmd := l.cmd.Load(); cmd != nil {
		cmd.linkLost(l, c.Err())
	}
}

// activate starts data transfer on the first connected address in order of
// preference; a connection that refuses is closed (its supervisor redials).
func (l *Link) activate(ctx, connCtx context.Context) *iec104.Conn {
	for {
		l.mu.Lock()
		var cand *iec104.Conn
		var addr string
		idx := -1
		for i, c := range l.conns {
			if c != nil && c.State() == iec104.StateStopped {
				cand, addr, idx = c, l.cfg.Addresses[i], i
				break
			}
		}
		l.mu.Unlock()
		if cand == nil || ctx.Err() != nil {
			return nil
		}
		if err := cand.StartDT(ctx); err != nil {
			switch why, _ := tlsFailure(err, false); {
			case why != "": // serve reports it as a security event
			case l.cfg.TLS == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
				l.log.Warn("STARTDT failed", "address", addr, "err", err,
					"hint", "the station closed the connection: does it expect TLS, or accept no other master?")
			default:
				l.log.Warn("STARTDT failed", "address", addr, "err", err)
			}
			if ctx.Err() == nil {
				l.onceFailed(idx, fmt.Errorf("frontstation: link %s: STARTDT on %s: %w", l.cfg.Name, addr, err))
			}
			cand.Close()
			continue
		}
		l.mu.Lock()
		l.active, l.activeAddr = cand, addr
		l.publishLocked()
		l.mu.Unlock()
		go l.duties(connCtx, cand)
		return cand
	}
}

// supervise keeps a connection to address i, redialling with backoff.
func (l *Link) supervise(ctx context.Context, i int) {
	addr := l.cfg.Addresses[i]
	backoff := l.cfg.BackoffMin
	first := true
	for ctx.Err() == nil {
		if !first {
			l.reconnects.Add(1)
		}
		first = false
		l.mu.Lock()
		l.dialing[i] = true
		l.publishLocked()
		l.mu.Unlock()
		nc, err := iec104.Dial(ctx, addr, l.cfg.APCI.T0, l.cfg.TLS)
		l.mu.Lock()
		l.dialing[i] = false
		l.publishLocked()
		l.mu.Unlock()
		if err == nil {
			var up time.Duration
			up, err = l.serve(ctx, i, nc)
			if up >= l.cfg.BackoffMax || up >= 10*l.cfg.APCI.T1 {
				backoff = l.cfg.BackoffMin
			}
			if l.cfg.Once {
				if err == nil {
					err = errors.New("connection closed")
				}
				l.onceFailed(i, fmt.Errorf("frontstation: link %s: connection to %s: %w", l.cfg.Name, addr, err))
			}
		} else {
			l.connectFailed(addr, err)
			l.onceFailed(i, fmt.Errorf("frontstation: link %s: connect to %s: %w", l.cfg.Name, addr, err))
		}
		if ctx.Err() != nil || l.cfg.Once {
			return
		}
		l.log.Info("reconnecting", "address", addr, "after", backoff, "err", err)
		// Full jitter in [backoff/2, backoff], so that links do not redial in step.
		d := backoff/2 + rand.N(backoff/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, l.cfg.BackoffMax)
	}
}

func (l *Link) connectFailed(addr string, err error) {
	// A link that has never been active has had no SetCommFail yet: its points were only "no value". Once an
	// attempt fails they show the communication failure (no change when they already do).
	l.mu.Lock()
	idle := l.active == nil
	l.mu.Unlock()
	if idle {
		l.cache.SetCommFail(l.cfg.Name, true, time.Now())
	}
	if why, detail := tlsFailure(err, l.cfg.TLS != nil); why != "" {
		l.countErr("tls")
		l.security("tls", "", "TLS connection to %s refused: %s: %v", addr, why, detail)
		return
	}
	l.countErr("connect")
	l.log.Debug("connect failed", "address", addr, "err", err)
}

// certAlerts are the TLS alerts of a peer that refuses our certificate.
var certAlerts = []string{
	"tls: bad certificate", "tls: unsupported certificate", "tls: revoked certificate", "tls: expired certificate",
	"tls: unknown certificate", "tls: unknown certificate authority", "tls: access denied", "tls: certificate required",
}

// tlsFailure says why a TLS connection failed, for its security event, and
// the error to show with it; why is "" for no TLS failure. handshake: err
// is from iec104.Dial with TLS, so whatever did not fail the TCP connection
// failed the handshake. The station's refusal of our certificate shows in
// TLS 1.2 as the handshake's error, in TLS 1.3 at the first read, after
// Dial returned.
func tlsFailure(err error, handshake bool) (why string, detail error) {
	var op *net.OpError
	var rec tls.RecordHeaderError
	var cv *tls.CertificateVerificationError
	switch {
	case errors.Is(err, iec104.ErrPeerExpired):
		return "station certificate expired", err
	case errors.Is(err, iec104.ErrPeerNotYetValid):
		return "station certificate not yet valid", err
	case errors.Is(err, iec104.ErrPeerUntrusted), errors.As(err, &cv):
		return "station certificate not trusted", err
	case errors.Is(err, iec104.ErrPeerName):
		return "station certificate name mismatch", err
	case errors.Is(err, iec104.ErrPeerNotPinned):
		return "station certificate not pinned", err
	case errors.Is(err, iec104.ErrNoPeerCert):
		return "station sent no certificate", err
	case errors.As(err, &op) && op.Op == "remote error":
		if slices.Contains(certAlerts, op.Err.Error()) {
			return "station refused our certificate", op
		}
		return "station refused the TLS connection", op
	case errors.As(err, &rec):
		return "station does not speak TLS", err
	case !handshake, errors.As(err, &op) && op.Op == "dial", errors.Is(err, context.Canceled):
		return "", nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "no TLS handshake from the station within t0", err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "station closed the connection during the TLS handshake (does it speak TLS?)", err
	}
	return "TLS handshake failed", err
}

// serve runs one connection to address i until it ends.
func (l *Link) serve(ctx context.Context, i int, nc net.Conn) (time.Duration, error) {
	addr := l.cfg.Addresses[i]
	start := time.Now()
	var w *captureWriter
	if l.cfg.Capture.Dir != "" {
		var err error
		if w, err = openCapture(l.cfg.Name, l.cfg.Capture, nc); err != nil {
			l.countErr("capture")
			l.log.Error("traffic capture", "err", err)
		}
	}
	c, err := iec104.NewConn(nc, iec104.Options{
		Role:   iec104.Controlling,
		Config: l.cfg.APCI,
		Logger: l.log,
		Tap: func(sent bool, apdu []byte) {
			now := time.Now()
			if sent {
				l.txFrames.Add(1)
			} else {
				l.rxFrames.Add(1)
			}
			l.ring.add(now, sent, addr, apdu)
			if w != nil {
				w.write(now, sent, apdu)
			}
		},
		OnASDU: func(b []byte) { l.receive(b) },
	})
	if err != nil {
		nc.Close()
		return 0, err
	}
	l.mu.Lock()
	l.conns[i] = c
	l.publishLocked()
	l.mu.Unlock()
	l.notify()
	err = c.Run(ctx)
	if w != nil {
		w.close(time.Now())
	}
	l.mu.Lock()
	l.conns[i] = nil
	l.publishLocked()
	l.mu.Unlock()
	l.notify()
	if rtt := c.Stats().TestRTT; rtt > 0 {
		l.testRTT.Store(int64(rtt))
	}
	if err != nil {
		var pe *iec104.ProtocolError
		if errors.As(err, &pe) {
			kind := "protocol"
			var de *iec104.DecodeError
			if errors.As(err, &de) {
				kind = "malformed_apdu"
			}
			l.countErr(kind)
			l.event(EventAnomaly, "", "connection to %s closed: %v", addr, err)
		} else if why, detail := tlsFailure(err, false); why != "" {
			// A TLS 1.3 station refuses our certificate after our handshake
			// is complete: its alert is the first thing we read.
			l.countErr("tls")
			if st := c.Stats(); st.RxI+st.RxS+st.RxU == 0 {
				l.security("tls", "", "TLS connection to %s refused: %s: %v", addr, why, detail)
			} else {
				l.security("tls", "", "TLS connection to %s ended: %s: %v", addr, why, detail)
			}
		} else {
			l.countErr("io")
		}
	}
	return time.Since(start), err
}

// duties runs interrogation, clock sync and counter interrogation on the
// active connection until it ends.
func (l *Link) duties(ctx context.Context, c *iec104.Conn) {
	tick := func(d time.Duration) (<-chan time.Time, func()) {
		if d <= 0 {
			return nil, func() {}
		}
		t := time.NewTicker(d)
		return t.C, t.Stop
	}
	giC, stopGI := tick(l.cfg.InterrogationPeriod)
	defer stopGI()
	csC, stopCS := tick(l.cfg.ClockSyncPeriod)
	defer stopCS()
	ciC, stopCI := tick(l.cfg.CounterPeriod)
	defer stopCI()
	// Clock first: time tags of what the interrogation brings are then right.
	if l.cfg.ClockSync && !l.cfg.Manual {
		l.system(ctx, c, iec104.C_CS_NA_1, iec104.Object{Time: iec104.NewCP56(time.Now(), l.cfg.ClockZone)})
	}
	if !l.cfg.Manual {
		l.system(ctx, c, iec104.C_IC_NA_1, iec104.Object{Qualifier: 20})
	}
	if (l.cfg.Counters || l.cfg.CounterPeriod > 0) && !l.cfg.Manual {
		l.system(ctx, c, iec104.C_CI_NA_1, iec104.Object{Qualifier: 5})
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
			return
		case <-giC:
			l.system(ctx, c, iec104.C_IC_NA_1, iec104.Object{Qualifier: 20})
		case <-l.gi:
			l.system(ctx, c, iec104.C_IC_NA_1, iec104.Object{Qualifier: 20})
		case <-csC:
			l.system(ctx, c, iec104.C_CS_NA_1, iec104.Object{Time: iec104.NewCP56(time.Now(), l.cfg.ClockZone)})
		case <-ciC:
			l.system(ctx, c, iec104.C_CI_NA_1, iec104.Object{Qualifier: 5})
		}
	}
}

// system sends a system command (IOA 0) in activation.
func (l *Link) system(ctx context.Context, c *iec104.Conn, t iec104.TypeID, o iec104.Object) {
	if err := l.sendSystem(ctx, c, t, o); err != nil {
		l.log.Debug("system command not sent", "type", t, "err", err)
	}
}

// sendSystem sends a system command (IOA 0) in activation and marks it
// pending until its confirmation.
func (l *Link) sendSystem(ctx context.Context, c *iec104.Conn, t iec104.TypeID, o iec104.Object) error {
	b, err := iec104.AppendASDU(nil, iec104.Header{Type: t, Cause: iec104.CauseActivation, OA: l.cfg.OA, CA: l.cfg.CA}, []iec104.Object{o})
	if err != nil {
		l.log.Error("encode system command", "type", t, "err", err)
		return err
	}
	now := time.Now()
	l.mu.Lock()
	l.pendingSys[t] = now
	if t == iec104.C_IC_NA_1 {
		l.giStart = now
	}
	l.mu.Unlock()
	if err := c.Send(ctx, b); err != nil {
		l.mu.Lock()
		delete(l.pendingSys, t)
		l.mu.Unlock()
		return err
	}
	l.txObjects.Add(1)
	return nil
}

// sysWait is a System call waiting for its answer.
type sysWait struct {
	confirmed time.Time  // guarded by Link.mu: when ACTCON came (interrogations)
	done      chan error // buffered 1; whoever removes the sysWait from Link.sysWaits sends once
}

// System sends a system command on the active connection and waits until
// it is complete: ACTTERM for a station or group interrogation (C_IC_NA_1,
// qualifier the QOI: 20 for the station, 21..36 for groups 1..16) and a
// counter interrogation (C_CI_NA_1, qualifier the QCC, e.g. 5 for all
// counters, read without freeze); ACTCON for clock synchronisation
// (C_CS_NA_1 with the current time in ClockZone; qualifier unused) and the
// test command (C_TS_TA_1, qualifier the test sequence counter). It
// returns a *RefusedError when the station answers negatively, an error
// wrapping ErrLinkNotActive when there is no active connection or it is
// lost, and one wrapping ctx.Err() (saying whether ACTCON came) when ctx
// ends first: ctx bounds the wait. The objects an interrogation brings are
// handled as always; Observe sees them before System returns.
func (l *Link) System(ctx context.Context, t iec104.TypeID, qualifier uint8) error {
	var o iec104.Object
	switch t {
	case iec104.C_IC_NA_1, iec104.C_CI_NA_1:
		o.Qualifier = qualifier
	case iec104.C_CS_NA_1:
		o.Time = iec104.NewCP56(time.Now(), l.cfg.ClockZone)
	case iec104.C_TS_TA_1:
		o.TSC, o.Time = uint16(qualifier), iec104.NewCP56(time.Now(), l.cfg.ClockZone)
	default:
		return fmt.Errorf("frontstation: link %s: %v is not a system command System sends", l.cfg.Name, t)
	}
	w := &sysWait{done: make(chan error, 1)}
	l.mu.Lock()
	c := l.active
	if c == nil {
		l.mu.Unlock()
		return fmt.Errorf("frontstation: link %s: %v: %w", l.cfg.Name, t, ErrLinkNotActive)
	}
	if _, busy := l.sysWaits[t]; busy {
		l.mu.Unlock()
		return fmt.Errorf("frontstation: link %s: %v: %w", l.cfg.Name, t, ErrSystemPending)
	}
	l.sysWaits[t] = w
	l.mu.Unlock()
	// removed reports whether w was still waiting, and stops it waiting.
	removed := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.sysWaits[t] != w {
			return false
		}
		delete(l.sysWaits, t)
		return true
	}
	sent := time.Now()
	if err := l.sendSystem(ctx, c, t, o); err != nil {
		if !removed() {
			return <-w.done // lost meanwhile: say so
		}
		if errors.Is(err, iec104.ErrNotStarted) || errors.Is(err, iec104.ErrClosed) {
			return fmt.Errorf("frontstation: link %s: %v not sent: %w: %w", l.cfg.Name, t, ErrLinkNotActive, err)
		}
		return fmt.Errorf("frontstation: link %s: %v not sent: %w", l.cfg.Name, t, err)
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		if !removed() {
			return <-w.done // answered meanwhile
		}
		l.mu.Lock()
		conf := w.confirmed
		l.mu.Unlock()
		if conf.IsZero() {
			return fmt.Errorf("frontstation: link %s: no ACTCON for %v after %v: %w", l.cfg.Name, t, time.Since(sent).Round(time.Millisecond), ctx.Err())
		}
		return fmt.Errorf("frontstation: link %s: %v confirmed after %v, no ACTTERM after %v: %w", l.cfg.Name, t,
			conf.Sub(sent).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond), ctx.Err())
	}
}

// connLost says why connection c ended.
func connLost(c *iec104.Conn) string {
	if err := c.Err(); err != nil {
		return "connection lost: " + err.Error()
	}
	return "connection closed"
}

// sendCommand sends an ASDU on the active connection.
func (l *Link) sendCommand(ctx context.Context, b []byte) error {
	l.mu.Lock()
	c := l.active
	l.mu.Unlock()
	if c == nil {
		return ErrLinkNotActive
	}
	if err := c.Send(ctx, b); err != nil {
		if errors.Is(err, iec104.ErrNotStarted) || errors.Is(err, iec104.ErrClosed) {
			return fmt.Errorf("%w: %w", ErrLinkNotActive, err)
		}
		return err
	}
	l.txObjects.Add(1)
	return nil
}
