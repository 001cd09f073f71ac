package web

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"hmi/alarms"
	"hmi/points"
)

// maxCloseReason is the longest reason a WebSocket close frame carries (RFC 6455 section 5.5: a control frame's
// payload is at most 125 bytes, two of them the status code). The hub sends a ProtocolError's Reason there.
const maxCloseReason = 123

// fuzzApp is newTestApp for any testing.TB (a fuzz target builds it once, outside the fuzz function).
func fuzzApp(tb testing.TB, links Links) *App {
	tb.Helper()
	cache, err := points.New(testDefs)
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := alarms.New(alarms.Defs{Points: []alarms.PointDef{{Point: "n.i",
		Limits: &alarms.LimitsDef{H: &alarms.LimitDef{Value: 100, Priority: 1}}}}}, nopJournal{}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eng.Run(ctx, cache)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	a, err := New(Config{Argon2: Argon2Params{Memory: 64, Time: 1, Threads: 1}},
		Deps{Points: cache, Alarms: eng, Accounts: noAccounts{}, Links: links})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// FuzzParseClientMessage feeds arbitrary WebSocket messages to the parser and, when it accepts them, to the
// handler of two clients (one restricted to an area, one who sees everything). The parser never panics; a refusal
// is a ProtocolError whose reason fits a close frame; an accepted message is within the limits, and encoding it
// again gives a message that parses to the same; the handler's answers are JSON.
func FuzzParseClientMessage(f *testing.F) {
	// What the pages send (static/js: ws.js keepAlive, app.js and live.js hello, links.js hello).
	f.Add([]byte(`{"type":"ping"}`))
	f.Add([]byte(`{"type":"subscribe","points":["n.brk","n.i","s.tap"]}`))
	f.Add([]byte(`{"type":"subscribe","points":[]}`))
	f.Add([]byte(`{"type":"traffic","link":"l"}`))
	f.Add([]byte(`{"type":"traffic","link":""}`))
	// What a hostile or broken client may send.
	f.Add([]byte(`{"type":"subscribe","points":["n.brk","n.brk","nope","","../x","<script>"]}`))
	f.Add([]byte(`{"type":"subscribe","points":null,"link":"l"}`))
	f.Add([]byte(`{"type":"subscribe","points":"n.brk"}`))
	f.Add([]byte(`{"type":"traffic","link":"nope"}`))
	f.Add([]byte(`{"TYPE":"ping","type":"bogus"}`))
	// An unknown type of 32 DEL or control characters made a 151-byte reason, which does not fit a close frame:
	// the socket was cut (1006) instead of closed with 1008 and the reason.
	f.Add([]byte(`{"type":"` + strings.Repeat("\x7f", 40) + `"}`))
	f.Add([]byte(`{"type":"` + strings.Repeat(`\u0001`, 40) + `"}`))
	f.Add([]byte(`{"type":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}`))
	f.Add([]byte(`{"type":"ping"} {"type":"ping"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))

	a := fuzzApp(f, oneLink{frames: []Frame{{Seq: 1, Time: time.Unix(1e9, 0), Text: "I(0,0)"}, {Seq: 2, Sent: true, Text: "S(1)"}}})
	restricted := a.NewLive(&Identity{User: User{Name: "op", Role: RoleOperator, Areas: []string{"north"}}, Ref: "r1"})
	f.Cleanup(restricted.Close)
	all := a.NewLive(&Identity{User: User{Name: "eng", Role: RoleEngineer}, Ref: "r2"})
	f.Cleanup(all.Close)

	// The limits, exactly at and one past them, once: as seeds, inputs this large make the engine spend its time
	// minimising them.
	subscribe := func(n int) []byte {
		return []byte(`{"type":"subscribe","points":[` + strings.Repeat(`"n.i",`, n-1) + `"n.i"]}`)
	}
	padded := func(n int) []byte {
		head, tail := `{"type":"ping","pad":"`, `"}`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	for _, tc := range []struct {
		msg []byte
		ok  bool
	}{{subscribe(MaxSubscription), true}, {subscribe(MaxSubscription + 1), false},
		{padded(MaxClientMessage), true}, {padded(MaxClientMessage + 1), false}} {
		if _, err := parseClientMessage(tc.msg); (err == nil) != tc.ok {
			f.Fatalf("%.50s... (%d bytes): %v, want accepted %v", tc.msg, len(tc.msg), err, tc.ok)
		}
		checkClientMessage(f, a, []*Live{restricted, all}, tc.msg)
	}

	f.Fuzz(func(t *testing.T, msg []byte) { checkClientMessage(t, a, []*Live{restricted, all}, msg) })
}

// checkClientMessage parses msg and checks the outcome, then has lives handle it (the last sees everything).
func checkClientMessage(t testing.TB, a *App, lives []*Live, msg []byte) {
	t.Helper()
	all := lives[len(lives)-1]
	m, err := parseClientMessage(msg)
	if err != nil {
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T), want *ProtocolError", err, err)
		}
		if pe.Reason == "" || len(pe.Reason) > maxCloseReason || !utf8.ValidString(pe.Reason) {
			t.Fatalf("reason %q (%d bytes): want 1..%d bytes of UTF-8 (a close frame's)", pe.Reason, len(pe.Reason), maxCloseReason)
		}
		if !reflect.DeepEqual(m, clientMessage{}) {
			t.Fatalf("a message %+v and an error", m)
		}
		// The handler refuses it the same way.
		if _, herr := all.Handle(msg); herr == nil || herr.Error() != err.Error() {
			t.Fatalf("Handle: %v, parse: %v", herr, err)
		}
		return
	}
	switch {
	case len(msg) > MaxClientMessage:
		t.Fatalf("accepted %d bytes", len(msg))
	case !json.Valid(msg):
		t.Fatal("accepted a message that is not JSON")
	case m.Type != "ping" && m.Type != "subscribe" && m.Type != "traffic":
		t.Fatalf("accepted the type %q", m.Type)
	case len(m.Points) > MaxSubscription:
		t.Fatalf("accepted %d points", len(m.Points))
	}
	// Encoded again, it parses to the same message (when the encoding, which escapes some characters the
	// input had raw, is still within the size limit).
	again, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) <= MaxClientMessage {
		m2, err := parseClientMessage(again)
		if err != nil {
			t.Fatalf("%s: accepted, but encoded again refused: %v", again, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("parsed %+v, encoded again %s, parsed %+v", m, again, m2)
		}
	}
	// The handler takes it, and answers JSON.
	for _, l := range lives {
		reply, err := l.Handle(msg)
		if err != nil {
			t.Fatalf("%s: Handle: %v after the parser accepted it", l.id.User.Name, err)
		}
		if reply != nil && !json.Valid(reply) {
			t.Fatalf("%s: the answer is not JSON: %s", l.id.User.Name, reply)
		}
		if m.Type == "subscribe" {
			var snap struct {
				Type   string
				Points []struct{ ID string }
			}
			if err := json.Unmarshal(reply, &snap); err != nil || snap.Type != "snapshot" {
				t.Fatalf("%s: snapshot %s: %v", l.id.User.Name, reply, err)
			}
			for _, p := range snap.Points {
				h, ok := a.cache.Lookup(p.ID)
				if !ok || !l.id.Sees(a.defs[h].Area) {
					t.Fatalf("%s: the snapshot has %q, which the user does not see", l.id.User.Name, p.ID)
				}
			}
		}
	}
}
