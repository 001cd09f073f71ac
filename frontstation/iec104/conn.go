package iec104

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Role says which end of the link a connection is.
type Role uint8

// Roles.
const (
	Controlling Role = iota + 1 // the master (HMI), TCP client
	Controlled                  // the outstation (RTU, simulator), TCP server
)

func (r Role) String() string {
	switch r {
	case Controlling:
		return "controlling"
	case Controlled:
		return "controlled"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// State is the data-transfer state of a connection.
type State uint8

// States.
const (
	StateStopped  State = iota + 1 // connected, data transfer stopped (also after STOPDT con)
	StateStarting                  // STARTDT act sent, waiting for STARTDT con
	StateActive                    // data transfer started
	StateStopping                  // STOPDT act sent or received, waiting for outstanding acknowledgements or STOPDT con
	StateClosed                    // the connection is gone
)

func (s State) String() string {
	switch s {
	case StateStopped:
		return "stopped"
	case StateStarting:
		return "starting"
	case StateActive:
		return "active"
	case StateStopping:
		return "stopping"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Protocol violations and other reasons a connection closes. Run returns a
// *ProtocolError wrapping one of these; branch with errors.Is.
var (
	ErrSequence     = errors.New("received N(S) does not match V(R)")
	ErrAckWindow    = errors.New("received N(R) outside the window of unacknowledged frames")
	ErrAckTimeout   = errors.New("t1 expired: sent I-frame not acknowledged")
	ErrConTimeout   = errors.New("t1 expired: U-frame act not confirmed")
	ErrNotStarted   = errors.New("data transfer not started")
	ErrUnexpectedU  = errors.New("unexpected U-frame")
	ErrClosed       = errors.New("connection closed")
	ErrQueueFull    = errors.New("send queue full")
	ErrBadState     = errors.New("operation not allowed in this state")
	errInvalidASDU  = errors.New("invalid ASDU length")
	maxQueuedFrames = 4096
)

// ProtocolError is a violation of the protocol that closed the connection.
type ProtocolError struct {
	Err    error // ErrSequence, ErrAckWindow, ErrAckTimeout, ErrConTimeout, ErrNotStarted, ErrUnexpectedU, or a *DecodeError
	Detail string
}

func (e *ProtocolError) Error() string {
	msg := e.Err.Error()
	var de *DecodeError
	if !errors.As(e.Err, &de) { // a DecodeError names the package itself
		msg = "iec104: " + msg
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *ProtocolError) Unwrap() error { return e.Err }

func violation(err error, format string, args ...any) *ProtocolError {
	return &ProtocolError{Err: err, Detail: fmt.Sprintf(format, args...)}
}

// Options configure a connection.
type Options struct {
	Role   Role
	Config Config
	// OnASDU gets every received ASDU in order, on the connection's own
	// goroutine. The slice is valid only during the call. It may call Queue,
	// but not Send, StartDT or StopDT, and must not block for long.
	OnASDU func(asdu []byte)
	// OnState is told every state change, on the connection's goroutine.
	OnState func(State)
	// Tap sees every frame sent and received (for traffic logs and capture
	// files). It is called from two goroutines and must be safe for that.
	Tap func(sent bool, apdu []byte)
	// KeepUnacked keeps a copy of every I-frame's ASDU until the peer
	// acknowledges it, for Unacknowledged: what an outstation with an event
	// buffer sends again on its next connection (IEC104.md 3.3).
	KeepUnacked bool
	Logger      *slog.Logger
}

// Stats are the counters of one connection.
type Stats struct {
	RxI, RxS, RxU uint64        // frames received by format
	TxI, TxS, TxU uint64        // frames sent by format
	TestRTT       time.Duration // round trip of the last TESTFR act we sent
}

type sendReq struct {
	asdu []byte
	done chan error // nil for Queue; buffered 1
	// taken and cancelled are guarded by Conn.mu.
	taken, cancelled bool
}

type ctrlReq struct {
	f    UFunc // StartDTAct or StopDTAct
	done chan error
}

type rxFrame struct {
	apdu APDU
	err  error
}

// Conn is one IEC 104 connection, either role, over a net.Conn (TCP or TLS).
// Run drives it; Send, Queue, StartDT and StopDT may be called from any
// goroutine while Run runs.
type Conn struct {
	nc   net.Conn
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	queue  []*sendReq // guarded by mu: I-frames waiting for the window
	closed bool       // guarded by mu

	wake  chan struct{} // a send request was queued
	ctrl  chan ctrlReq
	done  chan struct{} // closed when Run has finished
	state atomic.Uint32
	err   error // why Run ended; written before done is closed
	// unacked is what Unacknowledged returns; written before done is closed.
	unacked [][]byte

	rxI, rxS, rxU, txI, txS, txU atomic.Uint64
	testRTT                      atomic.Int64
}

// NewConn wraps an established connection. The caller must call Run.
func NewConn(nc net.Conn, opts Options) (*Conn, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, err
	}
	if opts.Role != Controlling && opts.Role != Controlled {
		return nil, fmt.Errorf("iec104: role %d invalid", opts.Role)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Conn{
		nc:   nc,
		opts: opts,
		log:  opts.Logger,
		wake: make(chan struct{}, 1),
		ctrl: make(chan ctrlReq),
		done: make(chan struct{}),
	}
	c.state.Store(uint32(StateStopped))
	return c, nil
}

// Dial opens a TCP connection, or a TLS one when tlsConf is not nil, within
// t0 (connection and TLS handshake together).
func Dial(ctx context.Context, addr string, t0 time.Duration, tlsConf *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: t0, KeepAlive: -1}
	if tlsConf == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	td := &tls.Dialer{NetDialer: d, Config: tlsConf}
	return td.DialContext(ctx, "tcp", addr)
}

// State returns the current state.
func (c *Conn) State() State { return State(c.state.Load()) }

// Stats returns the counters.
func (c *Conn) Stats() Stats {
	return Stats{
		RxI: c.rxI.Load(), RxS: c.rxS.Load(), RxU: c.rxU.Load(),
		TxI: c.txI.Load(), TxS: c.txS.Load(), TxU: c.txU.Load(),
		TestRTT: time.Duration(c.testRTT.Load()),
	}
}

// RemoteAddr and LocalAddr are the addresses of the underlying connection.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr is the local address of the underlying connection.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Unacknowledged returns, once Done is closed and with
// Options.KeepUnacked, the ASDUs the peer never acknowledged: those sent
// without an acknowledgement, oldest first, then those still queued. The
// peer may have received the first ones (its acknowledgement was lost with
// the connection); an outstation that sends them again causes duplicates
// the master must recognise. Before Done it returns nil.
func (c *Conn) Unacknowledged() [][]byte {
	select {
	case <-c.done:
		return c.unacked
	default:
		return nil
	}
}

// Done is closed when Run has returned.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, after Done is closed.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Send queues asdu as an I-frame and waits until it is sent, which may take
// until the peer acknowledges earlier frames (the k window). If ctx ends
// before the frame left the queue, it is withdrawn and never sent.
func (c *Conn) Send(ctx context.Context, asdu []byte) error {
	req := &sendReq{asdu: asdu, done: make(chan error, 1)}
	if err := c.enqueue(req); err != nil {
		return err
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		c.mu.Lock()
		taken := req.taken
		if !taken {
			req.cancelled = true
		}
		c.mu.Unlock()
		if taken {
			return <-req.done
		}
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
}

// Queue queues a copy of asdu as an I-frame without waiting. It may be called
// from OnASDU. At most 4096 frames wait; beyond that it returns ErrQueueFull.
func (c *Conn) Queue(asdu []byte) error {
	return c.enqueue(&sendReq{asdu: append([]byte(nil), asdu...)})
}

func (c *Conn) enqueue(req *sendReq) error {
	if len(req.asdu) < asduHeaderLen || len(req.asdu) > MaxASDU {
		return fmt.Errorf("iec104: %w: %d octets", errInvalidASDU, len(req.asdu))
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.closedErr()
	}
	if s := c.State(); s != StateActive {
		c.mu.Unlock()
		return fmt.Errorf("iec104: send: %w (state %v)", ErrNotStarted, s)
	}
	if len(c.queue) >= maxQueuedFrames {
		c.mu.Unlock()
		return ErrQueueFull
	}
	c.queue = append(c.queue, req)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// StartDT sends STARTDT act and waits for STARTDT con.
func (c *Conn) StartDT(ctx context.Context) error { return c.control(ctx, StartDTAct) }

// StopDT acknowledges every received I-frame, sends STOPDT act and waits for
// STOPDT con. Frames still queued stay queued until the next STARTDT.
func (c *Conn) StopDT(ctx context.Context) error { return c.control(ctx, StopDTAct) }

func (c *Conn) control(ctx context.Context, f UFunc) error {
	req := ctrlReq{f: f, done: make(chan error, 1)}
	select {
	case c.ctrl <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
}

func (c *Conn) closedErr() error {
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("%w: %w", ErrClosed, c.err)
		}
	default:
	}
	return ErrClosed
}

// Close closes the connection at once; Run returns.
func (c *Conn) Close() error { return c.nc.Close() }

// machine is the state Run owns. Only Run's goroutine touches it.
type machine struct {
	c   *Conn
	cfg Config

	vs, vr    uint16      // send and receive state variables
	ackBase   uint16      // oldest unacknowledged N(S) we sent
	sentAt    []time.Time // send times of unacknowledged I-frames, oldest first
	sentASDU  [][]byte    // their ASDUs, parallel to sentAt, with Options.KeepUnacked
	recvUnack int         // received I-frames not yet acknowledged
	t2At      time.Time   // when the first of them arrived plus t2
	lastRx    time.Time   // last frame received (t3)

	uPending UFunc // STARTDT or STOPDT act awaiting con, 0 when none
	uSentAt  time.Time
	uWaiter  chan error
	testAt   time.Time // TESTFR act sent and unconfirmed since; zero when none

	out []byte // frames encoded but not yet handed to the writer
}

// Run reads, writes and supervises the connection until ctx ends, Close is
// called, the peer closes, or the protocol is violated. It returns nil for
// the first two, otherwise why the connection ended (a *ProtocolError for
// violations). The connection is closed when Run returns.
func (c *Conn) Run(ctx context.Context) (err error) {
	m := &machine{c: c, cfg: c.opts.Config, lastRx: time.Now()}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	rx := make(chan rxFrame, rxDepth)
	writeReq := make(chan []byte)
	writeDone := make(chan writeResult)
	wg.Add(2)
	go func() { defer wg.Done(); c.readLoop(rx, stop) }()
	go func() { defer wg.Done(); c.writeLoop(writeReq, writeDone, stop) }()

	defer func() {
		c.nc.Close()
		close(stop)
		wg.Wait()
		c.mu.Lock()
		c.closed = true
		q := c.queue
		c.queue = nil
		c.mu.Unlock()
		c.err = err
		if c.opts.KeepUnacked {
			c.unacked = m.sentASDU
			for _, r := range q {
				if !r.cancelled {
					c.unacked = append(c.unacked, r.asdu)
				}
			}
		}
		c.setState(StateClosed)
		close(c.done)
		for _, r := range q {
			if r.done != nil {
				r.done <- c.closedErr()
			}
		}
		if m.uWaiter != nil {
			m.uWaiter <- c.closedErr()
		}
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	writerIdle := true
	var spare []byte
	for {
		if m.pendingWindow() {
			m.sendQueued(time.Now())
		}
		if m.recvUnack >= m.cfg.W || (m.recvUnack > 0 && c.State() == StateStopping) {
			m.sendS()
		}
		if writerIdle && len(m.out) > 0 {
			writeReq <- m.out
			writerIdle = false
			m.out = spare[:0]
			spare = nil
		}
		timer.Reset(time.Until(m.nextDeadline()))
		select {
		case <-ctx.Done():
			return m.shutdown(writerIdle, writeReq, writeDone)
		case f := <-rx:
			if f.err != nil {
				if errors.Is(f.err, net.ErrClosed) {
					return nil
				}
				var de *DecodeError
				if errors.As(f.err, &de) {
					return &ProtocolError{Err: de}
				}
				return fmt.Errorf("iec104: read: %w", f.err)
			}
			if err := m.receive(f.apdu, time.Now()); err != nil {
				return err
			}
		case w := <-writeDone:
			if w.err != nil {
				if errors.Is(w.err, net.ErrClosed) {
					return nil
				}
				return fmt.Errorf("iec104: write: %w", w.err)
			}
			writerIdle = true
			spare = w.buf
		case <-c.wake:
		case r := <-c.ctrl:
			m.control(r, time.Now())
		case now := <-timer.C:
			if err := m.expire(now); err != nil {
				return err
			}
		}
	}
}

// rxDepth bounds the frames read ahead of the state machine; readLoop keeps
// rxDepth+2 buffers so none is reused while the machine may still read it.
const rxDepth = 32

func (c *Conn) readLoop(rx chan<- rxFrame, stop <-chan struct{}) {
	var bufs [rxDepth + 2][MaxAPDU]byte
	// Buffered: one read system call brings in many frames at high rates.
	r := bufio.NewReaderSize(c.nc, 16<<10)
	for i := 0; ; i = (i + 1) % len(bufs) {
		b, err := ReadAPDU(r, bufs[i][:])
		var f rxFrame
		if err == nil {
			if c.opts.Tap != nil {
				c.opts.Tap(false, b)
			}
			f.apdu, err = ParseAPDU(b)
		}
		f.err = err
		select {
		case rx <- f:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

type writeResult struct {
	buf []byte
	err error
}

func (c *Conn) writeLoop(req <-chan []byte, done chan<- writeResult, stop <-chan struct{}) {
	for {
		select {
		case b := <-req:
			_, err := c.nc.Write(b)
			select {
			case done <- writeResult{b, err}:
			case <-stop:
				return
			}
		case <-stop:
			return
		}
	}
}

func (c *Conn) setState(s State) {
	if State(c.state.Swap(uint32(s))) != s {
		c.log.Debug("iec104 state", "role", c.opts.Role, "state", s)
		if c.opts.OnState != nil {
			c.opts.OnState(s)
		}
	}
}

// shutdown acknowledges what was received, flushes what is encoded, waiting
// at most one second for the writer, and ends Run cleanly.
func (m *machine) shutdown(writerIdle bool, writeReq chan<- []byte, writeDone <-chan writeResult) error {
	if m.recvUnack > 0 {
		m.sendS()
	}
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	for len(m.out) > 0 || !writerIdle {
		if writerIdle {
			writeReq <- m.out
			m.out = nil
			writerIdle = false
		}
		select {
		case w := <-writeDone:
			if w.err != nil {
				return nil
			}
			writerIdle = true
		case <-deadline.C:
			return nil
		}
	}
	return nil
}

func (m *machine) emit(f []byte) {
	if m.c.opts.Tap != nil {
		m.c.opts.Tap(true, f)
	}
}

func (m *machine) sendU(f UFunc) {
	start := len(m.out)
	m.out = AppendU(m.out, f)
	m.c.txU.Add(1)
	m.emit(m.out[start:])
}

func (m *machine) sendS() {
	start := len(m.out)
	m.out = AppendS(m.out, m.vr)
	m.recvUnack = 0
	m.t2At = time.Time{}
	m.c.txS.Add(1)
	m.emit(m.out[start:])
}

// pendingWindow reports whether I-frames may be sent now.
func (m *machine) pendingWindow() bool {
	return m.c.State() == StateActive && len(m.sentAt) < m.cfg.K
}

// sendQueued sends queued I-frames while the window allows.
func (m *machine) sendQueued(now time.Time) {
	c := m.c
	for len(m.sentAt) < m.cfg.K {
		c.mu.Lock()
		var req *sendReq
		for len(c.queue) > 0 && req == nil {
			r := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			if !r.cancelled {
				r.taken = true
				req = r
			}
		}
		c.mu.Unlock()
		if req == nil {
			return
		}
		start := len(m.out)
		m.out, _ = AppendI(m.out, m.vs, m.vr, req.asdu) // length checked by enqueue
		m.emit(m.out[start:])
		m.vs = (m.vs + 1) % seqModulo
		m.sentAt = append(m.sentAt, now)
		if c.opts.KeepUnacked {
			a := req.asdu
			if req.done != nil { // Send: the caller owns the slice; Queue made a copy
				a = append([]byte(nil), a...)
			}
			m.sentASDU = append(m.sentASDU, a)
		}
		m.recvUnack = 0
		m.t2At = time.Time{}
		c.txI.Add(1)
		if req.done != nil {
			req.done <- nil
		}
	}
}

func (m *machine) nextDeadline() time.Time {
	next := m.lastRx.Add(m.cfg.T3)
	if !m.testAt.IsZero() {
		next = m.testAt.Add(m.cfg.T1)
	}
	if len(m.sentAt) > 0 {
		next = earlier(next, m.sentAt[0].Add(m.cfg.T1))
	}
	if m.uPending != 0 {
		next = earlier(next, m.uSentAt.Add(m.cfg.T1))
	}
	if m.recvUnack > 0 && !m.t2At.IsZero() {
		next = earlier(next, m.t2At)
	}
	return next
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// expire handles every timer that is due at now.
func (m *machine) expire(now time.Time) error {
	if len(m.sentAt) > 0 && !now.Before(m.sentAt[0].Add(m.cfg.T1)) {
		return violation(ErrAckTimeout, "%d I-frames unacknowledged, oldest sent %v ago (t1 %v)", len(m.sentAt), now.Sub(m.sentAt[0]), m.cfg.T1)
	}
	if m.uPending != 0 && !now.Before(m.uSentAt.Add(m.cfg.T1)) {
		return violation(ErrConTimeout, "no con for %v within t1 %v", m.uPending, m.cfg.T1)
	}
	if !m.testAt.IsZero() && !now.Before(m.testAt.Add(m.cfg.T1)) {
		return violation(ErrConTimeout, "no con for %v within t1 %v", TestFRAct, m.cfg.T1)
	}
	if m.recvUnack > 0 && !m.t2At.IsZero() && !now.Before(m.t2At) {
		m.sendS()
	}
	if m.testAt.IsZero() && !now.Before(m.lastRx.Add(m.cfg.T3)) {
		m.sendU(TestFRAct)
		m.testAt = now
	}
	return nil
}

func (m *machine) control(r ctrlReq, now time.Time) {
	c := m.c
	if m.uPending != 0 {
		r.done <- fmt.Errorf("iec104: %v: %w: %v awaiting its con", r.f, ErrBadState, m.uPending)
		return
	}
	switch s := c.State(); {
	case r.f == StartDTAct && s == StateActive:
		r.done <- nil
		return
	case r.f == StopDTAct && s == StateStopped:
		r.done <- nil
		return
	case r.f == StartDTAct && s != StateStopped, r.f == StopDTAct && s != StateActive:
		r.done <- fmt.Errorf("iec104: %v: %w (state %v)", r.f, ErrBadState, s)
		return
	}
	if r.f == StopDTAct {
		if m.recvUnack > 0 {
			m.sendS()
		}
		c.setState(StateStopping)
	} else {
		c.setState(StateStarting)
	}
	m.sendU(r.f)
	m.uPending, m.uSentAt, m.uWaiter = r.f, now, r.done
}

func (m *machine) confirm(err error) {
	m.uPending = 0
	if m.uWaiter != nil {
		m.uWaiter <- err
		m.uWaiter = nil
	}
}

// ackUpTo applies a received N(R).
func (m *machine) ackUpTo(nr uint16, now time.Time) error {
	acked := seqDiff(nr, m.ackBase)
	if acked > seqDiff(m.vs, m.ackBase) {
		return violation(ErrAckWindow, "N(R)=%d, unacknowledged N(S) %d..%d", nr, m.ackBase, (m.vs+seqModulo-1)%seqModulo)
	}
	if acked > 0 {
		m.sentAt = m.sentAt[acked:]
		m.ackBase = nr
		if len(m.sentAt) == 0 {
			m.sentAt = m.sentAt[:0:0]
		}
		if m.c.opts.KeepUnacked {
			clear(m.sentASDU[:acked])
			m.sentASDU = m.sentASDU[acked:]
			if len(m.sentASDU) == 0 {
				m.sentASDU = m.sentASDU[:0:0]
			}
		}
	}
	// A peer that asked us to stop confirms once all we sent is acknowledged.
	if m.c.State() == StateStopping && m.uPending == 0 && len(m.sentAt) == 0 {
		m.sendU(StopDTCon)
		m.c.setState(StateStopped)
	}
	return nil
}

func (m *machine) receive(a APDU, now time.Time) error {
	c := m.c
	m.lastRx = now
	switch a.Format {
	case FormatI:
		c.rxI.Add(1)
		if s := c.State(); s != StateActive && !(s == StateStopping && m.uPending == StopDTAct) {
			return violation(ErrNotStarted, "I-frame N(S)=%d received in state %v", a.SendSeq, s)
		}
		if a.SendSeq != m.vr {
			return violation(ErrSequence, "N(S)=%d, expected %d", a.SendSeq, m.vr)
		}
		if err := m.ackUpTo(a.RecvSeq, now); err != nil {
			return err
		}
		m.vr = (m.vr + 1) % seqModulo
		m.recvUnack++
		if m.recvUnack == 1 {
			m.t2At = now.Add(m.cfg.T2)
		}
		if c.opts.OnASDU != nil {
			c.opts.OnASDU(a.ASDU)
		}
	case FormatS:
		c.rxS.Add(1)
		return m.ackUpTo(a.RecvSeq, now)
	case FormatU:
		c.rxU.Add(1)
		return m.receiveU(a.U, now)
	}
	return nil
}

func (m *machine) receiveU(f UFunc, now time.Time) error {
	c := m.c
	switch f {
	case TestFRAct:
		m.sendU(TestFRCon)
	case TestFRCon:
		// An unsolicited TESTFR con is harmless; it only proves the peer alive.
		if !m.testAt.IsZero() {
			c.testRTT.Store(int64(now.Sub(m.testAt)))
			m.testAt = time.Time{}
		}
	case StartDTAct:
		if m.uPending != 0 {
			return violation(ErrUnexpectedU, "STARTDT act while our %v awaits its con", m.uPending)
		}
		m.sendU(StartDTCon)
		c.setState(StateActive)
	case StopDTAct:
		if m.uPending != 0 {
			return violation(ErrUnexpectedU, "STOPDT act while our %v awaits its con", m.uPending)
		}
		if m.recvUnack > 0 {
			m.sendS()
		}
		if len(m.sentAt) == 0 {
			m.sendU(StopDTCon)
			c.setState(StateStopped)
		} else {
			// Wait until the peer acknowledges what we sent (ackUpTo confirms).
			c.setState(StateStopping)
		}
	case StartDTCon:
		if m.uPending != StartDTAct {
			return violation(ErrUnexpectedU, "STARTDT con without STARTDT act")
		}
		c.setState(StateActive)
		m.confirm(nil)
	case StopDTCon:
		if m.uPending != StopDTAct {
			return violation(ErrUnexpectedU, "STOPDT con without STOPDT act")
		}
		c.setState(StateStopped)
		m.confirm(nil)
	}
	return nil
}
