package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"hmi/alarms"
	"hmi/config"
	"hmi/frontstation"
	"hmi/store"
)

// TestBackendJournalsAndAudits runs the example plant with its store and
// alarm engine, plus a link to a station that never answers: link states,
// commands and alarms end up in the journal, every command step in a
// verifiable audit trail, and the dead link raises its alarm.
func TestBackendJournalsAndAudits(t *testing.T) {
	text := exampleText(t)
	dead := freePort(t)
	text = strings.Replace(text, "\nlinks:\n", "\nlinks:\n  - {name: spare, addresses: [\""+dead+"\"], ca: 9, t0: 1s, reconnect: {min: 100ms, max: 200ms}, alarm: {delay: 300ms}}\n", 1)
	cfg, err := config.Parse("../../config.example.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := openBackend(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- b.run(runCtx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("backend: %v", err)
			}
		}
	}
	defer stop()

	deadline := time.Now().Add(15 * time.Second)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the simulated links", func() bool {
		for _, l := range b.plant.links {
			if st, _ := l.State(); l.Name() != "spare" && st != frontstation.Active {
				return false
			}
		}
		return true
	})
	waitFor("the spare link's alarm", func() bool {
		a, ok := b.alarms.Get("link:spare")
		return ok && a.State == alarms.ActiveUnacked
	})
	// The links that connected at start within their alarm delay raised none.
	for _, l := range []string{"north", "south"} {
		if a, ok := b.alarms.Get("link:" + l); ok && a.State != alarms.Normal {
			t.Errorf("link %s connected at start, yet its alarm is %v", l, a.State)
		}
	}
	if err := b.alarms.Ack(ctx, "operator1", []string{"link:spare"}, "known: spare not installed"); err != nil {
		t.Fatal(err)
	}

	var id string
	for _, p := range cfg.Points {
		if c := p.Control; c != nil && c.SBO && c.Type == config.ControlDouble {
			id = p.ID
		}
	}
	origin := frontstation.Origin{User: "operator1", Session: "s1", Client: "127.0.0.1"}
	r, err := b.plant.cmd.Select(ctx, id, 2, origin)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = b.plant.cmd.Execute(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.plant.cmd.Select(ctx, "north.feeder1.breaker.nope", 1, origin); err == nil {
		t.Fatal("command on a point without control accepted")
	}
	stop() // commits everything queued

	st, err := store.Open(ctx, cfg.DataDir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if brk, err := st.VerifyAudit(ctx); err != nil || brk != nil {
		t.Fatalf("audit chain: %v %+v", err, brk)
	}
	rows, _, err := st.Audit(ctx, store.AuditQuery{CommandID: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].User != "operator1" || rows[i].Session != "s1" || rows[i].Client != "127.0.0.1" {
			t.Errorf("audit row %+v: want who asked", rows[i])
		}
		steps = append(steps, rows[i].Step)
	}
	got := strings.Join(steps, ",")
	if !strings.Contains(got, "select,select_con") || !strings.Contains(got, "execute,execute_con") {
		t.Errorf("audit steps %s", got)
	}
	for _, q := range []store.EventQuery{
		{Kind: store.KindLink, Text: "spare"},
		{Kind: store.KindCommand, Text: r.ID},
		{Kind: store.KindAlarm, Text: "spare"},
		{Kind: store.KindPoint, Point: id},
	} {
		evs, _, err := st.Events(ctx, q)
		if err != nil || len(evs) == 0 {
			t.Errorf("no %s events for %+v (%v)", q.Kind, q, err)
		}
	}
}
