package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"hmi/points"
	"hmi/templates"
)

// maxListRows is how many points the list renders; a filter narrows a larger plant.
const maxListRows = 2000

// pointRow returns the list row of point h for the user.
func (a *App) pointRow(id *Identity, h points.Handle) templates.PointRow {
	d := &a.defs[h]
	v := a.cache.Get(h)
	name := d.Name
	if name == "" {
		name = d.ID
	}
	t := v.SourceTime
	if t.IsZero() {
		t = v.RecvTime
	}
	row := templates.PointRow{
		ID: d.ID, Name: name, Area: d.Area, Kind: d.Kind.String(), Unit: d.Unit, Link: d.Link,
		Address: fmt.Sprintf("CA %d · IOA %d", d.CA, d.IOA),
		Value:   valueText(d, v), Quality: qualityText(v.Quality), Classes: pointClasses(d, v),
		Time: timeText(t), TimeISO: isoTime(t),
	}
	if c := a.controls[d.ID]; c != nil {
		row.Operable = a.mayOperate(id, c, d)
		if tag := a.tags.Tag(d.ID); tag.On {
			row.Tagged, row.TagReason = true, tag.Reason
		}
	}
	return row
}

// qualityFilters are the quality choices of the list: the value and what it selects.
var qualityFilters = []struct {
	value, label string
	match        func(points.Quality) bool
}{
	{"good", "good", func(q points.Quality) bool { return q.Good() }},
	{"bad", "not trustworthy", func(q points.Quality) bool { return q&badQuality != 0 }},
	{"invalid", "invalid", func(q points.Quality) bool { return q.Has(points.IV) }},
	{"nt", "not topical", func(q points.Quality) bool { return q.Has(points.NT) }},
	{"sb", "substituted", func(q points.Quality) bool { return q.Has(points.SB) }},
	{"bl", "blocked", func(q points.Quality) bool { return q.Has(points.BL) }},
	{"ov", "overflow", func(q points.Quality) bool { return q.Has(points.OV) }},
	{"commfail", "comm fail", func(q points.Quality) bool { return q.Has(points.CommFail) }},
	{"stale", "stale", func(q points.Quality) bool { return q.Has(points.Stale) }},
	{"initial", "no value yet", func(q points.Quality) bool { return q.Has(points.Initial) }},
}

// PointsList shows the points the user may see, filtered and sorted (GET /points?area&q&quality&kind&sort).
func (a *App) PointsList(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	q := r.URL.Query()
	f := templates.PointFilter{
		Area: q.Get("area"), Text: strings.TrimSpace(q.Get("q")), Quality: q.Get("quality"),
		Kind: q.Get("kind"), Sort: q.Get("sort"),
	}
	var qmatch func(points.Quality) bool
	var known []string
	for _, qf := range qualityFilters {
		if qf.value == f.Quality {
			qmatch = qf.match
		}
		known = append(known, qf.value)
	}
	if f.Quality != "" && qmatch == nil {
		// An unknown quality must not list every point as if there were no filter.
		a.Fail(w, r, errorf(CodeInvalid, "quality: want one of "+strings.Join(known, ", ")))
		return
	}
	words := strings.Fields(strings.ToLower(f.Text))
	var rows []templates.PointRow
	total := 0
	for h := range a.defs {
		d := &a.defs[h]
		if !id.Sees(d.Area) || (f.Area != "" && !areaWithin(d.Area, f.Area)) || (f.Kind != "" && d.Kind.String() != f.Kind) {
			continue
		}
		if qmatch != nil && !qmatch(a.cache.Get(points.Handle(h)).Quality) {
			continue
		}
		row := a.pointRow(id, points.Handle(h))
		if len(words) > 0 {
			hay := strings.ToLower(row.ID + " " + row.Name + " " + row.Area + " " + row.Value)
			if !allWords(hay, words) {
				continue
			}
		}
		total++
		rows = append(rows, row)
	}
	key := func(r templates.PointRow) string { return r.ID }
	switch f.Sort {
	case "name":
		key = func(r templates.PointRow) string { return strings.ToLower(r.Name) }
	case "area":
		key = func(r templates.PointRow) string { return r.Area }
	case "kind":
		key = func(r templates.PointRow) string { return r.Kind }
	default:
		f.Sort = "id"
	}
	slices.SortStableFunc(rows, func(x, y templates.PointRow) int { return cmp.Or(cmp.Compare(key(x), key(y)), cmp.Compare(x.ID, y.ID)) })
	p := templates.PointsPage{Page: a.page(w, r, "points", "Points"), Filter: f, Total: total}
	if len(rows) > maxListRows {
		rows = rows[:maxListRows]
		p.Notice = fmt.Sprintf("Showing the first %d of %d points: narrow the filter to see the others.", maxListRows, total)
	}
	p.Rows = rows
	p.Areas = a.areaOptions(id, f.Area, "all areas")
	p.Kinds = []templates.Option{{Value: "", Label: "all kinds"}}
	for _, k := range a.kinds {
		p.Kinds = append(p.Kinds, templates.Option{Value: k, Label: k, Selected: k == f.Kind})
	}
	p.Qualities = []templates.Option{{Value: "", Label: "any quality"}}
	for _, qf := range qualityFilters {
		p.Qualities = append(p.Qualities, templates.Option{Value: qf.value, Label: qf.label, Selected: qf.value == f.Quality})
	}
	for _, s := range []string{"id", "name", "area", "kind"} {
		p.Sorts = append(p.Sorts, templates.Option{Value: s, Label: "by " + s, Selected: s == f.Sort})
	}
	a.render(w, r, http.StatusOK, templates.Points(p))
}

func allWords(hay string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

// areaOptions returns the areas the user sees, and their parents, as choices, with "" first labelled all.
func (a *App) areaOptions(id *Identity, selected, all string) []templates.Option {
	set := map[string]bool{}
	for _, ar := range a.areas {
		if !id.Sees(ar) {
			continue
		}
		// The area and its parents, so that one can pick "north" for "north/f1" and "north/f2".
		for p := ar; p != "" && id.Sees(p); {
			set[p] = true
			i := strings.LastIndexByte(p, '/')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	opts := []templates.Option{{Value: "", Label: all, Selected: selected == ""}}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		opts = append(opts, templates.Option{Value: n, Label: n, Selected: n == selected})
	}
	return opts
}
