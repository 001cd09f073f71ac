package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"hmi/templates"
)

// AuditList shows the command audit, grouped by command, newest first (GET /audit?from&to&point&user&command&cursor).
func (a *App) AuditList(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	qs := r.URL.Query()
	p := templates.AuditPage{Page: a.page(w, r, "audit", "Audit"), Available: a.deps.Audit != nil}
	p.Filter = templates.AuditFilter{From: qs.Get("from"), To: qs.Get("to"), Point: qs.Get("point"),
		User: qs.Get("user"), Command: qs.Get("command")}
	if !p.Available {
		a.render(w, r, http.StatusOK, templates.Audit(p))
		return
	}
	q := AuditQuery{Point: p.Filter.Point, User: p.Filter.User, CommandID: p.Filter.Command, Cursor: qs.Get("cursor"), Limit: 200}
	var err error
	if q.From, err = parseTime("from", p.Filter.From); err == nil {
		q.To, err = parseTime("to", p.Filter.To)
	}
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	entries, next, err := a.deps.Audit.Audit(r.Context(), q)
	if err != nil {
		a.Fail(w, r, journalError(err))
		return
	}
	// Group by command, in the order of their newest entry; steps in time order within a command (the order of
	// insertion is not that: the step that ends a command may be written before the device's last answer).
	byID := map[string]int{}
	var groups [][]AuditEntry
	for _, e := range entries {
		if e.Point != "" {
			if h, ok := a.cache.Lookup(e.Point); ok && !id.Sees(a.defs[h].Area) {
				continue
			}
		}
		key := e.CommandID
		if key == "" {
			key = "#" + strconv.FormatInt(e.ID, 10) // a request or refusal without a command: its own group
		}
		i, ok := byID[key]
		if !ok {
			i = len(p.Commands)
			byID[key] = i
			p.Commands = append(p.Commands, templates.AuditCommand{ID: e.CommandID, Point: e.Point,
				Value: a.auditValue(e.Point, e.Value), User: e.User, Session: e.Session, Client: e.Client, State: e.State})
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], e)
	}
	for i, g := range groups {
		slices.SortStableFunc(g, func(x, y AuditEntry) int { return cmp.Or(x.At.Compare(y.At), cmp.Compare(x.ID, y.ID)) })
		for _, e := range g {
			step := templates.AuditStep{Step: e.Step, At: dateTimeText(e.At), AtISO: isoTime(e.At), State: e.State,
				Detail: e.Detail, Negative: e.Negative}
			if e.Cause != 0 {
				step.Cause = strconv.Itoa(e.Cause)
			}
			if e.LatencyMS > 0 {
				step.Latency = fmt.Sprintf("%.1f ms", e.LatencyMS)
			}
			p.Commands[i].Steps = append(p.Commands[i].Steps, step)
		}
	}
	p.NextURL, p.FirstURL, _ = pageLinks("/audit", qs, q.Cursor, next)
	a.render(w, r, http.StatusOK, templates.Audit(p))
}

// auditValue is a command's value as the operator chose it: the label of a discrete control's choice ("closed",
// "Lower"), or the number with the point's unit; the bare number for a point the configuration no longer has.
func (a *App) auditValue(point string, x float64) string {
	h, ok := a.cache.Lookup(point)
	if !ok {
		return formatNumber(x, 0)
	}
	d := &a.defs[h]
	if c := a.controls[point]; c != nil && !isSetpoint(c) {
		for _, o := range choices(c, d) {
			if o.Value == ftoa(x) {
				return o.Label
			}
		}
	}
	return formatValue(d, x)
}
