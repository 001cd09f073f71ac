package points

import (
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The cache keeps the definitions compactly, as it may hold a million of them: per point a pointDef of 20 bytes,
// and the point's ID and Name packed into one string, the arena, where a Def takes 128 bytes plus a heap object
// per string. What points share, it keeps once: the areas (at the end of the arena), and the classes (kind, unit,
// labels, link, common address, MaxAge). Every string it keeps is its own copy, so that the caller's Defs, and
// whatever buffer their strings point into, can be collected once the caller drops them. Def reads a pointDef and a
// class and slices the arena, without reading the arena itself.
//
// A cache whose arena would exceed maxArena bytes, or with an ID or an area of more than maxLen bytes, keeps its
// IDs and names as the caller's strings instead (plain mode).

// pointDef is the compact definition of one point.
type pointDef struct {
	off     uint32 // where the point's ID starts in the arena; its Name follows, up to the next point's off
	area    uint32 // where the point's area starts in the arena; in plain mode, its index in table.areas
	class   uint32 // index in table.classes
	ioa     uint32
	idLen   uint16
	areaLen uint16
}

// class is what points commonly share.
type class struct {
	unit, link string
	labels     []string // nil or a shared, non-empty set
	maxAge     time.Duration
	ca         uint16
	kind       Kind
}

const (
	maxArena = min(math.MaxUint32, math.MaxInt) // the largest arena: offsets are uint32, and its length an int
	maxLen   = math.MaxUint16                   // the longest ID or area in the arena: lengths are uint16
)

// table is the compact form of the definitions: built by New (newIndex, then insert through validate, then fill),
// immutable after.
type table struct {
	pts     []pointDef
	classes []class

	arena string   // the IDs and Names of the points, back to back in handle order, then the distinct areas
	names int      // where the areas start in arena: the end of the last point's Name
	strs  []string // in plain mode, the ID and the Name of point h at 2h and 2h+1, else nil
	areas []string // in plain mode, the distinct areas, else nil

	// index finds a point by ID: an open-addressing hash table with linear probing, at most 3/4 full. An entry
	// is 0 when empty, else handle+1 in its low hbits bits and high bits of the ID's hash above them, so that
	// most probes of another ID are rejected without reading it.
	index []uint32
	hbits uint
	seed  maphash.Seed
}

// newIndex prepares the ID index of t for n points; insert fills it.
func (t *table) newIndex(n int) {
	t.seed = maphash.MakeSeed()
	if n == 0 {
		return
	}
	t.hbits = uint(bits.Len(uint(n)))
	t.index = make([]uint32, n+n/3+1)
}

// probe returns the hash tag of id and the position where its probe sequence starts.
func (t *table) probe(id string) (tag uint32, p int) {
	h := maphash.String(t.seed, id)
	tag = uint32(h>>32) &^ (1<<t.hbits - 1)
	return tag, int(uint64(uint32(h)) * uint64(len(t.index)) >> 32)
}

// insert returns the function that validate calls to index defs[i].ID: it adds the ID, or returns the index of the
// Def that already has it.
func (t *table) insert(defs []Def) func(id string, i int) int {
	mask := uint32(1)<<t.hbits - 1
	return func(id string, i int) int {
		tag, p := t.probe(id)
		for ; ; p++ {
			if p == len(t.index) {
				p = 0
			}
			e := t.index[p]
			if e == 0 {
				t.index[p] = tag | (uint32(i) + 1)
				return -1
			}
			if e&^mask == tag && defs[e&mask-1].ID == id {
				return int(e&mask - 1)
			}
		}
	}
}

// lookup returns the handle of the point with that ID.
func (t *table) lookup(id string) (Handle, bool) {
	if len(t.index) == 0 {
		return 0, false
	}
	mask := uint32(1)<<t.hbits - 1
	tag, p := t.probe(id)
	for ; ; p++ {
		if p == len(t.index) {
			p = 0
		}
		e := t.index[p]
		if e == 0 {
			return 0, false
		}
		if e&^mask == tag {
			if h := Handle(e&mask - 1); t.id(h) == id {
				return h, true
			}
		}
	}
}

// id returns the ID of point h.
func (t *table) id(h Handle) string {
	if t.strs != nil {
		return t.strs[2*h]
	}
	p := &t.pts[h]
	return t.arena[p.off : int(p.off)+int(p.idLen)]
}

// def returns the definition of point h.
func (t *table) def(h Handle) Def {
	p := &t.pts[h]
	cl := &t.classes[p.class]
	var id, name, area string
	if t.strs != nil {
		id, name, area = t.strs[2*h], t.strs[2*h+1], t.areas[p.area]
	} else {
		end := t.names
		if int(h)+1 < len(t.pts) {
			end = int(t.pts[h+1].off)
		}
		mid := int(p.off) + int(p.idLen)
		id, name, area = t.arena[p.off:mid], t.arena[mid:end], t.arena[p.area:int(p.area)+int(p.areaLen)]
	}
	return Def{
		ID: id, Name: name, Area: area, Kind: cl.kind, Unit: cl.unit, Labels: cl.labels, Link: cl.link, CA: cl.ca,
		IOA: p.ioa, MaxAge: cl.maxAge,
	}
}

// fill stores defs, which validate accepted, in t (whose index is built), with an arena of at most arenaLimit bytes.
// It returns the links by name, and the points that have a MaxAge as a bitset by handle.
func (t *table) fill(defs []Def, arenaLimit uint64) (links map[string]*handleSet, aged []uint64) {
	t.pts = make([]pointDef, len(defs))
	aged = make([]uint64, (len(defs)+63)/64)

	type classKey struct {
		unit, link string
		labels     int // index in labelSets
		maxAge     time.Duration
		ca         uint16
		kind       Kind
	}
	copies := make(map[string]string) // the cache's copy of each unit, link and label
	intern := func(s string) string {
		c, ok := copies[s]
		if !ok {
			c = strings.Clone(s)
			copies[c] = c
		}
		return c
	}
	var (
		areas     []string // the distinct areas, the caller's strings
		areaIndex = make(map[string]uint32)
		classes   = make(map[classKey]uint32)
		labelKeys = make(map[string]int) // each label's length and bytes, to the index in labelSets
		labelSets = [][]string{nil}
		linkOf    []*handleSet // by class
		lastDef   *Def
		area, cl  uint32
		size      uint64 // of the arena
		plain     bool
	)
	links = make(map[string]*handleSet)
	for i := range defs {
		d := &defs[i]
		if i == 0 || d.Area != lastDef.Area {
			a, ok := areaIndex[d.Area]
			if !ok {
				a = uint32(len(areas))
				areas = append(areas, d.Area)
				areaIndex[d.Area] = a
				size += uint64(len(d.Area))
				plain = plain || len(d.Area) > maxLen
			}
			area = a
		}
		// A point mostly shares its class with the one before: compare with it before building the key.
		if i == 0 || d.Unit != lastDef.Unit || d.Link != lastDef.Link || d.MaxAge != lastDef.MaxAge ||
			d.CA != lastDef.CA || d.Kind != lastDef.Kind || !slices.Equal(d.Labels, lastDef.Labels) {
			k := classKey{unit: d.Unit, link: d.Link, maxAge: d.MaxAge, ca: d.CA, kind: d.Kind}
			if len(d.Labels) > 0 {
				var key []byte
				for _, s := range d.Labels {
					key = append(strconv.AppendInt(key, int64(len(s)), 10), ':')
					key = append(key, s...)
				}
				l, ok := labelKeys[string(key)]
				if !ok {
					l = len(labelSets)
					set := make([]string, len(d.Labels))
					for j, s := range d.Labels {
						set[j] = intern(s)
					}
					labelSets = append(labelSets, set)
					labelKeys[string(key)] = l
				}
				k.labels = l
			}
			c, ok := classes[k]
			if !ok {
				c = uint32(len(t.classes))
				k.unit, k.link = intern(k.unit), intern(k.link)
				t.classes = append(t.classes, class{unit: k.unit, link: k.link, labels: labelSets[k.labels],
					maxAge: k.maxAge, ca: k.ca, kind: k.kind})
				classes[k] = c
				l := links[k.link]
				if l == nil {
					l = &handleSet{}
					links[k.link] = l
				}
				linkOf = append(linkOf, l)
			}
			cl = c
		}
		lastDef = d
		t.pts[i] = pointDef{area: area, class: cl, ioa: d.IOA}
		size += uint64(len(d.ID) + len(d.Name))
		plain = plain || len(d.ID) > maxLen
		linkOf[cl].add(Handle(i))
		if d.MaxAge > 0 {
			aged[i/64] |= 1 << (i % 64)
		}
	}
	for _, l := range links {
		l.compact()
	}

	if plain || size > arenaLimit {
		// The caller's IDs and names: a Name repeated a million times may be one string of the caller, but not
		// in the arena.
		t.strs = make([]string, 2*len(defs))
		for i := range defs {
			t.strs[2*i], t.strs[2*i+1] = defs[i].ID, defs[i].Name
		}
		t.areas = make([]string, len(areas))
		for i, a := range areas {
			t.areas[i] = strings.Clone(a)
		}
		return links, aged
	}
	var b strings.Builder
	b.Grow(int(size))
	for i := range defs {
		t.pts[i].off, t.pts[i].idLen = uint32(b.Len()), uint16(len(defs[i].ID))
		b.WriteString(defs[i].ID)
		b.WriteString(defs[i].Name)
	}
	t.names = b.Len()
	offs := make([]uint32, len(areas))
	for i, a := range areas {
		offs[i] = uint32(b.Len())
		b.WriteString(a)
	}
	for i := range t.pts {
		p := &t.pts[i]
		p.area, p.areaLen = offs[p.area], uint16(len(areas[p.area]))
	}
	t.arena = b.String()
	return links, aged
}

// handleSet is a set of handles in increasing order, kept as runs of consecutive handles or, when they would take
// more memory, as a list.
type handleSet struct {
	runs []run
	list []Handle
	n    int
}

// run is the handles [first, end).
type run struct{ first, end Handle }

// add adds h, greater than every handle added before, as a run.
func (s *handleSet) add(h Handle) {
	s.n++
	if k := len(s.runs); k > 0 && s.runs[k-1].end == h {
		s.runs[k-1].end++
		return
	}
	s.runs = append(s.runs, run{h, h + 1})
}

// compact trims the set once complete, and turns it into a list when that is smaller.
func (s *handleSet) compact() {
	if 2*len(s.runs) <= s.n {
		s.runs = slices.Clip(s.runs)
		return
	}
	s.list = make([]Handle, 0, s.n)
	for _, r := range s.runs {
		for h := r.first; h < r.end; h++ {
			s.list = append(s.list, h)
		}
	}
	s.runs = nil
}

// spans returns how many spans of consecutive handles span can give.
func (s *handleSet) spans() int { return len(s.runs) + len(s.list) }

// span returns span i, the handles [first, end), in increasing order of i.
func (s *handleSet) span(i int) (first, end Handle) {
	if s.list != nil {
		return s.list[i], s.list[i] + 1
	}
	return s.runs[i].first, s.runs[i].end
}
