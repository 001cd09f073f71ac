package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"hmi/web"
)

// The WebSocket hub (docs/ui-contract.md, "WebSocket /ws"). Each socket has two goroutines: a reader, which hands
// the client's messages to a small queue, and a writer, which owns the client's web.Live and everything written
// to the socket. Point values and alarm summaries are state: the writer coalesces them (the point cache keeps a
// dirty set per client) and sends at most one message of each per FlushInterval. Command progress and traffic are
// not coalesced. Every write has a deadline: a client that cannot take its messages in time, or lets its command
// queue overflow, is dropped (sent resync when the socket still can take it, and closed with
// StatusPolicyViolation); it never holds up another client, because nothing but its own writer ever waits for it.

// SessionEndedReason is the reason of the close (with StatusPolicyViolation, 1008) of a socket whose session has
// ended: the page's script then goes to the login page rather than reconnect (docs/ui-contract.md).
const SessionEndedReason = "session ended"

// hub keeps the open sockets.
type hub struct {
	app *web.App
	cfg WSConfig
	tls bool
	log *slog.Logger

	mu      sync.Mutex // guards clients and ctx
	clients map[*client]struct{}
	ctx     context.Context // the server's lifetime: sockets outlive their request; nil before start
	wg      sync.WaitGroup  // the clients' goroutines
}

// client is one socket.
type client struct {
	conn   *websocket.Conn
	live   *web.Live
	in     chan []byte   // messages from the reader to the writer
	done   chan struct{} // closed when the reader ends
	alarms chan struct{} // capacity 1: the alarm summary may have changed
	ended  chan struct{} // capacity 1: the client's session has ended (logout, password change, user deleted)

	newsMu sync.Mutex // guards news
	news   []string   // areas of new alarms since the last summary sent
}

func newHub(app *web.App, cfg WSConfig, tls bool, log *slog.Logger) *hub {
	return &hub{app: app, cfg: cfg, tls: tls, log: log, clients: map[*client]struct{}{}}
}

// start sets the context the sockets live in; when it ends, every socket is closed with StatusGoingAway.
func (h *hub) start(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
}

// wait waits up to d for every socket's goroutines to end.
func (h *hub) wait(d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return h.waitCtx(ctx)
}

// waitCtx waits for every socket's goroutines to end, or for ctx; it reports whether they did.
func (h *hub) waitCtx(ctx context.Context) bool {
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

// count returns the number of open sockets.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// watchAlarms subscribes to the alarms at once and returns the loop that
// tells every client when they change, until ctx ends.
func (h *hub) watchAlarms() func(ctx context.Context) error {
	return h.app.WatchAlarms(func(news []string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for c := range h.clients {
			c.alarmsChanged(news)
		}
	})
}

// alarmsChanged marks the client's summary for sending, without waiting.
func (c *client) alarmsChanged(news []string) {
	if len(news) > 0 {
		c.newsMu.Lock()
		for _, n := range news {
			if len(c.news) < 64 {
				c.news = append(c.news, n)
			}
		}
		c.newsMu.Unlock()
	}
	select {
	case c.alarms <- struct{}{}:
	default:
	}
}

// endSessions closes, without waiting, the sockets of the sessions that e names: each writer closes its socket
// with StatusPolicyViolation "session ended", as the periodic check of the sessions does, but at once.
func (h *hub) endSessions(e web.SessionEnd) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		id := c.live.Identity()
		if (e.IDHash != "" && id.Session.IDHash == e.IDHash) || (e.IDHash == "" && e.User != "" && id.User.Name == e.User) {
			select {
			case c.ended <- struct{}{}:
			default:
			}
		}
	}
}

// takeNews returns and clears the areas of new alarms.
func (c *client) takeNews() []string {
	c.newsMu.Lock()
	defer c.newsMu.Unlock()
	n := c.news
	c.news = nil
	return n
}

// checkOrigin accepts only a WebSocket from a page of this server: the Origin header names this host, with the
// scheme the server serves. Browsers always send it; a request without one is refused.
func (h *hub) checkOrigin(r *http.Request) error {
	o := r.Header.Get("Origin")
	if o == "" {
		return errors.New("no Origin header")
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return errors.New("the Origin header is not an origin")
	}
	want := "http"
	if h.tls {
		want = "https"
	}
	if !strings.EqualFold(u.Host, r.Host) || u.Scheme != want {
		return errors.New("origin " + u.Scheme + "://" + u.Host + " is not this server")
	}
	return nil
}

// serveWS upgrades a request of a logged-in user to the page's WebSocket (GET /ws).
func (h *hub) serveWS(w http.ResponseWriter, r *http.Request) {
	id := web.IdentityFrom(r.Context())
	if id == nil {
		h.app.Fail(w, r, &web.Error{Code: web.CodeUnauthenticated, Message: "not logged in"})
		return
	}
	if err := h.checkOrigin(r); err != nil {
		h.log.Warn("server: websocket refused", "why", err, "client", web.ClientAddr(r), "user", id.User.Name)
		h.app.Fail(w, r, &web.Error{Code: web.CodeForbidden, Message: "websocket: " + err.Error()})
		return
	}
	h.mu.Lock()
	ctx, n := h.ctx, len(h.clients)
	h.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		h.app.Fail(w, r, &web.Error{Code: web.CodeUnavailable, Message: "the server is shutting down"})
		return
	}
	if n >= h.cfg.MaxClients {
		h.app.Fail(w, r, &web.Error{Code: web.CodeUnavailable, Message: "too many live connections"})
		return
	}
	// The http.Server's deadlines stay on the connection after the hijack: clear them; the hub sets its own.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{}) // also checks the Origin against the Host
	if err != nil {
		h.log.Warn("server: websocket accept", "err", err, "client", web.ClientAddr(r))
		return
	}
	conn.SetReadLimit(web.MaxClientMessage)
	c := &client{
		conn: conn, live: h.app.NewLive(id), in: make(chan []byte, h.cfg.InQueue),
		done: make(chan struct{}), alarms: make(chan struct{}, 1), ended: make(chan struct{}, 1),
	}
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.wg.Add(2)
	h.mu.Unlock()
	// The reader does not take the server's context: ending it would cut the connection under the writer's
	// close handshake. The writer's CloseNow, when it ends, ends the reader.
	go h.read(context.WithoutCancel(ctx), c)
	// The writer runs in this goroutine: net/http has forgotten the connection since the hijack.
	h.write(ctx, c)
}

// read hands the client's messages to its writer until the socket ends. A client that sends faster than the writer
// handles, or sends binary, is closed.
func (h *hub) read(ctx context.Context, c *client) {
	defer h.wg.Done()
	defer close(c.done)
	for {
		typ, b, err := c.conn.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText {
			_ = c.conn.Close(websocket.StatusUnsupportedData, "text messages only")
			return
		}
		select {
		case c.in <- b:
		default:
			_ = c.conn.Close(websocket.StatusPolicyViolation, "too many messages")
			return
		}
	}
}

// write is the client's writer: it sends what the client subscribed to, until the socket or the server ends.
func (h *hub) write(ctx context.Context, c *client) {
	id := c.live.Identity()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
		c.live.Close()
		c.conn.CloseNow()
		h.wg.Done()
	}()
	var (
		due       bool // points or alarms wait for the next flush
		alarmsDue bool
		last      time.Time // the last flush
		flush     = time.NewTimer(time.Hour)
		armed     bool
	)
	flush.Stop()
	defer flush.Stop()
	// The traffic ticker runs only while the client streams a link's traffic.
	var traffic *time.Ticker
	var trafficC <-chan time.Time
	defer func() {
		if traffic != nil {
			traffic.Stop()
		}
	}()
	session := time.NewTicker(h.cfg.SessionCheck)
	defer session.Stop()

	// Writes do not take the server's context either: a write under way when the server shuts down ends (within
	// its deadline), and the loop then closes the socket with StatusGoingAway.
	wbase := context.WithoutCancel(ctx)
	send := func(b []byte) bool {
		if b == nil {
			return true
		}
		wctx, cancel := context.WithTimeout(wbase, h.cfg.WriteTimeout)
		defer cancel()
		if err := c.conn.Write(wctx, websocket.MessageText, b); err != nil {
			if wctx.Err() != nil {
				h.log.Warn("server: websocket client too slow: dropped", "user", id.User.Name, "client", id.Client,
					"timeout", h.cfg.WriteTimeout)
			}
			return false
		}
		return true
	}
	drop := func(why string) {
		h.log.Warn("server: websocket client dropped", "why", why, "user", id.User.Name, "client", id.Client)
		rctx, cancel := context.WithTimeout(wbase, min(h.cfg.WriteTimeout, time.Second))
		defer cancel()
		_ = c.conn.Write(rctx, websocket.MessageText, web.ResyncMessage)
		_ = c.conn.Close(websocket.StatusPolicyViolation, why)
	}

	// The alarm summary at once: a page that reconnects must not show stale counts.
	if !send(c.live.Alarms(false)) {
		return
	}
	for {
		if ctx.Err() != nil { // before anything else that may be ready
			_ = c.conn.Close(websocket.StatusGoingAway, "server shutting down")
			return
		}
		select {
		case <-ctx.Done():
			continue
		case <-c.done:
			return
		case msg := <-c.in:
			reply, err := c.live.Handle(msg)
			if err != nil {
				var pe *web.ProtocolError
				reason := "protocol error"
				if errors.As(err, &pe) {
					reason = pe.Reason
				}
				_ = c.conn.Close(websocket.StatusPolicyViolation, reason)
				return
			}
			if !send(reply) {
				return
			}
			switch streaming := c.live.TrafficLink() != ""; {
			case streaming && traffic == nil:
				traffic = time.NewTicker(h.cfg.TrafficEvery)
				trafficC = traffic.C
			case !streaming && traffic != nil:
				traffic.Stop()
				traffic, trafficC = nil, nil
			}
		case <-c.live.Ready():
			due = true
		case <-c.alarms:
			alarmsDue, due = true, true
		case msg := <-c.live.Commands():
			if !send(msg) {
				return
			}
		case <-c.live.Lagging():
			drop("fell behind")
			return
		case <-trafficC:
			if !send(c.live.Traffic()) {
				return
			}
		case <-session.C:
			if !c.live.SessionValid(wbase) {
				_ = c.conn.Close(websocket.StatusPolicyViolation, SessionEndedReason)
				return
			}
		case <-c.ended:
			_ = c.conn.Close(websocket.StatusPolicyViolation, SessionEndedReason)
			return
		case <-flush.C:
			armed = false
		}
		if alarmsDue {
			due = true
		}
		if !due || armed {
			continue
		}
		if wait := h.cfg.FlushInterval - time.Since(last); wait > 0 {
			flush.Reset(wait)
			armed = true
			continue
		}
		last = time.Now()
		due = false
		if !send(c.live.Points()) {
			return
		}
		if alarmsDue {
			alarmsDue = false
			if !send(c.live.Alarms(c.live.NewAlarm(c.takeNews()))) {
				return
			}
		}
	}
}
