package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"hmi/alarms"
	"hmi/web"
)

// route is one row of the route table test: a route of the router, a request for it, the least role that may use
// it, and what a request that passes returns. changed, for routes that act, tells whether the action happened, so
// that a refused request is proven to have done nothing.
type route struct {
	method, pattern string
	path            string
	body            string
	form            url.Values
	min             web.Role // 0: public
	ok              int      // status of an accepted request
	okAnon          int      // public routes: status without a session (default ok)
	setup           func(e *env, user string)
	changed         func(e *env, user string) bool
}

// roles of the table: no session, then each role.
var tableRoles = []string{"", "viewer", "operator", "engineer", "admin"}

func roleOf(user string) web.Role {
	r, _ := web.ParseRole(user)
	return r
}

func routeTable() []route {
	pw := url.Values{"current": {testPassword}, "new": {"a new password 1"}, "repeat": {"a new password 1"}}
	ownCommand := func(e *env, user string) {
		if user != "" {
			e.commander.put("c-own", pBreaker, web.Origin{User: user, Session: refOf(e.session(user)), Client: "192.0.2.1"})
		}
	}
	return []route{
		{method: "GET", pattern: "/healthz", path: "/healthz", ok: 200},
		{method: "GET", pattern: "/favicon.ico", path: "/favicon.ico", ok: 204},
		{method: "GET", pattern: "/static/*", path: "/static/js/app.js", ok: 200},
		{method: "HEAD", pattern: "/static/*", path: "/static/js/app.js", ok: 200},
		{method: "GET", pattern: "/login", path: "/login", ok: 303, okAnon: 200},
		// POST /login: "CSRF present" is the login form's double-submit token (cookie and field).
		{method: "POST", pattern: "/login", path: "/login", ok: 303},

		{method: "GET", pattern: "/", path: "/", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/displays/{id}", path: "/displays/north", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/points", path: "/points", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/points/{id}", path: "/points/" + pBreaker, min: web.RoleViewer, ok: 200},
		{method: "POST", pattern: "/points/{id}/tag", path: "/points/" + pBreaker + "/tag", min: web.RoleEngineer, ok: 303,
			form:    url.Values{"on": {"true"}, "reason": {"work on the feeder"}},
			changed: func(e *env, user string) bool { return tagged(e, pBreaker) }},
		{method: "GET", pattern: "/alarms", path: "/alarms", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/events", path: "/events", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/events.csv", path: "/events.csv", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/links", path: "/links", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/links/{name}", path: "/links/north", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/audit", path: "/audit", min: web.RoleEngineer, ok: 200},
		{method: "GET", pattern: "/account", path: "/account", min: web.RoleViewer, ok: 200},
		{method: "POST", pattern: "/account/password", path: "/account/password", min: web.RoleViewer, ok: 303, form: pw,
			changed: func(e *env, user string) bool {
				for _, u := range tableRoles[1:] {
					if usr, _ := e.accounts.GetUser(t0ctx, u); web.CheckPassword(usr.PasswordHash, "a new password 1") {
						return true
					}
				}
				return false
			}},
		{method: "POST", pattern: "/logout", path: "/logout", min: web.RoleViewer, ok: 303, form: url.Values{},
			changed: func(e *env, user string) bool { return user != "" && e.accounts.sessionCount(user) == 0 }},
		{method: "GET", pattern: "/admin/users/", path: "/admin/users", min: web.RoleAdmin, ok: 200},
		{method: "POST", pattern: "/admin/users/", path: "/admin/users", min: web.RoleAdmin, ok: 303,
			form:    url.Values{"name": {"newbie"}, "role": {"operator"}, "password": {"a long password"}},
			changed: func(e *env, user string) bool { _, err := e.accounts.GetUser(t0ctx, "newbie"); return err == nil }},
		{method: "POST", pattern: "/admin/users/{name}/role", path: "/admin/users/viewer/role", min: web.RoleAdmin, ok: 303,
			form: url.Values{"role": {"engineer"}},
			changed: func(e *env, user string) bool {
				u, _ := e.accounts.GetUser(t0ctx, "viewer")
				return u.Role == web.RoleEngineer
			}},
		{method: "POST", pattern: "/admin/users/{name}/password", path: "/admin/users/viewer/password", min: web.RoleAdmin, ok: 303,
			form: url.Values{"password": {"reset password 1"}},
			changed: func(e *env, user string) bool {
				u, _ := e.accounts.GetUser(t0ctx, "viewer")
				return web.CheckPassword(u.PasswordHash, "reset password 1")
			}},
		{method: "POST", pattern: "/admin/users/{name}/delete", path: "/admin/users/viewer/delete", min: web.RoleAdmin, ok: 303,
			form:    url.Values{},
			changed: func(e *env, user string) bool { _, err := e.accounts.GetUser(t0ctx, "viewer"); return err != nil }},
		// Without the WebSocket handshake headers, a request that passes the session and the origin check gets 426.
		{method: "GET", pattern: "/ws", path: "/ws", min: web.RoleViewer, ok: http.StatusUpgradeRequired},

		{method: "GET", pattern: "/api/v1/session", path: "/api/v1/session", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/api/v1/points", path: "/api/v1/points", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/api/v1/points/{id}", path: "/api/v1/points/" + pBreaker, min: web.RoleViewer, ok: 200},
		{method: "POST", pattern: "/api/v1/points/{id}/select", path: "/api/v1/points/" + pBreaker + "/select", body: `{"value":2}`,
			min: web.RoleOperator, ok: 200,
			changed: func(e *env, user string) bool { s, _, _ := e.commander.counts(); return s > 0 }},
		{method: "POST", pattern: "/api/v1/points/{id}/tag", path: "/api/v1/points/" + pBreaker + "/tag", body: `{"on":true,"reason":"maintenance"}`,
			min: web.RoleEngineer, ok: 200, changed: func(e *env, user string) bool { return tagged(e, pBreaker) }},
		{method: "GET", pattern: "/api/v1/links", path: "/api/v1/links", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/api/v1/links/{name}", path: "/api/v1/links/north", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/api/v1/alarms", path: "/api/v1/alarms", min: web.RoleViewer, ok: 200},
		{method: "POST", pattern: "/api/v1/alarms/ack", path: "/api/v1/alarms/ack", body: `{"ids":["` + alarmHigh + `"],"comment":"seen"}`,
			min: web.RoleOperator, ok: 200, setup: func(e *env, _ string) { e.raiseAlarm() },
			changed: func(e *env, user string) bool { return alarmState(e) == alarms.ActiveAcked }},
		{method: "POST", pattern: "/api/v1/alarms/{id}/ack", path: "/api/v1/alarms/" + url.PathEscape(alarmHigh) + "/ack", body: `{"comment":"seen"}`,
			min: web.RoleOperator, ok: 200, setup: func(e *env, _ string) { e.raiseAlarm() },
			changed: func(e *env, user string) bool { return alarmState(e) == alarms.ActiveAcked }},
		{method: "POST", pattern: "/api/v1/alarms/{id}/shelve", path: "/api/v1/alarms/" + alarmHigh + "/shelve", body: `{"duration":"1h"}`,
			min: web.RoleOperator, ok: 200, setup: func(e *env, _ string) { e.raiseAlarm() },
			changed: func(e *env, user string) bool { return alarmState(e) == alarms.Shelved }},
		{method: "POST", pattern: "/api/v1/alarms/{id}/unshelve", path: "/api/v1/alarms/" + alarmHigh + "/unshelve", body: `{}`,
			min: web.RoleOperator, ok: 200,
			setup: func(e *env, _ string) {
				e.raiseAlarm()
				if err := e.engine.Shelve(t0ctx, "setup", alarmHigh, time.Hour, ""); err != nil {
					e.t.Fatal(err)
				}
			},
			changed: func(e *env, user string) bool { return alarmState(e) != alarms.Shelved }},
		{method: "POST", pattern: "/api/v1/alarms/{id}/out-of-service", path: "/api/v1/alarms/" + alarmHigh + "/out-of-service", body: `{"comment":"sensor replaced"}`,
			min: web.RoleEngineer, ok: 200, setup: func(e *env, _ string) { e.raiseAlarm() },
			changed: func(e *env, user string) bool { return alarmState(e) == alarms.OutOfService }},
		{method: "POST", pattern: "/api/v1/alarms/{id}/in-service", path: "/api/v1/alarms/" + alarmHigh + "/in-service", body: `{}`,
			min: web.RoleEngineer, ok: 200,
			setup: func(e *env, _ string) {
				e.raiseAlarm()
				if err := e.engine.OutOfService(t0ctx, "setup", alarmHigh, true, ""); err != nil {
					e.t.Fatal(err)
				}
			},
			changed: func(e *env, user string) bool { return alarmState(e) != alarms.OutOfService }},
		{method: "GET", pattern: "/api/v1/events", path: "/api/v1/events?limit=5", min: web.RoleViewer, ok: 200},
		{method: "GET", pattern: "/api/v1/commands/{cid}", path: "/api/v1/commands/c-own", min: web.RoleOperator, ok: 200, setup: ownCommand},
		{method: "POST", pattern: "/api/v1/commands/{cid}/execute", path: "/api/v1/commands/c-own/execute", body: `{}`,
			min: web.RoleOperator, ok: 200, setup: ownCommand,
			changed: func(e *env, user string) bool { _, x, _ := e.commander.counts(); return x > 0 }},
		{method: "POST", pattern: "/api/v1/commands/{cid}/cancel", path: "/api/v1/commands/c-own/cancel", body: `{}`,
			min: web.RoleOperator, ok: 200, setup: ownCommand,
			changed: func(e *env, user string) bool { _, _, c := e.commander.counts(); return c > 0 }},
		{method: "GET", pattern: "/api/v1/history/{id}", path: "/api/v1/history/" + pCurrent + "?step=1m", min: web.RoleViewer, ok: 200},
	}
}

var t0ctx = context.Background()

func tagged(e *env, point string) bool { return e.tags.Tag(point).On }

func alarmState(e *env) alarms.State {
	a, _ := e.engine.Get(alarmHigh)
	return a.State
}

// want returns the status the table expects for a request of user (no session when "") with or without the CSRF
// token.
func (rt route) want(user string, token bool) int {
	unsafe := rt.method != "GET" && rt.method != "HEAD"
	api := strings.HasPrefix(rt.path, "/api/") || rt.path == "/ws"
	switch {
	case rt.min == 0:
		if rt.pattern == "/login" && rt.method == "POST" && !token {
			return http.StatusForbidden // the login form's token is missing
		}
		if user == "" && rt.okAnon != 0 {
			return rt.okAnon
		}
		return rt.ok
	case user == "" && (api || unsafe):
		return http.StatusUnauthorized
	case user == "":
		return http.StatusSeeOther // to the login page
	case unsafe && !token:
		return http.StatusForbidden
	case !roleOf(user).AtLeast(rt.min):
		return http.StatusForbidden
	}
	return rt.ok
}

// TestRouteTable drives every route of the router with each role, with and without the CSRF token, and checks the
// status and that nothing that acts happened unless the request was accepted. A route of the router that is not
// in the table fails the test.
func TestRouteTable(t *testing.T) {
	table := routeTable()
	// Every route of the router is in the table, and every row of the table is a route.
	e0 := newEnv(t)
	var routes []string
	err := chi.Walk(e0.h.(chi.Routes), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+pattern)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, rt := range table {
		rows = append(rows, rt.method+" "+rt.pattern)
	}
	for _, r := range routes {
		if !slices.Contains(rows, r) {
			t.Errorf("route %s is not in the route table test", r)
		}
	}
	for _, r := range rows {
		if !slices.Contains(routes, r) {
			t.Errorf("the table has %s, which the router does not", r)
		}
	}

	for _, rt := range table {
		for _, user := range tableRoles {
			for _, token := range []bool{true, false} {
				name := rt.method + " " + rt.pattern + "/" + cmpOr(user, "anonymous") + "/csrf=" + boolText(token)
				t.Run(name, func(t *testing.T) {
					e := newEnv(t)
					if rt.setup != nil {
						rt.setup(e, user)
					}
					r := req{method: rt.method, path: rt.path, body: rt.body, form: rt.form, user: user, csrf: token}
					if rt.method == "GET" && rt.pattern == "/ws" {
						r.header = http.Header{"Origin": {"http://example.com"}}
					}
					if rt.body == "" && rt.form == nil && rt.method == "POST" {
						r.form = url.Values{}
					}
					if rt.pattern == "/login" && rt.method == "POST" {
						r = loginRequest(user, token)
					}
					w := e.do(r)
					want := rt.want(user, token)
					if w.Code != want {
						t.Fatalf("status %d, want %d; body %.300s", w.Code, want, w.Body.String())
					}
					if rt.changed != nil {
						if got, accepted := rt.changed(e, user), want == rt.ok; got != accepted {
							t.Errorf("action happened: %v, want %v", got, accepted)
						}
					}
				})
			}
		}
	}
}

// loginRequest is a login form post of user ("" a user that does not exist is not needed: any name works), with
// or without the login form's token.
func loginRequest(user string, token bool) req {
	name := cmpOr(user, "operator")
	f := url.Values{"username": {name}, "password": {testPassword}}
	h := http.Header{}
	if token {
		f.Set("csrf_token", "login-token-0123456789abcdef0123456789abcdef")
		h.Set("Cookie", "hmi_login=login-token-0123456789abcdef0123456789abcdef")
	}
	return req{method: "POST", path: "/login", form: f, header: h}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func boolText(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
