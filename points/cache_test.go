package points

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the base time of the tests.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// testDefs returns n float points named p0, p1, ... on links round-robin over links, each with maxAge.
func testDefs(n int, maxAge time.Duration, links ...string) []Def {
	if len(links) == 0 {
		links = []string{"rtu1"}
	}
	defs := make([]Def, n)
	for i := range defs {
		defs[i] = Def{
			ID: fmt.Sprintf("p%d", i), Name: fmt.Sprintf("point %d", i), Area: "north/f1", Kind: Float,
			Link: links[i%len(links)], CA: 1, IOA: uint32(1000 + i), MaxAge: maxAge,
		}
	}
	return defs
}

// newCache returns a cache of defs or fails the test.
func newCache(t testing.TB, defs []Def) *Cache {
	t.Helper()
	c, err := New(defs)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// checkValue compares the fields of a Value that a test sets.
func checkValue(t *testing.T, what string, got, want Value) {
	t.Helper()
	if got.Value != want.Value || got.Quality != want.Quality || !got.SourceTime.Equal(want.SourceTime) ||
		!got.RecvTime.Equal(want.RecvTime) || got.Seq != want.Seq {
		t.Errorf("%s = %+v, want %+v", what, got, want)
	}
}

func TestNewErrors(t *testing.T) {
	ok := Def{ID: "a", Kind: Single}
	tests := []struct {
		name  string
		defs  []Def
		is    []error  // every error must be found with errors.Is
		texts []string // and the message must hold each of these
	}{
		{"empty ID", []Def{ok, {Kind: Float}}, []error{ErrEmptyID}, []string{"points: def 1: empty ID"}},
		{"duplicate", []Def{ok, {ID: "b", Kind: Float}, {ID: "a", Kind: Float}},
			[]error{ErrDuplicateID}, []string{`points: def 2 ("a"): duplicate ID (first at def 0)`}},
		{"kind unset", []Def{{ID: "x"}}, []error{ErrKind}, []string{`def 0 ("x"): invalid kind 0`}},
		{"kind too big", []Def{ok, {ID: "y", Kind: Counter + 1}}, []error{ErrKind}, []string{`def 1 ("y")`}},
		{"negative max age", []Def{{ID: "z", Kind: Float, MaxAge: -time.Second}},
			[]error{ErrMaxAge}, []string{`def 0 ("z"): negative max age -1s`}},
		{"all of them", []Def{{Kind: 99}, ok, {ID: "a", MaxAge: -1}},
			[]error{ErrEmptyID, ErrKind, ErrDuplicateID, ErrMaxAge},
			[]string{"def 0: empty ID", "def 0: invalid kind 99", `def 2 ("a"): duplicate ID`, `def 2 ("a"): invalid kind 0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.defs)
			if err == nil {
				t.Fatalf("New = %v, nil, want an error", c)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("New error %q does not wrap %q", err, target)
				}
			}
			for _, s := range tt.texts {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("New error %q, want it to contain %q", err, s)
				}
			}
			var de *DefError
			if !errors.As(err, &de) {
				t.Fatalf("New error %T, want a *DefError inside", err)
			}
			if de.Index < 0 || de.Index >= len(tt.defs) || de.ID != tt.defs[de.Index].ID {
				t.Errorf("DefError index %d ID %q do not match defs", de.Index, de.ID)
			}
		})
	}
}

func TestNewEmpty(t *testing.T) {
	for _, defs := range [][]Def{nil, {}} {
		c := newCache(t, defs)
		if got := c.Len(); got != 0 {
			t.Errorf("Len() = %d, want 0", got)
		}
		if h, ok := c.Lookup("x"); ok {
			t.Errorf("Lookup on an empty cache = %d, true, want false", h)
		}
		if got := c.Snapshot(nil, nil); len(got) != 0 {
			t.Errorf("Snapshot = %v, want empty", got)
		}
		c.Apply([]Update{{Point: 0, Value: 1}})
		c.Sweep(t0)
		sub := c.Subscribe(nil)
		if got := sub.Next(nil); len(got) != 0 {
			t.Errorf("Next = %v, want empty", got)
		}
		sub.Close()
	}
}

func TestLookupAndDefs(t *testing.T) {
	labels := []string{"OFF", "ON"}
	defs := testDefs(5000, 0)
	defs[7].Kind, defs[7].Labels = Single, labels
	defs[9].Kind, defs[9].Labels = Single, []string{"OFF", "ON"}
	defs[11].Kind, defs[11].Labels = Double, []string{"a\x00b"}
	defs[12].Kind, defs[12].Labels = Double, []string{"a", "b"}
	c := newCache(t, defs)
	labels[0] = "changed by the caller"

	if got, want := c.Len(), len(defs); got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	for i := range defs {
		h, ok := c.Lookup(defs[i].ID)
		if !ok || h != Handle(i) {
			t.Fatalf("Lookup(%q) = %d, %v, want %d, true", defs[i].ID, h, ok, i)
		}
	}
	for _, id := range []string{"", "p", "p5000", "P1", "p1 "} {
		if h, ok := c.Lookup(id); ok {
			t.Errorf("Lookup(%q) = %d, true, want false", id, h)
		}
	}
	d := c.Def(7)
	if d.ID != "p7" || d.Kind != Single || !slices.Equal(d.Labels, []string{"OFF", "ON"}) {
		t.Errorf("Def(7) = %+v, want p7, single, labels [OFF ON]", d)
	}
	if &c.Def(7).Labels[0] != &c.Def(9).Labels[0] {
		t.Errorf("equal label sets of Def(7) and Def(9) are not shared")
	}
	if got, want := c.Def(11).Labels, []string{"a\x00b"}; !slices.Equal(got, want) {
		t.Errorf("Def(11).Labels = %q, want %q", got, want)
	}
	if got, want := c.Def(12).Labels, []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Def(12).Labels = %q, want %q", got, want)
	}
	if got := c.Def(-1); got.ID != "" {
		t.Errorf("Def(-1) = %+v, want the zero Def", got)
	}
	if got := c.Def(Handle(len(defs))); got.ID != "" {
		t.Errorf("Def(Len()) = %+v, want the zero Def", got)
	}
	all := c.Defs()
	all[0].ID = "modified"
	if got := c.Def(0).ID; got != "p0" {
		t.Errorf("Def(0).ID after modifying Defs() = %q, want p0", got)
	}
}

func TestApplySnapshot(t *testing.T) {
	c := newCache(t, testDefs(3, 0))
	src := at(-time.Second)
	steps := []struct {
		batch   []Update
		want    []Value // the snapshot of every point after the batch, Seq aside
		changed []bool  // which points have a new Seq, greater than every Seq before the batch
	}{
		{nil, []Value{{Quality: Initial}, {Quality: Initial}, {Quality: Initial}}, []bool{false, false, false}},
		{
			[]Update{{Point: 0, Value: 1.5, RecvTime: at(0)}, {Point: 2, Value: -3, Quality: IV, SourceTime: src, RecvTime: at(0)}},
			[]Value{{Value: 1.5, RecvTime: at(0)}, {Quality: Initial}, {Value: -3, Quality: IV, SourceTime: src, RecvTime: at(0)}},
			[]bool{true, false, true},
		},
		{ // the same value again: no change, but the receive time moves
			[]Update{{Point: 0, Value: 1.5, RecvTime: at(1 * time.Second)}},
			[]Value{{Value: 1.5, RecvTime: at(time.Second)}, {Quality: Initial}, {Value: -3, Quality: IV, SourceTime: src, RecvTime: at(0)}},
			[]bool{false, false, false},
		},
		{ // quality, source time and value each make a change; derived flags in an update are ignored
			[]Update{
				{Point: 0, Value: 1.5, Quality: NT | Stale | CommFail, RecvTime: at(2 * time.Second)},
				{Point: 2, Value: -3, Quality: IV, SourceTime: at(0), RecvTime: at(2 * time.Second)},
				{Point: 1, Value: 7, RecvTime: at(2 * time.Second)},
			},
			[]Value{
				{Value: 1.5, Quality: NT, RecvTime: at(2 * time.Second)},
				{Value: 7, RecvTime: at(2 * time.Second)},
				{Value: -3, Quality: IV, SourceTime: at(0), RecvTime: at(2 * time.Second)},
			},
			[]bool{true, true, true},
		},
		{ // handles that are not of the cache are ignored
			[]Update{{Point: -1, Value: 9}, {Point: 3, Value: 9}},
			[]Value{
				{Value: 1.5, Quality: NT, RecvTime: at(2 * time.Second)},
				{Value: 7, RecvTime: at(2 * time.Second)},
				{Value: -3, Quality: IV, SourceTime: at(0), RecvTime: at(2 * time.Second)},
			},
			[]bool{false, false, false},
		},
	}
	prev := c.Snapshot(nil, nil)
	for i, st := range steps {
		top := c.Seq()
		c.Apply(st.batch)
		got := c.Snapshot(nil, nil)
		if len(got) != len(st.want) {
			t.Fatalf("step %d: Snapshot has %d values, want %d", i, len(got), len(st.want))
		}
		for h := range got {
			want := st.want[h]
			want.Seq = prev[h].Seq
			if st.changed[h] {
				if got[h].Seq <= top || got[h].Seq > c.Seq() {
					t.Errorf("step %d: point %d: Seq %d, want a new one in (%d, %d]", i, h, got[h].Seq, top, c.Seq())
				}
				want.Seq = got[h].Seq
			}
			checkValue(t, fmt.Sprintf("step %d: Snapshot[%d]", i, h), got[h], want)
			checkValue(t, fmt.Sprintf("step %d: Get(%d)", i, h), c.Get(Handle(h)), want)
		}
		prev = got
	}
	if prev[0].Seq == prev[1].Seq || prev[1].Seq == prev[2].Seq || prev[0].Seq == prev[2].Seq {
		t.Errorf("Seqs %d, %d, %d, want them distinct", prev[0].Seq, prev[1].Seq, prev[2].Seq)
	}

	sel := c.Snapshot(make([]Value, 1, 4), []Handle{2, 0, 99})
	if len(sel) != 4 || sel[1].Value != -3 || sel[2].Value != 1.5 || sel[3].Quality != Initial {
		t.Errorf("Snapshot(dst of 1, [2 0 99]) = %+v, want dst[0], then points 2 and 0, then an Initial value", sel)
	}
	v, ok := c.GetID("p1")
	if !ok || v.Value != 7 {
		t.Errorf("GetID(p1) = %+v, %v, want value 7, true", v, ok)
	}
	if v, ok := c.GetID("nope"); ok {
		t.Errorf("GetID(nope) = %+v, true, want false", v)
	}
	if got := c.Get(99); got.Quality != Initial {
		t.Errorf("Get(99).Quality = %v, want initial", got.Quality)
	}
}

func TestApplyZeroRecvTime(t *testing.T) {
	c := newCache(t, testDefs(1, 0))
	before := time.Now()
	c.Apply([]Update{{Point: 0, Value: 1}})
	got := c.Get(0).RecvTime
	if got.Before(before.Truncate(time.Microsecond)) || got.After(time.Now()) {
		t.Errorf("RecvTime = %v, want the time of the Apply call (after %v)", got, before)
	}
}

func TestApplySameNaN(t *testing.T) {
	c := newCache(t, testDefs(1, 0))
	nan := func() float64 { var z float64; return z / z }()
	c.Apply([]Update{{Point: 0, Value: nan, RecvTime: at(0)}})
	s1 := c.Get(0).Seq
	c.Apply([]Update{{Point: 0, Value: nan, RecvTime: at(1)}})
	if got := c.Get(0).Seq; got != s1 {
		t.Errorf("Seq after the same NaN again = %d, want %d (no change)", got, s1)
	}
}

func TestInitialUntilFirstValue(t *testing.T) {
	c := newCache(t, testDefs(2, time.Second))
	for h := range Handle(2) {
		if got := c.Get(h); got.Quality != Initial || got.Seq != 0 || !got.RecvTime.IsZero() {
			t.Errorf("Get(%d) before any update = %+v, want Initial, Seq 0, no RecvTime", h, got)
		}
	}
	c.Sweep(at(time.Hour)) // never stale while Initial
	c.SetCommFail("rtu1", true, at(0))
	if got, want := c.Get(1).Quality, Initial|CommFail; got != want {
		t.Errorf("quality of a point without a value on a failed link = %v, want %v", got, want)
	}
	c.Apply([]Update{{Point: 0, Value: 0, RecvTime: at(0)}})
	if got := c.Get(0); got.Quality != 0 || got.Seq == 0 {
		t.Errorf("Get(0) after its first update = %+v, want good quality and a Seq", got)
	}
	if got, want := c.Get(1).Quality, Initial|CommFail; got != want {
		t.Errorf("quality of the other point = %v, want %v", got, want)
	}
}

func TestSweep(t *testing.T) {
	defs := testDefs(4, 10*time.Second)
	defs[3].MaxAge = 0 // never stale
	tests := []struct {
		name  string
		recv  time.Duration // receive time of an update of every point but 2, which stays Initial
		sweep time.Duration // time of the Sweep
		stale bool          // points 0, 1 are stale after the Sweep
	}{
		{"young", 0, 5 * time.Second, false},
		{"exactly max age", 0, 10 * time.Second, false},
		{"just older", 0, 10*time.Second + time.Nanosecond, true},
		{"much older", 0, time.Hour, true},
		{"sweep in the past", time.Hour, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, defs)
			c.Apply([]Update{
				{Point: 0, Value: 1, RecvTime: at(tt.recv)},
				{Point: 1, Value: 2, Quality: IV, RecvTime: at(tt.recv)},
				{Point: 3, Value: 4, RecvTime: at(tt.recv)},
			})
			before := c.Snapshot(nil, nil)
			c.Sweep(at(tt.sweep))
			after := c.Snapshot(nil, nil)
			for h, q := range []Quality{0, IV, Initial, 0} {
				want := before[h]
				if tt.stale && (h == 0 || h == 1) {
					want.Quality = q | Stale
					if after[h].Seq <= before[h].Seq {
						t.Errorf("point %d: Seq %d after it went stale, want more than %d", h, after[h].Seq, before[h].Seq)
					}
					want.Seq = after[h].Seq
				}
				checkValue(t, fmt.Sprintf("point %d", h), after[h], want)
			}
			if !tt.stale {
				return
			}
			// a second Sweep changes nothing; the next update clears Stale
			c.Sweep(at(tt.sweep + time.Hour))
			if got := c.Get(0); got.Seq != after[0].Seq {
				t.Errorf("Seq after a second Sweep = %d, want %d", got.Seq, after[0].Seq)
			}
			c.Apply([]Update{{Point: 0, Value: 1, RecvTime: at(tt.sweep)}, {Point: 1, Value: 2, Quality: IV, RecvTime: at(tt.sweep)}})
			if got := c.Get(0); got.Quality != 0 || got.Seq <= after[0].Seq {
				t.Errorf("Get(0) after a fresh update = %+v, want good with a new Seq", got)
			}
			if got := c.Get(1).Quality; got != IV {
				t.Errorf("Get(1).Quality after a fresh update = %v, want IV", got)
			}
		})
	}
}

func TestCommFail(t *testing.T) {
	c := newCache(t, testDefs(6, 0, "a", "b")) // a: 0, 2, 4; b: 1, 3, 5
	var batch []Update
	for h := range Handle(6) {
		batch = append(batch, Update{Point: h, Value: float64(h), RecvTime: at(0)})
	}
	c.Apply(batch)
	sub := c.Subscribe(nil)
	seqs := func() []uint64 {
		var s []uint64
		for _, v := range c.Snapshot(nil, nil) {
			s = append(s, v.Seq)
		}
		return s
	}
	before := seqs()

	c.SetCommFail("b", true, at(time.Second))
	for h := range Handle(6) {
		want := Quality(0)
		if h%2 == 1 {
			want = CommFail
		}
		if got := c.Get(h); got.Quality != want || got.Value != float64(h) {
			t.Errorf("after link b failed: Get(%d) = %+v, want value %d, quality %v", h, got, h, want)
		}
	}
	if fail, since, ok := c.CommFail("b"); !fail || !since.Equal(at(time.Second)) || !ok {
		t.Errorf(`CommFail("b") = %v, %v, %v, want true, %v, true`, fail, since, ok, at(time.Second))
	}
	if fail, _, ok := c.CommFail("a"); fail || !ok {
		t.Errorf(`CommFail("a") = %v, _, %v, want false, true`, fail, ok)
	}
	if _, _, ok := c.CommFail("nope"); ok {
		t.Errorf(`CommFail("nope") ok = true, want false`)
	}
	got := sub.Next(nil)
	if len(got) != 3 || got[0].Point != 1 || got[1].Point != 3 || got[2].Point != 5 {
		t.Fatalf("changes after link b failed = %+v, want points 1, 3, 5", got)
	}
	for _, ch := range got {
		if ch.Value.Seq <= before[ch.Point] || !ch.Value.Quality.Has(CommFail) {
			t.Errorf("change %+v: want CommFail and a Seq above %d", ch, before[ch.Point])
		}
	}

	c.SetCommFail("b", true, at(2*time.Second)) // again: no change
	if got := sub.Next(nil); len(got) != 0 {
		t.Errorf("changes after a second SetCommFail(b, true) = %+v, want none", got)
	}
	if _, since, _ := c.CommFail("b"); !since.Equal(at(time.Second)) {
		t.Errorf(`CommFail("b") since = %v, want %v (the first call)`, since, at(time.Second))
	}
	c.SetCommFail("nope", true, at(0)) // no point: nothing happens

	// the next update of a point clears its CommFail, the others keep it
	c.Apply([]Update{{Point: 3, Value: 3, RecvTime: at(3 * time.Second)}})
	for h, want := range []Quality{0, CommFail, 0, 0, 0, CommFail} {
		if got := c.Get(Handle(h)).Quality; got != want {
			t.Errorf("after an update of point 3: Get(%d).Quality = %v, want %v", h, got, want)
		}
	}
	if got := sub.Next(nil); len(got) != 1 || got[0].Point != 3 || got[0].Value.Quality != 0 {
		t.Errorf("changes after an update of point 3 = %+v, want point 3, good", got)
	}

	// off clears the rest
	c.SetCommFail("b", false, at(4*time.Second))
	for h := range Handle(6) {
		if got := c.Get(h).Quality; got != 0 {
			t.Errorf("after link b is back: Get(%d).Quality = %v, want good", h, got)
		}
	}
	if got := sub.Next(nil); len(got) != 2 || got[0].Point != 1 || got[1].Point != 5 {
		t.Errorf("changes after link b is back = %+v, want points 1 and 5", got)
	}
	if fail, since, _ := c.CommFail("b"); fail || !since.Equal(at(4*time.Second)) {
		t.Errorf(`CommFail("b") = %v, %v, want false, %v`, fail, since, at(4*time.Second))
	}
}

func TestHookSeesEveryChange(t *testing.T) {
	c, err := New([]Def{{ID: "a", Kind: Double, Link: "l"}, {ID: "b", Kind: Float, Link: "l"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []Change
	c.SetHook(func(ch Change) { got = append(got, ch) })
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Apply([]Update{
		{Point: 0, Value: 1, SourceTime: t0, RecvTime: t0},
		{Point: 0, Value: 2, SourceTime: t0.Add(time.Millisecond), RecvTime: t0},
		{Point: 0, Value: 2, SourceTime: t0.Add(time.Millisecond), RecvTime: t0}, // no change: no call
		{Point: 1, Value: 5, RecvTime: t0},
	})
	c.SetCommFail("l", true, t0)
	want := []struct {
		p Handle
		v float64
		q Quality
	}{{0, 1, 0}, {0, 2, 0}, {1, 5, 0}, {0, 2, CommFail}, {1, 5, CommFail}}
	if len(got) != len(want) {
		t.Fatalf("%d hook calls, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Point != w.p || got[i].Value.Value != w.v || got[i].Value.Quality != w.q {
			t.Errorf("call %d: got point %d value %v quality %v, want %d %v %v", i, got[i].Point, got[i].Value.Value, got[i].Value.Quality, w.p, w.v, w.q)
		}
	}
	if !got[1].Value.SourceTime.Equal(t0.Add(time.Millisecond)) || got[1].Value.Seq <= got[0].Value.Seq {
		t.Errorf("second change %+v after %+v: want its own source time and a later Seq", got[1].Value, got[0].Value)
	}
}
