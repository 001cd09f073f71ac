package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"hmi/web"
)

// Authorisation beyond the route table (routes_test.go, which derives its routes from the router and fails on a
// route it does not cover): a session never acts as another (swapped cookies and CSRF tokens, two cookies at
// once, a planted session at login), the WebSocket's own refusals, methods a route does not have, and login
// throttling under a scripted brute force over loopback TCP.

// TestAuthzSwappedTokens sends every unsafe route of the table with the cookie of one session and the CSRF token
// of another (another user's, or another session of the same user): each is refused with 403 and acts on nothing.
func TestAuthzSwappedTokens(t *testing.T) {
	for _, rt := range routeTable() {
		if rt.min == 0 || rt.method == "GET" || rt.method == "HEAD" {
			continue
		}
		for _, swap := range []struct{ name, cookie, token string }{
			{"admin cookie, viewer token", "admin", "viewer"},
			{"viewer cookie, admin token", "viewer", "admin"},
			{"operator cookie, engineer token", "operator", "engineer"},
			{"admin cookie, token of admin's other session", "admin", "other"},
		} {
			t.Run(rt.method+" "+rt.pattern+"/"+swap.name, func(t *testing.T) {
				e := newEnv(t)
				for _, u := range tableRoles[1:] {
					e.session(u)
				}
				// A second session of the cookie's user, with its own token.
				now := e.clock.Now()
				if err := e.accounts.CreateSession(t0ctx, web.Session{IDHash: hashOf("second-session-of-" + swap.cookie + "-0123456789abcdef"),
					User: swap.cookie, CSRF: "csrf-other", Created: now, LastSeen: now}); err != nil {
					t.Fatal(err)
				}
				if rt.setup != nil {
					rt.setup(e, swap.cookie)
				}
				before := e.world()
				token := "csrf-" + swap.token
				r := req{method: rt.method, path: rt.path, body: rt.body, form: rt.form, user: swap.cookie, header: http.Header{}}
				if r.form == nil && r.body == "" {
					r.form = url.Values{}
				}
				if r.form != nil {
					f := url.Values{"csrf_token": {token}}
					for k, v := range r.form {
						f[k] = v
					}
					r.form = f
				} else {
					r.header.Set("X-CSRF-Token", token)
				}
				w := e.do(r)
				if w.Code != http.StatusForbidden || !strings.Contains(errorText(w), "CSRF") {
					t.Fatalf("status %d (%.200s), want 403 for a wrong CSRF token", w.Code, errorText(w))
				}
				if rt.changed != nil && rt.changed(e, swap.cookie) {
					t.Error("the action happened")
				}
				if after := e.world(); after != before {
					t.Errorf("the request changed the server's state:\n%s\n%s", before, after)
				}
			})
		}
	}
}

// TestAuthzOneSessionOneUser checks that a request is always its cookie's session and nobody else's: the API's
// session names the cookie's user whatever else the request says; of two session cookies the first one counts,
// and the CSRF token must be that one's; the store's hash of a token is not a token; a session cookie planted in a
// browser before its login is ended by the login, which always starts a new session; and a login that replaces a
// browser's session closes that session's sockets at once.
func TestAuthzOneSessionOneUser(t *testing.T) {
	e := newEnv(t, func(c *Config, _ *web.Deps) { c.WS.SessionCheck = time.Hour })
	e.serve()
	for _, u := range []string{"viewer", "admin"} {
		w := e.do(req{method: "GET", path: "/api/v1/session", user: u, header: http.Header{
			"X-Csrf-Token": {csrfOf("admin")}, "X-User": {"admin"}, "Authorization": {"Basic YWRtaW46eA=="}, "X-Forwarded-User": {"admin"}}})
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"user":"`+u+`"`) {
			t.Fatalf("session of %s's cookie: %d %s", u, w.Code, w.Body.String())
		}
	}
	// Two cookies: the first is the session; a token of the second is refused, and an action as the second does
	// not happen.
	two := func(first, second string, token string) int {
		hr, _ := http.NewRequest("POST", e.base+"/api/v1/points/"+pBreaker+"/tag", strings.NewReader(`{"on":true,"reason":"two cookies"}`))
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Cookie", "hmi_session="+e.session(first)+"; hmi_session="+e.session(second))
		hr.Header.Set("X-CSRF-Token", token)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := two("viewer", "engineer", csrfOf("engineer")); c != http.StatusForbidden || tagged(e, pBreaker) {
		t.Fatalf("viewer's and engineer's cookies with engineer's token: %d, tagged %v; want 403, untagged", c, tagged(e, pBreaker))
	}
	if c := two("viewer", "engineer", csrfOf("viewer")); c != http.StatusForbidden || tagged(e, pBreaker) {
		t.Fatalf("viewer's and engineer's cookies with viewer's token: %d; want 403 (role), untagged", c)
	}
	// The hash the store keeps is not a credential.
	hr, _ := http.NewRequest("GET", e.base+"/api/v1/session", nil)
	hr.Header.Set("Cookie", "hmi_session="+hashOf(e.session("admin")))
	if resp, err := http.DefaultClient.Do(hr); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the stored hash as a cookie: %v %v, want 401", resp, err)
	}

	// The login form's token is the browser's own: another browser's token with this one's cookie is refused.
	ba, bb := e.browser("192.0.2.51"), e.browser("192.0.2.52")
	ta := metaCSRF.FindStringSubmatch(ba.do("GET", "/login", nil).Body.String())
	tb := metaCSRF.FindStringSubmatch(bb.do("GET", "/login", nil).Body.String())
	if ta == nil || tb == nil || ta[1] == tb[1] {
		t.Fatal("two browsers got the same login token")
	}
	if w := ba.do("POST", "/login", url.Values{"csrf_token": {tb[1]}, "username": {"admin"}, "password": {testPassword}}); w.Code != http.StatusForbidden || ba.cookies["hmi_session"] != "" {
		t.Fatalf("login with another browser's form token: %d, want 403 and no session", w.Code)
	}

	// A session planted in a browser (the attacker's own viewer session) before the victim logs in as admin: the
	// login ends it and starts a new one; neither cookie acts as the other's user afterwards.
	b := e.browser("192.0.2.50")
	form := metaCSRF.FindStringSubmatch(b.do("GET", "/login", nil).Body.String()) // the victim's login page
	if form == nil {
		t.Fatal("no login form")
	}
	planted := e.session("viewer")
	b.cookies["hmi_session"] = planted
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	plantedWS := e.mustDial(ctx, "viewer") // the attacker watches on the planted session
	defer plantedWS.CloseNow()
	next(ctx, t, plantedWS, "alarms")
	if w := b.do("POST", "/login", url.Values{"csrf_token": {form[1]}, "username": {"admin"}, "password": {testPassword}}); w.Code != http.StatusSeeOther {
		t.Fatalf("login: %d", w.Code)
	}
	if got := b.cookies["hmi_session"]; got == planted || got == "" {
		t.Fatal("the login kept the planted session token")
	}
	if w := e.do(req{method: "GET", path: "/api/v1/session", user: "viewer"}); w.Code != http.StatusUnauthorized {
		t.Fatalf("the planted session after the victim's login: %d, want 401", w.Code)
	}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	for {
		_, _, err := plantedWS.Read(rctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != SessionEndedReason {
			t.Fatalf("the planted session's socket: %v, want 1008 %q at the login", err, SessionEndedReason)
		}
		break
	}
	if w := b.do("GET", "/api/v1/session", nil); !strings.Contains(w.Body.String(), `"user":"admin"`) {
		t.Fatalf("the browser after the login: %s", w.Body.String())
	}
}

// TestAuthzWebSocket is the WebSocket's table: without a session, with a made-up, ended or idle one, or from
// another origin, the upgrade is refused (401, 403) and no socket opens; every role may open one from the page's
// origin; and a user restricted to areas gets neither the points nor the traffic of the others.
func TestAuthzWebSocket(t *testing.T) {
	e := newEnv(t)
	e.serve()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(e.base, "http") + "/ws"
	dial := func(cookie, origin string) (int, *websocket.Conn) {
		t.Helper()
		h := http.Header{}
		if origin != "-" {
			h.Set("Origin", origin)
		}
		if cookie != "" {
			h.Set("Cookie", "hmi_session="+cookie)
		}
		c, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			return http.StatusSwitchingProtocols, c
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return resp.StatusCode, nil
	}
	ended := e.session("southop")
	if w := e.do(req{method: "POST", path: "/logout", form: url.Values{}, user: "southop", csrf: true}); w.Code != http.StatusSeeOther {
		t.Fatal(w.Code)
	}
	delete(e.tokens, "southop")
	idle := "idle-session-of-viewer-0123456789abcdef0123"
	old := e.clock.Now().Add(-31 * time.Minute)
	if err := e.accounts.CreateSession(t0ctx, web.Session{IDHash: hashOf(idle), User: "viewer", CSRF: "x", Created: old, LastSeen: old}); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(e.base, "http://")
	type row struct {
		name, cookie, origin string
		want                 int
	}
	rows := []row{
		{"no session", "", e.base, 401},
		{"made-up session", "not-a-session-0123456789abcdef0123456789abc", e.base, 401},
		{"ended session", ended, e.base, 401},
		{"idle session", idle, e.base, 401},
		{"session hash", hashOf(e.session("viewer")), e.base, 401},
	}
	for _, u := range tableRoles[1:] {
		tok := e.session(u)
		rows = append(rows,
			row{u + " same origin", tok, e.base, 101},
			row{u + " foreign origin", tok, "http://evil.example", 403},
			row{u + " foreign origin with the port", tok, "http://evil.example:" + strings.Split(host, ":")[1], 403},
			row{u + " null origin", tok, "null", 403},
			row{u + " no origin", tok, "-", 403},
			row{u + " https origin", tok, "https://" + host, 403},
			row{u + " origin with a path", tok, e.base + "@evil.example", 403},
		)
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			code, c := dial(r.cookie, r.origin)
			if c != nil {
				defer c.CloseNow()
			}
			if code != r.want {
				t.Fatalf("status %d, want %d", code, r.want)
			}
			if c != nil {
				next(ctx, t, c, "alarms")
				send(ctx, t, c, map[string]any{"type": "ping"})
				next(ctx, t, c, "pong")
			}
		})
	}
	waitFor(t, 5*time.Second, "no socket left", func() bool { return e.srv.hub.count() == 0 })

	// Area: an operator of the south gets no north point and no north traffic; the socket stays.
	e.links.addFrame("north", web.Frame{Time: time.Now(), Text: "I(0,0) north secret"})
	e.links.addFrame("south", web.Frame{Time: time.Now(), Text: "I(0,0) south"})
	south := "south-op-session-0123456789abcdef0123456789"
	now := e.clock.Now()
	if err := e.accounts.CreateSession(t0ctx, web.Session{IDHash: hashOf(south), User: "southop", CSRF: "y", Created: now, LastSeen: now}); err != nil {
		t.Fatal(err)
	}
	_, c := dial(south, e.base)
	if c == nil {
		t.Fatal("southop's socket refused")
	}
	defer c.CloseNow()
	send(ctx, t, c, map[string]any{"type": "subscribe", "points": []string{pBreaker, pCurrent, pTap}})
	if m := next(ctx, t, c, "snapshot"); len(m.Points) != 1 || m.Points[0].ID != pTap {
		t.Fatalf("southop's snapshot %+v, want the south point only", m.Points)
	}
	send(ctx, t, c, map[string]any{"type": "traffic", "link": "north"})
	send(ctx, t, c, map[string]any{"type": "traffic", "link": "south"})
	send(ctx, t, c, map[string]any{"type": "ping"})
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	for {
		_, b, err := c.Read(rctx)
		if err != nil {
			t.Fatalf("waiting for the pong: %v", err)
		}
		if strings.Contains(string(b), "north secret") {
			t.Fatal("southop got the north link's traffic")
		}
		if strings.Contains(string(b), `"type":"pong"`) {
			break
		}
	}
}

// TestAuthzMethods sends each route of the router the methods it does not have: 405, whoever asks, and nothing
// happens.
func TestAuthzMethods(t *testing.T) {
	e0 := newEnv(t)
	have := map[string][]string{}
	err := chi.Walk(e0.h.(chi.Routes), func(method, pattern string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		have[pattern] = append(have[pattern], method)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, rt := range routeTable() {
		paths[rt.pattern] = strings.SplitN(rt.path, "?", 2)[0]
	}
	for pattern, methods := range have {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH"} {
			if slices.Contains(methods, m) {
				continue
			}
			for _, user := range []string{"", "admin"} {
				t.Run(m+" "+pattern+"/"+cmpOr(user, "anonymous"), func(t *testing.T) {
					e := newEnv(t)
					if user != "" {
						e.session(user)
					}
					before := e.world()
					w := e.do(req{method: m, path: paths[pattern], user: user, csrf: true, body: `{"value":2}`})
					// Without a session, the sub-routers (/api/v1, /admin/users) authenticate before they route: 401,
					// or the login page for a page's GET. A session gets 405.
					refused := w.Code == http.StatusUnauthorized || (m == "GET" && w.Code == http.StatusSeeOther)
					if w.Code != http.StatusMethodNotAllowed && !(user == "" && refused) {
						t.Fatalf("status %d, want 405", w.Code)
					}
					if after := e.world(); after != before {
						t.Errorf("changed:\n%s\n%s", before, after)
					}
				})
			}
		}
	}
}

// loopClient is an HTTP client whose connections come from the loopback address ip (127.0.0.0/8 is all local):
// a distinct client address for the throttle, on a real TCP connection. It keeps cookies and does not follow
// redirects.
func loopClient(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 32}
	// Before the server's shutdown (cleanups run last first): a connection the transport dialled but never used
	// would hold the shutdown for seconds.
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var loginToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// bruteClient is one client address of a brute force: its HTTP client and its login form's token.
type bruteClient struct {
	hc    *http.Client
	base  string
	token string
}

func newBruteClient(t *testing.T, base, ip string) *bruteClient {
	t.Helper()
	hc := loopClient(t, ip)
	resp, err := hc.Get(base + "/login")
	if err != nil {
		t.Fatalf("from %s: %v", ip, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loginToken.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no login token: %s", b)
	}
	return &bruteClient{hc: hc, base: base, token: string(m[1])}
}

// login posts the login form; it returns the status and the Retry-After header.
func (c *bruteClient) login(user, pw string, h http.Header) (int, string, error) {
	f := url.Values{"csrf_token": {c.token}, "username": {user}, "password": {pw}}
	hr, _ := http.NewRequest("POST", c.base+"/login", strings.NewReader(f.Encode()))
	hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		hr.Header[k] = v
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// storm runs n attempts on workers goroutines; attempt(i) returns the status. It returns the count per status.
func storm(t *testing.T, n, workers int, attempt func(i int) (int, error)) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				code, err := attempt(i)
				mu.Lock()
				if err != nil {
					t.Errorf("attempt %d: %v", i, err)
				}
				counts[code]++
				mu.Unlock()
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return counts
}

// TestBruteForce scripts brute forces over loopback TCP, bounded in count (some 500 requests): the throttle of
// web/throttle.go locks an account or a client address on its Free+1-th failure (Free = 5 here) and refuses every
// attempt while locked, right or wrong; attempts in flight at once count, so that concurrency does not buy more
// guesses. It checks that the guesses that reach the password check stay within that bound, that the right
// password is then refused with 429 and Retry-After, that no proxy header gets around it, and that the others are
// not locked out beyond the design: other addresses log in to accounts that did not fail, and a locked account
// opens when its lock ends.
func TestBruteForce(t *testing.T) {
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("no loopback address beyond 127.0.0.1 here: %v", err)
	} else {
		ln.Close()
	}
	// A password check that takes some milliseconds, as a real one does (tens of ms): guesses sent at once wait
	// for it together, which is what a throttle that counts only finished checks lets through.
	e := newEnv(t, func(c *Config, _ *web.Deps) { c.Argon2 = web.Argon2Params{Memory: 4 << 10, Time: 2, Threads: 1} })
	slow, err := web.HashPasswordParams(testPassword, web.Argon2Params{Memory: 4 << 10, Time: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"viewer", "operator", "engineer", "admin", "southop"} {
		if err := e.accounts.UpdatePassword(t0ctx, u, slow); err != nil {
			t.Fatal(err)
		}
	}
	e.serve()
	const free = 5 // newEnv's Throttle.Free
	names := []string{"operator", "engineer", "admin", "viewer", "southop"}
	for i := range 35 {
		names = append(names, fmt.Sprintf("guess%02d", i))
	}

	// One address, 200 guesses spread over 40 user names, 20 at a time.
	attacker := newBruteClient(t, e.base, "127.0.0.2")
	counts := storm(t, 200, 20, func(i int) (int, error) {
		code, _, err := attacker.login(names[i%len(names)], fmt.Sprintf("guess %d", i), nil)
		return code, err
	})
	t.Logf("one address, 200 guesses over %d names: %v", len(names), counts)
	if counts[http.StatusUnauthorized] > free+1 || counts[http.StatusUnauthorized] == 0 ||
		counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 200 {
		t.Errorf("statuses %v: want at most %d checked guesses (401), the others refused (429)", counts, free+1)
	}
	for _, h := range []http.Header{nil, {"X-Forwarded-For": {"198.51.100.7"}}, {"X-Real-Ip": {"198.51.100.8"}, "Forwarded": {"for=198.51.100.9"}}} {
		if code, retry, err := attacker.login("operator", testPassword, h); err != nil || code != http.StatusTooManyRequests || retry == "" {
			t.Errorf("the right password from the locked address (headers %v): %d Retry-After %q %v, want 429 with Retry-After", h, code, retry, err)
		}
	}
	// Elsewhere, every account logs in: the address was locked, not the accounts (each had a failure or two).
	other := newBruteClient(t, e.base, "127.0.0.3")
	for _, u := range names[:5] {
		if code, _, err := other.login(u, testPassword, nil); err != nil || code != http.StatusSeeOther {
			t.Errorf("%s from another address: %d %v, want 303", u, code, err)
		}
	}

	// One account, 200 guesses from 20 addresses, 20 at a time.
	clients := make([]*bruteClient, 20)
	for i := range clients {
		clients[i] = newBruteClient(t, e.base, fmt.Sprintf("127.0.0.%d", 10+i))
	}
	counts = storm(t, 200, 20, func(i int) (int, error) {
		code, _, err := clients[i%len(clients)].login("engineer", fmt.Sprintf("guess %d", i), nil)
		return code, err
	})
	t.Logf("one account, 200 guesses from 20 addresses: %v", counts)
	if counts[http.StatusUnauthorized] > free+1 || counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != 200 {
		t.Errorf("statuses %v: want at most %d checked guesses (401), the others refused (429)", counts, free+1)
	}
	fresh := newBruteClient(t, e.base, "127.0.0.40")
	if code, retry, _ := fresh.login("engineer", testPassword, nil); code != http.StatusTooManyRequests || retry == "" {
		t.Errorf("the right password for the locked account: %d Retry-After %q, want 429", code, retry)
	}
	if code, _, _ := fresh.login("viewer", testPassword, nil); code != http.StatusSeeOther {
		t.Errorf("another account from a clean address: %d, want 303", code)
	}
	// The lock of the account is 2 s (refused attempts do not lengthen it): then the right password works.
	e.clock.Add(3 * time.Second)
	if code, _, _ := fresh.login("engineer", testPassword, nil); code != http.StatusSeeOther {
		t.Errorf("after the account's lock: %d, want 303", code)
	}

	// A stolen session guessing the current password on the password form: the same bound, then 429.
	victim := newBruteClient(t, e.base, "127.0.0.50")
	if code, _, _ := victim.login("viewer", testPassword, nil); code != http.StatusSeeOther {
		t.Fatalf("viewer's login: %d", code)
	}
	csrf := metaCSRF.FindStringSubmatch(string(getBody(t, victim, "/account")))
	if csrf == nil {
		t.Fatal("no CSRF token on the account page")
	}
	change := func(current string) (int, error) {
		f := url.Values{"csrf_token": {csrf[1]}, "current": {current}, "new": {"a new password 77"}, "repeat": {"a new password 77"}}
		resp, err := victim.hc.PostForm(e.base+"/account/password", f)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	counts = storm(t, 60, 20, func(i int) (int, error) { return change(fmt.Sprintf("guess %d", i)) })
	t.Logf("password form, 60 guesses: %v", counts)
	if counts[http.StatusSeeOther] > free+1 || counts[http.StatusSeeOther]+counts[http.StatusTooManyRequests] != 60 {
		t.Errorf("statuses %v: want at most %d checked guesses (303 with the error), the others 429", counts, free+1)
	}
	if code, _ := change(testPassword); code != http.StatusTooManyRequests {
		t.Errorf("the right current password while locked: %d, want 429", code)
	}
	if u, _ := e.accounts.GetUser(t0ctx, "viewer"); web.CheckPassword(u.PasswordHash, "a new password 77") {
		t.Error("the password was changed")
	}
}

func getBody(t *testing.T, c *bruteClient, path string) []byte {
	t.Helper()
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}

// TestBruteForceLongNames guesses with user names as long as the body limit allows, each from its own address (as
// an attacker with many addresses can): the throttle remembers a bounded count of names, and must remember each in
// bounded size too, or a thousand guesses hold tens of megabytes.
func TestBruteForceLongNames(t *testing.T) {
	e := newEnv(t)
	const n, size = 1000, 60 << 10
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	pad := strings.Repeat("n", size)
	for i := range n {
		f := url.Values{"csrf_token": {"login-token-0123456789abcdef0123456789abcdef"}, "username": {fmt.Sprintf("%05d%s", i, pad)}, "password": {"x"}}
		hr := httptest.NewRequest("POST", "/login", strings.NewReader(f.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		hr.AddCookie(&http.Cookie{Name: "hmi_login", Value: "login-token-0123456789abcdef0123456789abcdef"})
		hr.RemoteAddr = fmt.Sprintf("10.%d.%d.1:40000", i/250, i%250)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, hr)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, w.Code)
		}
	}
	grew := int64(heap()) - int64(before)
	t.Logf("%d guesses with %d KiB names: the heap grew by %.1f MiB", n, size>>10, float64(grew)/(1<<20))
	if grew > 16<<20 {
		t.Errorf("the heap grew by %.1f MiB after %d failed logins: the throttle keeps the names whole", float64(grew)/(1<<20), n)
	}
	// The names still count: the same long name fails up to the lock.
	name := "00001" + pad
	for range 6 {
		f := url.Values{"csrf_token": {"login-token-0123456789abcdef0123456789abcdef"}, "username": {name}, "password": {"x"}}
		hr := httptest.NewRequest("POST", "/login", strings.NewReader(f.Encode()))
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		hr.AddCookie(&http.Cookie{Name: "hmi_login", Value: "login-token-0123456789abcdef0123456789abcdef"})
		hr.RemoteAddr = "192.0.2.99:40000"
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, hr)
		if w.Code == http.StatusTooManyRequests {
			return
		}
	}
	t.Error("a long name is never locked")
}
