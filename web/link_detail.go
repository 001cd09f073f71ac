package web

import (
	"hmi/templates"
	"net/http"
	"slices"
	"strconv"
)

// LinkDetail shows a link with all its counters and its live decoded traffic (GET /links/{name}). The traffic
// shows the values of every point of the link: a user restricted to areas does not get it.
func (a *App) LinkDetail(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	l, err := a.visibleLink(id, param(r, "name"))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	p := templates.LinkPage{Page: a.page(w, r, "link", "Link "+l.Name), Link: a.linkRow(l, a.pointsPerLink(id))}
	kinds := make([]string, 0, len(l.Stats.ErrorsByKind))
	for k := range l.Stats.ErrorsByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		p.ErrorKinds = append(p.ErrorKinds, templates.KV{Key: k, Value: strconv.FormatUint(l.Stats.ErrorsByKind[k], 10)})
	}
	p.Traffic = a.mayWatchTraffic(id)
	if !p.Traffic {
		p.TrafficNote = "The traffic of a link carries the values of all its points; it is shown to users who see every area."
	}
	a.render(w, r, http.StatusOK, templates.Link(p))
}
