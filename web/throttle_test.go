package web

import (
	"strconv"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	th := newThrottle(ThrottleConfig{Free: 3, Window: time.Minute, Base: time.Second, Max: 8 * time.Second, MaxKeys: 100})
	now := time.Unix(1000, 0)
	for i := range 3 {
		if d := th.wait("Op", "10.0.0.1", now); d != 0 {
			t.Fatalf("before failure %d: locked %v", i+1, d)
		}
		th.fail("op", "10.0.0.1", now)
	}
	if d := th.wait("op", "10.0.0.2", now); d != 0 {
		t.Fatalf("3 failures (free): locked %v", d)
	}
	// Each further failure locks, doubling up to Max. Names are compared without case.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		th.fail("OP", "10.0.0."+strconv.Itoa(10+i), now)
		if d := th.wait("op", "192.0.2.1", now); d != want {
			t.Fatalf("failure %d: locked %v, want %v", 4+i, d, want)
		}
		now = now.Add(want)
		if d := th.wait("op", "192.0.2.1", now); d != 0 {
			t.Fatalf("after the lock: %v", d)
		}
	}
	// A success clears the account.
	th.succeed("op")
	th.fail("op", "10.0.1.1", now)
	if d := th.wait("op", "10.0.1.2", now); d != 0 {
		t.Fatalf("after success and one failure: %v", d)
	}
	// The window: failures older than it are forgotten.
	for range 3 {
		th.fail("eng", "10.0.2.1", now)
	}
	now = now.Add(2 * time.Minute)
	th.fail("eng", "10.0.2.2", now)
	if d := th.wait("eng", "10.0.2.3", now); d != 0 {
		t.Fatalf("failures out of the window counted: %v", d)
	}
}

func TestThrottleAddresses(t *testing.T) {
	th := newThrottle(ThrottleConfig{Free: 2, Base: time.Second})
	now := time.Unix(1000, 0)
	// One IPv6 host: any address of its /64 counts alike.
	th.fail("a", "2001:db8:1:2::1", now)
	th.fail("b", "2001:db8:1:2::ffff", now)
	th.fail("c", "2001:db8:1:2:aaaa::9", now)
	if d := th.wait("z", "2001:db8:1:2::77", now); d == 0 {
		t.Error("the /64 is not locked")
	}
	if d := th.wait("z", "2001:db8:1:3::1", now); d != 0 {
		t.Error("another /64 is locked")
	}
	// IPv4 in IPv6 is the IPv4 address.
	if addrKey("::ffff:192.0.2.1") != "192.0.2.1" {
		t.Error(addrKey("::ffff:192.0.2.1"))
	}
}

func TestThrottleMemoryBound(t *testing.T) {
	th := newThrottle(ThrottleConfig{Free: 1, Base: time.Hour, Max: time.Hour, MaxKeys: 50})
	now := time.Unix(1000, 0)
	// A victim's account gets locked.
	th.fail("victim", "10.9.9.9", now)
	th.fail("victim", "10.9.9.9", now)
	// A flood of other names from many addresses cannot push the locked entry out, and memory stays bounded.
	for i := range 10000 {
		th.fail("name"+strconv.Itoa(i), "10.0."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250), now)
	}
	if len(th.users) > 50 || len(th.addrs) > 50 {
		t.Fatalf("%d users, %d addresses remembered; want at most 50", len(th.users), len(th.addrs))
	}
	if d := th.wait("victim", "10.1.1.1", now); d == 0 {
		t.Fatal("the flood unlocked the victim's account")
	}
}

// The throttle without attempts, as the tests of its counting use it (the handlers go through begin).

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
	if f := t.users[userKey(user)]; f != nil && f.pending > 0 {
		f.n, f.until = 0, time.Time{} // checks under way still count
		return
	}
	delete(t.users, userKey(user))
}
