package web

import "net/http"

// CommandCancel cancels a selected command (POST /api/v1/commands/{cid}/cancel). Only the user and session that
// selected it may; cancelling is always allowed otherwise.
func (a *App) CommandCancel(w http.ResponseWriter, r *http.Request) {
	a.commandStep(w, r, "cancel")
}
