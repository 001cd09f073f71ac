package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"hmi/config"
	"hmi/frontstation"
	"hmi/server"
	"hmi/web"
)

const serveUsage = `Usage: hmi serve --config FILE [--log-level LEVEL]

Runs the HMI from a configuration file: the IEC 104 links and the
simulators it names, the alarm engine, the database under data_dir, and the
web server on http.listen. The configuration is checked first, as
'hmi check' does: with any error, nothing starts and the errors are listed
as FILE:LINE:COL: message.

On SIGINT or SIGTERM it stops cleanly: the web server finishes its
requests and closes the WebSockets, the links are stopped with STOPDT, and
everything queued for the database is committed.

With no user yet, it says how to create the first administrator:
  hmi user add admin --role admin --config FILE

Flags:
`

// runServe is hmi serve.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hmi serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "the configuration `file` (required)")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *file == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "hmi serve: --log-level %q: want debug, info, warn or error\n", *logLevel)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
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
	scheme := "http"
	if cfg.HTTP.TLS != nil {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "hmi: serving %s://%s (configuration %s, data in %s)\n", scheme, ln.Addr(), cfg.File, cfg.DataDir)
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
	backErr := b.run(backCtx)
	stopWeb()
	return errors.Join(<-webErr, backErr)
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
