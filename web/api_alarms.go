package web

import (
	"hmi/alarms"
	"net/http"
	"time"
)

// alarmJSON is an alarm as the API gives it.
type alarmJSON struct {
	ID           string     `json:"id"`
	Point        string     `json:"point"`
	Link         string     `json:"link"`
	Area         string     `json:"area"`
	Source       string     `json:"source"`
	Priority     int        `json:"priority"`
	State        string     `json:"state"`
	Message      string     `json:"message"`
	Value        float64    `json:"value"`
	RaisedAt     *time.Time `json:"raised_at"`
	ClearedAt    *time.Time `json:"cleared_at"`
	AckedBy      string     `json:"acked_by"`
	AckedAt      *time.Time `json:"acked_at"`
	Comment      string     `json:"comment"`
	ShelvedBy    string     `json:"shelved_by,omitempty"`
	ShelvedUntil *time.Time `json:"shelved_until,omitempty"`
}

func alarmObject(al alarms.Alarm) alarmJSON {
	j := alarmJSON{
		ID: al.ID, Point: al.Point, Link: al.Link, Area: al.Area, Source: al.Source.String(),
		Priority: int(al.Priority), State: al.State.String(), Message: al.Message, Value: al.Value,
		RaisedAt: timePtr(al.RaisedAt), ClearedAt: timePtr(al.ClearedAt), AckedBy: al.AckedBy,
		AckedAt: timePtr(al.AckedAt), Comment: al.Comment,
	}
	if al.State == alarms.Shelved {
		j.ShelvedBy, j.ShelvedUntil = al.ShelvedBy, timePtr(al.ShelvedUntil)
	}
	return j
}

// APIAlarms lists the active, unacknowledged and shelved alarms the user sees (GET /api/v1/alarms).
func (a *App) APIAlarms(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	f, _, err := alarmFilter(r)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	out := []alarmJSON{}
	for _, al := range a.visibleAlarms(id, f) {
		out = append(out, alarmObject(al))
	}
	writeJSON(w, http.StatusOK, out)
}
