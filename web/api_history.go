package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// maxHistoryBuckets bounds one history request.
const maxHistoryBuckets = 5000

// bucketJSON is a history bucket as the API gives it.
type bucketJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	Avg   float64   `json:"avg"`
	Last  float64   `json:"last"`
	Count int       `json:"count"`
}

// APIHistory returns a point's recorded values in buckets (GET /api/v1/history/{id}?from&to&step): from and to as
// RFC 3339 or Unix milliseconds (default the last hour), step a duration ("1m") or seconds (default a 120th of
// the span). {"point", "from", "to", "step_ms", "samples": [{start, end, min, max, avg, last, count}]}; buckets
// without samples are left out.
func (a *App) APIHistory(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	if a.deps.History == nil {
		a.Fail(w, r, errorf(CodeUnavailable, "the history is not available"))
		return
	}
	_, d, err := a.visiblePoint(id, param(r, "id"))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	qs := r.URL.Query()
	from, err := parseTime("from", qs.Get("from"))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	to, err := parseTime("to", qs.Get("to"))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	if to.IsZero() {
		to = a.cfg.Now()
	}
	if from.IsZero() {
		from = to.Add(-time.Hour)
	}
	if !to.After(from) {
		a.Fail(w, r, errorf(CodeInvalid, "to: must be after from"))
		return
	}
	step := to.Sub(from) / trendBuckets
	if s := qs.Get("step"); s != "" {
		if step, err = time.ParseDuration(s); err != nil {
			secs, perr := strconv.ParseFloat(s, 64)
			if perr != nil {
				a.Fail(w, r, errorf(CodeInvalid, "step: not a duration like 1m or a number of seconds"))
				return
			}
			step = time.Duration(secs * float64(time.Second))
		}
	}
	if step < time.Millisecond {
		a.Fail(w, r, errorf(CodeInvalid, "step: at least 1ms"))
		return
	}
	n := int64(to.Sub(from) / step)
	if to.Sub(from)%step != 0 {
		n++
	}
	if n > maxHistoryBuckets {
		a.Fail(w, r, errorf(CodeUnprocessable, fmt.Sprintf("step: %d buckets, at most %d: choose a longer step", n, maxHistoryBuckets)))
		return
	}
	buckets, err := a.deps.History.History(r.Context(), d.ID, from, to, int(n))
	if err != nil {
		a.Fail(w, r, wrapf(CodeInternal, err, "cannot read the history"))
		return
	}
	out := make([]bucketJSON, 0, len(buckets))
	for _, b := range buckets {
		out = append(out, bucketJSON{Start: b.Start.UTC(), End: b.End.UTC(), Min: b.Min, Max: b.Max, Avg: b.Avg, Last: b.Last, Count: b.Count})
	}
	writeJSON(w, http.StatusOK, map[string]any{"point": d.ID, "from": from.UTC(), "to": to.UTC(),
		"step_ms": step.Milliseconds(), "samples": out})
}
