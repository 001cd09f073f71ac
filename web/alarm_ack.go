package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"hmi/alarms"
)

// ackRequest is the body of POST /api/v1/alarms/{id}/ack ({comment}) and POST /api/v1/alarms/ack ({ids, comment}
// for a selection, or {all: true, area, priority, state, comment} for every alarm of the filter that the user sees).
type ackRequest struct {
	IDs      []string `json:"ids"`
	All      bool     `json:"all"`
	Area     string   `json:"area"`
	Priority int      `json:"priority"`
	State    string   `json:"state"`
	Comment  string   `json:"comment"`
}

// maxComment bounds an operator's comment; maxAckIDs the alarms of one request.
const (
	maxComment = 500
	maxAckIDs  = 10000
)

// visibleAlarm returns the alarm if the user sees it.
func (a *App) visibleAlarm(id *Identity, aid string) (alarms.Alarm, error) {
	al, ok := a.deps.Alarms.Get(aid)
	if !ok || (id.restricted() && (al.Area == "" || !id.Sees(al.Area))) {
		return al, errorf(CodeNotFound, "no alarm "+aid)
	}
	return al, nil
}

// AlarmAck acknowledges one alarm (POST /api/v1/alarms/{id}/ack {comment}).
func (a *App) AlarmAck(w http.ResponseWriter, r *http.Request) {
	var req ackRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		a.Fail(w, r, err)
		return
	}
	a.alarmAction(w, r, req.Comment, "acknowledged", func(ctx context.Context, user, aid string) error {
		return a.deps.Alarms.Ack(ctx, user, []string{aid}, req.Comment)
	})
}

// alarmAction runs op on the alarm the path names, after the checks every
// action on one alarm shares (the comment, the alarm visible to the user),
// and answers {done: 1, "alarm": the alarm after op}.
func (a *App) alarmAction(w http.ResponseWriter, r *http.Request, comment, done string, op func(ctx context.Context, user, aid string) error) {
	id := IdentityFrom(r.Context())
	if err := checkComment(comment); err != nil {
		a.Fail(w, r, err)
		return
	}
	aid := param(r, "id")
	if _, err := a.visibleAlarm(id, aid); err != nil {
		a.Fail(w, r, err)
		return
	}
	if err := op(r.Context(), id.User.Name, aid); err != nil {
		a.Fail(w, r, alarmError(err))
		return
	}
	al, _ := a.deps.Alarms.Get(aid)
	writeJSON(w, http.StatusOK, map[string]any{done: 1, "alarm": alarmObject(al)})
}

// AlarmsAck acknowledges a selection of alarms or all the user sees of a filter (POST /api/v1/alarms/ack). Alarms
// that cannot be acknowledged are listed in "errors"; the others are acknowledged all the same.
func (a *App) AlarmsAck(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	var req ackRequest
	if err := decodeJSON(r, &req); err != nil {
		a.Fail(w, r, err)
		return
	}
	if err := checkComment(req.Comment); err != nil {
		a.Fail(w, r, err)
		return
	}
	var (
		n    int
		errs []string
	)
	switch {
	case req.All:
		f := alarms.Filter{Area: req.Area}
		if req.Priority != 0 {
			if !alarms.Priority(req.Priority).Valid() {
				a.Fail(w, r, errorf(CodeInvalid, "priority: want 1, 2, 3 or 4"))
				return
			}
			f.Priorities = []alarms.Priority{alarms.Priority(req.Priority)}
		}
		if req.State != "" {
			s, err := alarms.ParseState(req.State)
			if err != nil {
				a.Fail(w, r, errorf(CodeInvalid, "state: unknown state"))
				return
			}
			f.States = []alarms.State{s}
		}
		// A user restricted to areas acknowledges within each of them (and within the filter's area).
		for _, scope := range ackScopes(id, f.Area) {
			f.Area = scope
			k, err := a.deps.Alarms.AckAll(r.Context(), id.User.Name, f, req.Comment)
			n += k
			if err != nil {
				if st := Status(alarmError(err)); st >= 500 && k == 0 {
					a.Fail(w, r, alarmError(err))
					return
				}
				errs = append(errs, opErrors(err)...)
			}
		}
	case len(req.IDs) > 0:
		if len(req.IDs) > maxAckIDs {
			a.Fail(w, r, errorf(CodeInvalid, fmt.Sprintf("ids: more than %d", maxAckIDs)))
			return
		}
		var ok []string
		for _, aid := range req.IDs {
			if _, err := a.visibleAlarm(id, aid); err != nil {
				errs = append(errs, Message(err))
				continue
			}
			ok = append(ok, aid)
		}
		ok = slices.Compact(slices.Sorted(slices.Values(ok)))
		if len(ok) > 0 {
			err := a.deps.Alarms.Ack(r.Context(), id.User.Name, ok, req.Comment)
			failed := opErrors(err)
			n = len(ok) - len(failed)
			errs = append(errs, failed...)
			if err != nil && n == 0 && len(failed) == 0 {
				a.Fail(w, r, alarmError(err))
				return
			}
		}
		if n == 0 && len(errs) > 0 {
			a.Fail(w, r, errorf(CodeConflict, "nothing acknowledged: "+strings.Join(errs, "; ")))
			return
		}
	default:
		a.Fail(w, r, errorf(CodeInvalid, "ids: name the alarms, or set all"))
		return
	}
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"acknowledged": n, "errors": errs})
}

// ackScopes returns the areas an "all" acknowledgement runs in: the filter's area for a user who sees everything;
// for a user restricted to areas, each of the user's areas within the filter's area (or the filter's area when
// it lies within one of the user's).
func ackScopes(id *Identity, area string) []string {
	if !id.restricted() {
		return []string{area}
	}
	if area != "" && id.Sees(area) {
		return []string{area}
	}
	var out []string
	for _, ua := range id.User.Areas {
		if area == "" || areaWithin(ua, area) {
			out = append(out, ua)
		}
	}
	return out
}

// opErrors returns the per-alarm refusals of an alarm engine's error, as text.
func opErrors(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if oe, ok := errors.AsType[*alarms.OpError](e); ok && oe.ID != "" {
			out = append(out, strings.TrimPrefix(oe.Error(), "alarms: "))
		}
	}
	walk(err)
	return out
}

// alarmError maps an error of the alarm engine to the answer.
func alarmError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "alarms: ")
	switch {
	case errors.Is(err, alarms.ErrUnknown):
		return wrapf(CodeNotFound, err, msg)
	case errors.Is(err, alarms.ErrNotAckable), errors.Is(err, alarms.ErrShelved), errors.Is(err, alarms.ErrNotShelved),
		errors.Is(err, alarms.ErrOutOfService), errors.Is(err, alarms.ErrInService):
		return wrapf(CodeConflict, err, msg)
	case errors.Is(err, alarms.ErrDuration):
		return wrapf(CodeUnprocessable, err, msg)
	case errors.Is(err, alarms.ErrNotRunning):
		return wrapf(CodeUnavailable, err, "the alarm engine is not running yet")
	}
	return wrapf(CodeInternal, err, "the alarm action could not be recorded")
}

func checkComment(c string) error {
	if len(c) > maxComment {
		return errorf(CodeUnprocessable, fmt.Sprintf("comment: longer than %d bytes", maxComment))
	}
	return nil
}
