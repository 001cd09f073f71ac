// Package server is the HMI's HTTP server: the http.Server with its timeouts and built-in TLS, the chi router
// with every route (routes.go), the middleware (logging, recovery, security headers, body limits, sessions, CSRF,
// roles), the WebSocket hub, and the graceful shutdown. The handlers themselves are the web package's.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"hmi/static"
	"hmi/web"
)

// Config is the server's configuration. Zero durations take the defaults.
type Config struct {
	Addr            string // host:port; default 127.0.0.1:8080
	TLSCert, TLSKey string // PEM files; both set serves HTTPS (cookies Secure, HSTS)

	SessionIdle     time.Duration // default 30 min
	SessionAbsolute time.Duration // default 12 h

	MaxBody           int64         // request bodies (forms and JSON); default 64 KiB
	ReadHeaderTimeout time.Duration // default 10 s
	ReadTimeout       time.Duration // whole request; default 30 s
	WriteTimeout      time.Duration // default 60 s (commands and CSV exports extend their own)
	IdleTimeout       time.Duration // keep-alive; default 2 min
	ShutdownTimeout   time.Duration // how long Run waits for requests and sockets to end; default 10 s

	WS WSConfig

	Throttle       web.ThrottleConfig
	Argon2         web.Argon2Params    // passwords hashed by the pages; zero: web.DefaultArgon2
	CommandTimeout time.Duration       // see web.Config
	AuditSteps     bool                // see web.Config: false when the Commander's onStep audits the steps
	Now            func() time.Time    // nil: time.Now
	Logger         *slog.Logger        // nil: the logger given to New
	AssetURL       func(string) string // nil: static.URL
}

// WSConfig tunes the WebSocket hub.
type WSConfig struct {
	FlushInterval time.Duration // least time between two point or alarm messages to a client; default 50 ms
	WriteTimeout  time.Duration // a write that takes longer drops the client; default 5 s
	SessionCheck  time.Duration // how often a socket's session is checked; default 30 s
	TrafficEvery  time.Duration // how often a link's new traffic is sent; default 250 ms
	MaxClients    int           // sockets at once; default 10000
	InQueue       int           // client messages waiting; default 16
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 64 << 10
	}
	def(&c.ReadHeaderTimeout, 10*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 60*time.Second)
	def(&c.IdleTimeout, 2*time.Minute)
	def(&c.ShutdownTimeout, 10*time.Second)
	def(&c.WS.FlushInterval, 50*time.Millisecond)
	def(&c.WS.WriteTimeout, 5*time.Second)
	def(&c.WS.SessionCheck, 30*time.Second)
	def(&c.WS.TrafficEvery, 250*time.Millisecond)
	if c.WS.MaxClients <= 0 {
		c.WS.MaxClients = 10000
	}
	if c.WS.InQueue <= 0 {
		c.WS.InQueue = 16
	}
	if c.AssetURL == nil {
		c.AssetURL = static.URL
	}
	return c
}

// Server is the HMI's HTTP server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	app     *web.App
	hub     *hub
	handler http.Handler
	tls     *tls.Config // nil: plain HTTP
}

// New builds the server: the web application on deps, the routes and the hub. It loads the TLS certificate, so
// that a bad one is an error here and not when the first browser connects.
func New(cfg Config, deps web.Deps, logger *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if deps.Log == nil {
		deps.Log = logger
	}
	s := &Server{cfg: cfg, log: logger}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("server: TLS needs both a certificate and a key")
	}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("server: TLS certificate: %w", err)
		}
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	app, err := web.New(web.Config{
		SessionIdle: cfg.SessionIdle, SessionAbsolute: cfg.SessionAbsolute, Secure: s.tls != nil,
		AssetURL: cfg.AssetURL, Throttle: cfg.Throttle, Argon2: cfg.Argon2, CommandTimeout: cfg.CommandTimeout,
		AuditSteps: cfg.AuditSteps,
		// The hub exists before the first request, which is the first that can end a session.
		SessionsEnded: func(e web.SessionEnd) { s.hub.endSessions(e) },
		Now:           cfg.Now,
	}, deps)
	if err != nil {
		return nil, err
	}
	s.app = app
	s.hub = newHub(app, cfg.WS, s.tls != nil, logger)
	s.handler = s.routes()
	return s, nil
}

// Handler returns the server's handler (for tests with httptest; Run serves it).
func (s *Server) Handler() http.Handler { return s.handler }

// App returns the web application, for cmd/hmi to hand the commander's progress to (App.CommandProgress).
func (s *Server) App() *web.App { return s.app }

// WebSocketClients returns the number of open WebSockets (for cmd/hmi's metrics).
func (s *Server) WebSocketClients() int { return s.hub.count() }

// Listen opens the configured address.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return ln, nil
}

// Run listens on the configured address and serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (HTTPS when TLS is configured) until ctx ends, and then shuts down: it stops accepting,
// closes every WebSocket with StatusGoingAway, waits up to ShutdownTimeout for the requests in flight and the
// sockets, and returns nil. It returns the error that ends serving early. It also runs the web application's
// command audit and the hub's alarm watch, which end with it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         s.tls,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
	}
	// The background work: the app's audit loop and the hub's alarm watch, until serving ends.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.app.Run(bg) })
	watchAlarms := s.hub.watchAlarms() // subscribed before the first connection is accepted
	wg.Go(func() { _ = watchAlarms(bg) })
	defer func() {
		stopBG()
		wg.Wait()
	}()
	hubCtx, closeHub := context.WithCancel(context.WithoutCancel(ctx))
	defer closeHub()
	s.hub.start(hubCtx)

	errc := make(chan error, 1)
	go func() {
		var err error
		if s.tls != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	s.log.Info("server: serving", "addr", ln.Addr().String(), "tls", s.tls != nil)

	select {
	case err := <-errc:
		closeHub()
		s.hub.wait(s.cfg.ShutdownTimeout)
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("server: shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	closeHub() // every socket: StatusGoingAway
	err := srv.Shutdown(sctx)
	if !s.hub.waitCtx(sctx) {
		s.log.Warn("server: websockets still open at the shutdown timeout")
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("server: shutdown: %w", err)
	}
	if err != nil {
		_ = srv.Close()
		s.log.Warn("server: requests still running at the shutdown timeout: closed")
	}
	return nil
}

// slogWriter passes the http.Server's own error log (TLS handshake errors and the like) to slog.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	if n := len(msg); n > 0 && msg[n-1] == '\n' {
		msg = msg[:n-1]
	}
	w.log.Warn("server: http", "msg", msg)
	return len(p), nil
}
