package web

import (
	"net/http"
	"time"
)

// eventJSON is an event as the API gives it.
type eventJSON struct {
	ID      int64      `json:"id"`
	Time    *time.Time `json:"time"`
	Recv    *time.Time `json:"recv"`
	Kind    string     `json:"kind"`
	Point   string     `json:"point"`
	Area    string     `json:"area"`
	Link    string     `json:"link"`
	User    string     `json:"user"`
	Message string     `json:"message"`
	Value   *float64   `json:"value"`
	State   string     `json:"state"`
	Quality string     `json:"quality"`
}

// APIEvents returns a page of the journal (GET /api/v1/events?from&to&point&area&kind&text&limit&cursor):
// {"events": [...], "next_cursor": "..."} ("" after the last page).
func (a *App) APIEvents(w http.ResponseWriter, r *http.Request) {
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
	evs, next, err := a.deps.Journal.Events(r.Context(), q)
	if err != nil {
		a.Fail(w, r, journalError(err))
		return
	}
	out := make([]eventJSON, len(evs))
	for i, e := range evs {
		out[i] = eventJSON{ID: e.ID, Time: timePtr(e.Time), Recv: timePtr(e.Recv), Kind: e.Kind, Point: e.Point,
			Area: e.Area, Link: e.Link, User: e.User, Message: e.Message, Value: e.Value, State: e.State, Quality: e.Quality}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_cursor": next})
}
