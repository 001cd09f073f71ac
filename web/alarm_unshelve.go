package web

import "net/http"

// AlarmUnshelve shows a shelved alarm again (POST /api/v1/alarms/{id}/unshelve {comment}).
func (a *App) AlarmUnshelve(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	var req ackRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		a.Fail(w, r, err)
		return
	}
	if err := checkComment(req.Comment); err != nil {
		a.Fail(w, r, err)
		return
	}
	aid := param(r, "id")
	if _, err := a.visibleAlarm(id, aid); err != nil {
		a.Fail(w, r, err)
		return
	}
	if err := a.deps.Alarms.Unshelve(r.Context(), id.User.Name, aid, req.Comment); err != nil {
		a.Fail(w, r, alarmError(err))
		return
	}
	al, _ := a.deps.Alarms.Get(aid)
	writeJSON(w, http.StatusOK, map[string]any{"unshelved": 1, "alarm": alarmObject(al)})
}
