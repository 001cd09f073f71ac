package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hmi/alarms"
	"hmi/web"
)

// The table of hostile inputs to the web server (issue 8, "Bad input"): oversized bodies, invalid JSON, path
// traversal in the static and display paths, header injection, Host header games and SQL metacharacters in every
// filter. Each row is one request on a fresh test environment; the row says what the answer must be (a 4xx with
// a clear message, or, for a filter, any answer below 500 whose results are literal), and every row is checked
// to change nothing: users, sessions, the audit, the journal, the alarm, the tags and the commands are the same
// before and after. The oversized WebSocket frame is TestHostileWebSocket; markup in names and comments is
// TestHostileTextIsText here and TestXSSBrowser in cmd/hmi, which runs the pages in Chromium.

// hostile is one row of the table.
type hostile struct {
	name   string
	method string
	path   string // as it goes on the request line: already percent-encoded
	body   string
	ctype  string // Content-Type; default application/json for a body, none without
	form   url.Values
	user   string // "" for no session
	csrf   bool   // send the user's CSRF token (header for JSON, field for a form)
	header http.Header
	host   string // the Host header; default example.com
	// chunked sends the body without a Content-Length, as a chunked upload does, so that only the limit on
	// reading stops it.
	chunked bool
	setup   func(e *env)
	// acts marks a row whose request is meant to act (a logout, a tag): the row is about its answer's headers,
	// and the "changes nothing" check does not apply.
	acts bool

	status int // the status the answer must have; 0 for a filter: any status below 500 (see filter)
	msg    string
	// filter marks a row of a query filter: any status below 500, and when 2xx, check (if set) on the body.
	filter bool
	check  func(t *testing.T, w *httptest.ResponseRecorder)
}

// oversize is a body over the server's 64 KiB limit.
var oversize = strings.Repeat("x", 70<<10)

// sqlMeta are the SQL metacharacters every filter gets: quotes, statement and comment separators, LIKE wildcards,
// the escape character, NUL, and classic injections.
var sqlMeta = []string{`'`, `"`, `;`, `--`, `%`, `_`, `\`, "\x00", `' OR '1'='1`, `%' OR 1=1 --`,
	`1; DROP TABLE events; --`, `north/%`, `*`, `[a-z]`}

// filterParams are the query parameters of every filtered page and API: each gets each of sqlMeta.
var filterParams = []struct {
	user, path string
	params     []string
}{
	{"admin", "/events", []string{"from", "to", "point", "area", "kind", "text", "cursor"}},
	{"admin", "/events.csv", []string{"from", "to", "point", "area", "kind", "text"}},
	{"admin", "/api/v1/events", []string{"from", "to", "point", "area", "kind", "text", "limit", "cursor"}},
	{"southop", "/api/v1/events", []string{"area", "text"}},
	{"admin", "/audit", []string{"from", "to", "point", "user", "command", "cursor"}},
	{"admin", "/alarms", []string{"area", "priority", "state"}},
	{"admin", "/api/v1/alarms", []string{"area", "priority", "state"}},
	{"admin", "/points", []string{"area", "q", "quality", "kind", "sort"}},
	{"admin", "/api/v1/points", []string{"area", "kind"}},
	{"admin", "/api/v1/history/" + pCurrent, []string{"from", "to", "step"}},
}

// filterPaths are the paths whose last segment names a thing: each gets each of sqlMeta as that segment.
var filterPaths = []string{"/points/", "/api/v1/points/", "/api/v1/history/", "/links/", "/api/v1/links/",
	"/displays/", "/api/v1/commands/"}

func hostileTable() []hostile {
	ownCommand := func(e *env) {
		e.commander.put("c-own", pBreaker, web.Origin{User: "operator", Session: refOf(e.session("operator")), Client: "192.0.2.1"})
	}
	raise := func(e *env) { e.raiseAlarm() }
	tooLarge := "request body too large"
	rows := []hostile{
		// Oversized bodies, with and without a Content-Length, on the JSON API, the forms and the login.
		{name: "oversized select", method: "POST", path: "/api/v1/points/" + pBreaker + "/select", body: `{"value":2,"pad":"` + oversize + `"}`,
			user: "operator", csrf: true, status: 413, msg: tooLarge},
		{name: "oversized select chunked", method: "POST", path: "/api/v1/points/" + pBreaker + "/select", body: `{"value":2,"pad":"` + oversize + `"}`,
			user: "operator", csrf: true, chunked: true, status: 413, msg: tooLarge},
		{name: "oversized ack", method: "POST", path: "/api/v1/alarms/ack", body: `{"ids":["` + alarmHigh + `"],"comment":"` + oversize + `"}`,
			user: "operator", csrf: true, setup: raise, status: 413, msg: tooLarge},
		{name: "oversized ack chunked", method: "POST", path: "/api/v1/alarms/" + alarmHigh + "/ack", body: `{"comment":"` + oversize + `"}`,
			user: "operator", csrf: true, chunked: true, setup: raise, status: 413, msg: tooLarge},
		{name: "oversized shelve", method: "POST", path: "/api/v1/alarms/" + alarmHigh + "/shelve", body: `{"duration":"1h","comment":"` + oversize + `"}`,
			user: "operator", csrf: true, chunked: true, setup: raise, status: 413, msg: tooLarge},
		{name: "oversized tag", method: "POST", path: "/api/v1/points/" + pBreaker + "/tag", body: `{"on":true,"reason":"` + oversize + `"}`,
			user: "engineer", csrf: true, chunked: true, status: 413, msg: tooLarge},
		{name: "oversized execute", method: "POST", path: "/api/v1/commands/c-own/execute", body: `{"pad":"` + oversize + `"}`,
			user: "operator", csrf: true, chunked: true, setup: ownCommand, status: 413, msg: tooLarge},
		{name: "oversized user form", method: "POST", path: "/admin/users", form: url.Values{"name": {"newbie"}, "role": {"viewer"}, "password": {"a long password"}, "areas": {oversize}},
			user: "admin", csrf: true, status: 413, msg: tooLarge},
		{name: "oversized user form chunked", method: "POST", path: "/admin/users", form: url.Values{"name": {"newbie"}, "role": {"viewer"}, "password": {"a long password"}, "areas": {oversize}},
			user: "admin", csrf: true, chunked: true, status: 413, msg: tooLarge},
		{name: "oversized password form", method: "POST", path: "/account/password", form: url.Values{"current": {testPassword}, "new": {oversize}, "repeat": {oversize}},
			user: "viewer", csrf: true, chunked: true, status: 413, msg: tooLarge},
		{name: "oversized tag form", method: "POST", path: "/points/" + pBreaker + "/tag", form: url.Values{"on": {"true"}, "reason": {oversize}},
			user: "engineer", csrf: true, chunked: true, status: 413, msg: tooLarge},
		{name: "oversized login", method: "POST", path: "/login", form: url.Values{"username": {"operator"}, "password": {oversize}},
			chunked: true, status: 413, msg: tooLarge},

		// Fields over their own limits, within the body limit.
		{name: "long ack comment", method: "POST", path: "/api/v1/alarms/" + alarmHigh + "/ack", body: `{"comment":"` + strings.Repeat("c", 501) + `"}`,
			user: "operator", csrf: true, setup: raise, status: 422, msg: "comment: longer than 500 bytes"},
		{name: "long tag reason", method: "POST", path: "/api/v1/points/" + pBreaker + "/tag", body: `{"on":true,"reason":"` + strings.Repeat("r", 201) + `"}`,
			user: "engineer", csrf: true, status: 422, msg: "reason: longer than 200 bytes"},
		{name: "too many ids", method: "POST", path: "/api/v1/alarms/ack", body: `{"ids":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 10001), ",") + `]}`,
			user: "operator", csrf: true, setup: raise, status: 400, msg: "ids: more than 10000"},
	}

	// Invalid JSON on every JSON endpoint: each gets 400 saying so, without echoing the body.
	jsonRoutes := []struct {
		path, user string
		setup      func(e *env)
	}{
		{"/api/v1/points/" + pBreaker + "/select", "operator", nil},
		{"/api/v1/points/" + pBreaker + "/tag", "engineer", nil},
		{"/api/v1/alarms/ack", "operator", raise},
		{"/api/v1/alarms/" + alarmHigh + "/ack", "operator", raise},
		{"/api/v1/alarms/" + alarmHigh + "/shelve", "operator", raise},
		{"/api/v1/alarms/" + alarmHigh + "/unshelve", "operator", func(e *env) {
			e.raiseAlarm()
			if err := e.engine.Shelve(t0ctx, "setup", alarmHigh, time.Hour, ""); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"/api/v1/alarms/" + alarmHigh + "/out-of-service", "engineer", raise},
		{"/api/v1/alarms/" + alarmHigh + "/in-service", "engineer", func(e *env) {
			e.raiseAlarm()
			if err := e.engine.OutOfService(t0ctx, "setup", alarmHigh, true, ""); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"/api/v1/commands/c-own/execute", "operator", ownCommand},
		{"/api/v1/commands/c-own/cancel", "operator", ownCommand},
	}
	for _, jr := range jsonRoutes {
		for _, b := range []struct{ name, body, ctype, msg string }{
			{"truncated", `{"comment":`, "", "invalid JSON"},
			{"not json", `not json <script>`, "", "invalid JSON"},
			{"array", `[1,2]`, "", "invalid JSON"},
			{"two values", `{}{}`, "", "more than one value"},
			{"wrong type", `{"comment":5,"value":{},"on":"yes","ids":"x","duration":[]}`, "", ""},
			{"nul", "{\"comment\":\"\x00\"", "", "invalid JSON"},
			{"not utf-8 json", "\xff\xfe{", "", "invalid JSON"},
			{"form type", `{}`, "application/x-www-form-urlencoded", ""},
			{"text type", `{}`, "text/plain", "must be JSON"},
		} {
			if b.name == "wrong type" && strings.HasPrefix(jr.path, "/api/v1/commands/") {
				continue // execute and cancel take no fields: any object is theirs, as unknown fields are everywhere
			}
			r := hostile{name: "json " + b.name + " " + jr.path, method: "POST", path: jr.path, body: b.body, ctype: b.ctype,
				user: jr.user, csrf: true, setup: jr.setup, status: 400, msg: b.msg}
			if b.ctype == "application/x-www-form-urlencoded" {
				// A form post to the API is not JSON either (and its CSRF token comes in the header, as here).
				r.msg = "must be JSON"
			}
			rows = append(rows, r)
		}
	}

	// Path traversal in the static assets and the displays, and in the other named things.
	notFound := func(name, path, user, msg string) hostile {
		return hostile{name: name, method: "GET", path: path, user: user, status: 404, msg: msg}
	}
	rows = append(rows,
		notFound("static dotdot", "/static/../go.mod", "", "404 page not found"),
		notFound("static dotdot deep", "/static/js/../../server/routes.go", "", "404 page not found"),
		notFound("static encoded dotdot", "/static/%2e%2e/%2e%2e/go.mod", "", "404 page not found"),
		notFound("static encoded slash", "/static/..%2f..%2fgo.mod", "", "404 page not found"),
		notFound("static encoded backslash", "/static/..%5c..%5cgo.mod", "", "404 page not found"),
		notFound("static absolute", "/static//etc/passwd", "", "404 page not found"),
		notFound("static encoded absolute", "/static/%2fetc%2fpasswd", "", "404 page not found"),
		notFound("static dot segment", "/static/./js/app.js", "", "404 page not found"),
		notFound("static directory", "/static/js/", "", "404 page not found"),
		notFound("static root", "/static/", "", "404 page not found"),
		notFound("static nul", "/static/js/app.js%00.png", "", "404 page not found"),
		notFound("static embed source", "/static/static.go", "", "404 page not found"),
		notFound("display dotdot", "/displays/..%2f..%2fetc%2fpasswd", "admin", "no display ../../etc/passwd"),
		notFound("display encoded dots", "/displays/%2e%2e", "admin", "no display .."),
		notFound("display absolute", "/displays/%2fetc%2fpasswd", "admin", "no display /etc/passwd"),
		notFound("display with a path after", "/displays/north/..%2f..%2fadmin", "admin", "no such page"),
		notFound("display dotdot segment", "/displays/../admin/users", "admin", "no such page"),
		notFound("display nul", "/displays/north%00", "admin", "no display north"),
		notFound("point dotdot", "/points/..%2f..%2fetc%2fpasswd", "admin", "no point ../../etc/passwd"),
		notFound("api point dotdot", "/api/v1/points/..%2fnorth.f1.breaker", "admin", "no point ../north.f1.breaker"),
		notFound("history dotdot", "/api/v1/history/..%2f..%2fetc%2fpasswd", "admin", "no point ../../etc/passwd"),
		notFound("link dotdot", "/links/..%2fnorth", "admin", "no link ../north"),
		notFound("user dotdot", "/admin/users/..%2fadmin/delete", "admin", ""),
	)
	// The last one is an admin's form: like every form, it answers with a redirect to its page, which shows the
	// error (the flash); the API answers 4xx itself.
	last := &rows[len(rows)-1]
	last.method, last.form, last.csrf, last.status, last.msg = "POST", url.Values{}, true, 303, "no user ../admin"

	// Header injection: CR/LF in values that reach a header, and Host header games on every redirect.
	crlf := "%0d%0aSet-Cookie:%20injected=1%0d%0aX-Injected:%201"
	// noInjection: no header value has a CR or LF, and no header came from the request's text (percent-encoded
	// in a Location, the text is harmless).
	noInjection := func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		for k, vs := range w.Header() {
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") || strings.EqualFold(k, "X-Injected") ||
					(strings.EqualFold(k, "Set-Cookie") && strings.Contains(v, "injected")) {
					t.Errorf("header %s: %q carries the injected text", k, v)
				}
			}
		}
	}
	location := func(want *regexp.Regexp) func(t *testing.T, w *httptest.ResponseRecorder) {
		return func(t *testing.T, w *httptest.ResponseRecorder) {
			t.Helper()
			noInjection(t, w)
			if loc := w.Header().Get("Location"); !want.MatchString(loc) {
				t.Errorf("Location %q, want %v", loc, want)
			}
		}
	}
	toRoot := location(regexp.MustCompile(`^/$`))
	toLogin := location(regexp.MustCompile(`^/login\?next=%2F[^\r\n/]*$`))
	disposition := func(t *testing.T, w *httptest.ResponseRecorder) {
		t.Helper()
		noInjection(t, w)
		if cd := w.Header().Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="events-\d{8}-\d{6}\.csv"$`).MatchString(cd) {
			t.Errorf("Content-Disposition %q", cd)
		}
	}
	loginForm := func(next string) url.Values {
		return url.Values{"username": {"operator"}, "password": {testPassword}, "next": {next}}
	}
	evil := http.Header{"X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"https"}, "Forwarded": {"host=evil.example"}}
	rows = append(rows,
		hostile{name: "csv text crlf", method: "GET", path: "/events.csv?text=" + crlf, user: "admin", status: 200, check: disposition},
		hostile{name: "csv point crlf", method: "GET", path: "/events.csv?kind=" + crlf + "&area=" + crlf, user: "admin", status: 200, check: disposition},
		hostile{name: "csv filename param", method: "GET", path: "/events.csv?filename=x.html%22%0d%0aX-Injected:%201", user: "admin", status: 200, check: disposition},
		hostile{name: "login next crlf", method: "POST", path: "/login", form: loginForm("/\r\nSet-Cookie: injected=1"), status: 303, check: toRoot},
		hostile{name: "login next encoded crlf", method: "POST", path: "/login", form: loginForm("/%0d%0aSet-Cookie:%20injected=1"), status: 303,
			check: location(regexp.MustCompile(`^/%0d%0aSet-Cookie:%20injected=1$`))},
		hostile{name: "login next other host", method: "POST", path: "/login", form: loginForm("//evil.example/"), status: 303, check: toRoot},
		hostile{name: "login next backslash", method: "POST", path: "/login", form: loginForm(`/\evil.example`), status: 303, check: toRoot},
		hostile{name: "login next tab", method: "POST", path: "/login", form: loginForm("/\t/evil.example"), status: 303, check: toRoot},
		hostile{name: "login next scheme", method: "POST", path: "/login", form: loginForm("javascript:alert(1)"), status: 303, check: toRoot},
		hostile{name: "login next dot slashes", method: "POST", path: "/login", form: loginForm("/.//evil.example"), status: 303,
			check: location(regexp.MustCompile(`^/evil\.example$`))},
		hostile{name: "login next with host header", method: "POST", path: "/login", form: loginForm("/points"), host: "evil.example", header: evil,
			status: 303, check: location(regexp.MustCompile(`^/points$`))},
		hostile{name: "logged in login next crlf", method: "GET", path: "/login?next=/" + crlf, user: "viewer", status: 303, check: toRoot},
		hostile{name: "logged in login next host", method: "GET", path: "/login?next=%2F%2Fevil.example", user: "viewer", host: "evil.example", status: 303, check: toRoot},
		hostile{name: "no session redirect crlf", method: "GET", path: "/points?q=" + crlf, status: 303, check: toLogin},
		hostile{name: "no session redirect host", method: "GET", path: "/points", host: "evil.example", header: evil, status: 303, check: toLogin},
		hostile{name: "no session redirect double slash", method: "GET", path: "/points/%2F%2Fevil.example", status: 303, check: toLogin},
		hostile{name: "logout host", method: "POST", path: "/logout", form: url.Values{}, user: "viewer", csrf: true, host: "evil.example", header: evil,
			status: 303, acts: true, check: location(regexp.MustCompile(`^/login$`))},
		hostile{name: "tag form crlf", method: "POST", path: "/points/" + pBreaker + "/tag", form: url.Values{"on": {"true"}, "reason": {"\r\nSet-Cookie: injected=1"}},
			user: "engineer", csrf: true, status: 303, acts: true, check: location(regexp.MustCompile(`^/points/north\.f1\.breaker$`))},
		hostile{name: "user name crlf", method: "POST", path: "/admin/users", form: url.Values{"name": {"x\r\nSet-Cookie: injected=1"}, "role": {"viewer"}, "password": {"a long password"}},
			user: "admin", csrf: true, status: 303, msg: "name: 1 to 64 letters", check: location(regexp.MustCompile(`^/admin/users$`))},
		hostile{name: "user areas crlf", method: "POST", path: "/admin/users", form: url.Values{"name": {"newbie"}, "role": {"viewer"}, "password": {"a long password"}, "areas": {"north\r\nX-Injected: 1"}},
			user: "admin", csrf: true, status: 303, msg: "areas: not an area path", check: location(regexp.MustCompile(`^/admin/users$`))},
		hostile{name: "user name markup", method: "POST", path: "/admin/users", form: url.Values{"name": {`<img src=x onerror="window.__xss=1">`}, "role": {"viewer"}, "password": {"a long password"}},
			user: "admin", csrf: true, status: 303, msg: "name: 1 to 64 letters"},
		hostile{name: "forged flash", method: "GET", path: "/account", user: "viewer",
			header: http.Header{"Cookie": {"hmi_flash=" + base64.RawURLEncoding.EncodeToString([]byte(`{"e":"<img src=x onerror=\"window.__xss=1\">"}`))}},
			status: 200, check: func(t *testing.T, w *httptest.ResponseRecorder) {
				if strings.Contains(w.Body.String(), "<img src=x") || !strings.Contains(w.Body.String(), "&lt;img src=x") {
					t.Error("the flash message is not shown as text")
				}
			}},
	)

	// SQL metacharacters in every filter and every named thing.
	for _, fp := range filterParams {
		for _, p := range fp.params {
			for _, m := range sqlMeta {
				rows = append(rows, hostile{name: "filter " + fp.user + " " + fp.path + " " + p + "=" + m, method: "GET",
					path: fp.path + "?" + p + "=" + url.QueryEscape(m), user: fp.user, filter: true})
			}
		}
	}
	for _, fp := range filterPaths {
		for _, m := range sqlMeta {
			user := "admin"
			rows = append(rows, hostile{name: "path " + fp + m, method: "GET", path: fp + url.PathEscape(m), user: user, filter: true})
		}
	}
	return rows
}

// run sends the row's request.
func (e *env) run(h hostile) *httptest.ResponseRecorder {
	e.t.Helper()
	body, ctype := h.body, h.ctype
	if h.form != nil {
		f := url.Values{}
		for k, v := range h.form {
			f[k] = v
		}
		if h.csrf && h.user != "" {
			f.Set("csrf_token", csrfOf(h.user))
		}
		if h.path == "/login" {
			f.Set("csrf_token", "login-token-0123456789abcdef0123456789abcdef")
		}
		body = f.Encode()
		if ctype == "" {
			ctype = "application/x-www-form-urlencoded"
		}
	} else if body != "" && ctype == "" {
		ctype = "application/json"
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	hr := httptest.NewRequest(h.method, h.path, rd)
	hr.RemoteAddr = "192.0.2.1:40000"
	if h.host != "" {
		hr.Host = h.host
	}
	if h.chunked {
		hr.ContentLength = -1
		hr.Body = io.NopCloser(strings.NewReader(body)) // not a type net/http knows the length of
	}
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	for k, v := range h.header {
		hr.Header[k] = v
	}
	if h.path == "/login" && h.method == "POST" {
		hr.AddCookie(&http.Cookie{Name: "hmi_login", Value: "login-token-0123456789abcdef0123456789abcdef"})
	}
	if h.user != "" {
		hr.AddCookie(&http.Cookie{Name: "hmi_session", Value: e.session(h.user)})
		if h.csrf && h.form == nil {
			hr.Header.Set("X-CSRF-Token", csrfOf(h.user))
		}
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

// world describes everything a request could change, for the "changes nothing" check: users, sessions, the audit,
// the journal, the alarm, the tags, the commands and the open sockets. Session times are left out: a request
// touches its session.
func (e *env) world() string {
	var b strings.Builder
	users, _ := e.accounts.ListUsers(t0ctx)
	for _, u := range users {
		fmt.Fprintf(&b, "user %s %s %s %q %v\n", u.Name, u.Role, u.PasswordHash, u.Areas, u.Disabled)
	}
	e.accounts.mu.Lock()
	var sessions []string
	for h, s := range e.accounts.sessions {
		sessions = append(sessions, h+" "+s.User+" "+s.CSRF)
	}
	e.accounts.mu.Unlock()
	slices.Sort(sessions)
	fmt.Fprintf(&b, "sessions %q\n", sessions)
	// The audit records refusals (that is its purpose): those are not changes.
	e.audit.mu.Lock()
	n := 0
	for _, a := range e.audit.entries {
		if a.Step != "refused" {
			n++
		}
	}
	fmt.Fprintf(&b, "audit %d\n", n)
	e.audit.mu.Unlock()
	e.journal.mu.Lock()
	fmt.Fprintf(&b, "journal %d\n", len(e.journal.events))
	e.journal.mu.Unlock()
	for _, al := range e.engine.List(alarms.Filter{}) {
		fmt.Fprintf(&b, "alarm %s %v %s %q %s %v\n", al.ID, al.State, al.AckedBy, al.Comment, al.ShelvedBy, al.ShelvedUntil)
	}
	if al, ok := e.engine.Get(alarmHigh); ok {
		fmt.Fprintf(&b, "alarm %s %v %q\n", al.ID, al.State, al.Comment)
	}
	for _, p := range []string{pBreaker, pSetpoint, pTap, pEvil} {
		fmt.Fprintf(&b, "tag %s %+v\n", p, e.tags.Tag(p))
	}
	s, x, c := e.commander.counts()
	e.commander.mu.Lock()
	var cmds []string
	for id, r := range e.commander.records {
		cmds = append(cmds, id+" "+r.State)
	}
	e.commander.mu.Unlock()
	slices.Sort(cmds)
	fmt.Fprintf(&b, "commands %d %d %d %q\n", s, x, c, cmds)
	fmt.Fprintf(&b, "sockets %d\n", e.srv.hub.count())
	return b.String()
}

// errorText returns the error message of an answer: the "error" of a JSON body, the flash of a form's redirect,
// or the page's text.
func errorText(w *httptest.ResponseRecorder) string {
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		return e.Error
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == "hmi_flash" && c.Value != "" {
			b, _ := base64.RawURLEncoding.DecodeString(c.Value)
			var f struct {
				N string `json:"n"`
				E string `json:"e"`
			}
			_ = json.Unmarshal(b, &f)
			return f.E
		}
	}
	return w.Body.String()
}

// TestHostileTable drives the table.
func TestHostileTable(t *testing.T) {
	rows := hostileTable()
	seen := map[string]bool{}
	for _, h := range rows {
		if seen[h.name] {
			t.Fatalf("two rows named %q", h.name)
		}
		seen[h.name] = true
	}
	for _, h := range rows {
		t.Run(h.name, func(t *testing.T) {
			e := newEnv(t)
			if h.setup != nil {
				h.setup(e)
			}
			if h.user != "" {
				e.session(h.user)
			}
			before := e.world()
			w := e.run(h)
			msg := errorText(w)
			switch {
			case h.filter:
				if w.Code >= 500 {
					t.Fatalf("status %d: %s", w.Code, msg)
				}
				if w.Code >= 400 && strings.TrimSpace(msg) == "" {
					t.Errorf("status %d without a message", w.Code)
				}
			case w.Code != h.status:
				t.Fatalf("status %d, want %d: %.300s", w.Code, h.status, msg)
			case h.status >= 400 && strings.TrimSpace(msg) == "":
				t.Errorf("status %d without a message", w.Code)
			case h.msg != "" && !strings.Contains(msg, h.msg) && !strings.Contains(msg, htmlText(h.msg)):
				t.Errorf("message %.300q, want it to say %q", msg, h.msg)
			}
			if w.Code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && strings.Contains(msg, "<script") {
				t.Errorf("the error echoes the body: %q", msg)
			}
			if h.check != nil {
				h.check(t, w)
			}
			// A refused request changes nothing; so does every filter and every redirect here. The logins of the
			// table are the exception: a successful one creates a session (and only that).
			after := e.world()
			if h.acts || (h.path == "/login" && w.Code == http.StatusSeeOther) {
				return
			}
			if after != before {
				t.Errorf("the request changed the server's state:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// htmlText is s as templ escapes it in a page.
func htmlText(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
	return r.Replace(s)
}

// TestHostileFilterResults checks what the filters find with metacharacters: each is taken literally. The points
// list matches its words as substrings ("%" finds nothing here, "." finds the points with a dot), the alarm and
// point areas are exact paths, and an unknown quality, kind or state is refused or finds nothing, never everything.
func TestHostileFilterResults(t *testing.T) {
	e := newEnv(t)
	e.raiseAlarm()
	count := func(path, sel string) int {
		t.Helper()
		w := e.do(req{method: "GET", path: path, user: "admin"})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, w.Code, errorText(w))
		}
		return strings.Count(w.Body.String(), sel)
	}
	points := func(path string) int { return count(path, `<tr data-point=`) }
	all := points("/points")
	if all != 6 {
		t.Fatalf("the list has %d points, want 6", all)
	}
	for q, want := range map[string]int{"%": 0, "_": 0, "'": 0, `"`: 1 /* the markup name */, ";": 0, "--": 0, "\\": 0, "*": 0,
		"f1.": 4, "<script>": 1, "' OR '1'='1": 0} {
		if got := points("/points?q=" + url.QueryEscape(q)); got != want {
			t.Errorf("/points?q=%q: %d rows, want %d", q, got, want)
		}
	}
	for _, a := range []string{"%", "north%", "north/%", "_orth", "' OR '1'='1", "*"} {
		if got := points("/points?area=" + url.QueryEscape(a)); got != 0 {
			t.Errorf("/points?area=%q: %d rows, want none", a, got)
		}
		if got := points("/points?kind=" + url.QueryEscape(a)); got != 0 {
			t.Errorf("/points?kind=%q: %d rows, want none", a, got)
		}
		w := e.do(req{method: "GET", path: "/api/v1/points?area=" + url.QueryEscape(a), user: "admin"})
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != "[]" {
			t.Errorf("/api/v1/points?area=%q: %d %.200s, want []", a, w.Code, w.Body.String())
		}
		w = e.do(req{method: "GET", path: "/api/v1/alarms?area=" + url.QueryEscape(a), user: "admin"})
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != "[]" {
			t.Errorf("/api/v1/alarms?area=%q: %d %.200s, want []", a, w.Code, w.Body.String())
		}
	}
	// An unknown quality is refused: it must not show every point as if there were no filter.
	if w := e.do(req{method: "GET", path: "/points?quality=" + url.QueryEscape("' OR 1=1"), user: "admin"}); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), "quality") {
		t.Errorf("/points?quality=<junk>: %d, want 400 saying quality", w.Code)
	}
	for _, s := range []string{"state=' OR 1=1", "priority=1 OR 1=1"} {
		if w := e.do(req{method: "GET", path: "/api/v1/alarms?" + strings.ReplaceAll(s, " ", "+"), user: "admin"}); w.Code != http.StatusBadRequest {
			t.Errorf("/api/v1/alarms?%s: %d, want 400", s, w.Code)
		}
	}
	// The literal filters of the journal (the fake takes them as the store does; cmd/hmi's TestHostileFiltersStore
	// runs them against SQLite).
	w := e.do(req{method: "GET", path: "/api/v1/events?text=" + url.QueryEscape("%"), user: "admin"})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"events":[]`) {
		t.Errorf("events text=%%: %d %.200s, want none", w.Code, w.Body.String())
	}
}

// TestHostileTextIsText sets every text a user can write (alarm comments on ack, shelve, unshelve, out of
// service; a tag's reason) to markup, and checks that every page and API answer that shows it carries it as text:
// escaped in HTML, never a raw element. Point names are markup in the test plant already (pEvil). The browser
// checks the same in Chromium (cmd/hmi TestXSSBrowser).
func TestHostileTextIsText(t *testing.T) {
	const payload = `<img src=x onerror="window.__xss=1">`
	e := newEnv(t)
	e.raiseAlarm()
	post := func(user, path, body string) {
		t.Helper()
		w := e.do(req{method: "POST", path: path, body: body, user: user, csrf: true})
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body.String())
		}
	}
	js, _ := json.Marshal(payload)
	post("operator", "/api/v1/alarms/"+alarmHigh+"/ack", `{"comment":`+string(js)+`}`)
	post("operator", "/api/v1/alarms/"+alarmHigh+"/shelve", `{"duration":"1h","comment":`+string(js)+`}`)
	post("engineer", "/api/v1/points/"+pBreaker+"/tag", `{"on":true,"reason":`+string(js)+`}`)
	post("engineer", "/api/v1/points/"+pEvil+"/tag", `{"on":true,"reason":`+string(js)+`}`)
	e.journal.mu.Lock()
	e.journal.events = append([]web.Event{{ID: 99, Time: time.Now(), Kind: "operator", Point: pBreaker, Area: "north/f1",
		User: "operator", Message: "comment " + payload}}, e.journal.events...)
	e.journal.mu.Unlock()
	e.audit.mu.Lock()
	e.audit.entries = append(e.audit.entries, web.AuditEntry{ID: 99, At: time.Now(), User: "operator", Point: pBreaker, Step: "refused", Detail: payload})
	e.audit.mu.Unlock()
	shown := 0
	for _, p := range []string{"/", "/points", "/points/" + pBreaker, "/points/" + pEvil, "/alarms", "/alarms?state=shelved",
		"/events", "/audit", "/displays/north", "/links", "/links/south", "/account", "/admin/users"} {
		w := e.do(req{method: "GET", path: p, user: "admin"})
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d", p, w.Code)
		}
		if strings.Contains(body, "<img") || strings.Contains(body, evilName) {
			t.Errorf("%s has raw markup", p)
		}
		if strings.Contains(body, htmlText(payload)) {
			shown++
		}
	}
	if shown < 5 {
		t.Errorf("the comments show as text on %d pages only", shown)
	}
	for _, p := range []string{"/api/v1/alarms", "/api/v1/points", "/api/v1/points/" + pBreaker, "/api/v1/events"} {
		w := e.do(req{method: "GET", path: p, user: "admin"})
		if strings.Contains(w.Body.String(), "<img") || strings.Contains(w.Body.String(), "<script") {
			t.Errorf("%s has raw markup (JSON must escape < and >)", p)
		}
	}
	// The unshelve and out-of-service comments, then the alarm page again.
	post("operator", "/api/v1/alarms/"+alarmHigh+"/unshelve", `{"comment":`+string(js)+`}`)
	post("engineer", "/api/v1/alarms/"+alarmHigh+"/out-of-service", `{"comment":`+string(js)+`}`)
	for _, p := range []string{"/alarms", "/points/" + pCurrent} {
		body := e.do(req{method: "GET", path: p, user: "admin"}).Body.String()
		if strings.Contains(body, "<img") || !strings.Contains(body, htmlText(payload)) {
			t.Errorf("%s: the out-of-service comment is not shown as text", p)
		}
	}
}

// TestHostileWebSocket sends the socket what a client must not: a frame over the 64 KiB limit (closed with 1009,
// message too oversize), a binary frame (1003), text that is not JSON and an unknown type (1008), and checks that each
// closes only that socket, that a message of exactly the limit is taken, and that the server keeps serving the
// others throughout.
func TestHostileWebSocket(t *testing.T) {
	e := newEnv(t)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	bystander := e.mustDial(ctx, "viewer")
	defer bystander.CloseNow()
	send(ctx, t, bystander, map[string]any{"type": "subscribe", "points": []string{pCurrent}})
	next(ctx, t, bystander, "snapshot")
	alive := func(what string) {
		t.Helper()
		send(ctx, t, bystander, map[string]any{"type": "ping"})
		next(ctx, t, bystander, "pong")
		if w := e.do(req{method: "GET", path: "/api/v1/session", user: "viewer"}); w.Code != http.StatusOK {
			t.Fatalf("after %s: the server answers %d", what, w.Code)
		}
	}
	// closedWith waits for the server to close c and checks the status.
	closedWith := func(c *websocket.Conn, want websocket.StatusCode, what string) {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		for {
			_, _, err := c.Read(rctx)
			if err == nil {
				continue
			}
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != want {
				t.Fatalf("%s: the socket ended with %v, want %v", what, err, want)
			}
			return
		}
	}
	// exactly builds a subscribe message of n bytes.
	exactly := func(n int) []byte {
		head := `{"type":"subscribe","points":["` + pCurrent + `"],"pad":"`
		return []byte(head + strings.Repeat("p", n-len(head)-2) + `"}`)
	}

	c := e.mustDial(ctx, "operator")
	if err := c.Write(ctx, websocket.MessageText, exactly(web.MaxClientMessage)); err != nil {
		t.Fatal(err)
	}
	if m := next(ctx, t, c, "snapshot"); len(m.Points) != 1 {
		t.Fatalf("a message of exactly the limit: snapshot %+v", m)
	}
	alive("a message of the limit")

	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
		want websocket.StatusCode
	}{
		{"one byte over the limit", websocket.MessageText, exactly(web.MaxClientMessage + 1), websocket.StatusMessageTooBig},
		{"a megabyte", websocket.MessageText, exactly(1 << 20), websocket.StatusMessageTooBig},
		{"binary", websocket.MessageBinary, []byte(`{"type":"ping"}`), websocket.StatusUnsupportedData},
		{"not json", websocket.MessageText, []byte(`{"type":`), websocket.StatusPolicyViolation},
		{"unknown type", websocket.MessageText, []byte(`{"type":"<script>"}`), websocket.StatusPolicyViolation},
		{"too many points", websocket.MessageText, []byte(`{"type":"subscribe","points":[` + strings.TrimSuffix(strings.Repeat(`"a",`, web.MaxSubscription+1), ",") + `]}`), websocket.StatusPolicyViolation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.world()
			c := e.mustDial(ctx, "operator")
			defer c.CloseNow()
			next(ctx, t, c, "alarms")
			// The write of a large frame may fail part-way when the server closes first: that is the point.
			_ = c.Write(ctx, tc.typ, tc.msg)
			closedWith(c, tc.want, tc.name)
			waitFor(t, 5*time.Second, "the socket gone", func() bool { return e.srv.hub.count() == 2 })
			alive(tc.name)
			if after := e.world(); after != before {
				t.Errorf("changed the server's state:\n%s\n%s", before, after)
			}
		})
	}
	c.CloseNow()
}

// TestHostileRawRequests sends requests that no http.Client would build, on a real connection: a header section
// over the server's 64 KiB limit, CR/LF and spaces in the Host header, an absolute-form request URI naming another
// host, and a request line with a path that is not one. Each gets a 4xx, and the server goes on.
func TestHostileRawRequests(t *testing.T) {
	e := newEnv(t)
	e.serve()
	addr := strings.TrimPrefix(e.base, "http://")
	raw := func(request string) (int, string) {
		t.Helper()
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(conn)
		var status int
		if _, err := fmt.Sscanf(string(b), "HTTP/1.1 %d", &status); err != nil {
			t.Fatalf("no status line in %.200q", b)
		}
		return status, string(b)
	}
	for _, tc := range []struct {
		name, request string
		status        int
		check         func(resp string) error
	}{
		{"huge header", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 70<<10) + "\r\nConnection: close\r\n\r\n", 431, nil},
		{"host with space", "GET /healthz HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n", 400, nil},
		{"two hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", 400, nil},
		{"header with a bare CR", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: b\rSet-Cookie: x=1\r\nConnection: close\r\n\r\n", 400, nil},
		{"absolute URI to elsewhere", "GET http://evil.example/points HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 303,
			func(resp string) error {
				if !strings.Contains(resp, "\r\nLocation: /login?next=%2Fpoints\r\n") {
					return errors.New("the redirect is not to this server's login page")
				}
				return nil
			}},
		{"not a path", "GET points HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 400, nil},
		{"nul in path", "GET /static/js/app.js\x00 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, resp := raw(tc.request)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %.300q", status, tc.status, resp)
			}
			if tc.check != nil {
				if err := tc.check(resp); err != nil {
					t.Error(err)
				}
			}
		})
	}
	if resp, err := http.Get(e.base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the server stopped serving: %v", err)
	}
}
