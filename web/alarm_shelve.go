package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"hmi/alarms"
)

// shelveRequest is the body of POST /api/v1/alarms/{id}/shelve: a duration as Go writes it ("1h", "15m") or a
// number of seconds, and a comment.
type shelveRequest struct {
	Duration json.RawMessage `json:"duration"`
	Comment  string          `json:"comment"`
}

// AlarmShelve shelves an alarm (POST /api/v1/alarms/{id}/shelve {duration, comment}).
func (a *App) AlarmShelve(w http.ResponseWriter, r *http.Request) {
	var req shelveRequest
	if err := decodeJSON(r, &req); err != nil {
		a.Fail(w, r, err)
		return
	}
	d, err := parseShelve(req.Duration)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	a.alarmAction(w, r, req.Comment, "shelved", func(ctx context.Context, user, aid string) error {
		return a.deps.Alarms.Shelve(ctx, user, aid, d, req.Comment)
	})
}

// parseShelve reads a shelve duration.
func parseShelve(raw json.RawMessage) (time.Duration, error) {
	var d time.Duration
	var s string
	var secs float64
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return 0, errorf(CodeUnprocessable, "duration: missing")
	case json.Unmarshal(raw, &s) == nil:
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, errorf(CodeUnprocessable, fmt.Sprintf("duration: %q is not a duration like 1h or 15m", s))
		}
		d = v
	case json.Unmarshal(raw, &secs) == nil:
		d = time.Duration(secs * float64(time.Second))
	default:
		return 0, errorf(CodeInvalid, "duration: must be a string like 1h or a number of seconds")
	}
	if d <= 0 || d > alarms.MaxShelve {
		return 0, errorf(CodeUnprocessable, fmt.Sprintf("duration: %v is not between 0 and %v", d, alarms.MaxShelve))
	}
	return d, nil
}
