package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"hmi/config"
	"hmi/frontstation"
	"hmi/server"
	"hmi/web"
)

const serveUsage = `Usage: hmi serve --config FILE [--log-level LEVEL] [--log-format FORMAT]

Runs the HMI from a configuration file: the IEC 104 links and the
simulators it names, the alarm engine, the database under data_dir, and the
web server on http.listen. The configuration is checked first, as
'hmi check' does: with any error nothing starts, and the errors are listed
as FILE:LINE:COL: message. On SIGINT (Ctrl-C) or SIGTERM it stops cleanly:
the web server finishes its requests and closes the WebSockets, the links
are stopped with STOPDT, and everything queued for the database is
committed. With no user yet, it says how to create the first administrator.

Examples:
  hmi serve --config hmi.yaml
  hmi user add admin --role admin --config hmi.yaml
  hmi serve --config hmi.yaml --log-level debug --log-format json 2> hmi.log

Exit status: 0 after SIGINT or SIGTERM; 1 when the configuration has
errors, or something it needs fails (the database, a port to listen on);
2 wrong flags or arguments.
`

// runServe is hmi serve.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", serveUsage, stdout, stderr)
	file := fs.String("config", "", "the configuration `FILE` (required)")
	logs := fs.logFlags("info")
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	log, code, ok := fs.logger(logs, stderr)
	if !ok {
		return code
	}
	switch {
	case len(pos) != 0:
		return fs.usageError("unexpected argument %q", pos[0])
	case *file == "":
		return fs.usageError("no configuration given: hmi serve --config FILE")
	}
	cfg, err := config.Load(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFailure
	}
	if err := serve(ctx, cfg, log, stdout, nil); err != nil {
		fmt.Fprintf(stderr, "hmi serve: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// serve runs everything of cfg until ctx ends. When ready is not nil it
// gets the web server's address once it listens (tests use port 0).
func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer, ready func(addr string)) error {
	b, err := openBackend(ctx, cfg, log)
	if err != nil {
		return err
	}
	srv, err := newWebServer(cfg, b, log)
	if err != nil {
		b.store.Close()
		return err
	}
	ln, err := srv.Listen()
	if err != nil {
		b.store.Close()
		return err
	}
	var ms *metricsServer // nil: no metrics.listen
	if cfg.Metrics.Listen != "" {
		b.metrics = newMetrics(b, srv.WebSocketClients)
		if ms, err = listenMetrics(cfg.Metrics.Listen, b.metrics.reg, log); err != nil {
			ln.Close()
			b.store.Close()
			return err
		}
	}
	scheme := "http"
	if cfg.HTTP.TLS != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "hmi: serving %s://%s (configuration %s, data in %s)\n", scheme, ln.Addr(), cfg.File, cfg.DataDir)
	if ms != nil {
		fmt.Fprintf(stdout, "hmi: metrics on http://%s/metrics\n", ms.Addr())
	}
	if users, err := b.store.ListUsers(ctx); err == nil && len(users) == 0 {
		fmt.Fprintf(stdout, "hmi: no user yet. Create the first administrator with:\n  hmi user add admin --role admin --config %s\n", cfg.File)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	// On a signal the web server stops first (requests finish, sockets
	// close), then the backend (STOPDT on the links, the store committed), so
	// that no request meets a closed store; a backend failure stops the web.
	webCtx, stopWeb := context.WithCancel(ctx)
	defer stopWeb()
	backCtx, stopBack := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBack()
	webErr := make(chan error, 1)
	go func() {
		webErr <- srv.Serve(webCtx, ln)
		stopBack()
	}()
	// The metrics are served until everything else has stopped; their
	// failure is logged and reported at the end, but stops nothing else.
	metCtx, stopMetrics := context.WithCancel(context.WithoutCancel(ctx))
	defer stopMetrics()
	metErr := make(chan error, 1)
	if ms != nil {
		go func() {
			err := ms.Run(metCtx)
			if err != nil && metCtx.Err() == nil {
				log.Error("metrics server stopped", "err", err)
			}
			metErr <- err
		}()
	} else {
		metErr <- nil
	}
	backErr := b.run(backCtx)
	stopWeb()
	err = errors.Join(<-webErr, backErr)
	stopMetrics()
	return errors.Join(err, <-metErr)
}

// newWebServer builds the web server on the backend, and routes command
// progress to its WebSocket clients.
func newWebServer(cfg *config.Config, b *backend, log *slog.Logger) (*server.Server, error) {
	ctls, err := webControls(cfg)
	if err != nil {
		return nil, err
	}
	var displays []web.Display
	for _, d := range cfg.Displays {
		displays = append(displays, web.Display{ID: d.ID, Name: d.Name, SVG: d.SVG()})
	}
	j := journal{b.store}
	deps := web.Deps{
		Points: b.plant.cache, Alarms: b.alarms, Accounts: accounts{b.store}, Links: links{b.plant.links},
		Journal: j, Audit: j, History: j, Commander: commander{b.plant.cmd},
		Controls: ctls, Displays: displays, Log: log,
	}
	sc := server.Config{
		Addr: cfg.HTTP.Listen, SessionIdle: cfg.HTTP.Session.IdleTimeout.D(), SessionAbsolute: cfg.HTTP.Session.AbsoluteTimeout.D(),
		AuditSteps: false, // the backend audits every step from the Commander
	}
	if t := cfg.HTTP.TLS; t != nil {
		sc.TLSCert, sc.TLSKey = t.Cert, t.Key
	}
	srv, err := server.New(sc, deps, log)
	if err != nil {
		return nil, err
	}
	app := srv.App()
	b.progress = func(r frontstation.Record) { app.CommandProgress(toWebRecord(r)) }
	return srv, nil
}
