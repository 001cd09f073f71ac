package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hmi/points"
	"hmi/web"
)

// wsMessage is any server message.
type wsMessage struct {
	Type    string `json:"type"`
	Seq     uint64 `json:"seq"`
	Points  []wsPoint
	Summary map[string]struct{ Unacked, Active int }
	Unacked int
	New     bool
	Command struct {
		ID, State string
	}
	Link   string
	Frames []struct {
		Seq  uint64
		Dir  string
		Text string
	}
}

type wsPoint struct {
	ID      string
	Value   *float64
	Text    string
	Quality map[string]bool
}

// dial opens a socket as user (no session when ""), with origin ("" for the server's own).
func (e *env) dial(ctx context.Context, user, origin string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin == "" {
		origin = e.base
	}
	if origin != "-" {
		h.Set("Origin", origin)
	}
	if user != "" {
		h.Set("Cookie", "hmi_session="+e.session(user))
	}
	url := "ws" + strings.TrimPrefix(e.base, "http") + "/ws"
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
}

func (e *env) mustDial(ctx context.Context, user string) *websocket.Conn {
	e.t.Helper()
	c, _, err := e.dial(ctx, user, "")
	if err != nil {
		e.t.Fatal(err)
	}
	c.SetReadLimit(16 << 20)
	return c
}

func send(ctx context.Context, t testing.TB, c *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// next reads messages until one of type typ.
func next(ctx context.Context, t testing.TB, c *websocket.Conn, typ string) wsMessage {
	t.Helper()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %s: %v", b, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

func TestWSRefused(t *testing.T) {
	e := newEnv(t)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	cases := []struct {
		name, user, origin string
		status             int
	}{
		{"no session", "", "", http.StatusUnauthorized},
		{"foreign origin", "operator", "http://evil.example", http.StatusForbidden},
		{"other port", "operator", "http://127.0.0.1:1", http.StatusForbidden},
		{"https origin for http", "operator", strings.Replace(e.base, "http:", "https:", 1), http.StatusForbidden},
		{"no origin", "operator", "-", http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, resp, err := e.dial(ctx, c.user, c.origin)
			if err == nil {
				conn.CloseNow()
				t.Fatal("the socket was accepted")
			}
			if resp == nil || resp.StatusCode != c.status {
				t.Fatalf("response %v, want %d", resp, c.status)
			}
		})
	}
	if n := e.srv.hub.count(); n != 0 {
		t.Fatalf("%d sockets open", n)
	}
}

func TestWSSubscribe(t *testing.T) {
	e := newEnv(t)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := e.mustDial(ctx, "southop")
	defer c.CloseNow()
	// The north point is not southop's: dropped from the subscription.
	send(ctx, t, c, map[string]any{"type": "subscribe", "points": []string{pTap, pBreaker, "no.such", pEvil}})
	snap := next(ctx, t, c, "snapshot")
	var ids []string
	for _, p := range snap.Points {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != pTap+","+pEvil {
		t.Fatalf("snapshot of %v", ids)
	}
	if snap.Points[1].Text != "on" || snap.Points[1].Value == nil || *snap.Points[1].Value != 1 {
		t.Fatalf("snapshot point %+v", snap.Points[1])
	}
	h, _ := e.cache.Lookup(pTap)
	e.cache.Apply([]points.Update{{Point: h, Value: 5, Quality: points.SB}})
	m := next(ctx, t, c, "points")
	if len(m.Points) != 1 || m.Points[0].ID != pTap || *m.Points[0].Value != 5 || !m.Points[0].Quality["sb"] || m.Seq == 0 {
		t.Fatalf("points message %+v", m)
	}
	// Changes of a point not subscribed do not come; ping is answered.
	hb, _ := e.cache.Lookup(pBreaker)
	e.cache.Apply([]points.Update{{Point: hb, Value: 2}})
	send(ctx, t, c, map[string]string{"type": "ping"})
	if m := next(ctx, t, c, "pong"); m.Type != "pong" {
		t.Fatal(m)
	}
	// A message that breaks the protocol closes the socket with a policy violation.
	send(ctx, t, c, map[string]string{"type": "nonsense"})
	_, _, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("after a bad message: %v", err)
	}
}

func TestWSAlarmsAndCommands(t *testing.T) {
	e := newEnv(t)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := e.mustDial(ctx, "operator")
	defer c.CloseNow()
	send(ctx, t, c, map[string]any{"type": "subscribe", "points": []string{pBreaker}})
	first := next(ctx, t, c, "alarms")
	if first.Unacked != 0 || first.New {
		t.Fatalf("first summary %+v", first)
	}
	e.raiseAlarm()
	m := next(ctx, t, c, "alarms")
	if m.Summary["2"].Unacked != 1 || m.Summary["2"].Active != 1 || m.Unacked != 1 || !m.New {
		t.Fatalf("summary after the alarm %+v", m)
	}
	// The session's command progress comes on its socket.
	w := e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/select", body: `{"value":2}`, user: "operator", csrf: true})
	if w.Code != 200 {
		t.Fatalf("select: %d %s", w.Code, w.Body.String())
	}
	cm := next(ctx, t, c, "command")
	if cm.Command.State != "selected" || cm.Command.ID == "" {
		t.Fatalf("command message %+v", cm)
	}
	// Another user's socket does not get it.
	o := e.mustDial(ctx, "engineer")
	defer o.CloseNow()
	send(ctx, t, o, map[string]any{"type": "subscribe", "points": []string{pBreaker}})
	next(ctx, t, o, "snapshot")
	e.do(req{method: "POST", path: "/api/v1/commands/" + cm.Command.ID + "/cancel", body: `{}`, user: "operator", csrf: true})
	next(ctx, t, c, "command")
	rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer rcancel()
	for {
		_, b, err := o.Read(rctx)
		if err != nil {
			break
		}
		if strings.Contains(string(b), `"type":"command"`) {
			t.Fatal("another user's socket got the command")
		}
	}
}

func TestWSTraffic(t *testing.T) {
	e := newEnv(t)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e.links.addFrame("north", web.Frame{Time: time.Now(), Text: "I(0,0) M_SP_NA_1 <script>"})
	c := e.mustDial(ctx, "operator")
	defer c.CloseNow()
	send(ctx, t, c, map[string]string{"type": "traffic", "link": "north"})
	m := next(ctx, t, c, "traffic")
	if m.Link != "north" || len(m.Frames) != 1 || m.Frames[0].Dir != "rx" {
		t.Fatalf("traffic %+v", m)
	}
	e.links.addFrame("north", web.Frame{Time: time.Now(), Sent: true, Text: "S(1)"})
	m = next(ctx, t, c, "traffic")
	if len(m.Frames) != 1 || m.Frames[0].Seq != 2 || m.Frames[0].Dir != "tx" {
		t.Fatalf("new traffic %+v", m)
	}
}

func TestWSSessionEnds(t *testing.T) {
	e := newEnv(t)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c := e.mustDial(ctx, "operator")
	defer c.CloseNow()
	send(ctx, t, c, map[string]any{"type": "subscribe", "points": []string{pBreaker}})
	next(ctx, t, c, "snapshot")
	e.do(req{method: "POST", path: "/logout", form: map[string][]string{}, user: "operator", csrf: true})
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("closed with %v, want a policy violation", err)
			}
			return
		}
	}
}

// TestWSSessionEndsAtOnce checks that the sockets of a session close as soon as a handler ends it, with
// StatusPolicyViolation "session ended", long before the periodic check (an hour here), and that the other
// sockets stay: a logout closes its session's sockets only; a password reset and a deleted user close every
// socket of the user.
func TestWSSessionEndsAtOnce(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *web.Deps) { c.WS.SessionCheck = time.Hour })
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// A second session of the operator, in another browser.
	now := e.clock.Now()
	other := "another-token-of-operator-0123456789abcdef"
	if err := e.accounts.CreateSession(ctx, web.Session{IDHash: hashOf(other), User: "operator", CSRF: "x", Created: now, LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	dialToken := func(token string) *websocket.Conn {
		t.Helper()
		h := http.Header{"Origin": {e.base}, "Cookie": {"hmi_session=" + token}}
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/ws", &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			t.Fatal(err)
		}
		next(ctx, t, c, "alarms")
		return c
	}
	// closed waits for c to close and checks how.
	closed := func(c *websocket.Conn, what string) {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		defer rcancel()
		for {
			_, _, err := c.Read(rctx)
			if err == nil {
				continue
			}
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != SessionEndedReason {
				t.Fatalf("%s: socket ended with %v, want 1008 %q at once", what, err, SessionEndedReason)
			}
			return
		}
	}
	// open checks that c still answers.
	open := func(c *websocket.Conn, what string) {
		t.Helper()
		send(ctx, t, c, map[string]any{"type": "ping"})
		next(ctx, t, c, "pong")
	}

	mine, theirs := dialToken(e.session("operator")), dialToken(other)
	defer mine.CloseNow()
	defer theirs.CloseNow()
	viewer := e.mustDial(ctx, "viewer")
	defer viewer.CloseNow()
	next(ctx, t, viewer, "alarms")
	if w := e.do(req{method: "POST", path: "/logout", form: url.Values{}, user: "operator", csrf: true}); w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	closed(mine, "the logged-out session's socket")
	open(theirs, "the operator's other session")
	open(viewer, "another user's socket")

	// The admin resets the operator's password: every session of the operator ends.
	if w := e.do(req{method: "POST", path: "/admin/users/operator/password", form: url.Values{"password": {"a new password 9"}}, user: "admin", csrf: true}); w.Code != http.StatusSeeOther {
		t.Fatalf("password reset: %d", w.Code)
	}
	closed(theirs, "a socket of the user whose password was reset")
	open(viewer, "another user's socket")

	// The admin deletes the viewer.
	if w := e.do(req{method: "POST", path: "/admin/users/viewer/delete", form: url.Values{}, user: "admin", csrf: true}); w.Code != http.StatusSeeOther {
		t.Fatalf("delete: %d", w.Code)
	}
	closed(viewer, "a socket of the deleted user")

	// An engineer changes their own password: their sockets end too (the browser gets a new session).
	eng := e.mustDial(ctx, "engineer")
	defer eng.CloseNow()
	next(ctx, t, eng, "alarms")
	pw := url.Values{"current": {testPassword}, "new": {"a new password 1"}, "repeat": {"a new password 1"}}
	if w := e.do(req{method: "POST", path: "/account/password", form: pw, user: "engineer", csrf: true}); w.Code != http.StatusSeeOther {
		t.Fatalf("password change: %d", w.Code)
	}
	closed(eng, "a socket of the user who changed the password")
}

func TestWSShutdown(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(sctx, ln) }()
	e.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var conns []*websocket.Conn
	for range 5 {
		c := e.mustDial(ctx, "viewer")
		defer c.CloseNow()
		send(ctx, t, c, map[string]any{"type": "subscribe", "points": []string{pBreaker}})
		next(ctx, t, c, "snapshot")
		conns = append(conns, c)
	}
	// Each client reads (as a browser does), so that the close handshake completes.
	statuses := make(chan websocket.StatusCode, len(conns))
	for _, c := range conns {
		go func() {
			for {
				if _, _, err := c.Read(ctx); err != nil {
					statuses <- websocket.CloseStatus(err)
					return
				}
			}
		}()
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	for range conns {
		if s := <-statuses; s != websocket.StatusGoingAway {
			t.Errorf("closed with %v, want going away", s)
		}
	}
	if _, err := http.Get(e.base + "/healthz"); err == nil {
		t.Error("still serving after the shutdown")
	}
}

// TestWSFanOut connects 200 clients; every one of them receives every change of its subscription, coalesced to
// the latest value, and the server sends at most one points message per client per flush interval.
func TestWSFanOut(t *testing.T) {
	e := newEnv(t)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const clients = 200
	h, _ := e.cache.Lookup(pCurrent)
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = e.mustDial(ctx, "viewer")
		defer conns[i].CloseNow()
		send(ctx, t, conns[i], map[string]any{"type": "subscribe", "points": []string{pCurrent, pBreaker}})
	}
	for _, c := range conns {
		next(ctx, t, c, "snapshot")
	}
	const last = 500.0
	var wg sync.WaitGroup
	var got atomic.Int64
	var msgs atomic.Int64
	for _, c := range conns {
		wg.Go(func() {
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				var m wsMessage
				if err := json.Unmarshal(b, &m); err != nil {
					t.Error(err)
					return
				}
				if m.Type != "points" {
					continue
				}
				msgs.Add(1)
				for _, p := range m.Points {
					if p.ID == pCurrent && p.Value != nil && *p.Value == last {
						got.Add(1)
						return
					}
				}
			}
		})
	}
	start := time.Now()
	for v := 1.0; v <= last; v++ {
		e.cache.Apply([]points.Update{{Point: h, Value: v}})
		if int(v)%50 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	if got.Load() != clients {
		t.Fatalf("%d of %d clients got the last value", got.Load(), clients)
	}
	// Coalesced: far fewer messages than changes, at most one per client per flush interval (+1 each for the start).
	if max := int64(clients) * (int64(elapsed/e.srv.cfg.WS.FlushInterval) + 2); msgs.Load() > max {
		t.Errorf("%d points messages in %v for %d clients, want at most %d", msgs.Load(), elapsed, clients, max)
	}
	t.Logf("%d clients, 500 changes in %v: %d points messages", clients, elapsed, msgs.Load())
}

// TestWSSlowClientDropped has one client that stops reading while a stream of large messages goes on: it is
// dropped within bounded time, and the other clients keep getting every change meanwhile with low latency.
func TestWSSlowClientDropped(t *testing.T) {
	// A plant of many points, so that each points message is large (some 500 kB) and a client that does not
	// read fills the loopback buffers quickly.
	e := newBigEnv(t, 2400)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	ids := make([]string, 2400)
	for i := range ids {
		ids[i] = bigID(i)
	}
	slow := e.mustDial(ctx, "viewer")
	defer slow.CloseNow()
	send(ctx, t, slow, map[string]any{"type": "subscribe", "points": ids})
	next(ctx, t, slow, "snapshot")
	// From now on slow reads nothing.

	const fast = 10
	conns := make([]*websocket.Conn, fast)
	for i := range conns {
		conns[i] = e.mustDial(ctx, "viewer")
		defer conns[i].CloseNow()
		send(ctx, t, conns[i], map[string]any{"type": "subscribe", "points": ids[:10]})
		next(ctx, t, conns[i], "snapshot")
	}
	var worst atomic.Int64 // the longest a fast client waited for a change, in microseconds
	var stamp atomic.Int64 // time of the latest change of point 0, Unix microseconds
	var wg sync.WaitGroup
	stopRead := make(chan struct{})
	for _, c := range conns {
		wg.Go(func() {
			for {
				_, b, err := c.Read(ctx)
				if err != nil {
					select {
					case <-stopRead:
					default:
						t.Errorf("fast client: %v", err)
					}
					return
				}
				if !strings.Contains(string(b), `"type":"points"`) {
					continue
				}
				if d := time.Now().UnixMicro() - stamp.Load(); d > worst.Load() {
					worst.Store(d)
				}
			}
		})
	}
	start := time.Now()
	updates := make([]points.Update, len(ids))
	for i := range updates {
		updates[i].Point = points.Handle(i)
	}
	dropped := false
	for i := 0; time.Since(start) < 20*time.Second; i++ {
		for j := range updates {
			updates[j].Value = float64(i*len(ids) + j)
		}
		stamp.Store(time.Now().UnixMicro())
		e.cache.Apply(updates)
		time.Sleep(100 * time.Millisecond)
		if e.srv.hub.count() == fast {
			dropped = true
			break
		}
	}
	took := time.Since(start)
	close(stopRead)
	for _, c := range conns {
		c.CloseNow()
	}
	wg.Wait()
	if !dropped {
		t.Fatalf("the client that does not read was not dropped in %v (%d sockets)", took, e.srv.hub.count())
	}
	// Bounded: the write timeout (2 s here) plus the time to fill the buffers.
	if took > 15*time.Second {
		t.Errorf("dropped after %v", took)
	}
	if w := time.Duration(worst.Load()) * time.Microsecond; w > time.Second {
		t.Errorf("a fast client waited %v for a change while the slow one was stuck", w)
	}
	t.Logf("slow client dropped after %v; the fast clients' worst wait %v", took, time.Duration(worst.Load())*time.Microsecond)
	// The slow client sees its socket closed.
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	defer rcancel()
	for {
		if _, _, err := slow.Read(rctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Error("the slow client's socket is still open")
			}
			break
		}
	}
}

// bigID is the ID of point i of the big plant.
func bigID(i int) string {
	return fmt.Sprintf("plant.a%02d.b%03d.m%05d", i%20, i%300, i)
}

// newBigEnv is a test environment with n float points.
func newBigEnv(t testing.TB, n int) *env {
	defs := make([]points.Def, n)
	for i := range defs {
		defs[i] = points.Def{ID: bigID(i), Name: "Measurement " + fmt.Sprint(i), Area: "plant", Kind: points.Float,
			Unit: "kV", Link: "north", CA: 1, IOA: uint32(i + 1)}
	}
	cache, err := points.New(defs)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(cfg *Config, d *web.Deps) {
		d.Points = cache
		d.Controls, d.Displays = nil, nil
		cfg.WS.WriteTimeout = 2 * time.Second
	})
	e.cache = cache
	return e
}
