package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"hmi/points"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/points?area=n": "/points?area=n", "//evil.example": "/", "https://evil.example": "/",
		"/\\evil.example": "/", "evil": "/", "/login?next=/x": "/", "/a\r\nSet-Cookie: x": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLive(t *testing.T) {
	a, cache := newTestApp(t, Deps{Links: oneLink{frames: []Frame{{Seq: 1, Time: time.Now(), Text: "I(0,0)"}, {Seq: 2, Sent: true, Text: "S(1)"}}}})
	id := &Identity{User: User{Name: "op", Role: RoleOperator, Areas: []string{"north"}}, Ref: "r1"}
	l := a.NewLive(id)
	defer l.Close()
	if l.Ready() != nil {
		t.Fatal("ready before subscribe")
	}
	for _, bad := range []string{`nope`, `{"type":"bogus"}`, `{"type":"subscribe","points":` + strings.Repeat(`"x",`, MaxSubscription) + `"x"]}`} {
		if _, err := l.Handle([]byte(bad)); err == nil {
			t.Errorf("%.40s: accepted", bad)
		}
	}
	snap, err := l.Handle([]byte(`{"type":"subscribe","points":["s.tap","n.brk","n.i","n.brk"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Type   string
		Points []struct{ ID, Text string }
	}
	if err := json.Unmarshal(snap, &m); err != nil {
		t.Fatalf("%s: %v", snap, err)
	}
	if m.Type != "snapshot" || len(m.Points) != 2 || m.Points[0].ID != "n.brk" || m.Points[1].ID != "n.i" || m.Points[0].Text != "—" {
		t.Fatalf("snapshot %s", snap)
	}
	if l.Points() != nil {
		t.Fatal("changes before any change")
	}
	cache.Apply([]points.Update{{Point: 0, Value: 2}, {Point: 2, Value: 9}, {Point: 0, Value: 1}})
	select {
	case <-l.Ready():
	case <-time.After(time.Second):
		t.Fatal("not ready after a change")
	}
	b := l.Points()
	if err := json.Unmarshal(b, &m); err != nil || m.Type != "points" || len(m.Points) != 1 || m.Points[0].Text != "OPEN" {
		t.Fatalf("points %s %v", b, err)
	}
	// The alarm summary: repeated only when it changes or a new alarm is announced.
	s := l.Alarms(false)
	if !strings.Contains(string(s), `"summary":{"1":{"unacked":0,"active":0}`) || !strings.Contains(string(s), `"new":false`) {
		t.Fatalf("summary %s", s)
	}
	if l.Alarms(false) != nil {
		t.Fatal("the same summary again")
	}
	if !l.NewAlarm([]string{"north/f1"}) || l.NewAlarm([]string{"south"}) || l.NewAlarm([]string{""}) {
		t.Fatal("NewAlarm does not follow the user's areas")
	}
	// Traffic: a user restricted to areas gets none; one who sees everything does.
	if b, _ := l.Handle([]byte(`{"type":"traffic","link":"l"}`)); b != nil {
		t.Fatalf("traffic for a restricted user: %s", b)
	}
	all := a.NewLive(&Identity{User: User{Name: "eng", Role: RoleEngineer}, Ref: "r2"})
	defer all.Close()
	b, err = all.Handle([]byte(`{"type":"traffic","link":"l"}`))
	if err != nil || !strings.Contains(string(b), `"frames":[{"seq":1`) || !strings.Contains(string(b), `"dir":"tx"`) {
		t.Fatalf("traffic %s %v", b, err)
	}
	if all.Traffic() != nil {
		t.Fatal("the same frames again")
	}
}

// TestCommandFeed checks that a session's clients get its commands, others not, and a client that lets its queue
// fill is marked lagging.
func TestCommandFeed(t *testing.T) {
	a, _ := newTestApp(t, Deps{})
	mine := a.NewLive(&Identity{User: User{Name: "op", Role: RoleOperator}, Ref: "s1"})
	other := a.NewLive(&Identity{User: User{Name: "op", Role: RoleOperator}, Ref: "s2"})
	defer mine.Close()
	defer other.Close()
	a.commands.publish("s1", encodeCommand(&CommandRecord{ID: "c1", State: "selected"}))
	select {
	case b := <-mine.Commands():
		if !strings.Contains(string(b), `"command":{"id":"c1"`) {
			t.Fatal(string(b))
		}
	default:
		t.Fatal("no command message")
	}
	select {
	case <-other.Commands():
		t.Fatal("another session got it")
	default:
	}
	for range commandQueue + 1 {
		a.commands.publish("s1", []byte("x"))
	}
	select {
	case <-mine.Lagging():
	default:
		t.Fatal("not lagging after an overflow")
	}
}
