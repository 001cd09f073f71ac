package web

import "net/http"

// CommandExecute executes a selected command (POST /api/v1/commands/{cid}/execute). Only the user and session
// that selected it may; the tag, the interlocks and the link are checked again, as they may have changed since the
// selection.
func (a *App) CommandExecute(w http.ResponseWriter, r *http.Request) {
	a.commandStep(w, r, "execute")
}

// commandStep runs execute or cancel on a command of the user's session.
func (a *App) commandStep(w http.ResponseWriter, r *http.Request, step string) {
	id := IdentityFrom(r.Context())
	cid := param(r, "cid")
	// The body carries nothing yet, but it must be empty or one JSON object: a request that is not what a client
	// of the API sends acts on nothing.
	var body struct{}
	if err := decodeOptionalJSON(r, &body); err != nil {
		a.Fail(w, r, err)
		return
	}
	if a.deps.Commander == nil {
		a.Fail(w, r, errorf(CodeUnavailable, "commands are not available on this server"))
		return
	}
	rec, err := a.ownCommand(id, cid)
	entry := AuditEntry{CommandID: cid, Point: rec.Point, Link: rec.Link, Value: rec.Value, State: rec.State}
	if err != nil {
		a.Fail(w, r, a.refuse(r.Context(), id, entry, err))
		return
	}
	t, err := a.operable(id, rec.Point)
	if err == nil && step == "execute" {
		err = a.allowed(t)
	}
	if err != nil {
		a.Fail(w, r, a.refuse(r.Context(), id, entry, err))
		return
	}
	entry.Step = step + "_request"
	if err := a.audit(r.Context(), id, entry); err != nil {
		a.Fail(w, r, err)
		return
	}
	a.extendWrite(w)
	ctx, cancel := a.commandContext(r.Context())
	defer cancel()
	run := a.deps.Commander.Execute
	if step == "cancel" {
		run = a.deps.Commander.Cancel
	}
	rec, err = run(ctx, cid)
	if err != nil {
		a.Fail(w, r, a.refuse(r.Context(), id, entry, commanderError(err)))
		return
	}
	a.CommandProgress(rec)
	a.log.Info("web: command", "command", rec.ID, "point", rec.Point, "step", step, "state", rec.State, "user", id.User.Name)
	writeJSON(w, http.StatusOK, toCommandJSON(&rec))
}
