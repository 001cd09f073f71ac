package alarms

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"hmi/points"
)

// TestRun drives the engine through Run, with its own timers, in a
// synctest bubble: an on-delay that ends without a new value, a shelve
// that expires, inputs, a journal queue that is full for a while, and the
// end of Run.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cache, err := points.New(plantDefs())
		if err != nil {
			t.Fatal(err)
		}
		defs := plantAlarms()
		defs.Points[2].Limits.OnDelay = 5 * time.Second
		j := newJournal()
		e, err := New(defs, j, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx, cache) }()
		synctest.Wait()

		state := func(id string) State {
			t.Helper()
			a, ok := e.Get(id)
			if !ok {
				t.Fatalf("no alarm %s", id)
			}
			return a.State
		}
		temp, _ := cache.Lookup("temp")
		start := time.Now()
		cache.Apply([]points.Update{{Point: temp, Value: 105}})
		synctest.Wait()
		time.Sleep(5*time.Second - time.Nanosecond)
		synctest.Wait()
		if got := state("limit:temp:H"); got != Normal {
			t.Fatalf("before the on-delay: %v, want normal", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if a, _ := e.Get("limit:temp:H"); a.State != ActiveUnacked || !a.RaisedAt.Equal(start.Add(5*time.Second)) {
			t.Fatalf("after the on-delay: %v raised at %v, want active_unacked at %v", a.State, a.RaisedAt, start.Add(5*time.Second))
		}

		if err := e.Shelve(ctx, "op", "limit:temp:H", time.Minute, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := state("limit:temp:H"); got != ActiveUnacked {
			t.Fatalf("after the shelve: %v, want active_unacked", got)
		}
		if got := j.actions("limit:temp:H"); got[len(got)-1] != ActionShelveExpired {
			t.Errorf("journaled %q, want shelve_expired last", got)
		}

		// The journal's queue is full: the link alarm waits in the backlog
		// and reaches the journal when there is room.
		j.mu.Lock()
		j.capacity = len(j.queued)
		j.mu.Unlock()
		e.LinkState(LinkState{Link: "a", Up: false})
		synctest.Wait()
		if got := state("link:a"); got != ActiveUnacked {
			t.Fatalf("link down: %v, want active_unacked", got)
		}
		if st := e.Stats(); st.Backlog != 1 {
			t.Errorf("backlog %d, want 1", st.Backlog)
		}
		j.mu.Lock()
		j.capacity = 0
		j.mu.Unlock()
		time.Sleep(retryEvery)
		synctest.Wait()
		if got := j.actions("link:a"); len(got) != 1 || got[0] != ActionRaise {
			t.Errorf("link alarm journaled %q, want raise", got)
		}

		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	})
}
