package points

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// variedDefs returns n points whose fields vary: areas, units, label sets, links (in runs of random length, so that
// some links are runs of handles and others lists), common addresses, MaxAges and kinds; some IDs and names long,
// some names empty.
func variedDefs(n int, seed uint64) []Def {
	rng := rand.New(rand.NewPCG(seed, 7))
	labelSets := [][]string{nil, {}, {"OFF", "ON"}, {"OFF", "ON"}, {"a\x00b"}, {"a", "b"}, {"open", "closed", "fault"}}
	units := []string{"", "kV", "A", "MW", "°C"}
	links := []string{"a", "b", "c", "rtu7"}
	defs := make([]Def, n)
	link := links[0]
	for i := range defs {
		if rng.IntN(4) == 0 {
			link = links[rng.IntN(len(links))]
		}
		id := fmt.Sprintf("p%d", i)
		switch rng.IntN(50) {
		case 0:
			id += strings.Repeat("x", 300)
		case 1:
			id += strings.Repeat("é", 30000)
		}
		name := fmt.Sprintf("point %d", i)
		if rng.IntN(5) == 0 {
			name = ""
		}
		defs[i] = Def{
			ID: id, Name: name, Area: fmt.Sprintf("north/f%d", rng.IntN(8)), Kind: Kind(1 + rng.IntN(int(Counter))),
			Unit: units[rng.IntN(len(units))], Labels: labelSets[rng.IntN(len(labelSets))], Link: link,
			CA: uint16(rng.IntN(3)), IOA: rng.Uint32(), MaxAge: time.Duration(rng.IntN(3)) * time.Second,
		}
	}
	return defs
}

// wantDef is what Def returns for d: empty label sets come back nil.
func wantDef(d Def) Def {
	if len(d.Labels) == 0 {
		d.Labels = nil
	}
	return d
}

func TestDefsRoundTrip(t *testing.T) {
	defs := variedDefs(3000, 1)
	checkDefs(t, defs)
}

// TestDefsLong checks IDs and areas too long for the arena, and one as long as it takes.
func TestDefsLong(t *testing.T) {
	for _, tc := range []struct {
		name     string
		id, area int // lengths of the ID and the area of point 1
		arena    bool
	}{
		{"longest", maxLen, maxLen, true}, {"ID too long", maxLen + 1, 1, false}, {"area too long", 1, maxLen + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defs := variedDefs(100, 5)
			defs[1].ID, defs[1].Area = strings.Repeat("i", tc.id), strings.Repeat("a", tc.area)
			c := newCache(t, defs)
			if got := c.defs.strs == nil; got != tc.arena {
				t.Errorf("arena used = %v, want %v", got, tc.arena)
			}
			checkDefs(t, defs)
		})
	}
}

// checkDefs checks Def, Defs and Lookup of caches of defs, with and without the arena.
func checkDefs(t *testing.T, defs []Def) {
	t.Helper()
	var size uint64 // of the arena
	areas := map[string]bool{}
	long := false // an ID or an area too long for the arena
	for _, d := range defs {
		size += uint64(len(d.ID) + len(d.Name))
		long = long || len(d.ID) > maxLen || len(d.Area) > maxLen
		if !areas[d.Area] {
			size += uint64(len(d.Area))
			areas[d.Area] = true
		}
	}
	for _, tc := range []struct {
		name  string
		limit uint64
		arena bool
	}{
		{"arena", maxArena, true}, {"arena at its limit", size, true},
		{"over the limit", size - 1, false}, {"no arena", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newWithArena(defs, tc.limit)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got, want := c.defs.strs == nil, tc.arena && !long; got != want {
				t.Errorf("arena used = %v, want %v", got, want)
			}
			all := c.Defs()
			if len(all) != len(defs) {
				t.Fatalf("len(Defs()) = %d, want %d", len(all), len(defs))
			}
			for i := range defs {
				want := wantDef(defs[i])
				if got := c.Def(Handle(i)); !reflect.DeepEqual(got, want) {
					t.Fatalf("Def(%d) = %+v, want %+v", i, got, want)
				}
				if !reflect.DeepEqual(all[i], want) {
					t.Fatalf("Defs()[%d] = %+v, want %+v", i, all[i], want)
				}
				if h, ok := c.Lookup(strings.Clone(defs[i].ID)); !ok || h != Handle(i) {
					t.Fatalf("Lookup(%q) = %d, %v, want %d, true", defs[i].ID, h, ok, i)
				}
				if h, ok := c.Lookup(defs[i].ID + "x"); ok {
					t.Fatalf("Lookup(%q) = %d, true, want false", defs[i].ID+"x", h)
				}
			}
		})
	}
}

// TestLookupSizes checks Lookup in caches of every size up to 300, where the index is small and wraps around.
func TestLookupSizes(t *testing.T) {
	for n := 1; n <= 300; n++ {
		defs := testDefs(n, 0)
		c := newCache(t, defs)
		for i := range defs {
			if h, ok := c.Lookup(defs[i].ID); !ok || h != Handle(i) {
				t.Fatalf("n=%d: Lookup(%q) = %d, %v, want %d, true", n, defs[i].ID, h, ok, i)
			}
		}
		for i := n; i < n+20; i++ {
			id := fmt.Sprintf("p%d", i)
			if h, ok := c.Lookup(id); ok {
				t.Fatalf("n=%d: Lookup(%q) = %d, true, want false", n, id, h)
			}
		}
	}
}

// within reports whether s points into buf.
func within(s, buf string) bool {
	if len(s) == 0 {
		return false
	}
	p, b := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(buf)))
	return p >= b && p < b+uintptr(len(buf))
}

// TestDefsOwnStrings checks that the cache keeps its own copy of every string, one per distinct area, unit, link
// and label set, so that the caller's strings (here all in one buffer, as a decoder may give them) can be
// collected.
func TestDefsOwnStrings(t *testing.T) {
	src := variedDefs(500, 2)
	var b strings.Builder
	for _, d := range src {
		b.WriteString(d.ID + d.Name + d.Area + d.Unit + d.Link + strings.Join(d.Labels, ""))
	}
	buf := b.String()
	defs := make([]Def, len(src))
	pos := 0
	take := func(s string) string {
		pos += len(s)
		return buf[pos-len(s) : pos]
	}
	for i, d := range src {
		defs[i] = d
		defs[i].ID, defs[i].Name, defs[i].Area, defs[i].Unit, defs[i].Link = take(d.ID), take(d.Name), take(d.Area), take(d.Unit), take(d.Link)
		if d.Labels != nil {
			defs[i].Labels = make([]string, len(d.Labels))
			for j, l := range d.Labels {
				defs[i].Labels[j] = take(l)
			}
		}
	}
	for _, limit := range []uint64{maxArena, 0} {
		c, err := newWithArena(defs, limit)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		first := map[string]Def{} // by area+unit+link: the first point with them
		for h := range Handle(c.Len()) {
			d := c.Def(h)
			strs := append([]string{d.Area, d.Unit, d.Link}, d.Labels...)
			if limit != 0 {
				strs = append(strs, d.ID, d.Name)
			}
			for _, s := range strs {
				if within(s, buf) {
					t.Fatalf("limit %d: Def(%d) holds %q, a string of the caller", limit, h, s)
				}
			}
			f, ok := first[d.Area+"|"+d.Unit+"|"+d.Link]
			if !ok {
				first[d.Area+"|"+d.Unit+"|"+d.Link] = d
				continue
			}
			for _, pair := range [][2]string{{f.Area, d.Area}, {f.Unit, d.Unit}, {f.Link, d.Link}} {
				if pair[0] != "" && unsafe.StringData(pair[0]) != unsafe.StringData(pair[1]) {
					t.Errorf("limit %d: Def(%d) has its own copy of %q", limit, h, pair[0])
				}
			}
		}
	}
}

// TestCommFailLinks checks that SetCommFail reaches exactly the points of the link, whether the link's points come
// in runs of handles or scattered.
func TestCommFailLinks(t *testing.T) {
	defs := variedDefs(5000, 3)
	defs[4999].Link = "last" // a link of one point, the last handle
	defs[10].Link = "scattered"
	defs[2000].Link = "scattered"
	defs[2001].Link = "scattered"
	c := newCache(t, defs)
	if l := c.links["scattered"]; len(l.points.list) == 0 || l.points.n != 3 {
		t.Errorf(`link "scattered": %+v, want a list of 3 points`, l.points)
	}
	if l := c.links["a"]; len(l.points.runs) == 0 {
		t.Errorf(`link "a": %d runs, want runs`, len(l.points.runs))
	}
	for _, link := range []string{"a", "b", "c", "rtu7", "scattered", "last"} {
		c.SetCommFail(link, true, t0)
		for h := range Handle(len(defs)) {
			if got, want := c.Get(h).Quality.Has(CommFail), defs[h].Link == link; got != want {
				t.Fatalf("after SetCommFail(%q, true): point %d (link %q) CommFail %v, want %v", link, h, defs[h].Link, got, want)
			}
		}
		c.SetCommFail(link, false, t0)
		for h := range Handle(len(defs)) {
			if c.Get(h).Quality.Has(CommFail) {
				t.Fatalf("after SetCommFail(%q, false): point %d has CommFail", link, h)
			}
		}
	}
}

// TestSweepMaxAges checks Sweep over points with different MaxAges, and none.
func TestSweepMaxAges(t *testing.T) {
	defs := variedDefs(1000, 4)
	c := newCache(t, defs)
	ups := make([]Update, len(defs))
	for h := range ups {
		ups[h] = Update{Point: Handle(h), Value: 1, RecvTime: t0}
	}
	c.Apply(ups)
	for _, after := range []time.Duration{time.Second, time.Second + 1, 2*time.Second + 1} {
		c.Sweep(t0.Add(after))
		for h, d := range defs {
			if got, want := c.Get(Handle(h)).Quality.Has(Stale), d.MaxAge > 0 && after > d.MaxAge; got != want {
				t.Fatalf("after a Sweep at +%v: point %d (MaxAge %v) Stale %v, want %v", after, h, d.MaxAge, got, want)
			}
		}
	}
}

func TestKindOfHandle(t *testing.T) {
	c, err := New([]Def{{ID: "a", Kind: Double}, {ID: "b", Kind: Float}})
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range []Kind{Double, Float} {
		if got := c.Kind(Handle(h)); got != want || got != c.Def(Handle(h)).Kind {
			t.Errorf("Kind(%d) = %v, want %v", h, got, want)
		}
	}
	if c.Kind(5) != 0 || c.Kind(-1) != 0 {
		t.Error("Kind of an invalid handle is not 0")
	}
}
