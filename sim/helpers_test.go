package sim

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"hmi/frontstation/iec104"
)

const waitFor = 5 * time.Second

// startServer runs a server on 127.0.0.1:0 until the test ends and returns
// it with its address.
func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitFor):
			t.Errorf("Run did not return after cancel")
		}
	})
	return srv, ln.Addr().String()
}

// client is a controlling station for tests: it collects every received ASDU.
type client struct {
	t    *testing.T
	conn *iec104.Conn
	rx   chan []byte
}

// dial connects, starts data transfer and closes the connection when the test ends.
func dial(t *testing.T, addr string, tlsConf *tls.Config) *client {
	t.Helper()
	c, err := tryDial(t, addr, tlsConf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tryDial(t *testing.T, addr string, tlsConf *tls.Config) (*client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	nc, err := iec104.Dial(ctx, addr, waitFor, tlsConf)
	if err != nil {
		return nil, err
	}
	c := &client{t: t, rx: make(chan []byte, 16384)}
	conn, err := iec104.NewConn(nc, iec104.Options{
		Role:   iec104.Controlling,
		Config: iec104.DefaultConfig(),
		OnASDU: func(b []byte) {
			select {
			case c.rx <- append([]byte(nil), b...):
			default:
				t.Errorf("client: receive buffer full")
			}
		},
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.conn = conn
	runCtx, stop := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		conn.Run(runCtx)
	}()
	t.Cleanup(func() {
		stop()
		<-runDone
	})
	if err := conn.StartDT(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// send sends one ASDU with one object.
func (c *client) send(h iec104.Header, o iec104.Object) {
	c.t.Helper()
	b, err := iec104.AppendASDU(nil, h, []iec104.Object{o})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.conn.Send(ctx, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv returns the next ASDU and its objects.
func (c *client) recv() (iec104.ASDU, []iec104.Object) {
	c.t.Helper()
	select {
	case b := <-c.rx:
		a, err := iec104.ParseASDU(b)
		if err != nil {
			c.t.Fatalf("received ASDU % x: %v", b, err)
		}
		objs, err := a.Objects(nil)
		if err != nil && !errors.Is(err, iec104.ErrUnknownType) {
			c.t.Fatalf("received ASDU % x: %v", b, err)
		}
		return a, objs
	case <-time.After(waitFor):
		c.t.Fatalf("no ASDU within %v", waitFor)
	}
	panic("unreachable")
}

// expect receives the next ASDU and checks its type, cause and P/N bit.
func (c *client) expect(typ iec104.TypeID, cause iec104.Cause, neg bool) (iec104.ASDU, []iec104.Object) {
	c.t.Helper()
	a, objs := c.recv()
	if a.Type != typ || a.Cause != cause || a.Negative != neg {
		c.t.Fatalf("got %v cause %v negative %v %+v, want %v cause %v negative %v", a.Type, a.Cause, a.Negative, objs, typ, cause, neg)
	}
	return a, objs
}

// quiet checks that nothing arrives for d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case b := <-c.rx:
		a, _ := iec104.ParseASDU(b)
		c.t.Fatalf("unexpected ASDU %v cause %v: % x", a.Type, a.Cause, b)
	case <-time.After(d):
	}
}

// closed reports whether the connection ended within d.
func (c *client) closed(d time.Duration) error {
	select {
	case <-c.conn.Done():
		return c.conn.Err()
	case <-time.After(d):
		return errors.New("still open")
	}
}
