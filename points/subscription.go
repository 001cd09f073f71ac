package points

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// Subscriptions keep their pending changes in paged bitsets: a page covers pagePoints consecutive handles, and a
// subscription allocates only the pages that hold points of its filter.
const (
	pageWords  = 16             // 64-bit words per page
	pagePoints = pageWords * 64 // handles per page
)

// keepKeys is the most sort keys a subscription keeps between calls of Next (256 KiB).
const keepKeys = 32768

// page is one page of a subscription's bitsets.
type page struct {
	want  [pageWords]uint64        // the filter; immutable after Subscribe
	dirty [pageWords]atomic.Uint64 // pending changes: set by writers, swapped to zero by Next and Resync
}

// Change is one pending change of a subscription: a point and its latest value.
type Change struct {
	Point Handle
	Value Value
}

// Subscription receives the changes of a set of points, coalesced: however many times a point changes before Next,
// Next returns it once, with its latest value. Its memory is fixed at Subscribe: 256 bytes per page of 1024 handles
// that holds a point of its filter (every page for a subscription to all points: 2 bits per point) and 8 bytes per
// page of the cache, plus at most 256 KiB that Next keeps for sorting. One that never reads costs nothing more, and
// writers never wait for it.
type Subscription struct {
	c     *Cache
	ready chan struct{} // capacity 1, written without blocking by writers after they mark new changes

	// Immutable after Subscribe. pages[i] is nil when no point of the filter is in page i; the words of a page
	// are atomic.
	pages []*page
	// summary has a bit per page, set by the writer that makes a dirty word of the page non-zero; Next swaps each
	// word to zero before it looks at the pages.
	summary []atomic.Uint64

	nextMu sync.Mutex // serialises Next and Resync, and guards keys
	keys   []uint64   // Next's scratch for sorting: 2 keys per change, kept up to keepKeys
	closed atomic.Bool
}

// Subscribe returns a subscription to the changes of the points of filter, or of every point when filter is nil
// (an empty non-nil filter subscribes to none). Handles that are not of this cache are ignored. It receives the
// changes that happen after Subscribe returns: call Snapshot or the subscription's Resync after Subscribe to start
// from the present values. Close it when done.
func (c *Cache) Subscribe(filter []Handle) *Subscription {
	s := &Subscription{
		c:       c,
		ready:   make(chan struct{}, 1),
		pages:   make([]*page, c.pages),
		summary: make([]atomic.Uint64, (c.pages+63)/64),
	}
	if filter == nil {
		for i := range s.pages {
			p := &page{}
			for w := range p.want {
				lo := i*pagePoints + w*64 // first handle of the word
				switch n := c.Len() - lo; {
				case n >= 64:
					p.want[w] = ^uint64(0)
				case n > 0:
					p.want[w] = 1<<n - 1
				}
			}
			s.pages[i] = p
		}
	} else {
		for _, h := range filter {
			if !c.valid(h) {
				continue
			}
			p := s.pages[h/pagePoints]
			if p == nil {
				p = &page{}
				s.pages[h/pagePoints] = p
			}
			p.want[h%pagePoints/64] |= 1 << (h % 64)
		}
	}

	c.subsMu.Lock()
	var subs []*Subscription
	if old := c.subs.Load(); old != nil {
		subs = *old
	}
	subs = append(slices.Clip(subs), s)
	c.subs.Store(&subs)
	c.subsMu.Unlock()
	return s
}

// Ready returns a channel that receives a value when changes are pending, for a select loop:
//
//	for {
//		select {
//		case <-ctx.Done():
//			return
//		case <-sub.Ready():
//			changes = sub.Next(changes[:0])
//			...
//		}
//	}
//
// A value received may find nothing pending: a Next that ran meanwhile took the changes. The channel is never
// closed.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Next appends the pending changes to dst, at most one per point with its latest value, in increasing order of
// Value.Seq, and returns the extended slice; nothing after Close. A change that happens while Next runs is returned
// now or by the next call, never lost.
func (s *Subscription) Next(dst []Change) []Change {
	if s.closed.Load() {
		return dst
	}
	s.nextMu.Lock()
	defer s.nextMu.Unlock()
	select {
	case <-s.ready: // what is pending now, Next takes; writers signal again for what comes after
	default:
	}
	start := len(dst)
	for sw := range s.summary {
		for sum := s.summary[sw].Swap(0); sum != 0; sum &= sum - 1 {
			pi := sw*64 + bits.TrailingZeros64(sum)
			p := s.pages[pi]
			for w := range p.dirty {
				if p.dirty[w].Load() == 0 {
					continue
				}
				base := Handle(pi*pagePoints + w*64)
				for d := p.dirty[w].Swap(0); d != 0; d &= d - 1 {
					h := base + Handle(bits.TrailingZeros64(d))
					dst = append(dst, Change{Point: h, Value: s.c.slots[h].load()})
				}
			}
		}
	}
	s.keys = sortBySeq(dst[start:], s.keys[:0])
	if cap(s.keys) > keepKeys {
		s.keys = nil // a rare large Next: let the collector have it
	}
	return dst
}

// sortBySeq sorts changes by Value.Seq, using scratch, and returns scratch for reuse. Each change has its own Seq, so
// the order is total. It sorts 8-byte keys, the Seq's offset from the smallest above the change's position, with a
// radix sort on the offset's bits, and then moves each change once: sorting the 56-byte changes themselves costs
// several times more.
func sortBySeq(changes []Change, scratch []uint64) []uint64 {
	n := len(changes)
	if n < 2 {
		return scratch
	}
	lo, hi := changes[0].Value.Seq, changes[0].Value.Seq
	for i := range changes {
		lo, hi = min(lo, changes[i].Value.Seq), max(hi, changes[i].Value.Seq)
	}
	if hi-lo > math.MaxUint32 || n > math.MaxInt32 {
		slices.SortFunc(changes, func(a, b Change) int { return cmp.Compare(a.Value.Seq, b.Value.Seq) })
		return scratch
	}
	scratch = slices.Grow(scratch[:0], 2*n)[:2*n]
	keys, tmp := scratch[:n], scratch[n:]
	for i := range changes {
		keys[i] = (changes[i].Value.Seq-lo)<<32 | uint64(i)
	}
	if n < 128 {
		slices.Sort(keys)
	} else {
		// LSD radix sort, a byte at a time, over the offset bits in use.
		for shift := 32; shift < 32+bits.Len64(hi-lo); shift += 8 {
			var count [256]int
			for _, k := range keys {
				count[k>>shift&0xff]++
			}
			sum := 0
			for d, c := range count {
				count[d] = sum
				sum += c
			}
			for _, k := range keys {
				d := k >> shift & 0xff
				tmp[count[d]] = k
				count[d]++
			}
			keys, tmp = tmp, keys
		}
	}
	// Move each change to its place along the cycles of the permutation: position j takes the change at
	// keys[j]&from; a visited position gets the done bit.
	const from, done = 1<<31 - 1, 1 << 31
	for j := range keys {
		if keys[j]&done != 0 {
			continue
		}
		first := changes[j]
		cur := j
		for {
			src := int(keys[cur] & from)
			keys[cur] |= done
			if src == j {
				changes[cur] = first
				break
			}
			changes[cur] = changes[src]
			cur = src
		}
	}
	return scratch
}

// Resync marks every point of the filter pending, so that the next Next returns each with its present value: for a
// subscriber that starts, or that lost what it had.
func (s *Subscription) Resync() {
	s.nextMu.Lock()
	defer s.nextMu.Unlock()
	marked := false
	for pi, p := range s.pages {
		if p == nil {
			continue
		}
		for w := range p.want {
			if p.want[w] != 0 {
				p.dirty[w].Or(p.want[w])
				marked = true
			}
		}
		s.summary[pi/64].Or(1 << (pi % 64))
	}
	if marked {
		s.signal()
	}
}

// Close ends the subscription: writers stop marking it, and Next returns nothing. Close is idempotent.
func (s *Subscription) Close() {
	if s.closed.Swap(true) {
		return
	}
	c := s.c
	c.subsMu.Lock()
	defer c.subsMu.Unlock()
	old := *c.subs.Load()
	subs := make([]*Subscription, 0, len(old)-1)
	for _, o := range old {
		if o != s {
			subs = append(subs, o)
		}
	}
	c.subs.Store(&subs)
}

// signal tells the subscriber that changes are pending, without waiting.
func (s *Subscription) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// mark records changed points as pending where the filter wants them, and signals when one was not pending yet. A
// point already pending costs a load.
func (s *Subscription) mark(words []wordBits) {
	fresh := false
	for _, wb := range words {
		if s.markWord(int(wb.word), wb.bits) {
			fresh = true
		}
	}
	if fresh {
		s.signal()
	}
}

// markWord sets the bits m of dirty word w (counted from handle 0) that the filter wants, and reports whether one
// of them was not set.
func (s *Subscription) markWord(w int, m uint64) bool {
	pi := w / pageWords
	p := s.pages[pi]
	if p == nil {
		return false
	}
	i := w % pageWords
	m &= p.want[i]
	if m == 0 {
		return false
	}
	d := &p.dirty[i]
	if d.Load()&m == m {
		return false
	}
	old := d.Or(m)
	if old == 0 {
		s.summary[pi/64].Or(1 << (pi % 64))
	}
	return old&m != m
}
