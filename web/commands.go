package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"hmi/points"
)

// The command rules of ARCHITECTURE.md ("Commands"), enforced here and not in the page: role and area, the
// do-not-operate tag, the interlocks, the link, and that an execute or cancel comes from the user and session that
// selected. Every request and every refusal is written to the audit before anything is sent; a command whose
// request cannot be audited is not sent.

// commandTarget is a point that a command request names, with its control.
type commandTarget struct {
	h   points.Handle
	def *points.Def
	ctl *Control
}

// operable checks everything that depends on the user and the configuration: the point exists and the user sees
// it, it has a control, the role may operate it.
func (a *App) operable(id *Identity, pid string) (commandTarget, error) {
	if a.deps.Commander == nil {
		return commandTarget{}, errorf(CodeUnavailable, "commands are not available on this server")
	}
	if a.deps.Audit == nil {
		return commandTarget{}, errorf(CodeUnavailable, "commands are not accepted: there is no audit trail")
	}
	h, ok := a.cache.Lookup(pid)
	if !ok {
		return commandTarget{}, errorf(CodeNotFound, "no point "+pid)
	}
	d := &a.defs[h]
	t := commandTarget{h: h, def: d, ctl: a.controls[pid]}
	if !id.Sees(d.Area) {
		return t, errorf(CodeForbidden, fmt.Sprintf("area: %s is in area %s, which is not one of yours", pid, d.Area))
	}
	if t.ctl == nil {
		return t, errorf(CodeUnprocessable, fmt.Sprintf("no control: %s cannot be operated", pid))
	}
	if !slices.Contains(t.ctl.Roles, id.Role()) {
		names := make([]string, len(t.ctl.Roles))
		for i, r := range t.ctl.Roles {
			names[i] = r.String()
		}
		return t, errorf(CodeForbidden, fmt.Sprintf("role: operating %s needs the role %s; you are %s",
			pid, strings.Join(names, " or "), id.Role()))
	}
	return t, nil
}

// allowed checks what depends on the plant's present state: the tag, the interlocks, the link.
func (a *App) allowed(t commandTarget) error {
	if tag := a.tags.Tag(t.def.ID); tag.On {
		msg := "tag: " + t.def.ID + " is tagged do not operate"
		if tag.Reason != "" {
			msg += ": " + tag.Reason
		}
		if tag.By != "" {
			msg += " (by " + tag.By + ")"
		}
		return errorf(CodeConflict, msg)
	}
	for _, il := range t.ctl.Interlocks {
		h, ok := a.cache.Lookup(il.Point)
		if !ok {
			return errorf(CodeConflict, "interlock: "+a.interlockText(il)+" (the point is unknown)")
		}
		v := a.cache.Get(h)
		if !v.Quality.Good() {
			d := a.cache.Def(h)
			return errorf(CodeConflict, fmt.Sprintf("interlock: %s; the value of %s cannot be trusted (%s)",
				a.interlockText(il), d.ID, qualityText(v.Quality)))
		}
		if v.Value != il.Value {
			return errorf(CodeConflict, "interlock: "+a.interlockText(il))
		}
	}
	l, ok := a.deps.Links.Link(t.def.Link)
	if !ok || l.State != LinkActive {
		state := "unknown"
		if ok {
			state = l.State
		}
		return errorf(CodeConflict, fmt.Sprintf("link down: the link %s of %s is %s", t.def.Link, t.def.ID, state))
	}
	return nil
}

// ownCommand returns the record of command cid if the user and session of id selected it.
func (a *App) ownCommand(id *Identity, cid string) (CommandRecord, error) {
	rec, ok := a.deps.Commander.Get(cid)
	if !ok {
		return rec, errorf(CodeNotFound, "no command "+cid)
	}
	if rec.Origin.User != id.User.Name || rec.Origin.Session != id.Ref {
		return rec, errorf(CodeForbidden, "command "+cid+" was selected by another user or session: only they may execute or cancel it")
	}
	return rec, nil
}

// audit writes an entry for the user of id; the error says the command must not go on.
func (a *App) audit(ctx context.Context, id *Identity, e AuditEntry) error {
	if a.deps.Audit == nil {
		return errorf(CodeUnavailable, "commands are not accepted: there is no audit trail")
	}
	if e.At.IsZero() {
		e.At = a.cfg.Now()
	}
	e.User, e.Session, e.Client = id.User.Name, id.Ref, id.Client
	if _, err := a.deps.Audit.AppendAudit(ctx, e); err != nil {
		return wrapf(CodeInternal, err, "the audit trail cannot be written: the command was not sent")
	}
	return nil
}

// refuse audits a refusal and returns it.
func (a *App) refuse(ctx context.Context, id *Identity, e AuditEntry, refusal error) error {
	e.Step, e.Detail = "refused", Message(refusal)
	if err := a.audit(ctx, id, e); err != nil && a.deps.Audit != nil {
		a.log.Error("web: audit of a refusal", "point", e.Point, "user", id.User.Name, "err", err)
	}
	a.log.Info("web: command refused", "point", e.Point, "command", e.CommandID, "user", id.User.Name, "why", e.Detail)
	return refusal
}

// commanderError maps an error of the Commander to the answer.
func commanderError(err error) error {
	switch {
	case errors.Is(err, ErrCommandBusy):
		return wrapf(CodeConflict, err, "command pending: "+detail(err))
	case errors.Is(err, ErrLinkDown):
		return wrapf(CodeConflict, err, "link down: "+detail(err))
	case errors.Is(err, ErrBadValue):
		return wrapf(CodeUnprocessable, err, "value: "+detail(err))
	case errors.Is(err, ErrNoControl):
		return wrapf(CodeUnprocessable, err, "no control: "+detail(err))
	case errors.Is(err, ErrUnknownCommand):
		return wrapf(CodeNotFound, err, detail(err))
	case errors.Is(err, ErrNotSelected):
		return wrapf(CodeConflict, err, "not selected: "+detail(err))
	}
	return wrapf(CodeInternal, err, "the command could not be run")
}

// detail is the text of an adapter's error without package prefixes.
func detail(err error) string {
	s := err.Error()
	for _, p := range []string{"frontstation: ", "web: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// commandContext is the context a command runs under: not the request's, which ends when the browser goes away,
// but bounded.
func (a *App) commandContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), a.cfg.CommandTimeout)
}

// extendWrite lets the answer to a command request come after the server's write timeout: a command may wait for
// the device longer than a page may take.
func (a *App) extendWrite(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(a.cfg.CommandTimeout + 10*time.Second))
}

// commandJSON is a command as the API and the WebSocket give it.
type commandJSON struct {
	ID    string     `json:"id"`
	Point string     `json:"point"`
	Value float64    `json:"value"`
	State string     `json:"state"`
	SBO   bool       `json:"sbo"`
	User  string     `json:"user"`
	Steps []stepJSON `json:"steps"`
	Error string     `json:"error"`
	Done  bool       `json:"done"`
}

type stepJSON struct {
	Step      string    `json:"step"`
	At        time.Time `json:"at"`
	COT       int       `json:"cot"`
	Negative  bool      `json:"negative"`
	LatencyMS *float64  `json:"latency_ms"`
}

func toCommandJSON(r *CommandRecord) commandJSON {
	c := commandJSON{ID: r.ID, Point: r.Point, Value: r.Value, State: r.State, SBO: r.SBO, User: r.Origin.User,
		Error: r.Err, Done: r.Final(), Steps: make([]stepJSON, len(r.Steps))}
	for i, s := range r.Steps {
		c.Steps[i] = stepJSON{Step: s.Name, At: s.At.UTC(), COT: s.Cause, Negative: s.Negative}
		if s.Latency > 0 {
			ms := float64(s.Latency.Microseconds()) / 1000
			c.Steps[i].LatencyMS = &ms
		}
	}
	return c
}
