package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hmi/demo"
	"hmi/store"
	"hmi/web"
)

type apiPoint struct {
	ID      string
	Link    string
	Kind    string
	Value   *float64
	Quality map[string]bool
}

func (c *apiClient) points() map[string]apiPoint {
	c.t.Helper()
	code, body := c.get("/api/v1/points")
	var ps []apiPoint
	if code != http.StatusOK || json.Unmarshal(body, &ps) != nil {
		c.t.Fatalf("points: %d %s", code, body)
	}
	out := map[string]apiPoint{}
	for _, p := range ps {
		out[p.ID] = p
	}
	return out
}

// waitValue waits up to 10 s for cond to hold of the point's value.
func (c *apiClient) waitValue(id, what string, cond func(float64) bool) float64 {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := c.points()[id]
		if p.Value != nil && cond(*p.Value) {
			return *p.Value
		}
		if time.Now().After(deadline) {
			v := "no value"
			if p.Value != nil {
				v = fmt.Sprint(*p.Value)
			}
			c.t.Fatalf("%s: %s never came (%s)", id, what, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// command selects and executes (SBO) or executes directly, and wants success.
func (c *apiClient) command(id string, value float64) {
	c.t.Helper()
	code, rec := c.post("/api/v1/points/"+id+"/select", map[string]any{"value": value})
	if code != http.StatusOK {
		c.t.Fatalf("command %s=%v: %d %v", id, value, code, rec)
	}
	if rec["state"] == "selected" {
		code, rec = c.post("/api/v1/commands/"+rec["id"].(string)+"/execute", map[string]any{})
	}
	cid, _ := rec["id"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for code == http.StatusOK && rec["state"] != "terminated" && rec["state"] != "confirmed" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		var body []byte
		code, body = c.get("/api/v1/commands/" + cid)
		rec = nil
		json.Unmarshal(body, &rec)
	}
	if code != http.StatusOK || (rec["state"] != "terminated" && rec["state"] != "confirmed") {
		c.t.Fatalf("command %s=%v: %d %v", id, value, code, rec)
	}
}

// TestDemo runs the embedded demo as 'hmi' does (on free ports) and checks
// what a newcomer sees: the accounts, every point of both RTUs (the TLS one
// included) good, and a plant that behaves: a breaker that opens drops its
// feeder's load, a tap change moves the voltage, a trip raises an alarm.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	free := demo.Addresses{HTTP: "127.0.0.1:0", Metrics: "127.0.0.1:0", North: "127.0.0.1:0", South: "127.0.0.1:0"}
	var out bytes.Buffer
	ctx := context.Background()
	cfg, err := prepareDemo(ctx, dir, free, false, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"admin ", "engineer ", "operator ", "viewer ", "open http://127.0.0.1:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's banner lacks %q:\n%s", want, out.String())
		}
	}
	if n := len(cfg.Points); n < 50 || n > 70 {
		t.Errorf("%d points, want about 60", n)
	}
	pw, err := readAccounts(filepath.Join(dir, "accounts.txt"))
	if err != nil || len(pw) != 4 {
		t.Fatalf("accounts: %v %v", pw, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "accounts.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("accounts.txt: %v %v, want mode 0600", fi.Mode(), err)
	}

	base := runHMI(t, cfg).base

	op := login(t, base, "operator", pw["operator"].password)
	eng := login(t, base, "engineer", pw["engineer"].password)

	// Every point good, from both RTUs.
	deadline := time.Now().Add(15 * time.Second)
	for {
		ps := op.points()
		var bad []string
		links := map[string]int{}
		for _, p := range ps {
			if p.Value == nil || p.Quality["initial"] || p.Quality["commfail"] || p.Quality["iv"] || p.Quality["stale"] {
				bad = append(bad, p.ID)
			}
			links[p.Link]++
		}
		if len(bad) == 0 && len(ps) == len(cfg.Points) && links["north"] > 20 && links["south"] > 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not good after 15 s: %v (links %v)", bad, links)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Open feeder 2's breaker: its current and power drop to 0.
	op.waitValue("north.f2.current", "a load current", func(v float64) bool { return v > 10 })
	op.command("north.f2.breaker", 1)
	op.waitValue("north.f2.current", "no current after opening the breaker", func(v float64) bool { return v == 0 })
	op.waitValue("north.f2.p", "no power after opening the breaker", func(v float64) bool { return v == 0 })
	op.command("north.f2.breaker", 2)
	op.waitValue("north.f2.current", "the load back after closing", func(v float64) bool { return v > 10 })

	// The tap changer is interlocked while the regulator is in auto.
	code, rec := eng.post("/api/v1/points/south.t2.tap/select", map[string]any{"value": 2})
	if code == http.StatusOK {
		t.Fatalf("tap with the regulator in auto: %d %v, want a refusal", code, rec)
	}
	eng.command("south.t2.avr", 0)
	v0 := op.points()["south.bus.voltage"].Value
	eng.command("south.t2.tap", 2) // raise
	eng.command("south.t2.tap", 2)
	op.waitValue("south.bus.voltage", "a higher voltage after two taps up", func(v float64) bool { return v > *v0+0.3 })

	// A test trip of feeder 4's protection opens its breaker and raises an alarm.
	op.command("south.f4.trip", 1)
	op.waitValue("south.f4.breaker", "the breaker opened by the trip", func(v float64) bool { return v == 1 })
	op.waitValue("south.f4.current", "no current after the trip", func(v float64) bool { return v == 0 })
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, body := op.get("/api/v1/alarms")
		if strings.Contains(string(body), "south.f4.trip") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alarm for the trip: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDemoAccountsKept(t *testing.T) {
	dir := t.TempDir()
	free := demo.Addresses{HTTP: "127.0.0.1:0", Metrics: "127.0.0.1:0", North: "127.0.0.1:0", South: "127.0.0.1:0"}
	ctx := context.Background()
	if _, err := prepareDemo(ctx, dir, free, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	first, _ := readAccounts(filepath.Join(dir, "accounts.txt"))
	pki, _ := os.ReadFile(filepath.Join(dir, "pki", demo.CAFile))
	var out bytes.Buffer
	if _, err := prepareDemo(ctx, dir, free, false, &out); err != nil {
		t.Fatal(err)
	}
	second, _ := readAccounts(filepath.Join(dir, "accounts.txt"))
	if fmt.Sprint(first) != fmt.Sprint(second) || !strings.Contains(out.String(), first["admin"].password) {
		t.Errorf("the second start changed the accounts: %v -> %v", first, second)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "pki", demo.CAFile)); !bytes.Equal(pki, again) {
		t.Error("the second start made a new CA")
	}
	// A password changed since (here the viewer's, in the store) is said to be changed, not shown stale.
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := web.HashPassword("a new password of the viewer")
	if err := st.UpdatePassword(ctx, "viewer", hash); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	if _, err := prepareDemo(ctx, dir, free, false, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(changed by you)") || strings.Contains(out.String(), first["viewer"].password) {
		t.Errorf("after the viewer's password changed, the banner says:\n%s", out.String())
	}
	if _, err := prepareDemo(ctx, dir, free, true, io.Discard); err != nil {
		t.Fatal(err)
	}
	third, _ := readAccounts(filepath.Join(dir, "accounts.txt"))
	if third["admin"] == first["admin"] {
		t.Error("--reset kept the admin password")
	}
}
