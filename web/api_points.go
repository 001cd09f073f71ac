package web

import (
	"net/http"
	"time"

	"hmi/points"
)

// pointJSON is a point as the API gives it (ARCHITECTURE.md, HTTP contract), with the formatted value, the state
// labels and the control, when there is one.
type pointJSON struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Area       string         `json:"area"`
	Kind       string         `json:"kind"`
	Unit       string         `json:"unit"`
	Link       string         `json:"link"`
	CA         uint16         `json:"ca"`
	IOA        uint32         `json:"ioa"`
	Value      *float64       `json:"value"`
	Text       string         `json:"text"`
	Quality    points.Quality `json:"quality"`
	SourceTime *time.Time     `json:"source_time"`
	RecvTime   *time.Time     `json:"recv_time"`
	Labels     []string       `json:"labels,omitempty"`
	Control    *controlJSON   `json:"control,omitempty"`
}

type controlJSON struct {
	Type            string       `json:"type"`
	SBO             bool         `json:"sbo"`
	SelectTimeoutMS int64        `json:"select_timeout_ms"`
	Choices         []choiceJSON `json:"choices,omitempty"`
	Setpoint        bool         `json:"setpoint"`
	Min             *float64     `json:"min,omitempty"`
	Max             *float64     `json:"max,omitempty"`
	MayOperate      bool         `json:"may_operate"`
	Tag             tagJSON      `json:"tag"`
	Interlocks      []string     `json:"interlocks"`
}

type choiceJSON struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

type tagJSON struct {
	On     bool       `json:"on"`
	Reason string     `json:"reason,omitempty"`
	By     string     `json:"by,omitempty"`
	At     *time.Time `json:"at,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// pointObject returns the API object of point h for the user.
func (a *App) pointObject(id *Identity, h points.Handle) pointJSON {
	d := &a.defs[h]
	v := a.cache.Get(h)
	p := pointJSON{
		ID: d.ID, Name: d.Name, Area: d.Area, Kind: d.Kind.String(), Unit: d.Unit, Link: d.Link, CA: d.CA, IOA: d.IOA,
		Text: valueText(d, v), Quality: v.Quality, SourceTime: timePtr(v.SourceTime), RecvTime: timePtr(v.RecvTime),
		Labels: d.Labels,
	}
	if !v.Quality.Has(points.Initial) {
		x := v.Value
		p.Value = &x
	}
	if c := a.controls[d.ID]; c != nil {
		tag := a.tags.Tag(d.ID)
		cj := &controlJSON{
			Type: c.Type, SBO: c.SBO, SelectTimeoutMS: c.SelectTimeout.Milliseconds(), Setpoint: isSetpoint(c),
			Min: c.Min, Max: c.Max, MayOperate: a.mayOperate(id, c, d),
			Tag:        tagJSON{On: tag.On, Reason: tag.Reason, By: tag.By, At: timePtr(tag.At)},
			Interlocks: []string{},
		}
		for _, o := range choices(c, d) {
			cj.Choices = append(cj.Choices, choiceJSON{Value: o.Value, Label: o.Label})
		}
		for _, il := range c.Interlocks {
			cj.Interlocks = append(cj.Interlocks, a.interlockText(il))
		}
		p.Control = cj
	}
	return p
}

// APIPoints lists the points the user sees (GET /api/v1/points?area&kind).
func (a *App) APIPoints(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	q := r.URL.Query()
	area, kind := q.Get("area"), q.Get("kind")
	out := []pointJSON{}
	for h := range a.defs {
		d := &a.defs[h]
		if !id.Sees(d.Area) || (area != "" && !areaWithin(d.Area, area)) || (kind != "" && d.Kind.String() != kind) {
			continue
		}
		out = append(out, a.pointObject(id, points.Handle(h)))
	}
	writeJSON(w, http.StatusOK, out)
}

// APIPoint returns one point (GET /api/v1/points/{id}).
func (a *App) APIPoint(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	h, _, err := a.visiblePoint(id, param(r, "id"))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.pointObject(id, h))
}
