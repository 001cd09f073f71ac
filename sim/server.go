package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"hmi/frontstation/iec104"
)

// Unlimited as Options.Rate sends spontaneous changes as fast as the
// started connections acknowledge them.
const Unlimited = -1

// Options configure a Server.
type Options struct {
	Config Config // the station; checked by New
	// Rate is the number of spontaneous changes per second (0: none). A
	// negative rate (Unlimited) generates changes as fast as the slowest
	// started connection acknowledges them, in full ASDUs: the load generator.
	// Changes are generated station-wide and every started connection
	// receives all of them.
	Rate     float64
	TLS      *tls.Config    // when set, connections are TLS (e.g. iec104.TLSConfig.Server())
	Link     iec104.Config  // k, w, t0..t3; zero: iec104.DefaultConfig(); t0 bounds the TLS handshake
	Location *time.Location // zone of CP56Time2a time tags and clock sync; nil: UTC
	Seed     uint64         // seed of the random changes
	Logger   *slog.Logger   // nil: discard
	// OnExecute, when set, is called with the IOA of a point after an
	// executed command changed it (its new value reported with cause 11):
	// a process model reacts to the operation. It runs on the connection's
	// worker and must not block.
	OnExecute func(pointIOA uint32)
	// EventBuffer, when above 0, gives the station an event buffer of that
	// many ASDUs (at most MaxEventBuffer), as lib60870's server keeps in its
	// default mode: spontaneous data made while no connection is started
	// is kept, as are the spontaneous ASDUs a connection that ends did not
	// get acknowledged, and the next started connection receives them
	// first. 0: such data is lost, as in lib60870's
	// connection-is-redundancy-group mode.
	EventBuffer int
}

// Server simulates one outstation (one common address) for any number of
// connections.
type Server struct {
	opts Options
	log  *slog.Logger
	ca   uint16
	loc  *time.Location

	// The model. Points and commands are fixed after New; their values,
	// selections, the clock offset, the random source and the cursors are
	// guarded by mu.
	mu       sync.Mutex
	points   []*point // by IOA
	byIOA    map[uint32]*point
	byKind   [kindCount + 1][]*point // by IOA
	commands map[uint32]*command
	offset   time.Duration // clock offset set by clock synchronisation
	rng      *rand.Rand
	cursor   [kindCount + 1]int // next point of each kind for unlimited-rate changes
	changes  atomic.Uint64      // spontaneous changes made for started connections
	nextKind int

	smu      sync.Mutex                 // guards sessions and nextID
	sessions map[*session]chan struct{} // all sessions; value: closed when the session stops being started, nil while not started
	nextID   uint64
	started  chan struct{} // capacity 1: a session has become started
	events   *eventBuffer  // nil without Options.EventBuffer; guarded by smu

	faults faultState // fault injection (fault.go)
}

// New checks the options and builds a server.
func New(opts Options) (*Server, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Link == (iec104.Config{}) {
		opts.Link = iec104.DefaultConfig()
	}
	if err := opts.Link.Validate(); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.EventBuffer < 0 || opts.EventBuffer > MaxEventBuffer {
		return nil, fmt.Errorf("sim: event buffer %d, want 0..%d ASDUs", opts.EventBuffer, MaxEventBuffer)
	}
	s := &Server{
		opts:     opts,
		log:      opts.Logger,
		ca:       opts.Config.CA,
		loc:      opts.Location,
		byIOA:    make(map[uint32]*point, len(opts.Config.Points)),
		commands: make(map[uint32]*command, len(opts.Config.Commands)),
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5157_0104)),
		sessions: make(map[*session]chan struct{}),
		started:  make(chan struct{}, 1),
	}
	if opts.EventBuffer > 0 {
		s.events = &eventBuffer{max: opts.EventBuffer}
	}
	for _, pc := range opts.Config.Points {
		p := &point{Point: pc, obj: objectOf(pc)}
		p.frozen = p.obj
		s.points = append(s.points, p)
		s.byIOA[p.IOA] = p
	}
	sortedByIOA(s.points)
	for _, p := range s.points {
		s.byKind[p.Kind] = append(s.byKind[p.Kind], p)
	}
	defTimeout := opts.Config.SelectTimeout
	if defTimeout == 0 {
		defTimeout = DefaultSelectTimeout
	}
	for _, cc := range opts.Config.Commands {
		c := &command{Command: cc, point: s.byIOA[cc.Point], timeout: cc.SelectTimeout}
		if c.timeout == 0 {
			c.timeout = defTimeout
		}
		s.commands[c.IOA] = c
	}
	return s, nil
}

// CA returns the station's common address.
func (s *Server) CA() uint16 { return s.ca }

// Now returns the station's clock: the system clock plus the offset the
// last clock synchronisation set.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Add(s.offset)
}

// nowLocked is Now for a caller that holds mu.
func (s *Server) nowLocked() time.Time { return time.Now().Add(s.offset) }

// Get returns the current object of the point at ioa (value and quality).
func (s *Server) Get(ioa uint32) (iec104.Object, bool) {
	p := s.byIOA[ioa]
	if p == nil {
		return iec104.Object{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return p.obj, true
}

// Set changes the point at ioa to value (as Point.Value) with quality q and
// reports it to every started connection with cause spontaneous (3).
func (s *Server) Set(ioa uint32, value float64, q iec104.Quality) error {
	p := s.byIOA[ioa]
	if p == nil {
		return fmt.Errorf("sim: no point with IOA %d", ioa)
	}
	msg := checkValue(p.Kind, value)
	if msg == "" {
		msg = checkQuality(p.Kind, q)
	}
	if msg != "" {
		return fmt.Errorf("sim: set IOA %d: %s", ioa, msg)
	}
	pc := p.Point
	pc.Value, pc.Quality = value, q
	s.mu.Lock()
	o := objectOf(pc)
	if p.Kind == Counter {
		o.CounterSeq, o.Carry = p.obj.CounterSeq, p.obj.Carry
	}
	p.obj = o
	tm := iec104.NewCP56(s.nowLocked(), s.loc)
	obj := p.report(p.TimeTag, tm)
	s.mu.Unlock()
	b, err := iec104.AppendASDU(nil, iec104.Header{Type: p.Kind.TypeID(p.TimeTag), Cause: iec104.CauseSpontaneous, CA: s.ca}, []iec104.Object{obj})
	if err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	s.report(b)
	return nil
}

// Run accepts connections on ln and serves them until ctx ends; it then
// closes ln and every connection and returns nil. It returns an error when
// ln fails.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		<-ctx.Done()
		ln.Close()
	})
	wg.Go(func() { s.generate(ctx) })
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("sim: accept on %v: %w", ln.Addr(), err)
			}
			// Out of file descriptors and the like: wait and try again.
			s.log.Warn("sim: accept", "addr", ln.Addr().String(), "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		wg.Go(func() { s.serve(ctx, nc) })
	}
}

// session is one connection.
type session struct {
	id    uint64
	srv   *Server
	conn  *iec104.Conn
	raw   *rawConn // under conn: Inject writes raw frames through it
	log   *slog.Logger
	reqs  chan []byte // received ASDUs, for the worker
	spont chan []byte // spontaneous ASDUs, for the sender
}

const (
	reqDepth   = 256 // received ASDUs waiting for the worker
	spontDepth = 64  // spontaneous ASDUs waiting for the sender: enough to keep any window full
)

// serve runs one connection until it closes or ctx ends. Its two helper
// goroutines (worker and sender) end with it.
func (s *Server) serve(ctx context.Context, nc net.Conn) {
	remote := nc.RemoteAddr().String()
	log := s.log.With("remote", remote)
	if s.opts.TLS != nil {
		tc := tls.Server(nc, s.opts.TLS)
		hctx, cancel := context.WithTimeout(ctx, s.opts.Link.T0)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			log.Warn("sim: TLS handshake failed", "err", err)
			nc.Close()
			return
		}
		st := tc.ConnectionState()
		subject := ""
		if len(st.PeerCertificates) > 0 {
			subject = st.PeerCertificates[0].Subject.String()
		}
		log = log.With("tls", tls.VersionName(st.Version), "peer", subject)
		nc = tc
	}
	s.smu.Lock()
	s.nextID++
	ss := &session{id: s.nextID, srv: s, log: log.With("conn", s.nextID),
		reqs: make(chan []byte, reqDepth), spont: make(chan []byte, spontDepth)}
	s.sessions[ss] = nil
	s.smu.Unlock()

	ss.raw = &rawConn{Conn: nc}
	conn, err := iec104.NewConn(ss.raw, iec104.Options{
		Role:        iec104.Controlled,
		Config:      s.opts.Link,
		KeepUnacked: s.events != nil,
		OnASDU:      ss.onASDU,
		OnState:     ss.onState,
		Logger:      s.log,
	})
	if err != nil { // the configuration was validated in New
		ss.log.Error("sim: connection", "err", err)
		nc.Close()
		s.drop(ss)
		return
	}
	ss.conn = conn
	ss.log.Info("sim: connection accepted")

	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { ss.work(cctx) })
	wg.Go(func() { ss.send(cctx) })
	err = conn.Run(cctx)
	cancel()
	wg.Wait()
	s.giveBack(ss)
	s.drop(ss)
	switch {
	case err == nil:
		ss.log.Info("sim: connection closed")
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		ss.log.Info("sim: connection closed by the peer", "err", err)
	default:
		ss.log.Warn("sim: connection closed", "err", err)
	}
}

// drop forgets a finished session and its selections.
func (s *Server) drop(ss *session) {
	s.unsubscribe(ss)
	s.smu.Lock()
	delete(s.sessions, ss)
	s.smu.Unlock()
	s.mu.Lock()
	for _, c := range s.commands {
		if c.sel != nil && c.sel.owner == ss.id {
			c.sel = nil
		}
	}
	s.mu.Unlock()
}

// onASDU runs on the connection's goroutine: it hands a copy to the worker.
func (ss *session) onASDU(b []byte) {
	select {
	case ss.reqs <- append([]byte(nil), b...):
	default:
		ss.log.Warn("sim: too many requests waiting, ASDU dropped", "octets", len(b))
	}
}

// onState runs on the connection's goroutine.
func (ss *session) onState(st iec104.State) {
	ss.log.Debug("sim: state", "state", st)
	if st == iec104.StateActive {
		ss.srv.subscribe(ss)
	} else {
		ss.srv.unsubscribe(ss)
	}
}

// work answers the requests in order until ctx ends.
func (ss *session) work(ctx context.Context) {
	r := &responder{
		owner: ss.id,
		log:   ss.log,
		send:  func(b []byte) error { return ss.conn.Send(ctx, b) },
		others: func(b []byte) {
			ss.srv.queueAll(ss, b)
		},
	}
	for {
		select {
		case b := <-ss.reqs:
			if !ss.srv.holdCommand(ctx, ss.log, b) { // a command fault: no answer
				continue
			}
			if err := ss.srv.handle(r, b); err != nil {
				ss.log.Debug("sim: answer not sent", "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// send sends spontaneous data until ctx ends; Send blocks while the k
// window is full, so the peer's acknowledgements pace it.
func (ss *session) send(ctx context.Context) {
	for {
		select {
		case b := <-ss.spont:
			if err := ss.conn.Send(ctx, b); err != nil {
				if errors.Is(err, iec104.ErrNotStarted) {
					continue // stopped meanwhile: the change is not for this connection
				}
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// subscribe makes a started session receive spontaneous data.
func (s *Server) subscribe(ss *session) {
	s.smu.Lock()
	if gone, ok := s.sessions[ss]; ok && gone == nil {
		s.drainTo(ss)
		s.sessions[ss] = make(chan struct{})
	}
	s.smu.Unlock()
	select {
	case s.started <- struct{}{}:
	default:
	}
}

// unsubscribe stops spontaneous data to a session.
func (s *Server) unsubscribe(ss *session) {
	s.smu.Lock()
	if gone := s.sessions[ss]; gone != nil {
		close(gone)
		s.sessions[ss] = nil
	}
	s.smu.Unlock()
}

type subscriber struct {
	ss   *session
	gone <-chan struct{}
}

// subscribers returns the started sessions.
func (s *Server) subscribers(dst []subscriber) []subscriber {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.subscribersLocked(dst)
}

// subscribersLocked is subscribers for a caller that holds smu.
func (s *Server) subscribersLocked(dst []subscriber) []subscriber {
	for ss, gone := range s.sessions {
		if gone != nil {
			dst = append(dst, subscriber{ss, gone})
		}
	}
	return dst
}

// queueAll queues b on every started connection but except, without waiting.
func (s *Server) queueAll(except *session, b []byte) {
	for _, sub := range s.subscribers(nil) {
		if sub.ss == except {
			continue
		}
		if err := sub.ss.conn.Queue(b); err != nil {
			sub.ss.log.Warn("sim: return information not queued", "err", err)
		}
	}
}

// publish hands the ASDUs to every started session, waiting while a
// session's queue is full. It returns false when ctx ended.
func (s *Server) publish(ctx context.Context, subs []subscriber, asdus [][]byte) bool {
	for _, sub := range subs {
	asdus:
		for _, b := range asdus {
			select {
			case <-sub.gone: // checked first: a session that stopped must not get more
				break asdus
			default:
			}
			select {
			case sub.ss.spont <- b:
			case <-sub.gone:
				break asdus
			case <-ctx.Done():
				return false
			}
		}
	}
	return true
}

// generate produces spontaneous changes at the configured rate until ctx ends.
func (s *Server) generate(ctx context.Context) {
	switch {
	case s.opts.Rate == 0:
		return
	case s.opts.Rate < 0:
		s.generateFull(ctx)
	default:
		s.generateRate(ctx, s.opts.Rate)
	}
}

// generateRate makes rate changes per second at random points, batched per
// tick, grouped by type into as few ASDUs as fit. When the connections are
// slower than the rate, publishing waits and at most one second of changes
// accumulates.
func (s *Server) generateRate(ctx context.Context, rate float64) {
	tick := 50 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	last := time.Now()
	tokens := 0.0
	var subs []subscriber
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			tokens += rate * now.Sub(last).Seconds()
			last = now
			tokens = min(tokens, max(rate, 1))
			n := int(tokens)
			if n == 0 {
				continue
			}
			tokens -= float64(n)
			subs = s.subscribers(subs[:0])
			asdus := s.randomChanges(n, len(subs) > 0 || s.events != nil)
			if len(subs) == 0 && s.events != nil {
				subs = s.bufferUnlessStarted(asdus, subs)
			}
			if !s.publish(ctx, subs, asdus) {
				return
			}
		}
	}
}

// Changes returns how many spontaneous changes the generator has made for
// started connections (each of them gets every one): what a benchmark
// compares with what a master applied.
func (s *Server) Changes() uint64 { return s.changes.Load() }

// randomChanges changes n random points and, when encode is set, returns
// the changes as ASDUs with cause spontaneous.
func (s *Server) randomChanges(n int, encode bool) [][]byte {
	if encode {
		s.changes.Add(uint64(n))
	}
	var b batch
	s.mu.Lock()
	tm := iec104.NewCP56(s.nowLocked(), s.loc)
	for range n {
		p := s.points[s.rng.IntN(len(s.points))]
		p.change(s.rng)
		if encode {
			b.add(p.Kind.TypeID(p.TimeTag), p.report(p.TimeTag, tm))
		}
	}
	s.mu.Unlock()
	var out [][]byte
	if err := b.pack(iec104.Header{Cause: iec104.CauseSpontaneous, CA: s.ca}, func(a []byte) error {
		out = append(out, a)
		return nil
	}); err != nil {
		s.log.Error("sim: encode spontaneous data", "err", err)
	}
	return out
}

// generateFull keeps every started connection's window full: it makes one
// full ASDU of changes at a time, the kinds in turn, and hands it to every
// started session, waiting for the slowest.
func (s *Server) generateFull(ctx context.Context) {
	var subs []subscriber
	for {
		subs = s.subscribers(subs[:0])
		if len(subs) == 0 {
			select {
			case <-s.started:
				continue
			case <-ctx.Done():
				return
			}
		}
		if !s.publish(ctx, subs, s.fullChanges()) {
			return
		}
	}
}

// fullChanges changes the next points of the next kind, as many as fill
// one ASDU, and encodes them (in more than one ASDU when their IOAs are
// partly consecutive or their time-tag settings differ).
func (s *Server) fullChanges() [][]byte {
	s.mu.Lock()
	var kind Kind
	for range kindCount {
		s.nextKind = s.nextKind%kindCount + 1
		if len(s.byKind[s.nextKind]) > 0 {
			kind = Kind(s.nextKind)
			break
		}
	}
	ps := s.byKind[kind]
	cap0, cap1 := capacity(kind.TypeID(ps[0].TimeTag))
	// Fill an SQ=1 ASDU where the IOAs from the cursor on are consecutive,
	// else an SQ=0 one. The window wraps round the kind's points.
	start := s.cursor[kind] % len(ps)
	n := cap0
	if end := min(len(ps), start+cap1); end-start >= cap0 && ps[end-1].IOA-ps[start].IOA == uint32(end-1-start) {
		n = cap1
	}
	n = min(n, len(ps))
	s.changes.Add(uint64(n))
	tm := iec104.NewCP56(s.nowLocked(), s.loc)
	var b batch
	for i := range n {
		p := ps[(start+i)%len(ps)]
		p.change(s.rng)
		b.add(p.Kind.TypeID(p.TimeTag), p.report(p.TimeTag, tm))
	}
	s.cursor[kind] = (start + n) % len(ps)
	s.mu.Unlock()
	var out [][]byte
	if err := b.pack(iec104.Header{Cause: iec104.CauseSpontaneous, CA: s.ca}, func(a []byte) error {
		out = append(out, a)
		return nil
	}); err != nil {
		s.log.Error("sim: encode spontaneous data", "err", err)
	}
	return out
}
