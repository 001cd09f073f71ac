package web

import (
	"context"
	"net/http"
	"time"

	"hmi/points"
	"hmi/templates"
)

// recentEvents is how many events the point page lists.
const recentEvents = 20

// PointDetail shows one point (GET /points/{id}): value, quality explained, times, tag, trend, recent events and
// the control for users who may operate it.
func (a *App) PointDetail(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	h, d, err := a.visiblePoint(id, param(r, "id"))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	v := a.cache.Get(h)
	p := templates.PointPage{Page: a.page(w, r, "point", d.Name), Point: a.pointRow(id, h)}
	if p.Title == "" {
		p.Title = d.ID
	}
	for _, qw := range qualityWords {
		p.Flags = append(p.Flags, templates.FlagView{Name: qw.word, Set: v.Quality&qw.f != 0, Meaning: qw.meaning})
	}
	p.SourceTime, p.RecvTime = dateTimeText(v.SourceTime), dateTimeText(v.RecvTime)
	p.SourceTimeISO, p.RecvTimeISO = isoTime(v.SourceTime), isoTime(v.RecvTime)
	now := a.cfg.Now()
	for _, al := range a.pointAlarms(d.ID) {
		p.Alarms = append(p.Alarms, alarmRow(al, now))
	}
	p.CanService = mayService(id)

	if c := a.controls[d.ID]; c != nil {
		p.HasControl = true
		tag := a.tags.Tag(d.ID)
		p.Tag = templates.TagView{On: tag.On, Reason: tag.Reason, By: tag.By, At: dateTimeText(tag.At),
			CanSet: id.Role().AtLeast(RoleEngineer) && id.Sees(d.Area)}
		for _, il := range c.Interlocks {
			p.Interlocks = append(p.Interlocks, a.interlockText(il))
		}
		if a.mayOperate(id, c, d) {
			cv := a.controlView(c, d, "control-dialog")
			p.Control = &cv
		}
	}

	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if a.deps.Journal == nil {
		p.EventsNote = "The event journal is not available."
	} else if evs, _, err := a.deps.Journal.Events(ctx, EventQuery{Point: d.ID, Limit: recentEvents}); err != nil {
		a.log.Warn("web: events of a point", "point", d.ID, "err", err)
		p.EventsNote = "The events cannot be read just now."
	} else {
		for _, e := range evs {
			p.Events = append(p.Events, eventRow(e))
		}
		if len(evs) == 0 {
			p.EventsNote = "No event recorded."
		}
	}

	to := a.cfg.Now()
	from := to.Add(-trendSpan)
	switch {
	case a.deps.History == nil:
		p.Trend = templates.Trend{Span: "last hour", Unavailable: "The history is not available."}
	default:
		buckets, err := a.deps.History.History(ctx, d.ID, from, to, trendBuckets)
		if err != nil {
			a.log.Warn("web: history of a point", "point", d.ID, "err", err)
			p.Trend = templates.Trend{Span: "last hour", Unavailable: "The history cannot be read just now."}
		} else {
			p.Trend = buildTrend(d.ID, buckets, from, to, d.Unit)
		}
	}
	a.render(w, r, http.StatusOK, templates.Point(p))
}

// visiblePoint returns the point with that ID if the user may see it; 404 otherwise, so that the points of other
// areas are not even confirmed to exist.
func (a *App) visiblePoint(id *Identity, pid string) (points.Handle, *points.Def, error) {
	h, ok := a.cache.Lookup(pid)
	if !ok || !id.Sees(a.defs[h].Area) {
		return 0, nil, errorf(CodeNotFound, "no point "+pid)
	}
	return h, &a.defs[h], nil
}

// eventRow formats an event for the pages.
func eventRow(e Event) templates.EventRow {
	row := templates.EventRow{
		Time: dateTimeText(e.Time), TimeISO: isoTime(e.Time), Kind: e.Kind, Point: e.Point, Area: e.Area,
		Link: e.Link, User: e.User, Message: e.Message, State: e.State, Quality: e.Quality,
	}
	if e.Value != nil {
		row.Value = formatNumber(*e.Value, 0)
	}
	return row
}
