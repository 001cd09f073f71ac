package web

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"

	"hmi/alarms"
)

// AlarmOutOfService takes an alarm out of service (POST /api/v1/alarms/{id}/out-of-service {comment}): it is
// normal underneath, and nothing it evaluates shows until it is back in service. The route lets engineers and
// admins only; the action and its comment go to the alarm journal.
func (a *App) AlarmOutOfService(w http.ResponseWriter, r *http.Request) { a.alarmService(w, r, true) }

// AlarmInService puts an alarm back in service (POST /api/v1/alarms/{id}/in-service {comment}): it is evaluated
// afresh and raises at once if its condition is present.
func (a *App) AlarmInService(w http.ResponseWriter, r *http.Request) { a.alarmService(w, r, false) }

func (a *App) alarmService(w http.ResponseWriter, r *http.Request, on bool) {
	var req ackRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		a.Fail(w, r, err)
		return
	}
	done := "in_service"
	if on {
		done = "out_of_service"
	}
	a.alarmAction(w, r, req.Comment, done, func(ctx context.Context, user, aid string) error {
		return a.deps.Alarms.OutOfService(ctx, user, aid, on, req.Comment)
	})
}

// mayService reports whether the user may take alarms out of service and back (the routes' role).
func mayService(id *Identity) bool { return id.Role().AtLeast(RoleEngineer) }

// securityKinds are the kinds of the security events the front end reports (frontstation's security codes), and
// the engine's names for an event without a kind and for kinds beyond its limit: the security alarms that may
// exist ("security:KIND").
var securityKinds = []string{"remote_change", "local_operation", "unsolicited_confirmation", "confirmation_mismatch",
	"station_command", "tls", "security", "other"}

// pointAlarmIDs returns the IDs the alarm engine gives the alarms a point may have (alarms.Defs): discrete, the
// four limits, quality and command failure.
func pointAlarmIDs(point string) []string {
	return []string{"discrete:" + point, "limit:" + point + ":HH", "limit:" + point + ":H", "limit:" + point + ":L",
		"limit:" + point + ":LL", "quality:" + point, "command:" + point}
}

// pointAlarms returns the alarms of a point, in any state, by priority then ID.
func (a *App) pointAlarms(point string) []alarms.Alarm {
	var out []alarms.Alarm
	for _, aid := range pointAlarmIDs(point) {
		if al, ok := a.deps.Alarms.Get(aid); ok {
			out = append(out, al)
		}
	}
	slices.SortFunc(out, func(x, y alarms.Alarm) int {
		return cmp.Or(cmp.Compare(x.Priority, y.Priority), strings.Compare(x.ID, y.ID))
	})
	return out
}

// outOfServiceAlarms returns the alarms out of service that the user sees and f selects (but for its states), by
// priority then ID. The engine's List leaves them out and has no query for them, so they are looked up by the IDs
// the engine gives them; only when its summary counts some.
func (a *App) outOfServiceAlarms(id *Identity, f alarms.Filter) []alarms.Alarm {
	n := 0
	for _, c := range a.deps.Alarms.Summary() {
		n += c.OutOfService
	}
	if n == 0 {
		return nil
	}
	var ids []string
	for i := range a.defs {
		ids = append(ids, pointAlarmIDs(a.defs[i].ID)...)
	}
	for _, l := range a.deps.Links.Links() {
		ids = append(ids, "link:"+l.Name)
	}
	for _, k := range securityKinds {
		ids = append(ids, "security:"+k)
	}
	f.States = nil
	var out []alarms.Alarm
	for _, aid := range ids {
		al, ok := a.deps.Alarms.Get(aid)
		if !ok || al.State != alarms.OutOfService || !f.Match(&al) || (id.restricted() && (al.Area == "" || !id.Sees(al.Area))) {
			continue
		}
		out = append(out, al)
		if len(out) == n {
			break
		}
	}
	slices.SortFunc(out, func(x, y alarms.Alarm) int {
		return cmp.Or(cmp.Compare(x.Priority, y.Priority), strings.Compare(x.ID, y.ID))
	})
	return out
}
