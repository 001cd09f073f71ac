package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"hmi/points"
	"hmi/web"
)

// TestCommandRules checks each rule the server enforces on commands, with the reason it gives, and that a refused
// command never reaches the commander and is audited as refused.
func TestCommandRules(t *testing.T) {
	sel := func(point, body string) string { return "/api/v1/points/" + point + "/select" }
	cases := []struct {
		name   string
		setup  func(e *env)
		user   string
		point  string
		body   string
		status int
		reason string // in the error
	}{
		{name: "role: viewer", user: "viewer", point: pBreaker, body: `{"value":2}`, status: 403, reason: "role"},
		{name: "role: not in the control's roles", user: "operator", point: pTap, body: `{"value":2}`, status: 403, reason: "role: operating south.t1.tap needs the role engineer or admin; you are operator"},
		{name: "area", user: "southop", point: pBreaker, body: `{"value":2}`, status: 403, reason: "area"},
		{name: "no control", user: "operator", point: pCurrent, body: `{"value":2}`, status: 422, reason: "no control"},
		{name: "unknown point", user: "operator", point: "no.such", body: `{"value":2}`, status: 404, reason: "no point"},
		{name: "tag", user: "operator", point: pBreaker, body: `{"value":2}`, status: 409, reason: "tag: north.f1.breaker is tagged do not operate: line work (by engineer)",
			setup: func(e *env) {
				_ = e.tags.SetTag(t0ctx, pBreaker, web.Tag{On: true, Reason: "line work", By: "engineer"})
			}},
		{name: "interlock value", user: "operator", point: pBreaker, body: `{"value":2}`, status: 409, reason: "interlock: the earth switch must be OPEN",
			setup: func(e *env) { e.cache.Apply([]points.Update{{Point: 1, Value: 2}}) }},
		{name: "interlock quality", user: "operator", point: pBreaker, body: `{"value":2}`, status: 409, reason: "cannot be trusted (invalid)",
			setup: func(e *env) { e.cache.Apply([]points.Update{{Point: 1, Value: 1, Quality: points.IV}}) }},
		{name: "interlock commfail", user: "operator", point: pBreaker, body: `{"value":2}`, status: 409, reason: "comm fail",
			setup: func(e *env) { e.cache.SetCommFail("north", true, time.Now()) }},
		{name: "link down", user: "operator", point: pBreaker, body: `{"value":2}`, status: 409, reason: "link down: the link north of north.f1.breaker is disconnected",
			setup: func(e *env) { e.links.setState("north", "disconnected") }},
		{name: "command pending", user: "operator", point: pBreaker, body: `{"value":2}`, status: 409, reason: "command pending",
			setup: func(e *env) { e.commander.busy = true }},
		{name: "value not a state", user: "operator", point: pBreaker, body: `{"value":7}`, status: 422, reason: "value: a double command takes 1 or 2"},
		{name: "set-point out of range", user: "operator", point: pSetpoint, body: `{"value":75}`, status: 422, reason: "above the maximum 50"},
		{name: "value missing", user: "operator", point: pBreaker, body: `{}`, status: 422, reason: "value: missing"},
		{name: "label", user: "operator", point: pBreaker, body: `{"value":"CLOSED"}`, status: 200},
		{name: "ok sbo", user: "operator", point: pBreaker, body: `{"value":2}`, status: 200},
		{name: "ok direct", user: "engineer", point: pTap, body: `{"value":1}`, status: 200},
		{name: "audit down", user: "operator", point: pBreaker, body: `{"value":2}`, status: 500, reason: "audit trail cannot be written",
			setup: func(e *env) { e.audit.fail = errors.New("disk full") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			if c.setup != nil {
				c.setup(e)
			}
			w := e.do(req{method: "POST", path: sel(c.point, c.body), body: c.body, user: c.user, csrf: true})
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
			var got struct {
				Error string `json:"error"`
				State string `json:"state"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			selects, _, _ := e.commander.counts()
			if c.status != 200 {
				if !strings.Contains(got.Error, c.reason) {
					t.Errorf("error %q, want it to say %q", got.Error, c.reason)
				}
				if selects != 0 {
					t.Error("the refused command reached the commander")
				}
				if c.status != 403 || c.reason != "role" { // the route refuses viewers before the handler
					if last := e.audit.last(); c.status != 500 && (last.Step != "refused" || !strings.Contains(last.Detail, c.reason) || last.User != c.user) {
						t.Errorf("audit's last entry %+v, want refused saying %q by %s", last, c.reason, c.user)
					}
				}
				return
			}
			if selects != 1 {
				t.Fatalf("%d selects", selects)
			}
			want := "selected"
			if c.point == pTap {
				want = "terminated"
			}
			if got.State != want {
				t.Errorf("state %q, want %q", got.State, want)
			}
		})
	}
}

// TestCommandSBO runs a select and an execute, and checks that only the selecting user and session may execute or
// cancel, that rules are checked again at execute, and that every step is audited.
func TestCommandSBO(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	go func() { _ = e.srv.app.Run(ctx) }()

	selectCmd := func(user string) string {
		t.Helper()
		w := e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/select", body: `{"value":2}`, user: user, csrf: true})
		if w.Code != 200 {
			t.Fatalf("select: %d %s", w.Code, w.Body.String())
		}
		var r struct{ ID, State string }
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	cid := selectCmd("operator")

	// Another user, or the same user in another session, may not execute or cancel it.
	for _, u := range []string{"engineer", "admin"} {
		for _, step := range []string{"execute", "cancel"} {
			w := e.do(req{method: "POST", path: "/api/v1/commands/" + cid + "/" + step, body: `{}`, user: u, csrf: true})
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "another user or session") {
				t.Errorf("%s by %s: %d %s, want 403", step, u, w.Code, w.Body.String())
			}
		}
	}
	other := "operator-second-session-0123456789abcdefghij"
	if err := e.accounts.CreateSession(t0ctx, web.Session{IDHash: hashOf(other), User: "operator", CSRF: "csrf-operator",
		Created: e.clock.Now(), LastSeen: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	saved := e.tokens["operator"]
	e.tokens["operator"] = other
	w := e.do(req{method: "POST", path: "/api/v1/commands/" + cid + "/execute", body: `{}`, user: "operator", csrf: true})
	e.tokens["operator"] = saved
	if w.Code != http.StatusForbidden {
		t.Fatalf("execute from the user's other session: %d, want 403", w.Code)
	}
	// A tag set after the selection blocks the execute.
	_ = e.tags.SetTag(t0ctx, pBreaker, web.Tag{On: true, Reason: "now tagged"})
	w = e.do(req{method: "POST", path: "/api/v1/commands/" + cid + "/execute", body: `{}`, user: "operator", csrf: true})
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "tag") {
		t.Fatalf("execute after a tag: %d %s", w.Code, w.Body.String())
	}
	_ = e.tags.SetTag(t0ctx, pBreaker, web.Tag{})
	if _, x, _ := e.commander.counts(); x != 0 {
		t.Fatal("a refused execute reached the commander")
	}
	w = e.do(req{method: "POST", path: "/api/v1/commands/" + cid + "/execute", body: `{}`, user: "operator", csrf: true})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"state":"terminated"`) {
		t.Fatalf("execute: %d %s", w.Code, w.Body.String())
	}
	var rec struct {
		Steps []struct {
			Step      string   `json:"step"`
			COT       int      `json:"cot"`
			LatencyMS *float64 `json:"latency_ms"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Steps) != 5 || rec.Steps[4].Step != "execute_term" || rec.Steps[4].COT != 10 || rec.Steps[4].LatencyMS == nil {
		t.Fatalf("steps %+v", rec.Steps)
	}
	// Executing again: the command is not selected any more.
	w = e.do(req{method: "POST", path: "/api/v1/commands/" + cid + "/execute", body: `{}`, user: "operator", csrf: true})
	if w.Code != http.StatusConflict {
		t.Fatalf("second execute: %d, want 409", w.Code)
	}
	// The audit has the requests, every step and the outcome, in order.
	waitFor(t, 2*time.Second, "the audit of the outcome", func() bool {
		return slices.Contains(e.audit.steps(), "outcome")
	})
	steps := strings.Join(e.audit.steps(), ",")
	for _, want := range []string{"select_request", "select", "select_con", "refused", "execute_request", "execute", "execute_con", "execute_term", "outcome"} {
		if !strings.Contains(steps, want) {
			t.Errorf("audit %s lacks %s", steps, want)
		}
	}
	if strings.Count(steps, "execute_term") != 1 {
		t.Errorf("audit %s: a step audited twice", steps)
	}
	// The owner may read it; an engineer too; another operator not.
	if w := e.do(req{method: "GET", path: "/api/v1/commands/" + cid, user: "operator"}); w.Code != 200 {
		t.Errorf("owner reads: %d", w.Code)
	}
	if w := e.do(req{method: "GET", path: "/api/v1/commands/" + cid, user: "engineer"}); w.Code != 200 {
		t.Errorf("engineer reads: %d", w.Code)
	}
	if w := e.do(req{method: "GET", path: "/api/v1/commands/" + cid, user: "southop"}); w.Code != 404 {
		t.Errorf("other operator reads: %d", w.Code)
	}
	// Cancel of a fresh selection.
	cid2 := selectCmd("operator")
	if w := e.do(req{method: "POST", path: "/api/v1/commands/" + cid2 + "/cancel", body: `{}`, user: "operator", csrf: true}); w.Code != 200 || !strings.Contains(w.Body.String(), "cancelled") {
		t.Fatalf("cancel: %d %s", w.Code, w.Body.String())
	}
	// The audit page shows the commands with their steps.
	page := e.do(req{method: "GET", path: "/audit", user: "engineer"}).Body.String()
	if !strings.Contains(page, cid) || !strings.Contains(page, "execute_term") {
		t.Error("the audit page lacks the command")
	}
}

func TestTag(t *testing.T) {
	e := newEnv(t)
	if w := e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/tag", body: `{"on":true}`, user: "engineer", csrf: true}); w.Code != 422 {
		t.Fatalf("tag without a reason: %d", w.Code)
	}
	if w := e.do(req{method: "POST", path: "/api/v1/points/" + pCurrent + "/tag", body: `{"on":true,"reason":"x"}`, user: "engineer", csrf: true}); w.Code != 422 {
		t.Fatalf("tag of a point without control: %d", w.Code)
	}
	if w := e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/tag", body: `{"on":true,"reason":"earthing <b>"}`, user: "engineer", csrf: true}); w.Code != 200 {
		t.Fatalf("tag: %d", w.Code)
	}
	// The tag shows on every view of the point.
	for _, p := range []string{"/points/" + pBreaker, "/points", "/displays/north"} {
		body := e.do(req{method: "GET", path: p, user: "operator"}).Body.String()
		if !strings.Contains(body, "earthing &lt;b&gt;") {
			t.Errorf("%s does not show the tag's reason", p)
		}
	}
	js := e.do(req{method: "GET", path: "/api/v1/points/" + pBreaker, user: "operator"}).Body.String()
	if !strings.Contains(js, `"tag":{"on":true,"reason":"earthing \u003cb\u003e","by":"engineer"`) {
		t.Errorf("API point: %s", js)
	}
	if last := e.audit.last(); last.Step != "tag" || last.User != "engineer" {
		t.Errorf("audit %+v", last)
	}
	if w := e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/tag", body: `{"on":false}`, user: "engineer", csrf: true}); w.Code != 200 || tagged(e, pBreaker) {
		t.Fatalf("untag: %d", w.Code)
	}
}

// TestAuditStepsOff: when the Commander's onStep audits the steps (cmd/hmi), the web audits only the requests and
// refusals, and still sends the progress to the session's socket.
func TestAuditStepsOff(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *web.Deps) { c.AuditSteps = false })
	go func() { _ = e.srv.app.Run(t.Context()) }()
	w := e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/select", body: `{"value":2}`, user: "operator", csrf: true})
	if w.Code != 200 {
		t.Fatal(w.Code)
	}
	time.Sleep(100 * time.Millisecond)
	if got := strings.Join(e.audit.steps(), ","); got != "select_request" {
		t.Fatalf("audit %s, want only the request", got)
	}
}
