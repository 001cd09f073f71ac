package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"hmi/templates"
)

// eventKinds are the kinds of the journal.
var eventKinds = []string{"point", "alarm", "operator", "command", "link", "security", "anomaly", "device"}

// localInput is the format of datetime-local inputs.
const localInput = "2006-01-02T15:04:05"

// parseTime reads a time parameter: RFC 3339, a datetime-local value (in the server's zone), or Unix milliseconds.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{localInput, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	return time.Time{}, errorf(CodeInvalid, name+": not a time (RFC 3339, 2006-01-02T15:04:05 or Unix milliseconds)")
}

// eventQuery reads the journal's filter from the query of r and limits it to what the user may see: a user
// restricted to areas queries within one of them.
func (a *App) eventQuery(id *Identity, r *http.Request) (EventQuery, error) {
	qs := r.URL.Query()
	var q EventQuery
	var err error
	if q.From, err = parseTime("from", qs.Get("from")); err != nil {
		return q, err
	}
	if q.To, err = parseTime("to", qs.Get("to")); err != nil {
		return q, err
	}
	q.Point, q.Area, q.Kind, q.Text, q.Cursor = qs.Get("point"), qs.Get("area"), qs.Get("kind"), qs.Get("text"), qs.Get("cursor")
	if s := qs.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 0 {
			return q, errorf(CodeInvalid, "limit: not a count")
		}
		q.Limit = min(q.Limit, 1000)
	}
	if q.Point != "" {
		if _, _, err := a.visiblePoint(id, q.Point); err != nil {
			return q, err
		}
	}
	if id.restricted() {
		switch {
		case q.Area != "" && id.Sees(q.Area):
		case q.Area == "" && len(id.User.Areas) == 1:
			q.Area = id.User.Areas[0]
		case q.Area == "" && q.Point != "":
			// the point is visible: its events are
		case q.Area == "":
			return q, errorf(CodeUnprocessable, "area: choose one of your areas ("+strings.Join(id.User.Areas, ", ")+")")
		default:
			return q, errorf(CodeForbidden, "area: "+q.Area+" is not one of your areas")
		}
	}
	return q, nil
}

// journalError maps an error of the journal.
func journalError(err error) error {
	if errors.Is(err, ErrBadCursor) {
		return wrapf(CodeInvalid, err, "cursor: not one of this journal's")
	}
	return wrapf(CodeInternal, err, "cannot read the event journal")
}

// EventsList shows the journal, newest first, a page at a time (GET /events?from&to&point&area&kind&text&cursor).
func (a *App) EventsList(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	p := templates.EventsPage{Page: a.page(w, r, "events", "Events"), Available: a.deps.Journal != nil}
	qs := r.URL.Query()
	p.Filter = templates.EventFilter{From: qs.Get("from"), To: qs.Get("to"), Point: qs.Get("point"),
		Area: qs.Get("area"), Kind: qs.Get("kind"), Text: qs.Get("text")}
	p.Areas = a.areaOptions(id, p.Filter.Area, "all areas")
	p.Kinds = []templates.Option{{Value: "", Label: "all kinds"}}
	for _, k := range eventKinds {
		p.Kinds = append(p.Kinds, templates.Option{Value: k, Label: k, Selected: k == p.Filter.Kind})
	}
	if !p.Available {
		a.render(w, r, http.StatusOK, templates.Events(p))
		return
	}
	q, err := a.eventQuery(id, r)
	if err != nil {
		if Status(err) == http.StatusUnprocessableEntity {
			p.Error = Message(err)
			a.render(w, r, http.StatusOK, templates.Events(p))
			return
		}
		a.Fail(w, r, err)
		return
	}
	if q.Limit == 0 {
		q.Limit = 100
	}
	evs, next, err := a.deps.Journal.Events(r.Context(), q)
	if err != nil {
		a.Fail(w, r, journalError(err))
		return
	}
	for _, e := range evs {
		p.Rows = append(p.Rows, eventRow(e))
	}
	var base url.Values
	p.NextURL, p.FirstURL, base = pageLinks("/events", qs, q.Cursor, next)
	p.CSVURL = "/events.csv?" + base.Encode()
	a.render(w, r, http.StatusOK, templates.Events(p))
}

// pageLinks returns the links of a paged list at path: to the next page (when there is one) and back to the first
// (when this is not it), keeping the filter of qs, and that filter alone (empty parameters left out).
func pageLinks(path string, qs url.Values, cursor, next string) (nextURL, firstURL string, filter url.Values) {
	filter = url.Values{}
	for k, v := range qs {
		if k != "cursor" && len(v) > 0 && v[0] != "" {
			filter.Set(k, v[0])
		}
	}
	if next != "" {
		nq := url.Values{"cursor": {next}}
		for k, v := range filter {
			nq[k] = v
		}
		nextURL = path + "?" + nq.Encode()
	}
	if cursor != "" {
		firstURL = path + "?" + filter.Encode()
	}
	return nextURL, firstURL, filter
}
