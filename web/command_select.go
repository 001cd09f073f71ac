package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// selectRequest is the body of POST /api/v1/points/{id}/select: {"value": 1}. A boolean is taken as 0 or 1, a
// string as one of the point's state labels.
type selectRequest struct {
	Value json.RawMessage `json:"value"`
}

// CommandSelect starts a command (POST /api/v1/points/{id}/select): an SBO control stops at selected, a direct one
// executes. The answer is the command's record; a refusal is 403 (role, area), 409 (tag, interlock, link down,
// command pending) or 422 (value, no control), with the reason in words.
func (a *App) CommandSelect(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	pid := param(r, "id")
	var req selectRequest
	if err := decodeJSON(r, &req); err != nil {
		a.Fail(w, r, err)
		return
	}
	t, err := a.operable(id, pid)
	if err != nil {
		a.Fail(w, r, a.refuse(r.Context(), id, AuditEntry{Point: pid, Link: linkOf(t)}, err))
		return
	}
	value, err := parseCommandValue(req.Value, t)
	entry := AuditEntry{Point: pid, Link: t.def.Link, Value: value}
	if err != nil {
		a.Fail(w, r, a.refuse(r.Context(), id, entry, err))
		return
	}
	if err := checkValue(t.ctl, value); err != nil {
		a.Fail(w, r, a.refuse(r.Context(), id, entry, err))
		return
	}
	if err := a.allowed(t); err != nil {
		a.Fail(w, r, a.refuse(r.Context(), id, entry, err))
		return
	}
	entry.Step, entry.State = "select_request", "requested"
	if !t.ctl.SBO {
		entry.Step = "execute_request"
	}
	if err := a.audit(r.Context(), id, entry); err != nil {
		a.Fail(w, r, err)
		return
	}
	a.extendWrite(w)
	ctx, cancel := a.commandContext(r.Context())
	defer cancel()
	rec, err := a.deps.Commander.Select(ctx, pid, value, Origin{User: id.User.Name, Session: id.Ref, Client: id.Client})
	if err != nil {
		a.Fail(w, r, a.refuse(r.Context(), id, entry, commanderError(err)))
		return
	}
	a.CommandProgress(rec)
	a.log.Info("web: command", "command", rec.ID, "point", pid, "value", value, "state", rec.State, "user", id.User.Name)
	writeJSON(w, http.StatusOK, toCommandJSON(&rec))
}

// linkOf is the link of a target, if known.
func linkOf(t commandTarget) string {
	if t.def == nil {
		return ""
	}
	return t.def.Link
}

// parseCommandValue reads the value of a select request.
func parseCommandValue(raw json.RawMessage, t commandTarget) (float64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, errorf(CodeUnprocessable, "value: missing")
	}
	var x float64
	if err := json.Unmarshal(raw, &x); err == nil {
		return x, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		if b {
			return 1, nil
		}
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		for _, o := range choices(t.ctl, t.def) {
			if o.Label == s {
				var v float64
				_, err := fmt.Sscan(o.Value, &v)
				return v, err
			}
		}
		labels := slices.Collect(func(yield func(string) bool) {
			for _, o := range choices(t.ctl, t.def) {
				if !yield(o.Label) {
					return
				}
			}
		})
		return 0, errorf(CodeUnprocessable, fmt.Sprintf("value: %q is not one of %v", s, labels))
	}
	return 0, errorf(CodeInvalid, "value: must be a number, a boolean or a state label")
}
