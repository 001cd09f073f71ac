package web

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig bounds login attempts. After Free failures of an account, or from a client address, within Window,
// each further failure locks that key for Base, doubling with every failure up to Max. A lock refuses every attempt,
// right or wrong, until it ends. A success clears the account's failures (not the address's).
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
	n     int       // failures since first
	first time.Time // the first failure of the window
	last  time.Time
	until time.Time // locked until then
}

func newThrottle(cfg ThrottleConfig) *throttle {
	return &throttle{cfg: cfg.withDefaults(), users: map[string]*failures{}, addrs: map[string]*failures{}}
}

// userKey normalises an account name for throttling.
func userKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

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

// wait returns how long the account or the address is still locked at now; 0 when neither is.
func (t *throttle) wait(user, client string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var d time.Duration
	for _, f := range []*failures{t.users[userKey(user)], t.addrs[addrKey(client)]} {
		if f != nil && f.until.After(now) {
			d = max(d, f.until.Sub(now))
		}
	}
	return d
}

// fail records a failed login.
func (t *throttle) fail(user, client string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failIn(t.users, userKey(user), now)
	t.failIn(t.addrs, addrKey(client), now)
}

// succeed clears the account's failures.
func (t *throttle) succeed(user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.users, userKey(user))
}

// failIn counts a failure of key in m; t.mu is held.
func (t *throttle) failIn(m map[string]*failures, key string, now time.Time) {
	f := m[key]
	if f != nil && now.Sub(f.first) > t.cfg.Window && !f.until.After(now) {
		f = nil // the window passed: start afresh
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
		if f.until.After(now) {
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
