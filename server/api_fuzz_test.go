package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/alarms"
	"hmi/web"
)

// fuzzAlarms counts the alarm operations that succeeded, so that a refused request can be checked to have changed
// nothing in the alarm engine.
type fuzzAlarms struct {
	web.AlarmOps
	mu   sync.Mutex
	done int
}

func (f *fuzzAlarms) count(err error) error {
	if err == nil {
		f.mu.Lock()
		f.done++
		f.mu.Unlock()
	}
	return err
}

func (f *fuzzAlarms) ops() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.done
}

func (f *fuzzAlarms) Ack(ctx context.Context, user string, ids []string, comment string) error {
	return f.count(f.AlarmOps.Ack(ctx, user, ids, comment))
}

func (f *fuzzAlarms) AckAll(ctx context.Context, user string, flt alarms.Filter, comment string) (int, error) {
	n, err := f.AlarmOps.AckAll(ctx, user, flt, comment)
	if n > 0 {
		f.count(nil)
	}
	return n, err
}

func (f *fuzzAlarms) Shelve(ctx context.Context, user, id string, d time.Duration, comment string) error {
	return f.count(f.AlarmOps.Shelve(ctx, user, id, d, comment))
}

func (f *fuzzAlarms) Unshelve(ctx context.Context, user, id, comment string) error {
	return f.count(f.AlarmOps.Unshelve(ctx, user, id, comment))
}

func (f *fuzzAlarms) OutOfService(ctx context.Context, user, id string, on bool, comment string) error {
	return f.count(f.AlarmOps.OutOfService(ctx, user, id, on, comment))
}

// apiState is what a request that is refused must leave as it was: the alarm operations done, the commands sent,
// the tags, the audit entries other than refusals (a refused command is audited as "refused").
type apiState struct {
	alarmOps                   int
	selects, executes, cancels int
	tags                       [2]web.Tag
	audited                    int
}

func fuzzState(e *env, al *fuzzAlarms) apiState {
	s := apiState{alarmOps: al.ops(), tags: [2]web.Tag{e.tags.Tag(pBreaker), e.tags.Tag(pTap)}}
	s.selects, s.executes, s.cancels = e.commander.counts()
	e.audit.mu.Lock()
	for _, a := range e.audit.entries {
		if a.Step != "refused" {
			s.audited++
		}
	}
	e.audit.mu.Unlock()
	return s
}

// fuzzReset empties what grows with every request (the audit entries, the commands' records), so that an
// execution costs the same after a million as after the first, and puts back the selected commands of admin's
// session that the execution may execute and cancel.
func fuzzReset(e *env, adminRef string) {
	e.audit.mu.Lock()
	e.audit.entries = e.audit.entries[:0]
	e.audit.mu.Unlock()
	e.commander.mu.Lock()
	clear(e.commander.records)
	e.commander.mu.Unlock()
	for _, cid := range []string{"c-fuzz-execute", "c-fuzz-cancel"} {
		e.commander.put(cid, pBreaker, web.Origin{User: "admin", Session: adminRef, Client: "192.0.2.1"})
	}
}

// FuzzAPIBodies posts every fuzzed body to every API route that decodes a JSON body, through the real router
// and its middleware, with a valid session and CSRF token, as a user who may do everything and as an operator
// restricted to an area. No answer is a 5xx; every answer is JSON, an error one {"error": "why"}; a refused
// request changes nothing.
func FuzzAPIBodies(f *testing.F) {
	// What the pages send (static/js: control.js select, execute and cancel ({}), alarms.js actions; the point
	// page's tag).
	for _, s := range []string{
		`{"value":2}`, `{"value":1}`, `{"value":12.5}`, `{"value":true}`, `{"value":"CLOSED"}`, `{"value":"Higher"}`,
		`{"on":true,"reason":"work on the feeder"}`, `{"on":false,"reason":""}`,
		`{"comment":""}`, `{"comment":"seen"}`, `{"ids":["limit:north.f1.current:H"],"comment":"seen"}`,
		`{"duration":"1h","comment":"maintenance"}`, `{"duration":"15m","comment":""}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	// What a hostile or broken client may send.
	for _, s := range []string{
		``, `null`, `[]`, `"x"`, `1`, `{`, `{"a":1}{"b":2}`, `{"value":null}`, `{"value":1e400}`, `{"value":-0}`,
		`{"value":"<script>"}`, `{"value":[1]}`, `{"value":{"x":1}}`, `{"on":"yes","reason":1}`,
		`{"on":true,"reason":"` + strings.Repeat("r", 300) + `"}`, `{"on":true,"reason":"   "}`,
		`{"all":true,"area":"north","priority":2,"state":"active_unacked","comment":"all"}`,
		`{"all":true,"priority":99}`, `{"all":true,"state":"bogus"}`, `{"all":true,"area":"../south"}`,
		`{"ids":["nope","limit:north.f1.current:H","limit:north.f1.current:H"]}`, `{"ids":[]}`, `{"ids":"x"}`,
		`{"duration":1e300}`, `{"duration":-5}`, `{"duration":"-1h"}`, `{"duration":"9999999h"}`, `{"duration":true}`,
		`{"duration":0.000000001}`, `{"duration":"1h","comment":"` + strings.Repeat("c", 501) + `"}`,
		`{"comment":"\u0000\ud800"}`, "{\"comment\":\"\xff\"}", `{"Value":1,"VALUE":2}`,
	} {
		f.Add([]byte(s))
	}

	var al *fuzzAlarms
	e := newEnv(f, func(_ *Config, d *web.Deps) {
		al = &fuzzAlarms{AlarmOps: d.Alarms}
		d.Alarms = al
	})
	e.raiseAlarm()
	type call struct{ user, token, path string }
	var calls []call
	// Admin may do everything: each route decodes the body and acts on it.
	for _, p := range []string{
		"/api/v1/points/" + pBreaker + "/select", "/api/v1/points/" + pSetpoint + "/select",
		"/api/v1/points/" + pTap + "/select", "/api/v1/points/" + pEvil + "/select",
		"/api/v1/points/" + pBreaker + "/tag", "/api/v1/points/" + pTap + "/tag",
		"/api/v1/alarms/ack", "/api/v1/alarms/" + alarmHigh + "/ack",
		"/api/v1/alarms/" + alarmHigh + "/shelve", "/api/v1/alarms/" + alarmHigh + "/unshelve",
		"/api/v1/alarms/" + alarmHigh + "/out-of-service", "/api/v1/alarms/" + alarmHigh + "/in-service",
		"/api/v1/commands/c-fuzz-execute/execute", "/api/v1/commands/c-fuzz-cancel/cancel",
	} {
		calls = append(calls, call{"admin", e.session("admin"), p})
	}
	// An operator of the south area: the routes whose body is decoded before the role or the area refuses
	// (the others are refused by the router's role check, body unread).
	for _, p := range []string{
		"/api/v1/points/" + pEvil + "/select", "/api/v1/points/" + pTap + "/select",
		"/api/v1/alarms/ack", "/api/v1/alarms/" + alarmHigh + "/shelve",
	} {
		calls = append(calls, call{"southop", e.session("southop"), p})
	}

	post := func(c call, body []byte) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, c.path, bytes.NewReader(body))
		r.RemoteAddr = "192.0.2.1:40000"
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-CSRF-Token", csrfOf(c.user))
		r.AddCookie(&http.Cookie{Name: "hmi_session", Value: c.token})
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return w
	}
	adminRef := refOf(e.session("admin"))

	// The target reaches the actions: what the pages send is done.
	fuzzReset(e, adminRef)
	admin := calls[0]
	for _, tc := range []struct{ path, body string }{
		{"/api/v1/points/" + pBreaker + "/select", `{"value":2}`},
		{"/api/v1/points/" + pBreaker + "/tag", `{"on":false,"reason":""}`},
		{"/api/v1/alarms/ack", `{"ids":["` + alarmHigh + `"],"comment":"seen"}`},
		{"/api/v1/alarms/" + alarmHigh + "/shelve", `{"duration":"1h","comment":""}`},
		{"/api/v1/alarms/" + alarmHigh + "/unshelve", `{"comment":""}`},
		{"/api/v1/commands/c-fuzz-execute/execute", `{}`},
		{"/api/v1/commands/c-fuzz-cancel/cancel", `{}`},
	} {
		admin.path = tc.path
		if w := post(admin, []byte(tc.body)); w.Code != http.StatusOK {
			f.Fatalf("POST %s %s: %d %s", tc.path, tc.body, w.Code, w.Body)
		}
	}

	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzReset(e, adminRef)
		for _, c := range calls {
			before := fuzzState(e, al)
			w := post(c, body)
			checkAPIAnswer(t, c.user, c.path, w, before, fuzzState(e, al))
		}
	})
}

// checkAPIAnswer checks one answer of FuzzAPIBodies.
func checkAPIAnswer(t *testing.T, user, path string, w *httptest.ResponseRecorder, before, after apiState) {
	t.Helper()
	st, b := w.Code, w.Body.Bytes()
	if st >= 500 {
		t.Fatalf("%s POST %s: %d %s", user, path, st, b)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s POST %s: %d with Content-Type %q: %s", user, path, st, ct, b)
	}
	if !json.Valid(b) {
		t.Fatalf("%s POST %s: %d, the body is not JSON: %s", user, path, st, b)
	}
	if st < 400 {
		return
	}
	var answer struct {
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(b, &answer); err != nil || answer.Error == nil || *answer.Error == "" {
		t.Fatalf("%s POST %s: %d without an error message: %s", user, path, st, b)
	}
	if before != after {
		t.Fatalf("%s POST %s: refused (%d %s) but changed the state: %+v, now %+v", user, path, st, b, before, after)
	}
}
