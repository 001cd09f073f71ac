package web

import (
	"math"
	"strings"
	"time"

	"hmi/templates"
)

// Trend geometry: the viewBox and the plot area inside it.
const (
	trendW, trendH         = 800, 240
	plotLeft, plotRight    = 64, 790
	plotTop, plotBottom    = 10, 215
	trendBuckets           = 120
	trendSpan              = time.Hour
	trendGridLines         = 8 // at most about this many horizontal grid intervals
	trendTimeLabelsPerSpan = 4
)

// buildTrend lays out buckets of [from, to) as a chart: the averages as a line, min and max as a band.
func buildTrend(point string, buckets []Bucket, from, to time.Time, unit string) templates.Trend {
	t := templates.Trend{
		Point: point, Width: trendW, Height: trendH, FromMS: from.UnixMilli(), ToMS: to.UnixMilli(),
		Span: "last hour",
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range buckets {
		if b.Count == 0 {
			continue
		}
		lo, hi = math.Min(lo, b.Min), math.Max(hi, b.Max)
	}
	if math.IsInf(lo, 0) {
		t.Empty = true
		lo, hi = 0, 1
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	step := niceStep((hi - lo) / trendGridLines)
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	lines := int(math.Round((hi - lo) / step))
	t.Min, t.Max = lo, hi

	span := float64(to.Sub(from))
	x := func(at time.Time) float64 {
		f := float64(at.Sub(from)) / span
		return round1(plotLeft + f*(plotRight-plotLeft))
	}
	y := func(v float64) float64 {
		return round1(plotBottom - (v-lo)/(hi-lo)*(plotBottom-plotTop))
	}
	var line, upper, lower []string
	for _, b := range buckets {
		if b.Count == 0 {
			continue
		}
		mid := b.Start.Add(b.End.Sub(b.Start) / 2)
		if mid.Before(from) {
			mid = from
		}
		if mid.After(to) {
			mid = to
		}
		xs := ftoa(x(mid))
		line = append(line, xs+","+ftoa(y(b.Avg)))
		upper = append(upper, xs+","+ftoa(y(b.Max)))
		lower = append(lower, xs+","+ftoa(y(b.Min)))
	}
	t.Line = strings.Join(line, " ")
	if len(upper) > 0 {
		for i := len(lower) - 1; i >= 0; i-- {
			upper = append(upper, lower[i])
		}
		t.Band = strings.Join(upper, " ")
	}
	for i := 0; i <= lines; i++ {
		v := lo + step*float64(i)
		yy := y(v)
		t.Grid = append(t.Grid, templates.TrendTick{X1: plotLeft, Y1: yy, X2: plotRight, Y2: yy})
		label := formatNumber(math.Round(v/step)*step, 0)
		if unit != "" && i == lines {
			label += " " + unit
		}
		t.Labels = append(t.Labels, templates.TrendTick{X1: plotLeft - 6, Y1: yy + 4, Text: label, Anchor: "end"})
	}
	for i := 0; i <= trendTimeLabelsPerSpan; i++ {
		at := from.Add(time.Duration(float64(to.Sub(from)) * float64(i) / trendTimeLabelsPerSpan))
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case trendTimeLabelsPerSpan:
			anchor = "end"
		}
		xx := x(at)
		t.Grid = append(t.Grid, templates.TrendTick{X1: xx, Y1: plotTop, X2: xx, Y2: plotBottom})
		t.Labels = append(t.Labels, templates.TrendTick{X1: xx, Y1: trendH - 6, Text: at.Local().Format("15:04"), Anchor: anchor})
	}
	return t
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// niceStep returns the step of 1, 2 or 5 times a power of ten nearest above raw, so that the grid lines fall on
// round values.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}
