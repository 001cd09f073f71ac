package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"hmi/frontstation/iec104"
)

// FaultKind is a way the station misbehaves on purpose, so that tests and
// engineers can see how a controlling station reacts.
type FaultKind uint8

// Faults. The first eight are committed once per Inject on every started
// connection; the last two are command modes set with SetCommandFault.
const (
	// WrongNS: an I-frame whose N(S) skips one (V(S)+1): a sequence error.
	WrongNS FaultKind = iota + 1
	// AckOutsideWindow: an S-frame whose N(R) is half the sequence space
	// ahead of what the station received: it acknowledges I-frames the
	// master never sent (for any k below 16384).
	AckOutsideWindow
	// Garbage: Fault.Count octets (default 16), none of them 0x68, where
	// the next frame should start.
	Garbage
	// ShortAPDU: an APDU of length 3, 68 03 01 00 00: the length octet is
	// below the minimum 4 (IEC104.md 2.1; the codec's ErrLength).
	ShortAPDU
	// ObjectsBeyondBytes: a correctly numbered I-frame whose ASDU (the
	// station's first point, cause spontaneous) holds one object while its
	// VSQ counts Fault.Count (default 2).
	ObjectsBeyondBytes
	// UnknownType: a correctly numbered I-frame with type ID 200 (not
	// assigned) and one object.
	UnknownType
	// TestFRFlood: Fault.Count TESTFR act (default 100) in one burst.
	TestFRFlood
	// UnsolicitedActCon: a positive ACTCON of the command at Fault.IOA
	// (default: the station's first command) that the master never sent.
	UnsolicitedActCon
	// NoActCon (command mode): process commands (select, execute, cancel)
	// are never answered.
	NoActCon
	// LateActCon (command mode): process commands are answered after the
	// delay. The connection's requests are answered in order, so what the
	// master asks after such a command waits too.
	LateActCon
	faultKindEnd
)

var faultNames = [...]string{
	WrongNS: "wrong_ns", AckOutsideWindow: "ack_outside_window", Garbage: "garbage", ShortAPDU: "short_apdu",
	ObjectsBeyondBytes: "objects_beyond_bytes", UnknownType: "unknown_type", TestFRFlood: "testfr_flood",
	UnsolicitedActCon: "unsolicited_actcon", NoActCon: "no_actcon", LateActCon: "late_actcon",
}

func (k FaultKind) String() string {
	if k >= WrongNS && k < faultKindEnd {
		return faultNames[k]
	}
	return fmt.Sprintf("FaultKind(%d)", uint8(k))
}

// ParseFaultKind parses a fault name as String returns it.
func ParseFaultKind(s string) (FaultKind, error) {
	for k := WrongNS; k < faultKindEnd; k++ {
		if faultNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("sim: unknown fault %q (want one of %s)", s, strings.Join(faultNames[1:], ", "))
}

// IsCommandMode reports whether k is a command mode (SetCommandFault)
// rather than a fault Inject commits.
func (k FaultKind) IsCommandMode() bool { return k == NoActCon || k == LateActCon }

// Fault is one fault to inject.
type Fault struct {
	Kind FaultKind
	// Count: octets of Garbage (default 16), TESTFR act of TestFRFlood
	// (default 100), both at most MaxFaultCount; the object count that
	// ObjectsBeyondBytes claims, 2..127 (default 2). Zero for other kinds.
	Count int
	// IOA: the command UnsolicitedActCon confirms; 0: the station's first
	// command. Zero for other kinds.
	IOA uint32
}

// MaxFaultCount bounds Fault.Count of Garbage and TestFRFlood.
const MaxFaultCount = 65536

// ErrNoConnection is returned by Inject when no connection has started
// data transfer.
var ErrNoConnection = errors.New("no started connection")

// faultState is a Server's fault injection state.
type faultState struct {
	mu    sync.Mutex // guards cmd and delay
	cmd   FaultKind  // 0, NoActCon or LateActCon
	delay time.Duration
}

// rawConn is the net.Conn under a session's iec104.Conn. Its writes are
// serialised, so that a frame the injector writes never lands inside one
// the connection's writer is writing, and the injector's write deadline
// never applies to one of the connection's writes. The lock is held
// during the write on purpose: it orders writes and nothing else. A write
// that blocks ends at the latest when the connection's t1 closes it.
type rawConn struct {
	net.Conn
	mu sync.Mutex // held for each write
}

func (c *rawConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(b)
}

// writeRaw writes the octets build returns, built while no other write can
// start, within timeout. A write that fails leaves the stream unusable:
// the connection is closed.
func (c *rawConn) writeRaw(timeout time.Duration, build func() []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := build()
	if err := c.Conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := c.Conn.Write(b); err != nil {
		c.Conn.Close()
		return err
	}
	// The peer may have closed the connection already, at what it read:
	// then the deadline does not matter any more.
	if err := c.Conn.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, net.ErrClosed) {
		c.Conn.Close()
		return err
	}
	return nil
}

// checkFault validates f and fills in its defaults.
func (s *Server) checkFault(f Fault) (Fault, error) {
	if f.Kind.IsCommandMode() {
		return f, fmt.Errorf("sim: fault %v is a command mode: set it with SetCommandFault", f.Kind)
	}
	if f.Kind < WrongNS || f.Kind >= faultKindEnd {
		return f, fmt.Errorf("sim: unknown fault %v", f.Kind)
	}
	if f.IOA != 0 && f.Kind != UnsolicitedActCon {
		return f, fmt.Errorf("sim: fault %v takes no IOA", f.Kind)
	}
	switch f.Kind {
	case Garbage, TestFRFlood:
		if f.Count == 0 {
			f.Count = 16
			if f.Kind == TestFRFlood {
				f.Count = 100
			}
		}
		if f.Count < 1 || f.Count > MaxFaultCount {
			return f, fmt.Errorf("sim: fault %v: count %d, want 1..%d", f.Kind, f.Count, MaxFaultCount)
		}
	case ObjectsBeyondBytes:
		if f.Count == 0 {
			f.Count = 2
		}
		if f.Count < 2 || f.Count > 127 {
			return f, fmt.Errorf("sim: fault %v: count %d, want 2..127 (one object is sent)", f.Kind, f.Count)
		}
	default:
		if f.Count != 0 {
			return f, fmt.Errorf("sim: fault %v takes no count", f.Kind)
		}
	}
	if f.Kind == UnsolicitedActCon {
		if f.IOA == 0 {
			if len(s.commands) == 0 {
				return f, fmt.Errorf("sim: fault %v: the station has no command", f.Kind)
			}
			f.IOA = slices.Min(slices.Collect(maps.Keys(s.commands)))
		} else if s.commands[f.IOA] == nil {
			return f, fmt.Errorf("sim: fault %v: no command with IOA %d", f.Kind, f.IOA)
		}
	}
	return f, nil
}

// Inject commits fault f once on every connection that has started data
// transfer. Frames that break the APCI (WrongNS, AckOutsideWindow,
// Garbage, ShortAPDU, TestFRFlood) are written beside the connection's
// sequence bookkeeping, between two of its frames; the others are
// correctly numbered I-frames, queued like any other. It returns an error
// wrapping ErrNoConnection when no connection is started, one for an
// invalid fault, and the errors of connections it could not be committed
// on.
func (s *Server) Inject(f Fault) error {
	f, err := s.checkFault(f)
	if err != nil {
		return err
	}
	subs := s.subscribers(nil)
	if len(subs) == 0 {
		return fmt.Errorf("sim: inject %v: %w", f.Kind, ErrNoConnection)
	}
	var errs []error
	for _, sub := range subs {
		if err := s.inject(sub.ss, f); err != nil {
			errs = append(errs, fmt.Errorf("sim: inject %v on connection %d: %w", f.Kind, sub.ss.id, err))
		}
	}
	return errors.Join(errs...)
}

// inject commits f on one session.
func (s *Server) inject(ss *session, f Fault) error {
	ss.log.Info("sim: injecting fault", "fault", f.Kind, "count", f.Count, "ioa", f.IOA)
	var asdu []byte
	switch f.Kind {
	case ObjectsBeyondBytes:
		asdu = s.pointASDU()
		asdu[1] = byte(f.Count) // SQ=0, Count objects; one follows
		return ss.conn.Queue(asdu)
	case UnknownType:
		return ss.conn.Queue(s.unknownTypeASDU())
	case UnsolicitedActCon:
		c := s.commands[f.IOA]
		typ, _ := c.Kind.TypeIDs()
		o := iec104.Object{IOA: c.IOA}
		switch c.Kind {
		case SingleCommand:
			o.State = 1 // ON
		case DoubleCommand, StepCommand:
			o.State = 2 // ON, higher
		}
		b, err := iec104.AppendASDU(nil, iec104.Header{Type: typ, Cause: iec104.CauseActivationCon, CA: s.ca}, []iec104.Object{o})
		if err != nil {
			return err
		}
		return ss.conn.Queue(b)
	case WrongNS:
		asdu = s.pointASDU()
	}
	return ss.raw.writeRaw(s.opts.Link.T1, func() []byte {
		st := ss.conn.Stats() // V(S) and V(R): the I-frames encoded and received so far
		vs, vr := uint16(st.TxI%32768), uint16(st.RxI%32768)
		switch f.Kind {
		case WrongNS:
			b, _ := iec104.AppendI(nil, vs+1, vr, asdu) // the ASDU's length is right
			return b
		case AckOutsideWindow:
			return iec104.AppendS(nil, vr+16384)
		case Garbage:
			b := make([]byte, f.Count)
			for i := range b {
				b[i] = byte(rand.N(255))
				if b[i] >= iec104.StartByte {
					b[i]++
				}
			}
			return b
		case ShortAPDU:
			return []byte{iec104.StartByte, 3, 0x01, 0x00, 0x00}
		default: // TestFRFlood
			return bytes.Repeat(iec104.AppendU(nil, iec104.TestFRAct), f.Count)
		}
	})
}

// pointASDU returns the station's first point (Config.Validate wants one),
// as it is, with cause spontaneous and without time tag.
func (s *Server) pointASDU() []byte {
	p := s.points[0]
	s.mu.Lock()
	obj := p.obj
	s.mu.Unlock()
	b, err := iec104.AppendASDU(nil, iec104.Header{Type: p.Kind.TypeID(false), Cause: iec104.CauseSpontaneous, CA: s.ca}, []iec104.Object{obj})
	if err != nil { // what the model holds always encodes (Set and the commands check it)
		s.log.Error("sim: encode point", "ioa", p.IOA, "err", err)
		return s.unknownTypeASDU()
	}
	return b
}

// unknownTypeASDU returns an ASDU of type 200 (not assigned) with one
// object: IOA 1, one octet.
func (s *Server) unknownTypeASDU() []byte {
	return []byte{200, 1, byte(iec104.CauseSpontaneous), 0, byte(s.ca), byte(s.ca >> 8), 1, 0, 0, 0x01}
}

// SetCommandFault sets how process commands (select, execute, cancel) are
// answered from now on: kind 0 normally, NoActCon never (delay 0),
// LateActCon after delay (more than 0, at most an hour).
func (s *Server) SetCommandFault(kind FaultKind, delay time.Duration) error {
	switch {
	case kind != 0 && !kind.IsCommandMode():
		return fmt.Errorf("sim: %v is not a command fault (want %v or %v)", kind, NoActCon, LateActCon)
	case kind == LateActCon && (delay <= 0 || delay > time.Hour):
		return fmt.Errorf("sim: %v: delay %v, want more than 0 and at most 1h", kind, delay)
	case kind != LateActCon && delay != 0:
		return fmt.Errorf("sim: command fault %v takes no delay", kind)
	}
	s.faults.mu.Lock()
	s.faults.cmd, s.faults.delay = kind, delay
	s.faults.mu.Unlock()
	if kind == 0 {
		s.log.Info("sim: commands answered normally")
	} else {
		s.log.Info("sim: command fault set", "fault", kind, "delay", delay)
	}
	return nil
}

// holdCommand applies the command fault to a request before it is
// handled: it reports false when the request must go unanswered. With
// LateActCon it waits the delay first (false when ctx ends meanwhile).
func (s *Server) holdCommand(ctx context.Context, log *slog.Logger, req []byte) bool {
	if len(req) == 0 || commandKindOf(iec104.TypeID(req[0])) == 0 {
		return true
	}
	s.faults.mu.Lock()
	kind, delay := s.faults.cmd, s.faults.delay
	s.faults.mu.Unlock()
	switch kind {
	case NoActCon:
		log.Info("sim: fault: command not answered", "fault", kind, "type", iec104.TypeID(req[0]))
		return false
	case LateActCon:
		log.Info("sim: fault: command answered late", "fault", kind, "type", iec104.TypeID(req[0]), "delay", delay)
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	return true
}
