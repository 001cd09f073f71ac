package alarms

import (
	"cmp"
	"slices"
	"strings"
)

// Filter selects alarms, as the alarm page's filters do. The zero Filter
// selects every alarm.
type Filter struct {
	Area       string     // an area and the areas below it ("north" takes "north/feeder1"); empty: all
	Priorities []Priority // empty: all
	States     []State    // displayed states; empty: all
}

// Match reports whether the filter selects a.
func (f *Filter) Match(a *Alarm) bool {
	if f.Area != "" && a.Area != f.Area && !strings.HasPrefix(a.Area, f.Area+"/") {
		return false
	}
	if len(f.Priorities) > 0 && !slices.Contains(f.Priorities, a.Priority) {
		return false
	}
	return len(f.States) == 0 || slices.Contains(f.States, a.State)
}

// compareAlarms orders alarms as List does: priority (1 first), then the
// most recently raised first, then by ID.
func compareAlarms(a, b *Alarm) int {
	return cmp.Or(cmp.Compare(a.Priority, b.Priority), b.RaisedAt.Compare(a.RaisedAt), strings.Compare(a.ID, b.ID))
}

// List returns the alarms that need the operator, as f selects them:
// active (acknowledged or not), returned unacknowledged, and shelved;
// sorted by priority, then the most recently raised first. Suppressed,
// out-of-service and normal alarms are counted by Summary.
func (e *Engine) List(f Filter) []Alarm {
	e.mu.RLock()
	all := make([]Alarm, 0, len(e.visible))
	for _, a := range e.visible {
		if f.Match(&a.s.Alarm) {
			all = append(all, a.s.Alarm)
		}
	}
	e.mu.RUnlock()
	// Sort pointers: moving the Alarms themselves costs several times more.
	ptrs := make([]*Alarm, len(all))
	for i := range all {
		ptrs[i] = &all[i]
	}
	slices.SortFunc(ptrs, compareAlarms)
	out := make([]Alarm, len(all))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out
}

// Get returns the alarm with that ID, in any state.
func (e *Engine) Get(id string) (Alarm, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	a := e.byID[id]
	if a == nil {
		return Alarm{}, false
	}
	return a.s.Alarm, true
}

// Counts is the number of alarms of one priority in each state but normal.
type Counts struct {
	ActiveUnacked   int
	ActiveAcked     int
	ReturnedUnacked int
	Shelved         int
	Suppressed      int
	OutOfService    int
}

// Unacked is the number of alarms waiting for an acknowledgement.
func (c Counts) Unacked() int { return c.ActiveUnacked + c.ReturnedUnacked }

// Summary returns the counts of the alarms of each priority (1..4, every
// one present) by state.
func (e *Engine) Summary() map[Priority]Counts {
	e.mu.RLock()
	c := e.counts
	e.mu.RUnlock()
	out := make(map[Priority]Counts, 4)
	for p := Priority(1); p.Valid(); p++ {
		n := &c[p]
		out[p] = Counts{
			ActiveUnacked:   n[ActiveUnacked],
			ActiveAcked:     n[ActiveAcked],
			ReturnedUnacked: n[ReturnedUnacked],
			Shelved:         n[Shelved],
			Suppressed:      n[Suppressed],
			OutOfService:    n[OutOfService],
		}
	}
	return out
}
