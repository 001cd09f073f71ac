package web

import (
	"net/http"
	"net/url"
	"time"

	"hmi/alarms"
	"hmi/points"
	"hmi/templates"
)

// Overview shows the stations with their link state, alarm counts by priority and last update (GET /).
func (a *App) Overview(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	p := templates.OverviewPage{Page: a.page(w, r, "overview", "Overview")}
	p.Counts = p.Alarms.Counts
	p.Now = dateTimeText(a.cfg.Now())

	// Per link: the points the user sees, their latest receive time, and the alarms.
	type linkAgg struct {
		points int
		last   time.Time
		alarms [4]templates.PriorityCount
	}
	agg := map[string]*linkAgg{}
	get := func(link string) *linkAgg {
		g := agg[link]
		if g == nil {
			g = &linkAgg{}
			for i := range g.alarms {
				g.alarms[i].Priority = i + 1
			}
			agg[link] = g
		}
		return g
	}
	for h := range a.defs {
		d := &a.defs[h]
		if !id.Sees(d.Area) {
			continue
		}
		g := get(d.Link)
		g.points++
		if v := a.cache.Get(points.Handle(h)); v.RecvTime.After(g.last) {
			g.last = v.RecvTime
		}
	}
	for _, al := range a.visibleAlarms(id, alarms.Filter{}) {
		if al.Link == "" || !al.Priority.Valid() {
			continue
		}
		c := &get(al.Link).alarms[al.Priority-1]
		switch al.State {
		case alarms.ActiveUnacked:
			c.Unacked++
			c.Active++
		case alarms.ActiveAcked:
			c.Active++
		case alarms.ReturnedUnacked:
			c.Unacked++
		}
	}
	for _, l := range a.deps.Links.Links() {
		g := agg[l.Name]
		if id.restricted() && (g == nil || g.points == 0) {
			continue // a link without a point the user sees is not the user's
		}
		if g == nil {
			g = get(l.Name)
		}
		p.Stations = append(p.Stations, templates.Station{
			Name: l.Name, State: l.State, Address: l.Address, Since: dateTimeText(l.Since),
			Points: g.points, Alarms: g.alarms[:],
			LastUpdate: dateTimeText(g.last), LastUpdateISO: isoTime(g.last),
		})
	}
	for _, d := range a.displays {
		p.Displays = append(p.Displays, templates.NavItem{Href: "/displays/" + url.PathEscape(d.id), Label: d.name})
	}
	a.render(w, r, http.StatusOK, templates.Overview(p))
}
