package web

import (
	"context"
	"net/http"
)

// AlarmUnshelve shows a shelved alarm again (POST /api/v1/alarms/{id}/unshelve {comment}).
func (a *App) AlarmUnshelve(w http.ResponseWriter, r *http.Request) {
	var req ackRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		a.Fail(w, r, err)
		return
	}
	a.alarmAction(w, r, req.Comment, "unshelved", func(ctx context.Context, user, aid string) error {
		return a.deps.Alarms.Unshelve(ctx, user, aid, req.Comment)
	})
}
