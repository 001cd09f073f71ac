package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"hmi/web"
)

// browser is a cookie jar over the handler, for the login flow.
type browser struct {
	e       *env
	cookies map[string]string
	addr    string
}

func (e *env) browser(addr string) *browser {
	return &browser{e: e, cookies: map[string]string{}, addr: addr}
}

func (b *browser) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	b.e.t.Helper()
	var hr *http.Request
	if form != nil {
		hr = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		hr = httptest.NewRequest(method, path, nil)
	}
	hr.RemoteAddr = b.addr + ":50000"
	for k, v := range b.cookies {
		hr.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	b.e.h.ServeHTTP(w, hr)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return w
}

var metaCSRF = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)"`)

// login fills and posts the login form; it returns the answer to the post.
func (b *browser) login(user, pw string) *httptest.ResponseRecorder {
	b.e.t.Helper()
	page := b.do("GET", "/login", nil)
	m := metaCSRF.FindStringSubmatch(page.Body.String())
	if m == nil {
		b.e.t.Fatalf("login page without a token: %d %.200s", page.Code, page.Body.String())
	}
	return b.do("POST", "/login", url.Values{"csrf_token": {m[1]}, "username": {user}, "password": {pw}, "next": {"/points"}})
}

// csrf returns the CSRF token of the browser's session, from a page.
func (b *browser) csrf() string {
	b.e.t.Helper()
	m := metaCSRF.FindStringSubmatch(b.do("GET", "/account", nil).Body.String())
	if m == nil {
		b.e.t.Fatal("no csrf token on the page")
	}
	return m[1]
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	b := e.browser("192.0.2.10")
	if w := b.do("GET", "/points", nil); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
		t.Fatalf("without a session: %d %q, want 303 to the login page", w.Code, w.Header().Get("Location"))
	}
	if w := b.login("operator", "wrong password"); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Wrong user name or password") {
		t.Fatalf("wrong password: %d, want 401 with the reason", w.Code)
	}
	if w := b.login("nobody", testPassword); w.Code != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d, want 401", w.Code)
	}
	w := b.login("operator", testPassword)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/points" {
		t.Fatalf("login: %d to %q, want 303 to /points", w.Code, w.Header().Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == "hmi_session" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" || len(sc.Value) < 43 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, path /, 32 random bytes", sc)
	}
	// The store holds only the hash of the token.
	if _, err := e.accounts.GetSession(t0ctx, sc.Value); err == nil {
		t.Fatal("the store holds the session token itself")
	}
	if _, err := e.accounts.GetSession(t0ctx, hashOf(sc.Value)); err != nil {
		t.Fatalf("the store has no session under the token's hash: %v", err)
	}
	if w := b.do("GET", "/points", nil); w.Code != http.StatusOK {
		t.Fatalf("after login: %d", w.Code)
	}
	token := b.csrf()
	if w := b.do("POST", "/logout", url.Values{}); w.Code != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: %d, want 403", w.Code)
	}
	if w := b.do("POST", "/logout", url.Values{"csrf_token": {token}}); w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	if n := e.accounts.sessionCount("operator"); n != 0 {
		t.Fatalf("%d sessions after logout, want 0", n)
	}
	// Every tab of the browser goes to the login page when its session ends: they all get the one login token the
	// browser kept from its login, so a form loaded before another tab's login page is still accepted.
	if b.cookies["hmi_login"] == "" {
		t.Fatal("the login token cookie is gone after login and logout: each tab's login page would mint its own")
	}
	first := metaCSRF.FindStringSubmatch(b.do("GET", "/login", nil).Body.String())
	second := metaCSRF.FindStringSubmatch(b.do("GET", "/login", nil).Body.String())
	if first == nil || second == nil || first[1] != second[1] {
		t.Fatalf("two login pages of one browser: tokens %q and %q, want the same", first, second)
	}
	if w := b.do("POST", "/login", url.Values{"csrf_token": {first[1]}, "username": {"operator"}, "password": {testPassword}}); w.Code != http.StatusSeeOther {
		t.Fatalf("login with the first tab's form: %d, want 303", w.Code)
	}
	b.do("POST", "/logout", url.Values{"csrf_token": {b.csrf()}})
	// The old cookie does not work any more, even replayed.
	b.cookies["hmi_session"] = sc.Value
	if w := b.do("GET", "/api/v1/session", nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("old cookie after logout: %d, want 401", w.Code)
	}
	// A login form posted from elsewhere (no token cookie) is refused.
	other := e.browser("192.0.2.11")
	if w := other.do("POST", "/login", url.Values{"username": {"operator"}, "password": {testPassword}, "csrf_token": {"forged"}}); w.Code != http.StatusForbidden {
		t.Fatalf("login without the form's token: %d, want 403", w.Code)
	}
	// The next parameter never leads elsewhere.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		evil := e.browser("192.0.2.12")
		m := metaCSRF.FindStringSubmatch(evil.do("GET", "/login", nil).Body.String())
		w := evil.do("POST", "/login", url.Values{"csrf_token": {m[1]}, "username": {"viewer"}, "password": {testPassword}, "next": {next}})
		if loc := w.Header().Get("Location"); loc != "/" {
			t.Errorf("next %q: redirected to %q, want /", next, loc)
		}
	}
}

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	b := e.browser("192.0.2.20")
	for i := range 5 {
		if w := b.login("operator", "wrong"); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, w.Code)
		}
	}
	// The sixth failure locks the account: even the right password is refused while it lasts.
	if w := b.login("operator", "wrong"); w.Code != http.StatusUnauthorized {
		t.Fatalf("failure 6: %d, want 401", w.Code)
	}
	w := b.login("operator", testPassword)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("while locked: %d (Retry-After %q), want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	// Another address is refused too: the account is locked, not the address.
	if w := e.browser("192.0.2.21").login("operator", testPassword); w.Code != http.StatusTooManyRequests {
		t.Fatalf("account locked, other address: %d, want 429", w.Code)
	}
	// Once the lock ends, the right password works and clears the account's failures.
	e.clock.Add(3 * time.Second)
	if w := b.login("operator", testPassword); w.Code != http.StatusSeeOther {
		t.Fatalf("after the lock: %d, want 303", w.Code)
	}
	// Locks double: the sixth failure locks for 2 s, the seventh (after that lock) for 4 s. Attempts refused
	// while locked do not count.
	c := e.browser("192.0.2.22")
	for range 6 {
		c.login("engineer", "wrong")
	}
	if w := c.login("engineer", "wrong"); w.Code != http.StatusTooManyRequests {
		t.Fatalf("while locked: %d", w.Code)
	}
	e.clock.Add(3 * time.Second)
	c.login("engineer", "wrong")
	e.clock.Add(3 * time.Second)
	if w := c.login("engineer", testPassword); w.Code != http.StatusTooManyRequests {
		t.Fatalf("after 7 failures and 3 s: %d, want 429 (the lock is 4 s)", w.Code)
	}
	e.clock.Add(2 * time.Second)
	if w := c.login("engineer", testPassword); w.Code != http.StatusSeeOther {
		t.Fatalf("after the doubled lock: %d, want 303", w.Code)
	}

	// Per address: many accounts guessed from one address lock the address.
	d := e.browser("192.0.2.30")
	for i := range 6 {
		d.login("guess"+string(rune('a'+i)), "wrong")
	}
	if w := d.login("admin", testPassword); w.Code != http.StatusTooManyRequests {
		t.Fatalf("address locked: %d, want 429", w.Code)
	}
	if w := e.browser("192.0.2.31").login("admin", testPassword); w.Code != http.StatusSeeOther {
		t.Fatalf("another address for an account that did not fail: %d, want 303", w.Code)
	}
}

func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t)
	get := func(user string) int { return e.do(req{method: "GET", path: "/api/v1/session", user: user}).Code }

	// Idle: a session without a request for longer than the idle limit ends.
	if c := get("operator"); c != http.StatusOK {
		t.Fatal(c)
	}
	e.clock.Add(29 * time.Minute)
	if c := get("operator"); c != http.StatusOK {
		t.Fatalf("after 29 min idle: %d, want 200", c)
	}
	e.clock.Add(29 * time.Minute) // the request above touched it: 29 more minutes are fine again
	if c := get("operator"); c != http.StatusOK {
		t.Fatalf("29 min after a request: %d, want 200", c)
	}
	e.clock.Add(31 * time.Minute)
	if c := get("operator"); c != http.StatusUnauthorized {
		t.Fatalf("after 31 min idle: %d, want 401", c)
	}
	if n := e.accounts.sessionCount("operator"); n != 0 {
		t.Fatalf("the ended session is still stored (%d)", n)
	}

	// Absolute: a session in constant use still ends 12 h after the login.
	if c := get("viewer"); c != http.StatusOK {
		t.Fatal(c)
	}
	for range 47 { // 47 x 15 min = 11 h 45
		e.clock.Add(15 * time.Minute)
		if c := get("viewer"); c != http.StatusOK {
			t.Fatalf("in use before the absolute limit: %d", c)
		}
	}
	e.clock.Add(16 * time.Minute)
	if c := get("viewer"); c != http.StatusUnauthorized {
		t.Fatalf("after 12 h: %d, want 401", c)
	}
	// A page request is sent to the login page.
	if w := e.do(req{method: "GET", path: "/", user: "viewer"}); w.Code != http.StatusSeeOther {
		t.Fatalf("page after the session ended: %d, want 303", w.Code)
	}
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	e := newEnv(t)
	b1, b2 := e.browser("192.0.2.40"), e.browser("192.0.2.41")
	b1.login("operator", testPassword)
	b2.login("operator", testPassword)
	if n := e.accounts.sessionCount("operator"); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	old := b1.cookies["hmi_session"]
	w := b1.do("POST", "/account/password", url.Values{"csrf_token": {b1.csrf()}, "current": {"wrong"}, "new": {"new password 12"}, "repeat": {"new password 12"}})
	if w.Code != http.StatusSeeOther || e.accounts.sessionCount("operator") != 2 {
		t.Fatalf("wrong current password: %d, sessions %d", w.Code, e.accounts.sessionCount("operator"))
	}
	w = b1.do("POST", "/account/password", url.Values{"csrf_token": {b1.csrf()}, "current": {testPassword}, "new": {"new password 12"}, "repeat": {"new password 12"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("change: %d", w.Code)
	}
	if n := e.accounts.sessionCount("operator"); n != 1 {
		t.Fatalf("%d sessions after the change, want 1 (this browser's new one)", n)
	}
	if b1.cookies["hmi_session"] == old {
		t.Fatal("the session token was not renewed")
	}
	if w := b1.do("GET", "/api/v1/session", nil); w.Code != http.StatusOK {
		t.Fatalf("this browser after the change: %d", w.Code)
	}
	if w := b2.do("GET", "/api/v1/session", nil); w.Code != http.StatusUnauthorized {
		t.Fatalf("the other browser after the change: %d, want 401", w.Code)
	}
	if w := e.browser("192.0.2.42").login("operator", "new password 12"); w.Code != http.StatusSeeOther {
		t.Fatalf("login with the new password: %d", w.Code)
	}
}

func TestAreaPermission(t *testing.T) {
	e := newEnv(t)
	// southop sees south only.
	w := e.do(req{method: "GET", path: "/api/v1/points", user: "southop"})
	var pts []struct{ ID string }
	if err := json.Unmarshal(w.Body.Bytes(), &pts); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range pts {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != pTap+","+pEvil {
		t.Fatalf("southop sees %v, want the south points only", ids)
	}
	if w := e.do(req{method: "GET", path: "/points/" + pBreaker, user: "southop"}); w.Code != http.StatusNotFound {
		t.Fatalf("a north point's page: %d, want 404", w.Code)
	}
	if w := e.do(req{method: "GET", path: "/points", user: "southop"}); strings.Contains(w.Body.String(), pBreaker) {
		t.Fatal("the point list shows a north point")
	}
	w = e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/select", body: `{"value":2}`, user: "southop", csrf: true})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "area") {
		t.Fatalf("select of a north point: %d %s, want 403 saying area", w.Code, w.Body.String())
	}
	if s, _, _ := e.commander.counts(); s != 0 {
		t.Fatal("a command was sent")
	}
	// The south point with a control for operators: allowed.
	w = e.do(req{method: "POST", path: "/api/v1/points/" + pEvil + "/select", body: `{"value":0}`, user: "southop", csrf: true})
	if w.Code != http.StatusOK {
		t.Fatalf("select of a south point: %d %s", w.Code, w.Body.String())
	}
	// Alarms of the north are not southop's: not listed, not acknowledgeable.
	e.raiseAlarm()
	if w := e.do(req{method: "GET", path: "/api/v1/alarms", user: "southop"}); strings.Contains(w.Body.String(), alarmHigh) {
		t.Fatal("southop sees a north alarm")
	}
	w = e.do(req{method: "POST", path: "/api/v1/alarms/" + alarmHigh + "/ack", body: `{}`, user: "southop", csrf: true})
	if w.Code != http.StatusNotFound {
		t.Fatalf("ack of a north alarm: %d, want 404", w.Code)
	}
	w = e.do(req{method: "POST", path: "/api/v1/alarms/ack", body: `{"all":true}`, user: "southop", csrf: true})
	if w.Code != http.StatusOK || alarmState(e) != 2 {
		t.Fatalf("ack all visible by southop: %d; the north alarm is %v, want still active_unacked", w.Code, alarmState(e))
	}
	// Events: only the user's areas.
	if w := e.do(req{method: "GET", path: "/api/v1/events?area=north", user: "southop"}); w.Code != http.StatusForbidden {
		t.Fatalf("events of north: %d, want 403", w.Code)
	}
	if w := e.do(req{method: "GET", path: "/api/v1/events", user: "southop"}); w.Code != http.StatusOK || strings.Contains(w.Body.String(), pCurrent) {
		t.Fatalf("events of southop: %d %s", w.Code, w.Body.String())
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/login", "/healthz", "/static/js/app.js", "/nothing"} {
		w := e.do(req{method: "GET", path: p})
		h := w.Header()
		want := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
		if got := h.Get("Content-Security-Policy"); got != want {
			t.Errorf("%s: CSP %q", p, got)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS without TLS", p)
		}
	}
	w := e.do(req{method: "GET", path: "/", user: "viewer"})
	if !strings.Contains(w.Header().Get("Cache-Control"), "no-store") {
		t.Error("a page of a session may be cached")
	}
	// One module script, no inline script, no inline style, no inline handler.
	body := w.Body.String()
	if n := strings.Count(body, "<script"); n != 1 || !strings.Contains(body, `<script type="module" src="/static/js/app.js?v=`) {
		t.Errorf("%d script elements; want the one module", n)
	}
	for _, bad := range []string{" style=", " onclick=", " onload="} {
		if strings.Contains(body, bad) {
			t.Errorf("page has %q", bad)
		}
	}
}

func TestHostileInputs(t *testing.T) {
	e := newEnv(t)
	big := `{"value":2,"pad":"` + strings.Repeat("x", 70<<10) + `"}`
	if w := e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/select", body: big, user: "operator", csrf: true}); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized JSON: %d, want 413", w.Code)
	}
	if w := e.do(req{method: "POST", path: "/admin/users", form: url.Values{"name": {strings.Repeat("x", 70<<10)}}, user: "admin", csrf: true}); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized form: %d, want 413", w.Code)
	}
	for _, body := range []string{`{"value":`, `not json`, `[1,2]`, `{"value":2}{"value":1}`} {
		w := e.do(req{method: "POST", path: "/api/v1/points/" + pBreaker + "/select", body: body, user: "operator", csrf: true})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("body %q: %d %s, want 400 with an error", body, w.Code, w.Body.String())
		}
	}
	if s, _, _ := e.commander.counts(); s != 0 {
		t.Error("a command was sent")
	}
	// A point name that is markup is text on every page.
	for _, p := range []string{"/points", "/points/" + pEvil, "/", "/alarms", "/displays/north"} {
		body := e.do(req{method: "GET", path: p, user: "admin"}).Body.String()
		if strings.Contains(body, evilName) || strings.Contains(body, "<script>alert") {
			t.Errorf("%s renders the point name unescaped", p)
		}
	}
	body := e.do(req{method: "GET", path: "/points/" + pEvil, user: "admin"}).Body.String()
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("the point page does not show the name as text")
	}
	// In JSON too: no raw markup.
	js := e.do(req{method: "GET", path: "/api/v1/points/" + pEvil, user: "admin"}).Body.String()
	if strings.Contains(js, "<script>") {
		t.Errorf("JSON has raw markup: %s", js)
	}
	// The display lost its script, handlers, foreign content and remote references.
	disp := e.do(req{method: "GET", path: "/displays/north", user: "admin"}).Body.String()
	for _, bad := range []string{"alert(", "foreignObject", "evil.example", "onload", "style=\"fill"} {
		if strings.Contains(disp, bad) {
			t.Errorf("display keeps %q", bad)
		}
	}
	// Paths with markup are answered as text.
	w := e.do(req{method: "GET", path: "/points/%3Cscript%3E", user: "admin"})
	if w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "<script>") {
		t.Errorf("unknown point with markup: %d", w.Code)
	}
}

func TestPanicRecovery(t *testing.T) {
	e := newEnv(t)
	e.links.panic = true
	w := e.do(req{method: "GET", path: "/api/v1/links", user: "viewer"})
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "internal error") {
		t.Fatalf("panicking handler: %d %s, want 500", w.Code, w.Body.String())
	}
	if strings.Contains(w.Body.String(), "boom") {
		t.Error("the panic's text reaches the client")
	}
	e.links.panic = false
	if w := e.do(req{method: "GET", path: "/api/v1/links", user: "viewer"}); w.Code != http.StatusOK {
		t.Fatalf("after a panic: %d", w.Code)
	}
}

func TestAdminUsers(t *testing.T) {
	e := newEnv(t)
	w := e.do(req{method: "POST", path: "/admin/users", form: url.Values{"name": {"new.user"}, "role": {"engineer"},
		"areas": {"north, south/t1"}, "password": {"a long password"}}, user: "admin", csrf: true})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("add: %d", w.Code)
	}
	u, err := e.accounts.GetUser(t0ctx, "new.user")
	if err != nil || u.Role != web.RoleEngineer || strings.Join(u.Areas, "|") != "north|south/t1" || !web.CheckPassword(u.PasswordHash, "a long password") {
		t.Fatalf("added user %+v %v", u, err)
	}
	for _, f := range []url.Values{
		{"name": {"new.user"}, "role": {"viewer"}, "password": {"a long password"}}, // exists
		{"name": {"bad name"}, "role": {"viewer"}, "password": {"a long password"}}, // name
		{"name": {"x"}, "role": {"superuser"}, "password": {"a long password"}},     // role
		{"name": {"y"}, "role": {"viewer"}, "password": {"short"}},                  // password
	} {
		e.do(req{method: "POST", path: "/admin/users", form: f, user: "admin", csrf: true})
	}
	if users, _ := e.accounts.ListUsers(t0ctx); len(users) != 6 {
		t.Fatalf("%d users after refused adds, want 6", len(users))
	}
	// The last admin can neither be demoted nor deleted, nor delete themselves.
	e.do(req{method: "POST", path: "/admin/users/admin/role", form: url.Values{"role": {"viewer"}}, user: "admin", csrf: true})
	if u, _ := e.accounts.GetUser(t0ctx, "admin"); u.Role != web.RoleAdmin {
		t.Fatal("the last admin was demoted")
	}
	e.do(req{method: "POST", path: "/admin/users/admin/delete", form: url.Values{}, user: "admin", csrf: true})
	if _, err := e.accounts.GetUser(t0ctx, "admin"); err != nil {
		t.Fatal("the admin deleted themselves")
	}
	// A password reset ends the user's sessions.
	e.session("viewer")
	e.do(req{method: "POST", path: "/admin/users/viewer/password", form: url.Values{"password": {"reset by admin"}}, user: "admin", csrf: true})
	if n := e.accounts.sessionCount("viewer"); n != 0 {
		t.Fatalf("viewer has %d sessions after the reset", n)
	}
	// A deleted user's session is refused.
	e.tokens = map[string]string{}
	e.session("operator")
	e.do(req{method: "POST", path: "/admin/users/operator/delete", form: url.Values{}, user: "admin", csrf: true})
	if w := e.do(req{method: "GET", path: "/api/v1/session", user: "operator"}); w.Code != http.StatusUnauthorized {
		t.Fatalf("deleted user's session: %d", w.Code)
	}
}
