package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"hmi/capture"
	"hmi/config"
	"hmi/frontstation"
	"hmi/store"
	"hmi/web"
)

// The web package reads through interfaces it declares; these adapt the
// store and the front end to them.

// webErr maps the store's errors to web's.
func webErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", web.ErrNotFound, err)
	case errors.Is(err, store.ErrExists):
		return fmt.Errorf("%w: %w", web.ErrExists, err)
	case errors.Is(err, store.ErrBadCursor):
		return fmt.Errorf("%w: %w", web.ErrBadCursor, err)
	}
	return err
}

// accounts adapts the store's users and sessions.
type accounts struct{ s *store.Store }

func toWebUser(u store.User) web.User {
	role, err := web.ParseRole(u.Role)
	if err != nil {
		role = 0 // an invalid role cannot log in
	}
	return web.User{Name: u.Name, Role: role, PasswordHash: u.PasswordHash, Areas: u.Areas, Created: u.Created, Disabled: u.Disabled}
}

func toStoreUser(u web.User) store.User {
	return store.User{Name: u.Name, Role: u.Role.String(), PasswordHash: u.PasswordHash, Areas: u.Areas, Created: u.Created, Disabled: u.Disabled}
}

func (a accounts) GetUser(ctx context.Context, name string) (web.User, error) {
	u, err := a.s.GetUser(ctx, name)
	return toWebUser(u), webErr(err)
}

func (a accounts) ListUsers(ctx context.Context) ([]web.User, error) {
	us, err := a.s.ListUsers(ctx)
	out := make([]web.User, len(us))
	for i, u := range us {
		out[i] = toWebUser(u)
	}
	return out, webErr(err)
}

func (a accounts) CreateUser(ctx context.Context, u web.User) error {
	return webErr(a.s.CreateUser(ctx, toStoreUser(u)))
}

func (a accounts) UpdateUser(ctx context.Context, u web.User) error {
	return webErr(a.s.UpdateUser(ctx, toStoreUser(u)))
}

func (a accounts) UpdatePassword(ctx context.Context, name, hash string) error {
	return webErr(a.s.UpdatePassword(ctx, name, hash))
}

func (a accounts) DeleteUser(ctx context.Context, name string) error {
	return webErr(a.s.DeleteUser(ctx, name))
}

func (a accounts) CreateSession(ctx context.Context, s web.Session) error {
	return webErr(a.s.CreateSession(ctx, store.Session(s)))
}

func (a accounts) GetSession(ctx context.Context, idHash string) (web.Session, error) {
	s, err := a.s.GetSession(ctx, idHash)
	return web.Session(s), webErr(err)
}

func (a accounts) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	return webErr(a.s.TouchSession(ctx, idHash, at))
}

func (a accounts) DeleteSession(ctx context.Context, idHash string) error {
	return webErr(a.s.DeleteSession(ctx, idHash))
}

func (a accounts) DeleteUserSessions(ctx context.Context, user string) (int64, error) {
	n, err := a.s.DeleteUserSessions(ctx, user)
	return n, webErr(err)
}

// journal adapts the store's event journal, audit trail and history.
type journal struct{ s *store.Store }

func (j journal) Events(ctx context.Context, q web.EventQuery) ([]web.Event, string, error) {
	evs, next, err := j.s.Events(ctx, store.EventQuery(q))
	out := make([]web.Event, len(evs))
	for i, e := range evs {
		out[i] = web.Event(e)
	}
	return out, next, webErr(err)
}

func (j journal) ExportCSV(ctx context.Context, q web.EventQuery, w io.Writer) error {
	return webErr(j.s.ExportCSV(ctx, store.EventQuery(q), w))
}

func (j journal) AppendAudit(ctx context.Context, e web.AuditEntry) (int64, error) {
	return j.s.AppendAudit(ctx, store.AuditRecord(e))
}

func (j journal) Audit(ctx context.Context, q web.AuditQuery) ([]web.AuditEntry, string, error) {
	rows, next, err := j.s.Audit(ctx, store.AuditQuery(q))
	out := make([]web.AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = web.AuditEntry(r)
	}
	return out, next, webErr(err)
}

func (j journal) History(ctx context.Context, point string, from, to time.Time, buckets int) ([]web.Bucket, error) {
	bs, err := j.s.History(ctx, point, from, to, buckets)
	out := make([]web.Bucket, len(bs))
	for i, b := range bs {
		out[i] = web.Bucket(b)
	}
	return out, webErr(err)
}

// links adapts the front end's links.
type links struct{ ls []*frontstation.Link }

func linkInfo(l *frontstation.Link) web.LinkInfo {
	st, since := l.State()
	s := l.Stats()
	var errs uint64
	for _, n := range s.Errors {
		errs += n
	}
	return web.LinkInfo{Name: l.Name(), State: st.String(), Address: l.Address(), Since: since, Stats: web.LinkStats{
		RxFrames: s.RxFrames, TxFrames: s.TxFrames, RxObjects: s.RxObjects, TxObjects: s.TxObjects,
		Errors: errs, ErrorsByKind: s.Errors, Reconnects: s.Reconnects, Replays: s.Replays,
		LastInterrogation: s.LastInterrogation, InterrogationTime: s.InterrogationTime, TestRTT: s.TestRTT,
	}}
}

func (a links) Links() []web.LinkInfo {
	out := make([]web.LinkInfo, len(a.ls))
	for i, l := range a.ls {
		out[i] = linkInfo(l)
	}
	return out
}

func (a links) Link(name string) (web.LinkInfo, bool) {
	for _, l := range a.ls {
		if l.Name() == name {
			return linkInfo(l), true
		}
	}
	return web.LinkInfo{}, false
}

func (a links) Traffic(name string, after uint64, dst []web.Frame) []web.Frame {
	for _, l := range a.ls {
		if l.Name() == name {
			for _, f := range l.Traffic(after, nil) {
				dst = append(dst, web.Frame{Seq: f.Seq, Time: f.Time, Sent: f.Sent, Address: f.Address, Text: capture.Describe(f.Raw)})
			}
		}
	}
	return dst
}

// commander adapts the front end's Commander.
type commander struct{ c *frontstation.Commander }

func toWebRecord(r frontstation.Record) web.CommandRecord {
	out := web.CommandRecord{ID: r.ID, Point: r.Point, Link: r.Link, Value: r.Value, SBO: r.SBO,
		Origin: web.Origin(r.Origin), State: r.State.String(), Err: r.Err, Done: r.Done}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, web.CommandStep{Name: s.Name, At: s.At, Cause: int(s.Cause), Negative: s.Negative, Latency: s.Latency})
	}
	return out
}

func commandErr(err error) error {
	for _, m := range []struct{ from, to error }{
		{frontstation.ErrBusy, web.ErrCommandBusy}, {frontstation.ErrQuarantine, web.ErrCommandBusy},
		{frontstation.ErrLinkNotActive, web.ErrLinkDown}, {frontstation.ErrBadValue, web.ErrBadValue},
		{frontstation.ErrNoControl, web.ErrNoControl}, {frontstation.ErrUnknownCommand, web.ErrUnknownCommand},
		{frontstation.ErrNotSelected, web.ErrNotSelected},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("%w: %v", m.to, err)
		}
	}
	return err
}

func (a commander) Select(ctx context.Context, point string, value float64, o web.Origin) (web.CommandRecord, error) {
	r, err := a.c.Select(ctx, point, value, frontstation.Origin(o))
	return toWebRecord(r), commandErr(err)
}

func (a commander) Execute(ctx context.Context, id string) (web.CommandRecord, error) {
	r, err := a.c.Execute(ctx, id)
	return toWebRecord(r), commandErr(err)
}

func (a commander) Cancel(ctx context.Context, id string) (web.CommandRecord, error) {
	r, err := a.c.Cancel(ctx, id)
	return toWebRecord(r), commandErr(err)
}

func (a commander) Get(id string) (web.CommandRecord, bool) {
	r, ok := a.c.Get(id)
	return toWebRecord(r), ok
}

// webControls lists the configured controls for the web's rules.
func webControls(cfg *config.Config) ([]web.Control, error) {
	var out []web.Control
	for _, p := range cfg.Points {
		c := p.Control
		if c == nil {
			continue
		}
		wc := web.Control{Point: p.ID, Type: string(c.Type), SBO: c.SBO, SelectTimeout: c.SelectTimeout.D(), DoNotOperate: c.DoNotOperate}
		for _, r := range c.Roles {
			role, err := web.ParseRole(r)
			if err != nil {
				return nil, fmt.Errorf("point %s: %w", p.ID, err)
			}
			wc.Roles = append(wc.Roles, role)
		}
		for _, il := range c.Interlocks {
			wc.Interlocks = append(wc.Interlocks, web.Interlock{Point: il.Point, Value: float64(il.Value), Reason: il.Reason})
		}
		out = append(out, wc)
	}
	return out, nil
}
