package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"hmi/templates"
)

// linkRow formats a link for the pages.
func (a *App) linkRow(l LinkInfo, pointsOf map[string]int) templates.LinkRow {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	row := templates.LinkRow{
		Name: l.Name, State: l.State, Address: l.Address, Since: dateTimeText(l.Since), SinceISO: isoTime(l.Since),
		RxFrames: u(l.Stats.RxFrames), TxFrames: u(l.Stats.TxFrames), RxObjects: u(l.Stats.RxObjects),
		TxObjects: u(l.Stats.TxObjects), Errors: u(l.Stats.Errors), Reconnects: u(l.Stats.Reconnects),
		LastInterrogation: dateTimeText(l.Stats.LastInterrogation), Points: pointsOf[l.Name],
	}
	if row.LastInterrogation == "" {
		row.LastInterrogation = "never"
	}
	if l.Stats.InterrogationTime > 0 {
		d := l.Stats.InterrogationTime
		if d < 10*time.Millisecond {
			d = d.Round(10 * time.Microsecond) // a fast station: "took 0s" would say nothing
		} else {
			d = d.Round(time.Millisecond)
		}
		row.InterrogationTime = fmt.Sprintf("(took %v)", d)
	}
	if l.Stats.TestRTT > 0 {
		row.TestRTT = l.Stats.TestRTT.Round(10 * time.Microsecond).String()
	} else {
		row.TestRTT = "not measured"
	}
	return row
}

// pointsPerLink counts the points of each link that the user sees.
func (a *App) pointsPerLink(id *Identity) map[string]int {
	m := map[string]int{}
	for i := range a.defs {
		if id.Sees(a.defs[i].Area) {
			m[a.defs[i].Link]++
		}
	}
	return m
}

// LinksList shows the links with their state and counters (GET /links).
func (a *App) LinksList(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	p := templates.LinksPage{Page: a.page(w, r, "links", "Links")}
	per := a.pointsPerLink(id)
	for _, l := range a.visibleLinks(id) {
		p.Links = append(p.Links, a.linkRow(l, per))
	}
	a.render(w, r, http.StatusOK, templates.Links(p))
}

// mayWatchTraffic reports whether the user may watch links' traffic.
func (a *App) mayWatchTraffic(id *Identity) bool { return !id.restricted() }
