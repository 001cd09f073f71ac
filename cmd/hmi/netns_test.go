package main

// Network faults between the HMI and a station, made in a network namespace that the test creates: the cable
// pulled (a half-open TCP connection), packet loss and delay, and an address that never answers. The station is
// the real simulator, in-process, listening inside the namespace; the HMI is the real server, in this namespace.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"hmi/config"
	"hmi/frontstation/iec104"
	"hmi/sim"
)

// netns is a network namespace joined to this one by a veth pair: this side hostIP, the namespace's side nsIP,
// and deadIP, routed into the namespace, which drops it (no host has it and the namespace does not forward).
type netns struct {
	t                    *testing.T
	name                 string
	hostIf, nsIf         string
	hostIP, nsIP, deadIP string
}

var netnsSeq atomic.Int32

// netnsChild is set in the environment of the test process that runTestInNetns starts.
const netnsChild = "HMI_NETNS_CHILD"

// runTestInNetns makes the calling test run in a network namespace of its own and reports whether the caller is
// that run (go on) or not (return: the run in the namespace has been made, its output logged). The interfaces and
// routes the test makes are then invisible to this namespace: made here, they are a network change to everything
// else on the machine (Chromium of the browser tests, running at the same time, fails loads with
// ERR_NETWORK_CHANGED). It skips the test when this process may not (not root, no ip command), except in CI,
// where the test must run.
func runTestInNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsChild) != "" {
		return true
	}
	why := ""
	if os.Geteuid() != 0 {
		why = "not root"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "no ip command (iproute2)"
	}
	if why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("network fault tests need root and iproute2 in CI: %s", why)
		}
		t.Skipf("network fault tests skipped: %s (they create a network namespace: run as root, as CI does)", why)
	}
	outer := fmt.Sprintf("hmi-test-outer-%d", os.Getpid())
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", outer)
	defer run("netns", "del", outer)
	run("-n", outer, "link", "set", "lo", "up") // the HMI serves on 127.0.0.1 there
	cmd := exec.Command("ip", "netns", "exec", outer, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), netnsChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("the test in network namespace %s:\n%s", outer, out)
	if err != nil {
		t.Fatalf("the test in network namespace %s: %v", outer, err)
	}
	return false
}

// newNetns creates the namespace and the veth pair, removed when the test ends; the test must run in a network
// namespace of its own (runTestInNetns).
func newNetns(t *testing.T) *netns {
	t.Helper()
	n := int(netnsSeq.Add(1))
	id := (os.Getpid()*7 + n) % 250
	ns := &netns{
		t:      t,
		name:   fmt.Sprintf("hmi-test-%d-%d", os.Getpid(), n),
		hostIf: fmt.Sprintf("hmh%d", id),
		nsIf:   fmt.Sprintf("hmn%d", id),
		hostIP: fmt.Sprintf("10.240.%d.1", id),
		nsIP:   fmt.Sprintf("10.240.%d.2", id),
		deadIP: fmt.Sprintf("10.241.%d.9", id),
	}
	ns.run(t, "ip", "netns", "add", ns.name)
	t.Cleanup(func() {
		// Deleting the namespace deletes its end of the veth pair, and with it ours and the route.
		if out, err := exec.Command("ip", "netns", "del", ns.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns.name, err, out)
		}
	})
	ns.run(t, "ip", "link", "add", ns.hostIf, "type", "veth", "peer", "name", ns.nsIf, "netns", ns.name)
	ns.run(t, "ip", "addr", "add", ns.hostIP+"/30", "dev", ns.hostIf)
	ns.run(t, "ip", "link", "set", ns.hostIf, "up")
	ns.in(t, "ip", "addr", "add", ns.nsIP+"/30", "dev", ns.nsIf)
	ns.in(t, "ip", "link", "set", ns.nsIf, "up")
	ns.in(t, "ip", "link", "set", "lo", "up")
	ns.run(t, "ip", "route", "add", ns.deadIP+"/32", "via", ns.nsIP)
	return ns
}

// run runs a command in this namespace and fails the test when it fails.
func (ns *netns) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// in runs a command inside the namespace.
func (ns *netns) in(t *testing.T, name string, args ...string) {
	t.Helper()
	ns.run(t, "ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// try runs a command inside the namespace and reports whether it worked.
func (ns *netns) try(name string, args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.name, name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// listen opens a TCP listener inside the namespace. A socket belongs to the namespace it was created in, so the
// listener is made on a thread that joined the namespace; that thread is never reused (its goroutine ends
// locked to it, so the runtime discards it).
func (ns *netns) listen(addr string) net.Listener {
	ns.t.Helper()
	type result struct {
		ln  net.Listener
		err error
	}
	rc := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		f, err := os.Open(filepath.Join("/run/netns", ns.name))
		if err != nil {
			rc <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			rc <- result{err: fmt.Errorf("setns %s: %w", ns.name, err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		rc <- result{ln, err}
	}()
	r := <-rc
	if r.err != nil {
		ns.t.Fatal(r.err)
	}
	return r.ln
}

// netnsStation is the simulator in the namespace and the events it reported.
type netnsStation struct {
	srv *sim.Server

	mu   sync.Mutex
	sent []float64 // values of the step position reported, in order
}

const (
	netnsStepIOA = 300
	netnsT1      = 3 * time.Second
	netnsT3      = 500 * time.Millisecond
	netnsT0      = 2 * time.Second
)

// step reports the next value of the step position (-64..63, round and round), time-tagged.
func (st *netnsStation) step() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	v := float64(len(st.sent)%128 - 64)
	if err := st.srv.Set(netnsStepIOA, v, 0); err != nil {
		return err
	}
	st.sent = append(st.sent, v)
	return nil
}

func (st *netnsStation) reported() []float64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.sent)
}

// TestNetworkFaults: with the cable pulled the points show commfail within t1 + 1 s (t3 is 0.5 s here: a silent
// link is found after t3 + t1), the link reconnects when the cable is back; packet loss and delay do not lose
// events; an address that never answers fails each attempt after t0. The station has an event buffer, as real
// ones have: every event it reported reaches the journal exactly once, across the reconnect (the events the
// station sends again because their acknowledgement was lost are recognised).
func TestNetworkFaults(t *testing.T) {
	if !runTestInNetns(t) {
		return
	}
	ns := newNetns(t)
	apci := iec104.Config{K: 12, W: 8, T0: netnsT0, T1: netnsT1, T2: time.Second, T3: netnsT3}
	srv, err := sim.New(sim.Options{
		Config: sim.Config{CA: 1, Points: []sim.Point{
			{IOA: netnsStepIOA, Kind: sim.Step, TimeTag: true},
			{IOA: 100, Kind: sim.Single},
		}},
		Link:        apci,
		EventBuffer: sim.MaxEventBuffer,
		Logger:      slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := &netnsStation{srv: srv}
	ln := ns.listen(net.JoinHostPort(ns.nsIP, "2404"))
	simCtx, stopSim := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- srv.Run(simCtx, ln) }()
	t.Cleanup(func() {
		stopSim()
		if err := <-simDone; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})

	dir := t.TempDir()
	text := fmt.Sprintf(`data_dir: %s
http: {listen: "127.0.0.1:0"}
links:
  - {name: rtu, addresses: ["%s:2404"], ca: 1, t0: %v, t1: %v, t2: 1s, t3: %v,
     reconnect: {min: 200ms, max: 1s}, alarm: {delay: 0s}}
  - {name: dead, addresses: ["%s:2404"], ca: 2, t0: %v, reconnect: {min: 200ms, max: 1s}}
points:
  - {id: rtu.pos, link: rtu, ioa: %d, kind: step}
  - {id: rtu.flag, link: rtu, ioa: 100, kind: single}
  - {id: dead.pos, link: dead, ioa: 300, kind: step}
`, dir, ns.nsIP, netnsT0, netnsT1, netnsT3, ns.deadIP, netnsT0, netnsStepIOA)
	cfg, err := config.Parse(filepath.Join(dir, "hmi.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	addUsers(t, cfg, "viewer", "viewer", "viewer-password-1")
	start := time.Now()
	h := runHMI(t, cfg)
	c := login(t, h.base, "viewer", "viewer-password-1")

	netnsWait(t, 20*time.Second, "link rtu active and its points good", func() bool {
		return netnsLink(c, "rtu").State == "active" && netnsPoint(c, "rtu.pos").Good
	})

	// The station reports a change every 50 ms from now to the end.
	genCtx, stopGen := context.WithCancel(context.Background())
	genDone := make(chan struct{})
	go func() {
		defer close(genDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-genCtx.Done():
				return
			case <-tick.C:
				if err := st.step(); err != nil {
					t.Errorf("simulator Set: %v", err)
					return
				}
			}
		}
	}()
	defer stopGen()
	time.Sleep(2 * time.Second)

	t.Run("cable pulled", func(t *testing.T) {
		before := netnsLink(c, "rtu").Stats.Reconnects
		pulled := time.Now()
		ns.in(t, "ip", "link", "set", ns.nsIf, "down") // no FIN, no RST: both ends see silence
		netnsWait(t, netnsT3+netnsT1+5*time.Second, "commfail on rtu.pos", func() bool {
			return netnsPoint(c, "rtu.pos").CommFail
		})
		found := time.Since(pulled)
		t.Logf("commfail shown %v after the cable was pulled (t3 %v + t1 %v = %v)", found.Round(time.Millisecond),
			netnsT3, netnsT1, netnsT3+netnsT1)
		if found > netnsT1+time.Second {
			t.Errorf("commfail shown %v after the cable was pulled, want within t1 + 1 s = %v", found, netnsT1+time.Second)
		}
		// Long enough for the station to give up too (its frames stay unacknowledged for t1) and to buffer
		// what happens meanwhile.
		time.Sleep(netnsT1 + 2*time.Second)
		if n, _ := srv.BufferedEvents(); n == 0 {
			t.Errorf("the station buffered no events while the cable was out")
		}
		restored := time.Now()
		ns.in(t, "ip", "link", "set", ns.nsIf, "up")
		netnsWait(t, 15*time.Second, "rtu active again and rtu.pos good", func() bool {
			return netnsLink(c, "rtu").State == "active" && netnsPoint(c, "rtu.pos").Good
		})
		t.Logf("link active and points good %v after the cable was back", time.Since(restored).Round(time.Millisecond))
		if after := netnsLink(c, "rtu").Stats.Reconnects; after <= before {
			t.Errorf("reconnects %d -> %d, want a reconnection", before, after)
		}
	})

	t.Run("loss and delay", func(t *testing.T) {
		undo := ns.impair(t)
		from := time.Now()
		time.Sleep(10 * time.Second)
		undo()
		to := time.Now()
		netnsWait(t, 15*time.Second, "rtu active and rtu.pos good after the impairment", func() bool {
			return netnsLink(c, "rtu").State == "active" && netnsPoint(c, "rtu.pos").Good
		})
		// What the impairment did: the delay of the events the station time-tagged meanwhile.
		var delays []time.Duration
		for _, e := range netnsJournal(t, c, "rtu.pos") {
			if e.Time.After(from) && e.Time.Before(to) {
				delays = append(delays, e.Recv.Sub(e.Time))
			}
		}
		slices.Sort(delays)
		if len(delays) == 0 {
			t.Fatal("no events journaled while the link was impaired")
		}
		t.Logf("%d events while impaired: delay median %v, max %v", len(delays),
			delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond))
	})

	t.Run("address never answers", func(t *testing.T) {
		// The dead link has been dialling since the start: each attempt must have waited t0, none may have
		// failed sooner (which a refused or unreachable address would), and its point shows commfail.
		elapsed := time.Since(start)
		l := netnsLink(c, "dead")
		attempts := l.Stats.ByKind["connect"]
		if l.State == "active" || !netnsPoint(c, "dead.pos").CommFail {
			t.Errorf("dead link %q, dead.pos commfail %v; want not active and commfail", l.State, netnsPoint(c, "dead.pos").CommFail)
		}
		most := uint64(elapsed/netnsT0) + 1
		least := max(uint64(elapsed/(netnsT0+time.Second)), 1) - 1
		t.Logf("%d failed attempts in %v (t0 %v, backoff at most 1 s): between %d and %d expected", attempts,
			elapsed.Round(time.Millisecond), netnsT0, least, most)
		if attempts > most || attempts < least {
			t.Errorf("%d failed attempts in %v, want %d..%d: each should end after t0 = %v", attempts, elapsed, least, most, netnsT0)
		}
	})

	// Every event the station reported is in the journal once, in order.
	stopGen()
	<-genDone
	want := st.reported()
	var got []float64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got = got[:0]
		for _, e := range netnsJournal(t, c, "rtu.pos") {
			got = append(got, e.Value)
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	if !slices.Equal(got, want) {
		first := 0
		for first < min(len(got), len(want)) && got[first] == want[first] {
			first++
		}
		evs := netnsJournal(t, c, "rtu.pos")
		for i := max(0, first-5); i < min(len(evs), first+5); i++ {
			t.Logf("journal #%d: %v at %v, received %v", i, evs[i].Value, evs[i].Time.Format("15:04:05.000"),
				evs[i].Recv.Format("15:04:05.000"))
		}
		t.Fatalf("journal has %d time-tagged events of rtu.pos, the station reported %d; they differ from #%d:\n got %v\nwant %v",
			len(got), len(want), first, got[first:min(len(got), first+10)], want[first:min(len(want), first+10)])
	}
	t.Logf("%d events reported, all journaled once and in order (the HMI recognised %d repeated ones)", len(want),
		netnsLink(c, "rtu").Stats.Replays)
}

// impair makes the veth lossy and slow in both directions and returns the function that undoes it. netem does
// both when the kernel has it; otherwise nftables drops packets at random and a token bucket slows the link to
// 19.2 kbit/s (a radio link: serialisation and queueing delay).
func (ns *netns) impair(t *testing.T) (undo func()) {
	t.Helper()
	if err := ns.try("tc", "qdisc", "add", "dev", ns.nsIf, "root", "netem", "delay", "100ms", "20ms", "loss", "5%"); err == nil {
		ns.run(t, "tc", "qdisc", "add", "dev", ns.hostIf, "root", "netem", "delay", "100ms", "20ms", "loss", "5%")
		t.Log("netem: 100 ms +- 20 ms delay and 5 % loss each way")
		return func() {
			ns.in(t, "tc", "qdisc", "del", "dev", ns.nsIf, "root")
			ns.run(t, "tc", "qdisc", "del", "dev", ns.hostIf, "root")
		}
	} else {
		t.Logf("netem is not available (%v): nftables loss and a token bucket instead", err)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("neither netem nor nft (nftables) is available for the loss test")
		}
		t.Skip("neither netem nor nft (nftables): loss and delay not tested")
	}
	ns.in(t, "nft", "add table inet hmiloss")
	ns.in(t, "nft", "add chain inet hmiloss in { type filter hook input priority 0; }")
	ns.in(t, "nft", "add chain inet hmiloss out { type filter hook output priority 0; }")
	ns.in(t, "nft", "add rule inet hmiloss in tcp dport 2404 numgen random mod 100 < 5 drop")
	ns.in(t, "nft", "add rule inet hmiloss out tcp sport 2404 numgen random mod 100 < 5 drop")
	for _, dev := range []struct {
		in  bool
		dev string
	}{{true, ns.nsIf}, {false, ns.hostIf}} {
		args := []string{"qdisc", "add", "dev", dev.dev, "root", "tbf", "rate", "19200bit", "burst", "1540", "latency", "2s"}
		if dev.in {
			ns.in(t, "tc", args...)
		} else {
			ns.run(t, "tc", args...)
		}
	}
	t.Log("5 % loss each way (nftables), 19.2 kbit/s each way (tbf)")
	return func() {
		ns.in(t, "nft", "delete table inet hmiloss")
		ns.in(t, "tc", "qdisc", "del", "dev", ns.nsIf, "root")
		ns.run(t, "tc", "qdisc", "del", "dev", ns.hostIf, "root")
	}
}

type netnsLinkJSON struct {
	State string `json:"state"`
	Stats struct {
		Reconnects uint64            `json:"reconnects"`
		Replays    uint64            `json:"replays"`
		ByKind     map[string]uint64 `json:"errors_by_kind"`
	} `json:"stats"`
}

func netnsLink(c *apiClient, name string) netnsLinkJSON {
	c.t.Helper()
	code, body := c.get("/api/v1/links")
	var out []struct {
		Name string `json:"name"`
		netnsLinkJSON
	}
	if code != 200 {
		c.t.Fatalf("GET /api/v1/links: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		c.t.Fatalf("GET /api/v1/links: %v: %s", err, body)
	}
	for _, l := range out {
		if l.Name == name {
			return l.netnsLinkJSON
		}
	}
	c.t.Fatalf("no link %s in %s", name, body)
	return netnsLinkJSON{}
}

type netnsPointState struct{ Good, CommFail bool }

func netnsPoint(c *apiClient, id string) netnsPointState {
	c.t.Helper()
	code, body := c.get("/api/v1/points/" + url.PathEscape(id))
	var p struct {
		Quality struct {
			IV, NT, SB, BL, OV, CommFail, Stale, Initial bool
		} `json:"quality"`
	}
	if code != 200 {
		c.t.Fatalf("GET /api/v1/points/%s: %d %s", id, code, body)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		c.t.Fatalf("GET /api/v1/points/%s: %v: %s", id, err, body)
	}
	q := p.Quality
	return netnsPointState{Good: !(q.IV || q.NT || q.SB || q.BL || q.OV || q.CommFail || q.Stale || q.Initial), CommFail: q.CommFail}
}

type netnsEvent struct {
	Value      float64
	Time, Recv time.Time
}

// netnsJournal returns the point's time-tagged events in the journal, oldest first. An event without a time tag
// (an interrogation's answer, a quality change) has its receive time as its time: those are left out.
func netnsJournal(t *testing.T, c *apiClient, id string) []netnsEvent {
	t.Helper()
	var evs []netnsEvent
	cursor := ""
	for {
		code, body := c.get("/api/v1/events?limit=1000&kind=point&point=" + url.QueryEscape(id) + "&cursor=" + url.QueryEscape(cursor))
		if code != 200 {
			t.Fatalf("GET /api/v1/events: %d %s", code, body)
		}
		var page struct {
			Events []struct {
				Time, Recv *time.Time
				Value      *float64
			} `json:"events"`
			Next string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("events: %v: %s", err, body)
		}
		for _, e := range page.Events {
			if e.Value != nil && e.Time != nil && e.Recv != nil && !e.Time.Equal(*e.Recv) {
				evs = append(evs, netnsEvent{*e.Value, *e.Time, *e.Recv})
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	slices.Reverse(evs) // the API gives the newest first
	return evs
}

// netnsWait polls cond every 50 ms until it holds, failing the test after d.
func netnsWait(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
