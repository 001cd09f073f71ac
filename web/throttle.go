package web

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig bounds login attempts. After Free failures of an account, or from a client address, within Window,
// each further failure locks that key for Base, doubling with every failure up to Max. A lock refuses every attempt,
// right or wrong, until it ends. A success clears the account's failures (not the address's). Password checks
// under way count as failures until they end (begin): guesses sent at once get no more checks than guesses sent
// one after the other, Free+1 before the lock.
type ThrottleConfig struct {
	Free    int           // failures allowed before locks start; default 5
	Window  time.Duration // failures older than this are forgotten; default 15 min
	Base    time.Duration // the first lock; default 2 s
	Max     time.Duration // the longest lock; default 15 min
	MaxKeys int           // keys remembered per kind (accounts, addresses); default 10000
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	if c.Free <= 0 {
		c.Free = 5
	}
	if c.Window <= 0 {
		c.Window = 15 * time.Minute
	}
	if c.Base <= 0 {
		c.Base = 2 * time.Second
	}
	if c.Max <= 0 {
		c.Max = 15 * time.Minute
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 10000
	}
	return c
}

// throttle counts failed logins per account and per client address, in bounded memory.
type throttle struct {
	cfg ThrottleConfig

	mu    sync.Mutex // guards the maps and their entries
	users map[string]*failures
	addrs map[string]*failures
}

// failures are the recent failed logins of one key.
type failures struct {
	n       int       // failures since first
	first   time.Time // the first failure of the window
	last    time.Time
	until   time.Time // locked until then
	pending int       // password checks under way (begin, not yet ended)
}

// counted returns the failures of f that count at now: none once the window has passed, unless locked.
func (t *throttle) counted(f *failures, now time.Time) int {
	if f.n > 0 && now.Sub(f.first) > t.cfg.Window && !f.until.After(now) {
		return 0
	}
	return f.n
}

func newThrottle(cfg ThrottleConfig) *throttle {
	return &throttle{cfg: cfg.withDefaults(), users: map[string]*failures{}, addrs: map[string]*failures{}}
}

// maxUserKey is the longest account name the throttle keeps as it is: user names have at most 64 bytes.
const maxUserKey = 64

// userKey normalises an account name for throttling. A longer name (no user has one) is kept as its hash: the
// throttle remembers MaxKeys names, and each in bounded size, however long the names guessed.
func userKey(name string) string {
	k := strings.ToLower(strings.TrimSpace(name))
	if len(k) > maxUserKey {
		sum := sha256.Sum256([]byte(k))
		return "#" + hex.EncodeToString(sum[:])
	}
	return k
}

// addrKey is the client address for throttling: the IPv4 address, or the /64 of an IPv6 address (one host
// usually has a whole /64).
func addrKey(client string) string {
	a, err := netip.ParseAddr(client)
	if err != nil {
		return client
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// attempt is a password check that begin let through. End it with fail or succeed; abandon (which does nothing
// after either) ends a check that came to no verdict.
type attempt struct {
	t          *throttle
	user, addr string
	ended      bool
}

// begin asks to check a password of user from client at now. It returns the attempt and 0 when the check may go
// ahead, counted as under way until it ends; or how long to wait when the account or the address is locked, or
// when the checks already under way could use up the failures left before the lock: each might fail. Sequential
// attempts are throttled exactly as before: Free+1 checks before the first lock, then one after each lock.
func (t *throttle) begin(user, client string, now time.Time) (*attempt, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	uk, ak := userKey(user), addrKey(client)
	var d time.Duration
	for _, f := range []*failures{t.users[uk], t.addrs[ak]} {
		switch {
		case f == nil:
		case f.until.After(now):
			d = max(d, f.until.Sub(now))
		case f.pending > 0 && t.counted(f, now)+f.pending > t.cfg.Free:
			// The checks under way may use up what is left (past Free, one at a time): they decide first.
			d = max(d, t.cfg.Base)
		}
	}
	if d > 0 {
		return nil, d
	}
	t.pend(t.users, uk, now)
	t.pend(t.addrs, ak, now)
	return &attempt{t: t, user: uk, addr: ak}, 0
}

// pend counts a check under way for key in m; t.mu is held.
func (t *throttle) pend(m map[string]*failures, key string, now time.Time) {
	f := m[key]
	if f == nil {
		if len(m) >= t.cfg.MaxKeys && !t.evict(m, now) {
			return // full of locked keys: this one is not tracked (its other key still is)
		}
		f = &failures{first: now}
		m[key] = f
	}
	f.pending++
}

// unpend ends a check under way for key in m, and forgets a key with nothing left to remember; t.mu is held.
func (t *throttle) unpend(m map[string]*failures, key string, now time.Time) {
	f := m[key]
	if f == nil {
		return
	}
	if f.pending > 0 {
		f.pending--
	}
	if f.pending == 0 && t.counted(f, now) == 0 && !f.until.After(now) {
		delete(m, key)
	}
}

// fail ends the attempt as a failed login.
func (a *attempt) fail(now time.Time) {
	a.end(now, func(t *throttle) {
		t.failIn(t.users, a.user, now)
		t.failIn(t.addrs, a.addr, now)
	})
}

// succeed ends the attempt as a login: the account's failures are cleared (the address's stay).
func (a *attempt) succeed(now time.Time) {
	a.end(now, func(t *throttle) {
		if f := t.users[a.user]; f != nil {
			f.n, f.until = 0, time.Time{}
		}
	})
}

// abandon ends an attempt that came to no verdict (an error before the check); nothing after fail or succeed.
func (a *attempt) abandon(now time.Time) { a.end(now, nil) }

// end ends the attempt once (a nil attempt is none): verdict, when given, records the outcome under the
// throttle's lock, and the check is no longer under way for the account and the address.
func (a *attempt) end(now time.Time, verdict func(t *throttle)) {
	if a == nil || a.ended {
		return
	}
	a.ended = true
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if verdict != nil {
		verdict(t)
	}
	t.unpend(t.users, a.user, now)
	t.unpend(t.addrs, a.addr, now)
}

// failIn counts a failure of key in m; t.mu is held.
func (t *throttle) failIn(m map[string]*failures, key string, now time.Time) {
	f := m[key]
	if f != nil && t.counted(f, now) == 0 {
		f.n, f.first = 0, now // the window passed (or nothing failed yet): start afresh, keeping the checks under way
	}
	if f == nil {
		if len(m) >= t.cfg.MaxKeys && !t.evict(m, now) {
			return // full of locked keys: this one is not tracked (its other key still is)
		}
		f = &failures{first: now}
		m[key] = f
	}
	f.n++
	f.last = now
	if extra := f.n - t.cfg.Free; extra > 0 {
		d := t.cfg.Base
		for i := 1; i < extra && d < t.cfg.Max; i++ {
			d *= 2
		}
		f.until = now.Add(min(d, t.cfg.Max))
	}
}

// evict makes room in m: it drops every entry whose window and lock have passed, and if none has, the unlocked
// entry with the oldest last failure. It reports whether there is room. t.mu is held.
func (t *throttle) evict(m map[string]*failures, now time.Time) bool {
	var oldest string
	var oldestAt time.Time
	for k, f := range m {
		if f.until.After(now) || f.pending > 0 {
			continue
		}
		if now.Sub(f.first) > t.cfg.Window {
			delete(m, k)
			continue
		}
		if oldest == "" || f.last.Before(oldestAt) {
			oldest, oldestAt = k, f.last
		}
	}
	if len(m) < t.cfg.MaxKeys {
		return true
	}
	if oldest != "" {
		delete(m, oldest)
		return true
	}
	return false
}
