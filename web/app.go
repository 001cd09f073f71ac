// Package web holds the HMI's HTTP handlers, one file per page or action, the JSON API under /api/v1, the
// accounts and the command rules, and what each WebSocket client sees (Live). It reads the point cache and the
// alarm engine directly, and everything else through the small interfaces of Deps. The server package assembles
// the routes, the middleware and the WebSocket transport around it.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"hmi/points"
)

// Config tunes an App.
type Config struct {
	SessionIdle     time.Duration // a session without a request for this long ends; default 30 min
	SessionAbsolute time.Duration // a session ends this long after the login; default 12 h
	Secure          bool          // served over TLS: cookies are Secure and __Host- prefixed

	// AssetURL returns the versioned URL of a static asset ("js/app.js"); the server passes static.URL.
	AssetURL func(name string) string

	Throttle ThrottleConfig
	// Argon2 are the parameters of the passwords the web pages hash (new users, password changes); zero:
	// DefaultArgon2. Tests use less memory.
	Argon2 Argon2Params
	// CommandTimeout bounds how long a command request waits for the device; default 2 min. A command outlives
	// the request that started it: a browser that goes away does not cancel it.
	CommandTimeout time.Duration
	// AuditSteps makes the App write every step of every command it hears of (CommandProgress, and the records
	// the command handlers get back) to Deps.Audit, with a final "outcome" entry. Leave it false when the
	// Commander's onStep writes the steps to the audit itself, as cmd/hmi does; the App always audits the
	// requests ("select_request", "execute_request", "cancel_request"), the refusals ("refused") and the tags.
	AuditSteps bool
	// SessionsEnded, when set, is told of the sessions a handler ends (logout, a login that replaces the
	// browser's session, a password change or reset, a deleted user), so that the server closes their WebSockets
	// at once rather than at its next check of the sessions. It must not block.
	SessionsEnded func(SessionEnd)

	Now func() time.Time // the clock; nil: time.Now
}

// SessionEnd names sessions that have ended: the one of IDHash, or, when IDHash is empty, every session of User.
type SessionEnd struct {
	User   string
	IDHash string
}

func (c Config) withDefaults() Config {
	if c.SessionIdle <= 0 {
		c.SessionIdle = 30 * time.Minute
	}
	if c.SessionAbsolute <= 0 {
		c.SessionAbsolute = 12 * time.Hour
	}
	if c.SessionAbsolute < c.SessionIdle {
		c.SessionAbsolute = c.SessionIdle
	}
	if c.AssetURL == nil {
		c.AssetURL = func(name string) string { return "/static/" + name }
	}
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = DefaultArgon2
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 2 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// App is the web application: the handlers and what they share. Its methods are safe for concurrent use; Run is
// its one goroutine.
type App struct {
	// Immutable after New.
	cfg       Config
	deps      Deps
	log       *slog.Logger
	cache     *points.Cache
	defs      []points.Def        // by handle
	controls  map[string]*Control // by point ID
	tags      Tags
	displays  []*display
	areas     []string // the distinct areas of the points, sorted
	kinds     []string // the point kinds in use, in Kind order
	dummyHash string   // checked for unknown users, so that a login takes as long either way

	throttle *throttle
	hashing  chan struct{} // bounds the password checks that run at once: each takes Argon2.Memory
	commands *commandFeed
	progress chan CommandRecord // records to audit and publish; Run drains it
	lost     atomic.Uint64      // records that found progress full
	enc      []atomic.Pointer[encodedPoint]
}

// progressQueue is how many command records wait for Run; a full queue loses (and counts) the record.
const progressQueue = 4096

// New checks deps and returns the application.
func New(cfg Config, deps Deps) (*App, error) {
	cfg = cfg.withDefaults()
	var missing []string
	if deps.Points == nil {
		missing = append(missing, "Points")
	}
	if deps.Alarms == nil {
		missing = append(missing, "Alarms")
	}
	if deps.Accounts == nil {
		missing = append(missing, "Accounts")
	}
	if deps.Links == nil {
		missing = append(missing, "Links")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("web: Deps without %s", strings.Join(missing, ", "))
	}
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{
		cfg: cfg, deps: deps, log: log, cache: deps.Points, defs: deps.Points.Defs(),
		controls: map[string]*Control{},
		throttle: newThrottle(cfg.Throttle),
		hashing:  make(chan struct{}, max(2, runtime.NumCPU())),
		commands: newCommandFeed(),
		progress: make(chan CommandRecord, progressQueue),
		enc:      make([]atomic.Pointer[encodedPoint], deps.Points.Len()),
	}
	var errs []error
	initialTags := map[string]Tag{}
	for i := range deps.Controls {
		c := deps.Controls[i]
		if _, ok := a.cache.Lookup(c.Point); !ok {
			errs = append(errs, fmt.Errorf("web: control of unknown point %q", c.Point))
			continue
		}
		if _, dup := a.controls[c.Point]; dup {
			errs = append(errs, fmt.Errorf("web: two controls for point %q", c.Point))
			continue
		}
		if c.SelectTimeout <= 0 {
			c.SelectTimeout = 30 * time.Second
		}
		if len(c.Roles) == 0 {
			c.Roles = []Role{RoleOperator, RoleEngineer, RoleAdmin}
		}
		for _, il := range c.Interlocks {
			if _, ok := a.cache.Lookup(il.Point); !ok {
				errs = append(errs, fmt.Errorf("web: control of %q: interlock on unknown point %q", c.Point, il.Point))
			}
		}
		a.controls[c.Point] = &c
		if c.DoNotOperate {
			initialTags[c.Point] = Tag{On: true, Reason: "tagged in the configuration (do_not_operate)", By: "configuration"}
		}
	}
	a.tags = deps.Tags
	if a.tags == nil {
		a.tags = NewMemoryTags(initialTags)
	}
	seen := map[string]bool{}
	for _, d := range deps.Displays {
		if seen[d.ID] {
			errs = append(errs, fmt.Errorf("web: two displays with ID %q", d.ID))
			continue
		}
		seen[d.ID] = true
		disp, err := parseDisplay(d, a.cache, cfg.AssetURL)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.displays = append(a.displays, disp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	areas := map[string]bool{}
	kinds := map[points.Kind]bool{}
	for i := range a.defs {
		areas[a.defs[i].Area] = true
		kinds[a.defs[i].Kind] = true
	}
	for ar := range areas {
		a.areas = append(a.areas, ar)
	}
	slices.Sort(a.areas)
	for k := points.Single; k <= points.Counter; k++ {
		if kinds[k] {
			a.kinds = append(a.kinds, k.String())
		}
	}
	var err error
	if a.dummyHash, err = hashPassword("not a password of anyone", cfg.Argon2); err != nil {
		return nil, err
	}
	return a, nil
}

// Run publishes the command records that CommandProgress and the command handlers hand it to the WebSocket
// clients of their sessions, and audits their steps when Config.AuditSteps is set, until ctx ends; it returns
// ctx.Err(). What is queued when ctx ends is handled first, within a second.
func (a *App) Run(ctx context.Context) error {
	audited := map[string]*auditState{}
	for {
		select {
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			for {
				select {
				case r := <-a.progress:
					a.record(drain, audited, r)
					continue
				default:
				}
				break
			}
			cancel()
			return ctx.Err()
		case r := <-a.progress:
			a.record(ctx, audited, r)
		}
	}
}

// CommandProgress hands the App a command's record after a step, for the WebSocket clients of the command's
// session (and the audit, with Config.AuditSteps). It never blocks: cmd/hmi calls it from the Commander's onStep
// with the record converted.
func (a *App) CommandProgress(r CommandRecord) {
	r.Steps = slices.Clone(r.Steps)
	select {
	case a.progress <- r:
	default:
		if n := a.lost.Add(1); n == 1 || n%1000 == 0 {
			a.log.Error("web: command progress queue full: steps not audited", "command", r.ID, "lost", n)
		}
	}
}

// auditState is what Run has audited of one command.
type auditState struct {
	steps int       // steps written
	final bool      // the outcome is written
	seen  time.Time // the last record seen
}

// maxAudited bounds the commands Run tracks; beyond it, those not seen for an hour are forgotten.
const maxAudited = 10000

// record publishes r to the session's clients and writes its new steps to the audit.
func (a *App) record(ctx context.Context, audited map[string]*auditState, r CommandRecord) {
	a.commands.publish(r.Origin.Session, encodeCommand(&r))

	st := audited[r.ID]
	if st == nil {
		if len(audited) >= maxAudited {
			for id, s := range audited {
				if s.final || time.Since(s.seen) > time.Hour {
					delete(audited, id)
				}
			}
		}
		st = &auditState{}
		audited[r.ID] = st
	}
	st.seen = time.Now()
	if st.final {
		return // a late copy of a finished command
	}
	if a.deps.Audit == nil || !a.cfg.AuditSteps {
		return
	}
	base := AuditEntry{
		CommandID: r.ID, Point: r.Point, Link: r.Link, Value: r.Value, State: r.State,
		User: r.Origin.User, Session: r.Origin.Session, Client: r.Origin.Client,
	}
	for i := st.steps; i < len(r.Steps); i++ {
		s := r.Steps[i]
		e := base
		e.At, e.Step, e.Cause, e.Negative = s.At, s.Name, s.Cause, s.Negative
		e.LatencyMS = float64(s.Latency.Microseconds()) / 1000
		if _, err := a.deps.Audit.AppendAudit(ctx, e); err != nil {
			a.log.Error("web: audit of a command step", "command", r.ID, "step", s.Name, "err", err)
			return // the next record tries again from here
		}
		st.steps = i + 1
	}
	if r.Final() && !st.final {
		e := base
		e.At, e.Step, e.Detail = a.cfg.Now(), "outcome", r.Err
		if _, err := a.deps.Audit.AppendAudit(ctx, e); err != nil {
			a.log.Error("web: audit of a command outcome", "command", r.ID, "err", err)
			return
		}
		st.final = true
	}
}
