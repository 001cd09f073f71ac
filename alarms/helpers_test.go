package alarms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/points"
)

// fakeJournal is an in-memory Journal: it keeps every transition, and the
// latest state of each alarm for LoadAlarms, as the store does.
type fakeJournal struct {
	mu       sync.Mutex
	saved    []Transition     // SaveTransition, in order
	queued   []Transition     // QueueTransition, in order
	all      []Transition     // both, in the order they reached the journal
	state    map[string]Alarm // the latest state of each alarm
	capacity int              // QueueTransition refuses when len(queued) reaches it; 0: no limit
	saveErr  error            // SaveTransition fails with it
	gate     chan struct{}    // when set, SaveTransition waits for a receive from it
	entered  chan struct{}    // when set, SaveTransition sends on it before waiting at gate
}

func newJournal() *fakeJournal { return &fakeJournal{state: make(map[string]Alarm)} }

func (j *fakeJournal) LoadAlarms(ctx context.Context) ([]Alarm, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Alarm, 0, len(j.state))
	for _, a := range j.state {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Alarm) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (j *fakeJournal) SaveTransition(ctx context.Context, t Transition) error {
	if j.entered != nil {
		j.entered <- struct{}{}
	}
	if j.gate != nil {
		<-j.gate
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.saveErr != nil {
		return j.saveErr
	}
	j.saved = append(j.saved, t)
	j.record(t)
	return nil
}

func (j *fakeJournal) QueueTransition(t Transition) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.capacity > 0 && len(j.queued) >= j.capacity {
		return fmt.Errorf("fake: %w", ErrQueueFull)
	}
	j.queued = append(j.queued, t)
	j.record(t)
	return nil
}

// record keeps t; j.mu is held.
func (j *fakeJournal) record(t Transition) {
	j.all = append(j.all, t)
	j.state[t.Alarm.ID] = t.Alarm
}

// actions returns "ID action" for each transition of alarm id (all alarms
// when id is empty), in journal order.
func (j *fakeJournal) actions(id string) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []string
	for _, t := range j.all {
		if id == "" || t.Alarm.ID == id {
			out = append(out, t.Action)
		}
	}
	return out
}

func (j *fakeJournal) savedCopy() []Transition {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.saved)
}

func (j *fakeJournal) count(action string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, t := range j.all {
		if t.Action == action {
			n++
		}
	}
	return n
}

// t0 is the start of the harness's clock.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// harness drives an engine without Run: changes and inputs are evaluated
// when step is called, and the clock is now.
type harness struct {
	t     *testing.T
	cache *points.Cache
	e     *Engine
	j     *fakeJournal
	sub   *points.Subscription
	now   time.Time
	buf   []points.Change
}

func newHarness(t *testing.T, pdefs []points.Def, defs Defs, j *fakeJournal) *harness {
	t.Helper()
	cache, err := points.New(pdefs)
	if err != nil {
		t.Fatal(err)
	}
	if j == nil {
		j = newJournal()
	}
	e, err := New(defs, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cache: cache, e: e, j: j, now: t0}
	e.now = func() time.Time { return h.now }
	sub, err := e.start(t.Context(), cache)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	h.sub = sub
	h.step()
	return h
}

// step evaluates what changed and what was input.
func (h *harness) step() {
	h.buf = h.e.poll(h.sub, h.buf[:0])
	h.e.drainInputs()
}

// set gives point id value v with quality q, received (and sourced) at the
// harness's now, and evaluates it.
func (h *harness) set(id string, v float64, q points.Quality) {
	h.t.Helper()
	hd, ok := h.cache.Lookup(id)
	if !ok {
		h.t.Fatalf("no point %q", id)
	}
	h.cache.Apply([]points.Update{{Point: hd, Value: v, Quality: q, RecvTime: h.now}})
	h.step()
}

// advance moves the clock by d and ticks.
func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.e.Tick(h.now)
}

// alarm returns an alarm, which must exist.
func (h *harness) alarm(id string) Alarm {
	h.t.Helper()
	a, ok := h.e.Get(id)
	if !ok {
		h.t.Fatalf("no alarm %q", id)
	}
	return a
}

// wantState checks an alarm's displayed and underlying states.
func (h *harness) wantState(id string, state, under State) {
	h.t.Helper()
	a := h.alarm(id)
	if a.State != state || a.Underlying != under {
		h.t.Fatalf("%s: state %v (underlying %v), want %v (underlying %v)", id, a.State, a.Underlying, state, under)
	}
}

// ids returns the IDs of alarms.
func ids(as []Alarm) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// wantErr checks that err wraps want (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// plantDefs returns point definitions: "trip" (single, [normal, tripped])
// and "brk" (double) on link "a", "temp" (float, °C) on link "a", and
// "flow" (float) on link "b".
func plantDefs() []points.Def {
	return []points.Def{
		{ID: "trip", Name: "Feeder trip", Area: "north/f1", Kind: points.Single, Labels: []string{"normal", "tripped"}, Link: "a", IOA: 1},
		{ID: "brk", Name: "Breaker", Area: "north/f1", Kind: points.Double, Labels: []string{"moving", "open", "closed", "faulty"}, Link: "a", IOA: 2},
		{ID: "temp", Name: "Oil temperature", Area: "north/t1", Kind: points.Float, Unit: "°C", Link: "a", IOA: 3},
		{ID: "flow", Name: "Outflow", Area: "south/tank", Kind: points.Float, Link: "b", IOA: 4},
	}
}

// plantAlarms is a definition of every source on plantDefs.
func plantAlarms() Defs {
	return Defs{
		Points: []PointDef{
			{Point: "trip", Discrete: &DiscreteDef{States: []int64{1}, Priority: 1}, Quality: &QualityDef{Priority: 3}},
			{Point: "brk", Discrete: &DiscreteDef{States: []int64{0, 3}, Priority: 2, Message: "breaker not in position"}},
			{Point: "temp", Limits: &LimitsDef{
				HH: &LimitDef{Value: 110, Priority: 1}, H: &LimitDef{Value: 100, Priority: 2},
				L: &LimitDef{Value: 10, Priority: 3}, Deadband: 2}},
			{Point: "flow", Quality: &QualityDef{Priority: 4}},
		},
		Links:    []LinkDef{{Link: "a", Priority: 2}},
		Commands: []CommandDef{{Point: "brk", Priority: 3}, {Point: "trip", Priority: 4, AckOnly: true}},
		Security: SecurityDef{Priority: 2},
	}
}
