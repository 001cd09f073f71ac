package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"hmi/alarms"
	"hmi/config"
	"hmi/frontstation"
	"hmi/store"
)

// backend is everything of hmi serve but the web server: the front end
// (plant), the store, the alarm engine, and the recorders that journal
// point changes, link and security events, alarm transitions and command
// steps.
type backend struct {
	cfg    *config.Config
	log    *slog.Logger
	store  *store.Store
	alarms *alarms.Engine
	plant  *plant
	hist   *store.HistoryRecorder

	auditMu sync.Mutex     // guards audited
	audited map[string]int // command ID -> steps already in the audit trail

	// progress, when set (before run), gets every command record after its
	// audit rows are committed: the web server's live command view.
	progress func(frontstation.Record)
	// metrics, when set (before run), observes each command step as it is
	// audited, and each command's outcome; nil: no metrics.
	metrics *metrics
}

// openBackend opens the store and builds everything from cfg; it starts
// nothing. On error, nothing is left open.
func openBackend(ctx context.Context, cfg *config.Config, log *slog.Logger) (*backend, error) {
	st, err := store.Open(ctx, cfg.DataDir, store.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	b := &backend{cfg: cfg, log: log, store: st, audited: map[string]int{}}
	if b.alarms, err = alarms.New(alarmDefs(cfg), st, log); err != nil {
		st.Close()
		return nil, err
	}
	if b.plant, err = buildPlant(cfg, log, b.linkEvent, b.commandStep); err != nil {
		st.Close()
		return nil, err
	}
	b.plant.cache.SetHook(store.NewRecorder(st, b.plant.cache, log).Change)
	specs := map[string]store.HistorySpec{}
	for _, p := range cfg.Points {
		if h := p.History; h != nil {
			specs[p.ID] = store.HistorySpec{Deadband: h.Deadband, MaxInterval: h.MaxInterval.D()}
		}
	}
	if b.hist, err = store.NewHistoryRecorder(st, b.plant.cache, specs, log); err != nil {
		st.Close()
		return nil, err
	}
	return b, nil
}

// run runs the front end, the alarm engine, the history recorder and the
// retention until ctx ends or one of them fails, then closes the store
// (committing everything queued).
func (b *backend) run(ctx context.Context) error {
	tasks := []task{
		{"alarms", func(ctx context.Context) error { return b.alarms.Run(ctx, b.plant.cache) }},
		{"history", b.hist.Run},
		{"front end", b.plant.run},
	}
	if ev, hist := b.cfg.Events.Retention.D(), b.cfg.History.Retention.D(); ev > 0 || hist > 0 {
		tasks = append(tasks, task{"retention", func(ctx context.Context) error { return b.store.RunRetention(ctx, ev, hist, time.Hour) }})
	}
	err := runTasks(ctx, tasks...)
	if cerr := b.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// linkEvent journals a front-end event and tells the alarm engine what it
// must know. It runs on link goroutines: it must not block.
func (b *backend) linkEvent(e frontstation.Event) {
	se := store.Event{Time: e.Time, Recv: e.Time, Kind: e.Kind.String(), Point: e.Point, Link: e.Link, Message: e.Message}
	if e.Kind == frontstation.EventLinkState {
		se.State = e.State.String()
		// The engine may not be running yet when the first links connect; it
		// reads link states from its input queue when it starts.
		// The reason is the state the link is in ("connecting"): the alarm's message names the link already
		// ("link north down: connecting"), and e.Message would say it again.
		b.alarms.LinkState(alarms.LinkState{Link: e.Link, Up: e.State == frontstation.Active, At: e.Time, Reason: e.State.String()})
	}
	if e.Kind == frontstation.EventSecurity {
		b.alarms.Security(alarms.SecurityEvent{Kind: e.Code, Link: e.Link, Point: e.Point, Message: e.Message, At: e.Time})
	}
	if e.Point != "" {
		if p := b.cfg.Point(e.Point); p != nil {
			se.Area = p.Area
		}
	}
	if err := b.store.QueueEvent(se); err != nil && !errors.Is(err, store.ErrQueueFull) {
		b.log.Error("journal", "err", err)
	}
}

// commandStep writes each new step of a command to the hash-chained audit
// trail (committed before the command goes on) and the journal, and tells
// the alarm engine how commands end.
func (b *backend) commandStep(r frontstation.Record) {
	b.auditMu.Lock()
	done := b.audited[r.ID]
	if r.Done {
		delete(b.audited, r.ID)
	} else {
		b.audited[r.ID] = len(r.Steps)
	}
	b.auditMu.Unlock()
	rows := make([]store.AuditRecord, 0, len(r.Steps)-done+1)
	base := store.AuditRecord{CommandID: r.ID, Point: r.Point, Link: r.Link, Value: r.Value, State: r.State.String(),
		User: r.Origin.User, Session: r.Origin.Session, Client: r.Origin.Client}
	for _, s := range r.Steps[done:] {
		row := base
		row.At, row.Step, row.Cause, row.Negative = s.At, s.Name, int(s.Cause), s.Negative
		row.LatencyMS = float64(s.Latency.Microseconds()) / 1000
		rows = append(rows, row)
		b.metrics.commandStep(s)
	}
	b.metrics.commandRecord(r)
	if r.Done || len(rows) == 0 {
		row := base
		row.At, row.Step, row.Detail = time.Now(), r.State.String(), r.Err
		rows = append(rows, row)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, row := range rows {
		if _, err := b.store.AppendAudit(ctx, row); err != nil {
			b.log.Error("audit", "command", r.ID, "step", row.Step, "err", err)
		}
	}
	if b.progress != nil {
		b.progress(r)
	}
	if !r.Done {
		return
	}
	// The front end journals the outcome itself (an EventCommand through linkEvent).
	if r.State == frontstation.Failed {
		b.alarms.CommandFailed(alarms.CommandFailure{Point: r.Point, Reason: r.Err, At: time.Now()})
	} else {
		b.alarms.CommandSucceeded(r.Point, time.Now())
	}
}
