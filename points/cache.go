// Package points is the point model and the in-memory point cache between the front-end processor and its readers.
//
// The front-end processor turns what its IEC 104 links receive into batches of Updates and hands them to
// Cache.Apply, one goroutine per link. Readers take single values (Get), consistent snapshots (Snapshot), or
// subscribe (Subscribe) and drain coalesced changes: at most one per point, with its latest value. Apply never waits
// for a subscriber, and a subscriber costs a fixed amount of memory however far it falls behind.
//
// Each point's live value sits behind its own sequence lock, so links apply in parallel without a shared mutex and
// readers never see a torn value. Every change gets a cache-wide sequence number (Value.Seq), which increases for
// each point.
package points

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Handle is the dense index of a point: the position of its Def in the slice given to New, and in Defs. The
// front-end processor resolves IDs or addresses to handles once and uses them on its hot path.
type Handle int32

// Value is the live value of a point.
type Value struct {
	Value      float64   // the value; see Kind for its meaning per kind
	Quality    Quality   // IEC bits of the last update and the derived flags
	SourceTime time.Time // the device's time tag (CP56Time2a), zero when it sent none
	RecvTime   time.Time // when the last update was received (changed or not), zero before the first
	Seq        uint64    // cache-wide sequence number of the last change, 0 before the first
}

// Update is one new value for a point, as the front-end processor received it.
type Update struct {
	Point      Handle
	Value      float64
	Quality    Quality   // only the IEC bits (IECMask) count; the derived flags are the cache's own
	SourceTime time.Time // zero when the device sent no time tag
	RecvTime   time.Time // zero: Apply uses the time of the call
}

// Cache holds the definitions and the live values of a fixed set of points. Its methods are safe for concurrent use.
type Cache struct {
	// Immutable after New.
	defs  table // the definitions, compactly, and the ID index
	links map[string]*link
	aged  []uint64 // bitset by handle of the points with a MaxAge
	pages int      // subscription pages: ceil(Len()/pagePoints)

	// slots[h] is guarded by its own sequence lock (see slot).
	slots []slot

	// seq is the last sequence number handed out; atomic, Apply reserves a block per batch.
	seq atomic.Uint64

	subsMu sync.Mutex                      // guards the writers of subs (Subscribe, Close)
	subs   atomic.Pointer[[]*Subscription] // copy-on-write list, read without a lock by every change

	// hook is called with every change, uncoalesced (SetHook); set before the cache is shared, then read-only.
	hook func(Change)
}

// SetHook makes the cache call fn with every change of a point, as it happens and not coalesced: each value
// Apply changes (with that value, even when a later update in the same batch changes the point again), and each
// quality change of SetCommFail and Sweep. It is for the event journal, which must see every change of a
// discrete point (the sequence of events) where subscribers may skip intermediate values. fn runs on the
// goroutine that changed the point, possibly several at once for different points, so it must be quick, safe
// for concurrent use, and must not block. Call SetHook before the cache is shared: it is not synchronised.
func (c *Cache) SetHook(fn func(Change)) { c.hook = fn }

// link is the state of one front-end link.
type link struct {
	points *handleSet // immutable after New

	mu    sync.Mutex // guards fail and since
	fail  bool       // the last SetCommFail said the link is not active
	since time.Time  // time of the last SetCommFail that changed fail
}

// chunk is how many changes a write collects before it marks the subscribers, so that a large batch needs no heap
// scratch and subscribers hear of changes early.
const chunk = 256

// New returns a cache for defs, every point Initial. A point's Handle is its index in defs. The error, when defs are
// not valid, joins a *DefError for each problem: an empty or duplicate ID, an invalid kind, a negative MaxAge, more
// points than a Handle can number.
func New(defs []Def) (*Cache, error) { return newWithArena(defs, maxArena) }

// newWithArena is New with an arena of at most arenaLimit bytes.
func newWithArena(defs []Def, arenaLimit uint64) (*Cache, error) {
	if err := checkCount(defs); err != nil {
		return nil, err
	}
	c := &Cache{}
	c.defs.newIndex(len(defs))
	if err := validate(defs, c.defs.insert(defs)); err != nil {
		return nil, err
	}
	linkDefs, aged := c.defs.fill(defs, arenaLimit)
	c.aged = aged
	c.links = make(map[string]*link, len(linkDefs))
	for name, l := range linkDefs {
		c.links[name] = &link{points: l}
	}
	c.slots = make([]slot, len(defs))
	for i := range c.slots {
		c.slots[i].ver.Store(uint64(Initial) << verQShift)
	}
	c.pages = (len(defs) + pagePoints - 1) / pagePoints
	return c, nil
}

// Lookup returns the handle of the point with that ID.
func (c *Cache) Lookup(id string) (Handle, bool) { return c.defs.lookup(id) }

// valid reports whether h is a handle of c.
func (c *Cache) valid(h Handle) bool { return uint(h) < uint(len(c.slots)) }

// Len returns the number of points; handles run from 0 to Len()-1.
func (c *Cache) Len() int { return len(c.defs.pts) }

// Def returns the definition of a point, the zero Def for a handle that is not of this cache. Its Labels are shared:
// read them, do not modify them. Its ID, Name and Area are slices of one string that holds those of every point: one
// of them kept after the cache is dropped keeps all of them (a few tens of bytes per point); clone it to keep it.
func (c *Cache) Def(h Handle) Def {
	if !c.valid(h) {
		return Def{}
	}
	return c.defs.def(h)
}

// Kind returns the kind of the point h (0 for an invalid handle): Def without building the whole definition, for
// a hot path that needs only the kind.
func (c *Cache) Kind(h Handle) Kind {
	if !c.valid(h) {
		return 0
	}
	return c.defs.classes[c.defs.pts[h].class].kind
}

// Defs returns a copy of all definitions, indexed by Handle; their Labels and strings are as with Def.
func (c *Cache) Defs() []Def {
	defs := make([]Def, len(c.defs.pts))
	for i := range defs {
		defs[i] = c.defs.def(Handle(i))
	}
	return defs
}

// Seq returns the highest sequence number handed out so far: every Value visible now has a Seq no greater. Sequence
// numbers are unique and increase for each point; across points they follow the order in which writers reserved
// them, with gaps, so compare the Seqs of one point, not of two.
func (c *Cache) Seq() uint64 { return c.seq.Load() }

// Get returns the value of a point, consistent in itself. A handle that is not of this cache gives a Value whose
// quality is Initial.
func (c *Cache) Get(h Handle) Value {
	if !c.valid(h) {
		return Value{Quality: Initial}
	}
	return c.slots[h].load()
}

// GetID returns the value of the point with that ID.
func (c *Cache) GetID(id string) (Value, bool) {
	h, ok := c.Lookup(id)
	if !ok {
		return Value{}, false
	}
	return c.slots[h].load(), true
}

// Snapshot appends to dst the values of the points hs, in that order, or of every point in handle order when hs is
// nil, and returns the extended slice. Each value is consistent in itself; the points are read one after another,
// not all at one instant. Pass dst[:0] to reuse a buffer.
func (c *Cache) Snapshot(dst []Value, hs []Handle) []Value {
	if hs == nil {
		dst = slices.Grow(dst, len(c.slots))
		for i := range c.slots {
			dst = append(dst, c.slots[i].load())
		}
		return dst
	}
	dst = slices.Grow(dst, len(hs))
	for _, h := range hs {
		dst = append(dst, c.Get(h))
	}
	return dst
}

// seqs hands out the sequence numbers of one write: a block reserved at once, so that writers touch the shared
// counter once per batch rather than once per change.
type seqs struct {
	c         *Cache
	next, end uint64 // the unused part of the block, [next, end)
}

// reserve starts a block of n numbers.
func (c *Cache) reserve(n int) seqs {
	end := c.seq.Add(uint64(n)) + 1
	return seqs{c: c, next: end - uint64(n), end: end}
}

// take returns a sequence number greater than cur, the point's present one. Another writer that reserved a later
// block may have changed the point already; then a fresh number keeps the point's sequence increasing.
func (s *seqs) take(cur uint64) uint64 {
	if s.next < s.end && s.next > cur {
		s.next++
		return s.next - 1
	}
	return s.c.seq.Add(1)
}

// Apply stores a batch of updates from the front-end processor, in order. A point changes when its value, IEC
// quality or source time differs from what the cache holds, or when it had a derived flag: an update comes from an
// active link, so it clears Initial, Stale and CommFail. Each change gets a new Seq and is marked for the
// subscribers that watch the point; every update records its RecvTime (the time of the call when zero), which
// restarts the point's MaxAge. Updates whose handle is not of this cache are ignored.
//
// Apply takes no lock shared with other writers besides one point at a time, allocates nothing and never waits for
// a subscriber. Concurrent Applies to different points run in parallel.
func (c *Cache) Apply(batch []Update) {
	var (
		changed [chunk]Handle
		n       int
		now     int64
		seq     = c.reserve(len(batch))
	)
	for i := range batch {
		u := &batch[i]
		if !c.valid(u.Point) {
			continue
		}
		recv := nanos(u.RecvTime)
		if recv == 0 {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			recv = now
		}
		q := u.Quality & IECMask
		val := math.Float64bits(u.Value)
		src := nanos(u.SourceTime)

		s := &c.slots[u.Point]
		prev := s.lock()
		s.recv.Store(recv)
		changedNow := q != quality(prev) || val != s.val.Load() || src != s.src.Load()
		var sq uint64
		if changedNow {
			s.val.Store(val)
			s.src.Store(src)
			sq = seq.take(s.seq.Load())
			s.seq.Store(sq)
			changed[n] = u.Point
			n++
		}
		s.unlock(prev, q)
		if changedNow && c.hook != nil {
			c.hook(Change{Point: u.Point, Value: Value{Value: u.Value, Quality: q, SourceTime: fromNanos(src),
				RecvTime: fromNanos(recv), Seq: sq}})
		}

		if n == chunk {
			c.notify(changed[:n])
			n = 0
		}
	}
	c.notify(changed[:n])
}

// SetCommFail records whether a link is active, at time at. With on, every point of the link gets CommFail; with
// off, every point of the link loses it. Each point whose quality changes gets a new Seq and is a change for the
// subscribers; its value and times stay.
//
// The rule for off: CommFail goes at once, so a point that the device does not send again keeps its last value
// without CommFail (Stale still marks it when it has a MaxAge). Apply clears CommFail point by point anyway, as
// fresh values arrive; the front-end processor should therefore call SetCommFail(link, false, at) only when the
// general interrogation after a reconnection has ended, and SetCommFail(link, true, at) as soon as the link leaves
// the active state. A link that no point names is ignored.
func (c *Cache) SetCommFail(link string, on bool, at time.Time) {
	l := c.links[link]
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.fail != on {
		l.fail, l.since = on, at
	}
	l.mu.Unlock()

	var (
		changed [chunk]Handle
		n       int
		seq     = c.reserve(l.points.n)
	)
	for i := range l.points.spans() {
		first, end := l.points.span(i)
		for h := first; h < end; h++ {
			s := &c.slots[h]
			if quality(s.ver.Load()).Has(CommFail) == on {
				continue // no change; a racing writer that changes it is as if it came after this call
			}
			prev := s.lock()
			q := quality(prev)
			if q.Has(CommFail) == on {
				s.unlock(prev, q)
				continue
			}
			q ^= CommFail
			s.seq.Store(seq.take(s.seq.Load()))
			s.unlock(prev, q)
			if c.hook != nil {
				c.hook(Change{Point: h, Value: c.Get(h)})
			}
			changed[n] = h
			n++
			if n == chunk {
				c.notify(changed[:n])
				n = 0
			}
		}
	}
	c.notify(changed[:n])
}

// CommFail returns what the last SetCommFail said of a link that points name: whether it is not active, and since
// when (the at of the call that changed that). ok is false for a link that no point names.
func (c *Cache) CommFail(link string) (fail bool, since time.Time, ok bool) {
	l := c.links[link]
	if l == nil {
		return false, time.Time{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fail, l.since, true
}

// Sweep marks Stale every point with a MaxAge that has had a value and whose last update was received more than
// MaxAge before now. Each point so marked gets a new Seq and is a change for the subscribers; the next update
// clears Stale.
func (c *Cache) Sweep(now time.Time) {
	var (
		changed [chunk]Handle
		n       int
		t       = now.UnixNano()
	)
	for w, word := range c.aged {
		for ; word != 0; word &= word - 1 {
			h := Handle(w*64 + bits.TrailingZeros64(word))
			s := &c.slots[h]
			maxAge := int64(c.defs.classes[c.defs.pts[h].class].maxAge)
			if quality(s.ver.Load())&(Initial|Stale) != 0 || t-s.recv.Load() <= maxAge {
				continue // the cheap test without the lock; the one under the lock decides
			}
			prev := s.lock()
			q := quality(prev)
			if q&(Initial|Stale) != 0 || t-s.recv.Load() <= maxAge {
				s.unlock(prev, q)
				continue
			}
			s.seq.Store(c.seq.Add(1))
			s.unlock(prev, q|Stale)
			if c.hook != nil {
				c.hook(Change{Point: h, Value: c.Get(h)})
			}
			changed[n] = h
			n++
			if n == chunk {
				c.notify(changed[:n])
				n = 0
			}
		}
	}
	c.notify(changed[:n])
}

// Run calls Sweep every second with the current time until ctx ends, and returns ctx.Err().
func (c *Cache) Run(ctx context.Context) error { return c.RunEvery(ctx, time.Second) }

// RunEvery is Run with another interval; an interval that is not positive is an error.
func (c *Cache) RunEvery(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("points: sweep interval %v, want more than 0", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-t.C:
			c.Sweep(now)
		}
	}
}

// notify marks the changed points for every subscriber. It runs after the values are stored and loads the
// subscriber list after them, so a Subscribe that this write misses published its subscription after the stores:
// the Snapshot or Resync that follows the Subscribe sees the new values. It reorders changed.
func (c *Cache) notify(changed []Handle) {
	if len(changed) == 0 {
		return
	}
	subs := c.subs.Load()
	if subs == nil || len(*subs) == 0 {
		return
	}
	// The changes as bit masks per 64-bit word, computed once for all subscribers. With several subscribers,
	// sorting first pays: each then does one atomic operation per word rather than per change.
	if len(*subs) >= sortForSubs {
		slices.Sort(changed)
	}
	var buf [chunk]wordBits
	words := buf[:0]
	for _, h := range changed {
		w := uint32(h) / 64
		if n := len(words); n > 0 && words[n-1].word == w {
			words[n-1].bits |= 1 << (h % 64)
		} else {
			words = append(words, wordBits{word: w, bits: 1 << (h % 64)})
		}
	}
	for _, s := range *subs {
		s.mark(words)
	}
}

// sortForSubs is the number of subscribers from which notify sorts the changes.
const sortForSubs = 4

// wordBits is a set of changed handles within one 64-bit word of a subscription's bitset: handles word*64 + i for
// each bit i set.
type wordBits struct {
	word uint32
	bits uint64
}
