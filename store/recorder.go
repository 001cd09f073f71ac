package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"hmi/points"
)

// Recorder journals the changes of the discrete points (single, double, step, bitstring) of a cache as events of
// kind "point": the sequence of events, with the device's time tag as Time when it sent one, the receive time as
// Recv, the value with its state label, and the quality.
//
// It sees every change: Change is the cache's hook (points.Cache.SetHook), called as each change happens, so two
// changes of a point in one batch, or faster than anything could read them, are two events. Events go through the
// store's group commit; a full queue is counted and logged by the store.
type Recorder struct {
	s   *Store
	c   *points.Cache
	log *slog.Logger

	mu   sync.Mutex     // guards prev: the hook runs on the goroutines of several links
	prev []points.Value // prev[h]: the last value journaled of point h
}

// NewRecorder returns a Recorder of the discrete points of c into s. Install it with c.SetHook(r.Change) before
// the cache is shared.
func NewRecorder(s *Store, c *points.Cache, log *slog.Logger) *Recorder {
	if log == nil {
		log = s.log
	}
	r := &Recorder{s: s, c: c, log: log, prev: make([]points.Value, c.Len())}
	for h := range r.prev {
		r.prev[h] = c.Get(points.Handle(h))
	}
	return r
}

// Change journals one change of a point, when the point is discrete. It never blocks.
func (r *Recorder) Change(ch points.Change) {
	switch r.c.Kind(ch.Point) {
	case points.Single, points.Double, points.Step, points.Bitstring:
	default:
		return
	}
	d := r.c.Def(ch.Point)
	r.mu.Lock()
	prev := r.prev[ch.Point]
	r.prev[ch.Point] = ch.Value
	r.mu.Unlock()
	if err := r.s.QueueEvent(pointEvent(d, prev, ch.Value, time.Now())); err != nil && !errors.Is(err, ErrQueueFull) {
		r.log.Error("store: recorder", "point", d.ID, "err", err)
	}
}

// pointEvent returns the event of a discrete point's change from prev to v. A change of quality alone (the link
// went down, the value went stale) happened now, not when the unchanged value was received.
func pointEvent(d points.Def, prev, v points.Value, now time.Time) Event {
	e := Event{Kind: KindPoint, Point: d.ID, Area: d.Area, Link: d.Link, Quality: v.Quality.String()}
	if v.Value == prev.Value && v.SourceTime.Equal(prev.SourceTime) && !v.Quality.Has(points.Initial) &&
		prev.Quality != v.Quality && !prev.Quality.Has(points.Initial) {
		e.Time, e.Recv = now, now
	} else {
		e.Time, e.Recv = v.SourceTime, v.RecvTime
		if e.Recv.IsZero() {
			e.Recv = now
		}
		if e.Time.IsZero() {
			e.Time = e.Recv
		}
	}
	name := d.Name
	if name == "" {
		name = d.ID
	}
	if v.Quality.Has(points.Initial) {
		e.Message = name + ": no value" // e.g. its link failed before it sent one
	} else {
		val := v.Value
		e.Value = &val
		e.State = stateLabel(d, v.Value)
		e.Message = name + ": " + e.State
	}
	if !v.Quality.Good() {
		e.Message += " [" + e.Quality + "]"
	}
	return e
}

// Default state labels of points without Labels.
var (
	singleLabels = []string{"off", "on"}
	doubleLabels = []string{"intermediate", "off", "on", "indeterminate"}
)

// stateLabel returns the label of a discrete value: the Def's label, a default one for single and double points,
// the hexadecimal bits of a bitstring, or the number.
func stateLabel(d points.Def, v float64) string {
	labels := d.Labels
	if len(labels) == 0 {
		switch d.Kind {
		case points.Single:
			labels = singleLabels
		case points.Double:
			labels = doubleLabels
		case points.Bitstring:
			return fmt.Sprintf("0x%08X", uint32(v))
		}
	}
	if i := int(v); float64(i) == v && i >= 0 && i < len(labels) {
		return labels[i]
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// HistoryRecorder records the values of analog points (normalized, scaled, float, counter) of a cache as history
// samples, each point after its HistorySpec. It skips values that are not good enough to chart: invalid, of a
// failed link, stale, or not received yet.
type HistoryRecorder struct {
	s   *Store
	c   *points.Cache
	log *slog.Logger

	// Immutable after NewHistoryRecorder: the points, their specs, and the period of the max-interval check.
	hs    []points.Handle
	specs []HistorySpec
	index map[points.Handle]int // position in hs
	tick  time.Duration
	sub   *points.Subscription // to hs, from NewHistoryRecorder; Run reads and closes it

	// st[i] is what was last recorded of hs[i]; owned by the goroutine in Run.
	st []histState
}

// histState is the last sample recorded of a point.
type histState struct {
	has bool
	v   float64
	at  time.Time // when it was recorded, by the server's clock
}

// unusable are the qualities whose values are not recorded.
const unusable = points.IV | points.CommFail | points.Stale | points.Initial

// NewHistoryRecorder returns a recorder of the points that specs name (by point ID) into s. It subscribes at once;
// call Run once, which ends the subscription when it returns. A spec of a point that c does not have, or that is
// not analog, or a negative deadband or interval, is an error.
func NewHistoryRecorder(s *Store, c *points.Cache, specs map[string]HistorySpec, log *slog.Logger) (*HistoryRecorder, error) {
	if log == nil {
		log = s.log
	}
	h := &HistoryRecorder{s: s, c: c, log: log, index: make(map[points.Handle]int), tick: time.Second}
	var errs []error
	for id, sp := range specs {
		p, ok := c.Lookup(id)
		if !ok {
			errs = append(errs, fmt.Errorf("store: history of %q: no such point", id))
			continue
		}
		switch k := c.Def(p).Kind; k {
		case points.Normalized, points.Scaled, points.Float, points.Counter:
		default:
			errs = append(errs, fmt.Errorf("store: history of %q: a %v point is not analog", id, k))
			continue
		}
		if sp.Deadband < 0 || math.IsNaN(sp.Deadband) || sp.MaxInterval < 0 {
			errs = append(errs, fmt.Errorf("store: history of %q: negative deadband or interval", id))
			continue
		}
		if sp.MaxInterval > 0 {
			h.tick = min(h.tick, max(sp.MaxInterval/10, 10*time.Millisecond))
		}
		h.index[p] = len(h.hs)
		h.hs = append(h.hs, p)
		h.specs = append(h.specs, sp)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	h.st = make([]histState, len(h.hs))
	if len(h.hs) == 0 {
		return h, nil // nothing to record (Subscribe(nil) would mean every point)
	}
	h.sub = c.Subscribe(h.hs)
	h.sub.Resync() // the present values are the first samples
	return h, nil
}

// Run records until ctx ends, then returns nil. It runs in the caller's goroutine; the store must stay open until
// Run has returned.
func (h *HistoryRecorder) Run(ctx context.Context) error {
	sub := h.sub
	if sub == nil {
		<-ctx.Done()
		return nil
	}
	defer sub.Close()
	tick := time.NewTicker(h.tick)
	defer tick.Stop()
	var buf []points.Change
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.Ready():
			buf = sub.Next(buf[:0])
			now := time.Now()
			for _, ch := range buf {
				h.observe(h.index[ch.Point], ch.Value, now)
			}
		case now := <-tick.C:
			h.due(now)
		}
	}
}

// observe records a new value of hs[i] when it moved more than the deadband since the last sample, or the
// max interval passed; at its source time, or its receive time.
func (h *HistoryRecorder) observe(i int, v points.Value, now time.Time) {
	if v.Quality&unusable != 0 || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
		return
	}
	st, sp := &h.st[i], h.specs[i]
	if st.has && math.Abs(v.Value-st.v) <= sp.Deadband && (sp.MaxInterval == 0 || now.Sub(st.at) < sp.MaxInterval) {
		return
	}
	at := v.SourceTime
	if at.IsZero() {
		at = v.RecvTime
	}
	if at.IsZero() {
		at = now
	}
	h.queue(i, at, v.Value, now)
}

// due records the present value of every point whose last sample is MaxInterval old, changed or not, at now.
func (h *HistoryRecorder) due(now time.Time) {
	for i := range h.hs {
		st, sp := &h.st[i], h.specs[i]
		if sp.MaxInterval == 0 || !st.has || now.Sub(st.at) < sp.MaxInterval {
			continue
		}
		v := h.c.Get(h.hs[i])
		if v.Quality&unusable != 0 || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			continue
		}
		h.queue(i, now, v.Value, now)
	}
}

// queue queues a sample and remembers it; a refused sample is not remembered, so the next change tries again.
func (h *HistoryRecorder) queue(i int, at time.Time, v float64, now time.Time) {
	if err := h.s.QueueSample(h.c.Def(h.hs[i]).ID, at, v); err != nil {
		if !errors.Is(err, ErrQueueFull) {
			h.log.Error("store: history recorder", "point", h.c.Def(h.hs[i]).ID, "err", err)
		}
		return
	}
	h.st[i] = histState{has: true, v: v, at: now}
}
