package web

import (
	"net/http"
	"time"
)

// EventsExport streams the journal's events of the filter as CSV (GET /events.csv?...), all of them, newest first.
func (a *App) EventsExport(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	if a.deps.Journal == nil {
		a.Fail(w, r, errorf(CodeUnavailable, "the event journal is not available"))
		return
	}
	q, err := a.eventQuery(id, r)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	q.Cursor, q.Limit = "", 0
	// An export may take longer than the server's write timeout allows a page.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(10 * time.Minute))
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="events-`+a.cfg.Now().Format("20060102-150405")+`.csv"`)
	h.Set("Cache-Control", "no-store")
	if err := a.deps.Journal.ExportCSV(r.Context(), q, w); err != nil {
		// The header is sent: all that can be done is to log and cut the body short.
		a.log.Warn("web: csv export", "user", id.User.Name, "err", err)
	}
}
