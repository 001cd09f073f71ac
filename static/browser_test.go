package static

// Browser tests of the scripts: a real headless Chromium (Debian's chromium package) loads a test page written
// here after docs/ui-contract.md, with the assets from Handler(), a fake /ws endpoint that the test drives, and
// fake API endpoints. The page is served with the CSP the real server sends; any console error, uncaught
// exception or CSP violation fails the test.
//
// Without /usr/bin/chromium the tests skip, unless CI=true, where they fail.

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"
)

const (
	chromiumPath = "/usr/bin/chromium"
	testCSRF     = "csrf-test-token-5f2b"
	testCSP      = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
	evilName  = `<script>alert(1)</script>`
	evilValue = `<img src=x onerror="window.__xss=1"><b>12</b>`
	lostText  = "connection lost: the command's outcome is unknown; see the audit"
)

// testPage follows docs/ui-contract.md: csrf meta, body data-page, the banners, live values in HTML and SVG, a
// control button, two control dialogs (SBO and direct), a sortable table with a filter, a traffic view.
var testPage = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="csrf-token" content="{{.CSRF}}">
<title>North substation · hmi</title>
<link rel="stylesheet" href="{{.CSS}}">
<script type="module" src="{{.App}}"></script>
</head>
<body data-page="display" data-user="op1" data-role="operator">
<header class="topbar">
  <span class="brand">hmi</span>
  <nav class="nav"><ul>
    <li><a href="/">Overview</a></li>
    <li><a href="/displays/north" aria-current="page">Displays</a></li>
    <li><a href="/points">Points</a></li>
    <li><a href="/alarms">Alarms</a></li>
    <li><a href="/events">Events</a></li>
    <li><a href="/links">Links</a></li>
  </ul></nav>
  <div id="alarm-banner" class="alarm-banner" data-unacked="0">
    <a class="alarm-count p1" data-priority="1" href="/alarms?priority=1"><span data-count="unacked">0</span><span data-count="active">0</span></a>
    <a class="alarm-count p2" data-priority="2" href="/alarms?priority=2"><span data-count="unacked">0</span><span data-count="active">0</span></a>
    <a class="alarm-count p3" data-priority="3" href="/alarms?priority=3"><span data-count="unacked">0</span><span data-count="active">0</span></a>
    <a class="alarm-count p4" data-priority="4" href="/alarms?priority=4"><span data-count="unacked">0</span><span data-count="active">0</span></a>
  </div>
  <button id="silence" type="button" data-silence>Silence</button>
  <span class="clock" data-clock></span>
  <span class="user">op1 · operator</span>
</header>
<div id="conn-banner" class="banner banner-down" hidden>Connection to the server lost: values are not live</div>
<main>
<h1 class="page-title">North substation · 20 kV</h1>
<div class="display">
<svg id="mimic" viewBox="0 0 720 300" width="720" height="300" role="img" aria-label="North substation single-line diagram">
  <use href="{{.Sym}}#sym-busbar" x="30" y="40" width="660" height="8" class="busbar"/>
  <text x="30" y="30">Busbar A 20 kV</text>

  <use href="{{.Sym}}#sym-disconnector" x="80" y="48" width="40" height="40"/>
  <g id="brk1" data-point="north.f1.cb" data-kind="double" data-controllable="true">
    <use href="{{.Sym}}#sym-breaker" x="80" y="92" width="40" height="40"/>
    <text x="128" y="118" data-field="value">—</text>
  </g>
  <use href="{{.Sym}}#sym-feeder" x="80" y="136" width="40" height="40"/>
  <text x="60" y="196">Feeder 1</text>
  <g id="p1" data-point="north.f1.p"><text x="60" y="220" data-field="value">—</text></g>

  <g id="brk2" data-point="north.f2.cb" data-kind="double" data-controllable="true">
    <use href="{{.Sym}}#sym-breaker" x="240" y="60" width="40" height="40"/>
    <text x="288" y="86" data-field="value">—</text>
  </g>
  <use href="{{.Sym}}#sym-transformer" x="240" y="104" width="40" height="60"/>
  <use href="{{.Sym}}#sym-load" x="240" y="168" width="40" height="40"/>
  <text x="222" y="226">T1 load</text>

  <g id="ds3" data-point="north.f3.ds" data-kind="double">
    <use href="{{.Sym}}#sym-disconnector" x="400" y="48" width="40" height="40"/>
    <text x="448" y="74" data-field="value">—</text>
  </g>
  <g id="brk3" data-point="north.f3.cb" data-kind="double">
    <use href="{{.Sym}}#sym-breaker" x="400" y="92" width="40" height="40"/>
    <text x="448" y="118" data-field="value">—</text>
  </g>
  <use href="{{.Sym}}#sym-generator" x="400" y="140" width="40" height="40"/>
  <text x="385" y="200">G1</text>

  <use href="{{.Sym}}#sym-disconnector" x="560" y="48" width="40" height="40"/>
  <use href="{{.Sym}}#sym-earth" x="560" y="92" width="40" height="40"/>
  <text x="545" y="150">Earth</text>
</svg>
</div>

<div class="tiles">
  <div class="tile" id="tile-p" data-point="north.f1.p"><span class="tile-name">Feeder 1 active power</span><span data-field="value">—</span><span data-field="quality"></span><span data-field="time"></span></div>
  <div class="tile" id="tile-u" data-point="north.bus.u"><span class="tile-name">Busbar A voltage</span><span data-field="value">—</span><span data-field="quality"></span><span data-field="time"></span></div>
  <div class="tile" id="tile-t" data-point="north.t1.temp"><span class="tile-name">T1 oil temperature</span><span data-field="value">—</span><span data-field="quality"></span><span data-field="time"></span></div>
  <div class="tile" id="tile-evil" data-point="north.evil"><span class="tile-name" id="evil-name">{{.Evil}}</span><span data-field="value" id="evil-value">—</span><span data-field="quality"></span></div>
  <div class="tile" id="tile-raw" data-point="north.raw" data-kind="float" data-unit="MW"><span class="tile-name">A value without text</span><span data-field="value">—</span></div>
</div>

<section class="panel" id="times" data-point="north.f1.p">
  <dl class="kv">
    <dt>Source time</dt><dd><time data-field="source_time" data-none="none (the device sent no time tag)" class="muted">none (the device sent no time tag)</time></dd>
    <dt>Received</dt><dd><time data-field="recv_time" data-none="never" class="muted">never</time></dd>
  </dl>
</section>

<div class="toolbar">
  <button id="operate" type="button" data-control data-point="north.f1.cb" data-controllable="true" class="btn-primary">Operate feeder 1 breaker…</button>
  <input id="filter" type="search" data-filter="text" placeholder="Filter points">
  <span data-filter-count></span>
</div>

<div class="table-wrap">
<table id="points" data-sortable>
  <thead><tr><th>Point</th><th>Value</th><th data-nosort>Quality</th></tr></thead>
  <tbody>
    <tr data-point="north.bus.u" data-area="north"><td>Busbar A voltage</td><td data-field="value">—</td><td data-field="quality"></td></tr>
    <tr data-point="north.t1.temp" data-area="north/t1"><td>T1 oil temperature</td><td data-field="value">—</td><td data-field="quality"></td></tr>
    <tr data-point="north.f1.p" data-area="north/f1"><td>Feeder 1 active power</td><td data-field="value">—</td><td data-field="quality"></td></tr>
  </tbody>
</table>
</div>

<section class="panel">
<h2>Trend <span class="muted">last hour</span></h2>
<figure class="trend" id="trend" data-trend="north.f1.p" data-from-ms="{{.From}}" data-to-ms="{{.To}}" data-min="0" data-max="10" data-width="800" data-height="240">
  <svg viewBox="0 0 800 240" role="img" aria-label="Trend of north.f1.p">
    <line class="grid" x1="64" y1="215" x2="790" y2="215"></line>
    <line class="grid" x1="64" y1="10" x2="790" y2="10"></line>
    <line class="grid" x1="64" y1="10" x2="64" y2="215"></line>
    <line class="grid" x1="427" y1="10" x2="427" y2="215"></line>
    <line class="grid" x1="790" y1="10" x2="790" y2="215"></line>
    <polygon class="band" points="64,150 245.5,120 427,100 608.5,110 790,90 790,130 608.5,140 427,135 245.5,160 64,170"></polygon>
    <polyline class="line" points="64,160 245.5,140 427,118 608.5,125 790,110"></polyline>
    <text x="58" y="219" text-anchor="end">0</text>
    <text x="58" y="14" text-anchor="end">10 MW</text>
    <text x="64" y="234" text-anchor="start">t0</text>
    <text x="427" y="234" text-anchor="middle">t1</text>
    <text x="790" y="234" text-anchor="end">t2</text>
  </svg>
</figure>
</section>

<h2>Traffic rtu1</h2>
<div class="traffic-scroll"><table id="traffic" data-traffic="rtu1"><tbody></tbody></table></div>

<dialog id="control-dialog" data-point="north.f1.cb" data-sbo="true" data-select-timeout-ms="10000" data-point-name="Feeder 1 breaker">
  <h2>Feeder 1 breaker</h2>
  <p>Now: <span data-field="value">—</span> · <span data-field="quality"></span></p>
  <div class="choices">
    <button type="button" data-control data-value="1">Open</button>
    <button type="button" data-control data-value="2">Close</button>
  </div>
  <ol data-steps></ol>
  <p data-outcome></p>
</dialog>

<dialog class="control-dialog" data-point="north.f2.cb" data-sbo="false" data-point-name="{{.Evil}}">
  <h2>{{.Evil}}</h2>
  <div class="choices">
    <button type="button" data-control data-value="1">Open</button>
    <button type="button" data-control data-value="2">Close</button>
  </div>
</dialog>
<button id="open-sp" type="button" data-control data-control-open data-point="north.g1.sp">G1 set-point…</button>
<button id="open-tagged" type="button" data-control data-control-open data-point="north.g2.sp">G2 set-point…</button>

<dialog class="control-dialog" data-point="north.g1.sp" data-sbo="false" data-point-name="G1 active power set-point">
  <form method="dialog">
    <h2>G1 active power set-point</h2>
    <label>Value <input type="number" step="any" min="0" max="10" data-control-input data-unit="MW"> MW</label>
  </form>
</dialog>

<dialog class="control-dialog" data-point="north.g2.sp" data-sbo="false" data-point-name="G2 set-point">
  <form method="dialog">
    <h2>G2 set-point</h2>
    <p class="tag-dno">Do not operate: maintenance</p>
    <label>Value <input type="number" data-control-input data-unit="MW" disabled> MW</label>
  </form>
</dialog>
</main>
</body>
</html>
`))

// alarmsPage is the alarm list of docs/ui-contract.md, rendered from the env's alarm states.
var alarmsPage = template.Must(template.New("alarms").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="csrf-token" content="{{.CSRF}}">
<title>Alarms · hmi</title>
<link rel="stylesheet" href="{{.CSS}}">
<script type="module" src="{{.App}}"></script>
</head>
<body data-page="alarms" data-user="op1" data-role="operator">
<header class="topbar">
  <span class="brand">hmi</span>
  <nav class="nav"><ul><li><a href="/">Overview</a></li><li><a href="/alarms" aria-current="page">Alarms</a></li></ul></nav>
  <div id="alarm-banner" class="alarm-banner" data-unacked="2">
    <a class="alarm-count p1" data-priority="1" href="/alarms?priority=1"><span data-count="unacked">1</span><span data-count="active">1</span></a>
    <a class="alarm-count p2" data-priority="2" href="/alarms?priority=2"><span data-count="unacked">1</span><span data-count="active">0</span></a>
    <a class="alarm-count p3" data-priority="3" href="/alarms?priority=3"><span data-count="unacked">0</span><span data-count="active">1</span></a>
    <a class="alarm-count p4" data-priority="4" href="/alarms?priority=4"><span data-count="unacked">0</span><span data-count="active">0</span></a>
  </div>
  <button id="silence" type="button" data-silence>Silence</button>
</header>
<div id="conn-banner" class="banner banner-down" hidden>Connection to the server lost: values are not live</div>
<main>
<h1 class="page-title">Alarms</h1>
<div class="toolbar">
  <button type="button" data-ack-selected>Acknowledge selected</button>
  <button type="button" data-ack-visible>Acknowledge all visible</button>
  <input data-alarm-comment placeholder="Comment">
  <select data-shelve-duration><option value="15m">15 min</option><option value="1h">1 hour</option></select>
  <button type="button" data-shelve>Shelve</button>
  <button type="button" data-unshelve>Unshelve</button>
  <button type="button" data-out-of-service>Take out of service</button>
  <input id="alarm-filter" type="search" data-filter="text" data-filter-table="alarms" placeholder="Filter">
</div>
<table id="alarms" data-sortable>
  <thead><tr><th data-nosort><input type="checkbox" data-select-all aria-label="Select all"></th><th>Priority</th><th>Time</th><th>Point</th><th>Message</th><th>State</th></tr></thead>
  <tbody>
  {{range .Alarms}}{{if ne .State "out_of_service"}}<tr data-alarm="{{.ID}}" class="alarm p{{.Prio}} st-{{.State}}">
    <td><input type="checkbox" data-select-alarm aria-label="Select"></td><td class="prio">P{{.Prio}}</td><td>{{.Time}}</td><td>{{.Point}}</td><td>{{.Message}}</td><td>{{.State}}</td>
  </tr>
  {{end}}{{end}}</tbody>
</table>
<section id="alarms-oos" class="panel">
<h2>Out of service</h2>
<table class="alarm-table"><tbody>
  {{range .Alarms}}{{if eq .State "out_of_service"}}<tr data-alarm="{{.ID}}" class="alarm p{{.Prio}} st-{{.State}}"><td>{{.Message}}</td><td><button type="button" data-in-service>Return to service</button></td></tr>
  {{end}}{{end}}</tbody>
</table>
</section>
</main>
</body>
</html>
`))

// testAlarm is one row of the alarm list.
type testAlarm struct {
	ID, Point, Message, State, Time string
	Prio                            int
}

// probe runs in every document before the page's scripts (DevTools scripts are not subject to the CSP). It
// records CSP violations, so that the test sees them even if the console reports them differently, and counts
// the beeps of the audible alarm (oscillators started).
const probe = `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
});
window.__beeps = 0;
const __start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__beeps++; return __start.apply(this, args); };`

// clientMsg is one message the page sent on /ws.
type clientMsg struct {
	Type   string   `json:"type"`
	Points []string `json:"points"`
	Link   string   `json:"link"`
	conn   int      // which connection (1 = first)
}

// fakeWS is the /ws endpoint: it records every client message and lets the test send, close and hold back
// connections.
type fakeWS struct {
	ctx context.Context // the test server's lifetime

	mu       sync.Mutex
	cur      *websocket.Conn // the current connection, guarded by mu
	n        int             // connections accepted so far, guarded by mu
	received []clientMsg     // guarded by mu
	gate     chan struct{}   // when not nil, new handshakes wait until it is closed; guarded by mu
}

func (f *fakeWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		// The browser's WebSocket stays CONNECTING meanwhile: the page is offline, and no console error.
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c.SetReadLimit(64 << 10)
	f.mu.Lock()
	f.n++
	id := f.n
	f.cur = c
	f.mu.Unlock()
	defer c.CloseNow()
	for {
		_, data, err := c.Read(f.ctx)
		if err != nil {
			return
		}
		var m clientMsg
		if err := json.Unmarshal(data, &m); err != nil {
			m.Type = "not json: " + string(data)
		}
		m.conn = id
		f.mu.Lock()
		f.received = append(f.received, m)
		f.mu.Unlock()
	}
}

// hold makes new handshakes wait; release lets them (and the waiting ones) through.
func (f *fakeWS) hold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate == nil {
		f.gate = make(chan struct{})
	}
}

func (f *fakeWS) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
}

func (f *fakeWS) messages() []clientMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]clientMsg(nil), f.received...)
}

func (f *fakeWS) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// waitSubscribe waits for the subscribe message of connection conn and returns it.
func (f *fakeWS) waitSubscribe(t *testing.T, conn int) clientMsg {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range f.messages() {
			if m.conn == conn && m.Type == "subscribe" {
				return m
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no subscribe on connection %d; received %+v", conn, f.messages())
	return clientMsg{}
}

// send writes v as JSON to the current connection.
func (f *fakeWS) send(t *testing.T, v any) {
	t.Helper()
	f.mu.Lock()
	c := f.cur
	f.mu.Unlock()
	if c == nil {
		t.Fatal("send: no connection")
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// closeWith closes the current connection from the server side with a close frame of code and reason.
func (f *fakeWS) closeWith(t *testing.T, code websocket.StatusCode, reason string) {
	t.Helper()
	f.mu.Lock()
	c := f.cur
	f.cur = nil
	f.mu.Unlock()
	if c == nil {
		t.Fatal("closeWith: no connection")
	}
	go c.Close(code, reason)
}

// drop closes the current connection from the server side with a close frame (no TCP reset, so that the
// browser logs no error).
func (f *fakeWS) drop(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	c := f.cur
	f.cur = nil
	f.mu.Unlock()
	if c == nil {
		t.Fatal("drop: no connection")
	}
	go c.Close(websocket.StatusGoingAway, "test closes the socket")
}

// apiCall is one request to the fake API.
type apiCall struct {
	Method, Path, CSRF string
	Body               map[string]any
}

// fakeAPI answers /api/v1/ with the responses the test sets per "METHOD path", and records every call.
type fakeAPI struct {
	mu    sync.Mutex
	calls []apiCall                    // guarded by mu
	resp  map[string]func() (int, any) // guarded by mu; the funcs run under mu
}

func (a *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	key := r.Method + " " + r.URL.EscapedPath()
	// The answer funcs run under mu, one at a time, so that they may keep state.
	a.mu.Lock()
	a.calls = append(a.calls, apiCall{Method: r.Method, Path: r.URL.EscapedPath(), CSRF: r.Header.Get("X-CSRF-Token"), Body: body})
	status, v := http.StatusNotFound, any(map[string]string{"error": "no fake answer for " + key})
	if fn := a.resp[key]; fn != nil {
		status, v = fn()
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *fakeAPI) on(key string, fn func() (int, any)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.resp[key] = fn
}

func (a *fakeAPI) history() []apiCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]apiCall(nil), a.calls...)
}

// waitCall waits for the n-th call (1-based) and returns it.
func (a *fakeAPI) waitCall(t *testing.T, n int) apiCall {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if h := a.history(); len(h) >= n {
			return h[n-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("API call %d never came; calls: %+v", n, a.history())
	return apiCall{}
}

// env is one test's server, fake endpoints and browser tab.
type env struct {
	t   *testing.T
	ctx context.Context // the tab, bounded in time
	srv *httptest.Server
	ws  *fakeWS
	api *fakeAPI

	mu      sync.Mutex
	console []chromedp.ConsoleMessage // guarded by mu
	expect  []string                  // URLs whose failed loads the test causes on purpose; guarded by mu
	alarms  []testAlarm               // the alarm list the /alarms page shows; guarded by mu
}

// setAlarmState changes the state of alarm id in the list the /alarms page renders.
func (e *env) setAlarmState(id, state string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range e.alarms {
		if e.alarms[i].ID == id {
			e.alarms[i].State = state
		}
	}
}

// expectFailedLoad tells checkConsole that the browser will log an error status of url (a refusal the test sets up).
func (e *env) expectFailedLoad(path string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expect = append(e.expect, e.srv.URL+path)
}

// browser starts one Chromium for a test; its tabs come from newEnv.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need %s (Debian package chromium), and CI=true: %v", chromiumPath, err)
		}
		t.Skipf("skipping the browser tests: %s not found (apt-get install chromium chromium-driver)", chromiumPath)
	}
	dir := t.TempDir() // registered first, so removed after the browser has exited
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // required as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		_ = chromedp.Cancel(cctx)
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser, bound to ctx: no timeout here (see chromedp.NewContext).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// newEnv serves the test page and opens it in a new tab of the browser.
func newEnv(t *testing.T, browserCtx context.Context) *env {
	t.Helper()
	srvCtx, stopSrv := context.WithCancel(context.Background())
	e := &env{t: t, ws: &fakeWS{ctx: srvCtx}, api: &fakeAPI{resp: map[string]func() (int, any){}}}
	mux := http.NewServeMux()
	mux.Handle("/static/", Handler())
	mux.Handle("/ws", e.ws)
	mux.Handle("/api/v1/", e.api)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err := testPage.Execute(w, map[string]string{
			"CSRF": testCSRF, "CSS": URL("css/hmi.css"), "App": URL("js/app.js"),
			"Sym": URL("svg/symbols.svg"), "Evil": evilName,
			"From": fmt.Sprint(time.Now().Add(-time.Hour).UnixMilli()), "To": fmt.Sprint(time.Now().UnixMilli()),
		})
		if err != nil {
			t.Errorf("page: %v", err)
		}
	})
	mux.HandleFunc("/alarms", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		rows := append([]testAlarm(nil), e.alarms...)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		err := alarmsPage.Execute(w, map[string]any{"CSRF": testCSRF, "CSS": URL("css/hmi.css"), "App": URL("js/app.js"), "Alarms": rows})
		if err != nil {
			t.Errorf("alarms page: %v", err)
		}
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log in</title></head><body data-page="login"><main class="login">log in</main></body></html>`)
	})
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", testCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		stopSrv()
		e.srv.CloseClientConnections()
		e.srv.Close()
	})

	tab, cancelTab := chromedp.NewContext(browserCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	msgs := chromedp.Console(tab)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			e.mu.Lock()
			e.console = append(e.console, m)
			e.mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: probe}); err != nil {
		t.Fatalf("probe: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	t.Cleanup(cancel)
	e.ctx = ctx
	t.Cleanup(e.checkConsole)
	return e
}

// open loads the page and answers its first subscription with a snapshot of the given points.
func (e *env) open(snapshot []map[string]any) {
	e.t.Helper()
	e.do(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(e.srv.URL+"/"))
	sub := e.ws.waitSubscribe(e.t, 1)
	if len(sub.Points) == 0 {
		e.t.Fatalf("subscribe without points: %+v", sub)
	}
	e.ws.send(e.t, map[string]any{"type": "snapshot", "seq": 1, "points": snapshot})
	e.waitJS(`!document.body.classList.contains('offline') && document.getElementById('conn-banner').hidden`, "page online")
}

func (e *env) do(actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	if err := chromedp.Do(e.ctx, actions...); err != nil {
		e.t.Fatalf("browser: %v", err)
	}
}

func (e *env) click(sel string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		e.t.Fatalf("click %s: %v", sel, err)
	}
}

// js evaluates expr and decodes its value.
func js[T any](e *env, expr string) T {
	e.t.Helper()
	v, err := chromedp.Run(e.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		e.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits up to 5 s until expr is truthy. It evaluates expr in a loop rather than with chromedp.Poll, which
// runs its predicate as a user gesture and so would give the page the user activation that the audible alarm
// depends on.
func (e *env) waitJS(expr, what string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := chromedp.Run(e.ctx, chromedp.Evaluate[bool](`Boolean(`+expr+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			state, _ := chromedp.Run(e.ctx, chromedp.Evaluate[string](`document.body.className + ' | banner hidden=' + document.getElementById('conn-banner').hidden`))
			e.t.Fatalf("waiting for %s (%s): %v; page: %s", what, expr, err, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) text(sel string) string {
	e.t.Helper()
	return js[string](e, `document.querySelector(`+quote(sel)+`).textContent`)
}

func (e *env) classes(sel string) string {
	e.t.Helper()
	return js[string](e, `document.querySelector(`+quote(sel)+`).getAttribute('class') || ''`)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// checkConsole fails the test on console errors, exceptions and CSP violations.
func (e *env) checkConsole() {
	t := e.t
	if v, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]string](`window.__csp || []`)); err == nil && len(v) > 0 {
		t.Errorf("CSP violations: %q", v)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.console {
		if m.Source == "network" && slices.Contains(e.expect, m.URL) {
			continue
		}
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Source == "security" ||
			strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("browser console %s (%s) %s:%d: %s", m.Type, m.Source, m.URL, m.Line, m.Text)
		} else if testing.Verbose() {
			t.Logf("browser console %s: %s", m.Type, m.Text)
		}
	}
}

// screenshot saves the viewport as PNG under os.TempDir()/hmi-screenshots/.
func (e *env) screenshot(name string) {
	e.t.Helper()
	png, err := chromedp.Run(e.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		e.t.Fatalf("screenshot: %v", err)
	}
	dir := filepath.Join(os.TempDir(), "hmi-screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("screenshot: %s", p)
}

func point(id string, value any, text string, q map[string]bool) map[string]any {
	quality := map[string]bool{"iv": false, "nt": false, "sb": false, "bl": false, "ov": false, "commfail": false, "stale": false, "initial": false}
	for k, v := range q {
		quality[k] = v
	}
	return map[string]any{
		"id": id, "value": value, "text": text, "quality": quality,
		"source_time": "2026-03-02T09:41:07.250Z", "recv_time": "2026-03-02T09:41:07.262Z",
	}
}

func snapshot() []map[string]any {
	return []map[string]any{
		point("north.f1.cb", 1, "Open", nil),
		point("north.f2.cb", 2, "Closed", nil),
		point("north.f3.cb", 2, "Closed", nil),
		point("north.f3.ds", 2, "Closed", nil),
		point("north.f1.p", 4.2, "4.20 MW", nil),
		point("north.bus.u", 20.4, "20.4 kV", nil),
		point("north.t1.temp", 61.5, "61.5 °C", nil),
		point("north.evil", 1, "ok", nil),
	}
}

func TestBrowser(t *testing.T) {
	b := browser(t)

	t.Run("LiveValues", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		sub := e.ws.waitSubscribe(t, 1)
		for _, id := range []string{"north.f1.cb", "north.f1.p", "north.evil", "north.f3.ds"} {
			if !strings.Contains(strings.Join(sub.Points, ","), id) {
				t.Errorf("subscription %v lacks %s", sub.Points, id)
			}
		}
		e.waitJS(`document.querySelector('#tile-p [data-field=value]').textContent === '4.20 MW'`, "snapshot applied")
		e.screenshot("static-normal")
		if got := e.classes("#brk1"); !strings.Contains(got, "state-1") {
			t.Errorf("#brk1 classes after the snapshot = %q, want state-1", got)
		}

		e.ws.send(t, map[string]any{"type": "points", "seq": 2, "points": []map[string]any{
			point("north.f1.cb", 2, "Closed", nil),
			point("north.f1.p", 4.35, "4.35 MW", map[string]bool{"iv": true}),
			point("north.bus.u", 0, "0.0 kV", map[string]bool{"commfail": true}),
			point("north.t1.temp", 61.5, "61.5 °C", map[string]bool{"stale": true}),
			point("north.evil", 12, evilValue, nil),
		}})
		e.waitJS(`document.querySelector('#tile-p [data-field=value]').textContent === '4.35 MW'`, "points applied")
		tests := []struct{ sel, want, notWant string }{
			{"#brk1", "state-2", "state-1"},
			{"#tile-p", "q-invalid q-bad", "q-commfail"},
			{"#p1", "q-invalid", ""},
			{"#tile-u", "q-commfail", "q-invalid"},
			{"#tile-t", "q-stale", ""},
			{"#tile-evil", "", "q-bad"},
		}
		for _, tc := range tests {
			got := e.classes(tc.sel)
			for _, c := range strings.Fields(tc.want) {
				if !strings.Contains(" "+got+" ", " "+c+" ") {
					t.Errorf("%s classes = %q, want %s", tc.sel, got, c)
				}
			}
			if tc.notWant != "" && strings.Contains(" "+got+" ", " "+tc.notWant+" ") {
				t.Errorf("%s classes = %q, want no %s", tc.sel, got, tc.notWant)
			}
		}
		if got := e.text("#brk1 [data-field=value]"); got != "Closed" {
			t.Errorf("SVG breaker value = %q, want Closed", got)
		}
		if got := e.text("#tile-u [data-field=quality]"); got != "comm fail" {
			t.Errorf("quality words = %q, want comm fail", got)
		}
		if got := e.text("#tile-p [data-field=time]"); len(got) != len("00:00:00.000") || !strings.HasSuffix(got, "07.250") {
			t.Errorf("time = %q, want local HH:MM:07.250", got)
		}
		// The quality marker of the CSS is there (not only a colour).
		if got := js[string](e, `getComputedStyle(document.querySelector('#tile-u [data-field=value]'), '::after').content`); !strings.Contains(got, "✕") {
			t.Errorf("commfail marker = %s, want a ✕", got)
		}
		if got := js[string](e, `getComputedStyle(document.querySelector('#tile-p [data-field=value]')).outlineStyle`); got != "dashed" {
			t.Errorf("invalid value outline = %s, want dashed", got)
		}

		// Markup in names and values stays text.
		if got := e.text("#evil-name"); got != evilName {
			t.Errorf("point name = %q, want %q", got, evilName)
		}
		if got := e.text("#evil-value"); got != evilValue {
			t.Errorf("value text = %q, want %q", got, evilValue)
		}
		if n := js[int](e, `document.querySelectorAll('#tile-evil img, #tile-evil b, main script').length`); n != 0 {
			t.Errorf("%d elements made from device text", n)
		}
		if js[bool](e, `window.__xss === 1`) {
			t.Error("markup in a value ran")
		}

		// A later points batch clears flags that no longer hold.
		e.ws.send(t, map[string]any{"type": "points", "seq": 3, "points": []map[string]any{point("north.f1.p", 4.4, "4.40 MW", nil)}})
		e.waitJS(`document.querySelector('#tile-p [data-field=value]').textContent === '4.40 MW'`, "second batch")
		if got := e.classes("#tile-p"); strings.Contains(got, "q-") {
			t.Errorf("#tile-p classes = %q, want no q-*", got)
		}
		e.ws.send(t, map[string]any{"type": "points", "seq": 4, "points": []map[string]any{point("north.f1.p", 4.35, "4.35 MW", map[string]bool{"iv": true})}})
		e.waitJS(`document.querySelector('#tile-p').classList.contains('q-invalid')`, "invalid again")

		e.ws.send(t, map[string]any{"type": "alarms", "unacked": 3, "new": false, "summary": map[string]any{
			"1": map[string]int{"unacked": 1, "active": 2}, "2": map[string]int{"unacked": 2, "active": 2},
			"3": map[string]int{"unacked": 0, "active": 1}, "4": map[string]int{"unacked": 0, "active": 0},
		}})
		e.ws.send(t, map[string]any{"type": "traffic", "link": "rtu1", "frames": []map[string]any{
			{"seq": 1, "time": "2026-03-02T09:41:07.100Z", "dir": "rx", "text": "I(12,7) M_DP_TB_1 spont CA 1 IOA 1001 = ON 2026-03-02 09:41:07.098"},
			{"seq": 2, "time": "2026-03-02T09:41:07.105Z", "dir": "tx", "text": "S(8)"},
		}})
		e.waitJS(`document.querySelectorAll('#traffic tr.frame').length === 2`, "traffic rows")
		e.screenshot("static-live")
	})

	// The point page's times follow the live value; a value without the server's text is formatted by the
	// server's rule, with the element's unit.
	t.Run("LiveTimesAndFallbackText", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		e.waitJS(`document.querySelector('#times [data-field=recv_time]').textContent !== 'never'`, "times applied")
		re := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:07\.(250|262)$`)
		src, recv := e.text("#times [data-field=source_time]"), e.text("#times [data-field=recv_time]")
		if !re.MatchString(src) || !strings.HasSuffix(src, "07.250") || !re.MatchString(recv) || !strings.HasSuffix(recv, "07.262") {
			t.Errorf("source time %q, received %q: want local date and time, 07.250 and 07.262", src, recv)
		}
		if js[bool](e, `document.querySelector('#times [data-field=recv_time]').classList.contains('muted')`) {
			t.Error("a time shown is still muted")
		}
		if got := js[string](e, `document.querySelector('#times [data-field=source_time]').getAttribute('datetime')`); got != "2026-03-02T09:41:07.250Z" {
			t.Errorf("datetime = %q", got)
		}
		// A later value without a source time: the words of data-none, and the new receive time.
		p := point("north.f1.p", 4.5, "4.50 MW", nil)
		p["source_time"], p["recv_time"] = nil, "2026-03-02T09:41:09.500Z"
		e.ws.send(t, map[string]any{"type": "points", "seq": 2, "points": []map[string]any{p,
			{"id": "north.raw", "kind": "float", "value": 1234.5678, "quality": map[string]bool{}, "recv_time": "2026-03-02T09:41:09.500Z"}}})
		e.waitJS(`document.querySelector('#times [data-field=recv_time]').textContent.endsWith('09.500')`, "the new receive time")
		if got := e.text("#times [data-field=source_time]"); got != "none (the device sent no time tag)" {
			t.Errorf("source time without one = %q", got)
		}
		if !js[bool](e, `document.querySelector('#times [data-field=source_time]').classList.contains('muted') && !document.querySelector('#times [data-field=source_time]').hasAttribute('datetime')`) {
			t.Error("no source time: not muted, or a datetime left")
		}
		if got := e.text("#tile-raw [data-field=value]"); got != "1235 MW" {
			t.Errorf("value without text = %q, want 1235 MW", got)
		}
	})

	// live.js formats numbers as the server does: both follow web/testdata/numbers.json.
	t.Run("NumberFormat", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		cases, err := os.ReadFile("../web/testdata/numbers.json")
		if err != nil {
			t.Fatal(err)
		}
		expr := `(async () => {
  const { formatNumber } = await import(` + quote(URL("js/live.js")) + `);
  const special = { 'NaN': NaN, '+Inf': Infinity, '-Inf': -Infinity };
  return (` + string(cases) + `).cases.map((c) => {
    const x = typeof c.value === 'string' ? special[c.value] : c.value;
    return { value: String(c.value), kind: c.kind, want: c.text, got: formatNumber(x, c.kind) };
  });
})()`
		got, err := chromedp.Run(e.ctx, chromedp.Evaluate[[]struct{ Value, Kind, Want, Got string }](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) < 20 {
			t.Fatalf("%d cases", len(got))
		}
		for _, c := range got {
			if c.Got != c.Want {
				t.Errorf("formatNumber(%s, %s) = %q, want %q", c.Value, c.Kind, c.Got, c.Want)
			}
		}
	})

	// A close for an ended session sends the page to the login page, which comes back here; any other close
	// reconnects.
	t.Run("SessionEnded", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		e.ws.closeWith(t, websocket.StatusPolicyViolation, "fell behind")
		e.ws.waitSubscribe(t, 2)
		e.ws.send(t, map[string]any{"type": "snapshot", "seq": 2, "points": snapshot()})
		e.waitJS(`document.getElementById('conn-banner').hidden`, "online again after another 1008")
		e.ws.closeWith(t, websocket.StatusPolicyViolation, "session ended")
		e.waitJS(`location.pathname === '/login'`, "the login page")
		if got := js[string](e, `location.search`); got != "?ended=1&next=%2F" {
			t.Errorf("login page query = %q, want ?ended=1&next=%%2F", got)
		}
		time.Sleep(1200 * time.Millisecond) // a reconnection would come within the backoff
		if n := e.ws.connections(); n != 2 {
			t.Errorf("%d connections, want 2: no reconnection after the session ended", n)
		}
	})

	t.Run("SortAndFilter", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		order := func() string {
			return js[string](e, `[...document.querySelectorAll('#points tbody tr')].map(r => r.cells[0].textContent).join('|')`)
		}
		e.click("#points th:nth-child(1)")
		if got, want := order(), "Busbar A voltage|Feeder 1 active power|T1 oil temperature"; got != want {
			t.Errorf("ascending = %q, want %q", got, want)
		}
		e.click("#points th:nth-child(1)")
		if got, want := order(), "T1 oil temperature|Feeder 1 active power|Busbar A voltage"; got != want {
			t.Errorf("descending = %q, want %q", got, want)
		}
		if got := js[string](e, `document.querySelector('#points th').getAttribute('aria-sort')`); got != "descending" {
			t.Errorf("aria-sort = %q", got)
		}
		e.do(chromedp.SendKeys(chromedp.CSS("#filter"), "feeder"))
		e.waitJS(`[...document.querySelectorAll('#points tbody tr')].filter(r => !r.hidden).length === 1`, "filtered")
		if got := e.text("[data-filter-count]"); got != "1 of 3" {
			t.Errorf("filter count = %q, want 1 of 3", got)
		}
	})

	t.Run("TrendExtendsLive", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		p := point("north.f1.p", 5.0, "5.00 MW", nil)
		p["source_time"] = time.Now().UTC().Format(time.RFC3339Nano)
		e.ws.send(t, map[string]any{"type": "points", "seq": 2, "points": []map[string]any{p}})
		// Within a redraw period the live sample is the last vertex: at the right edge, at half height.
		e.waitJS(`(() => { const v = document.querySelector('#trend polyline.line').getAttribute('points').trim().split(' ').pop().split(',').map(Number); return v[0] > 780 && v[0] <= 790 && Math.abs(v[1] - 112.5) < 0.2; })()`, "live vertex")
		e.do(chromedp.ScrollIntoView(chromedp.CSS("#trend")))
		e.screenshot("static-trend")
		if got := e.text("#trend text:nth-of-type(3)"); !regexp.MustCompile(`^\d\d:\d\d$`).MatchString(got) {
			t.Errorf("time label = %q, want HH:MM", got)
		}
		// A sample of bad quality is not drawn.
		n := js[int](e, `document.querySelector('#trend polyline.line').getAttribute('points').trim().split(' ').length`)
		bad := point("north.f1.p", 9.0, "9.00 MW", map[string]bool{"iv": true})
		bad["source_time"] = time.Now().UTC().Format(time.RFC3339Nano)
		e.ws.send(t, map[string]any{"type": "points", "seq": 3, "points": []map[string]any{bad}})
		time.Sleep(1200 * time.Millisecond)
		if got := js[int](e, `document.querySelector('#trend polyline.line').getAttribute('points').trim().split(' ').length`); got > n {
			t.Errorf("%d vertices after an invalid sample, want at most %d", got, n)
		}
	})

	t.Run("TrafficCapAndPause", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		var traffic bool
		for _, m := range e.ws.messages() {
			traffic = traffic || (m.Type == "traffic" && m.Link == "rtu1")
		}
		if !traffic {
			t.Errorf("no traffic subscription; client sent %+v", e.ws.messages())
		}
		frames := make([]map[string]any, 0, 600)
		for i := 1; i <= 600; i++ {
			frames = append(frames, map[string]any{"seq": i, "time": "2026-03-02T09:41:07.100Z", "dir": "rx", "text": fmt.Sprintf("frame %d <b>x</b>", i)})
		}
		e.ws.send(t, map[string]any{"type": "traffic", "link": "rtu1", "frames": frames})
		e.waitJS(`document.querySelectorAll('#traffic tr.frame').length === 500`, "500 rows")
		if got := e.text("#traffic tr.frame:last-child .frame-text"); got != "frame 600 <b>x</b>" {
			t.Errorf("last row = %q", got)
		}
		e.click("[data-traffic-pause]")
		e.ws.send(t, map[string]any{"type": "traffic", "link": "rtu1", "frames": []map[string]any{{"seq": 601, "dir": "tx", "text": "S(601)"}}})
		e.waitJS(`document.querySelector('[data-traffic-pause]').textContent.includes('1 new')`, "held while paused")
		if got := e.text("#traffic tr.frame:last-child .frame-text"); got != "frame 600 <b>x</b>" {
			t.Errorf("paused view changed: last row %q", got)
		}
		e.click("[data-traffic-pause]")
		e.waitJS(`document.querySelector('#traffic tr.frame:last-child .frame-text').textContent === 'S(601)'`, "resumed")
	})

	t.Run("OfflineAndReconnect", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		e.waitJS(`!document.getElementById('operate').disabled`, "control enabled while online")

		e.ws.hold()
		e.ws.drop(t)
		start := time.Now()
		e.waitJS(`!document.getElementById('conn-banner').hidden`, "banner shown")
		if d := time.Since(start); d > time.Second {
			t.Errorf("banner took %v", d)
		}
		if !js[bool](e, `document.body.classList.contains('offline')`) {
			t.Error("body is not offline")
		}
		if n := js[int](e, `[...document.querySelectorAll('[data-control]')].filter(b => !b.disabled).length`); n != 0 {
			t.Errorf("%d [data-control] elements still enabled", n)
		}
		if got := js[string](e, `getComputedStyle(document.querySelector('#tile-p')).filter`); !strings.Contains(got, "grayscale") {
			t.Errorf("offline value filter = %q, want grayscale", got)
		}
		e.screenshot("static-offline")

		// Clicks while offline: on the disabled button, and on the SVG breaker (which cannot be disabled).
		e.click("#operate")
		e.click("#brk1 use")
		if js[bool](e, `document.getElementById('control-dialog').open`) {
			t.Error("the control dialog opened while offline")
		}
		e.waitJS(`document.querySelector('.notice-error') !== null`, "not-connected notice")

		// Reconnection: a points batch before the snapshot is ignored, the snapshot applies.
		e.ws.release()
		e.ws.waitSubscribe(t, 2)
		e.ws.send(t, map[string]any{"type": "points", "seq": 9, "points": []map[string]any{point("north.f1.p", 9.99, "9.99 MW", nil)}})
		snap := snapshot()
		snap[4] = point("north.f1.p", 5.1, "5.10 MW", nil)
		e.ws.send(t, map[string]any{"type": "snapshot", "seq": 10, "points": snap})
		e.waitJS(`document.querySelector('#tile-p [data-field=value]').textContent === '5.10 MW'`, "snapshot after reconnect")
		e.waitJS(`document.getElementById('conn-banner').hidden && !document.body.classList.contains('offline')`, "banner hidden")
		if !js[bool](e, `!document.getElementById('operate').disabled`) {
			t.Error("the control button stayed disabled after the reconnection")
		}
		time.Sleep(700 * time.Millisecond) // room for anything that would be replayed

		if n := e.ws.connections(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
		for _, m := range e.ws.messages() {
			switch m.Type {
			case "subscribe", "traffic", "ping":
			default:
				t.Errorf("client sent %+v: only subscriptions and pings may go over the socket", m)
			}
		}
		if h := e.api.history(); len(h) != 0 {
			t.Errorf("API calls after offline clicks: %+v", h)
		}
		if js[bool](e, `document.getElementById('control-dialog').open`) {
			t.Error("the control dialog opened after the reconnection")
		}
	})

	t.Run("AlarmBannerAndSound", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		e.ws.send(t, map[string]any{"type": "alarms", "unacked": 3, "new": true, "summary": map[string]any{
			"1": map[string]int{"unacked": 1, "active": 2}, "2": map[string]int{"unacked": 2, "active": 4},
			"3": map[string]int{"unacked": 0, "active": 1}, "4": map[string]int{"unacked": 0, "active": 0},
		}})
		e.waitJS(`document.getElementById('alarm-banner').dataset.unacked === '3'`, "banner total")
		tests := []struct {
			prio            int
			unacked, active string
			class, notClass string
		}{
			{1, "1", "2", "has-unacked", "is-zero"},
			{2, "2", "4", "has-unacked", "is-zero"},
			{3, "0", "1", "has-active", "has-unacked"},
			{4, "0", "0", "is-zero", "has-active"},
		}
		for _, tc := range tests {
			sel := fmt.Sprintf(`#alarm-banner [data-priority="%d"]`, tc.prio)
			if got := e.text(sel + ` [data-count=unacked]`); got != tc.unacked {
				t.Errorf("P%d unacked = %q, want %s", tc.prio, got, tc.unacked)
			}
			if got := e.text(sel + ` [data-count=active]`); got != tc.active {
				t.Errorf("P%d active = %q, want %s", tc.prio, got, tc.active)
			}
			cl := " " + e.classes(sel) + " "
			if !strings.Contains(cl, " "+tc.class+" ") || strings.Contains(cl, " "+tc.notClass+" ") {
				t.Errorf("P%d classes = %q, want %s and not %s", tc.prio, cl, tc.class, tc.notClass)
			}
		}
		if got := js[string](e, `document.getElementById('silence').dataset.state`); got != "sounding" {
			t.Errorf("silence button state = %q, want sounding", got)
		}
		// The browser's autoplay policy decides: the sound starts at once, or a hint shows until the first click.
		hint := `(document.querySelector('.sound-hint') !== null && !document.querySelector('.sound-hint').hidden)`
		e.waitJS(`window.__beeps >= 3 || `+hint, "beeping or the sound hint")
		if js[bool](e, hint) {
			t.Log("autoplay held back: the hint shows; clicking")
			e.click("h1")
		}
		e.waitJS(`window.__beeps >= 3`, "beeping")
		if js[bool](e, `document.querySelector('.sound-hint') !== null && !document.querySelector('.sound-hint').hidden`) {
			t.Error("the sound hint shows while the sound plays")
		}
		e.waitJS(`window.__beeps >= 6`, "the beeps repeat")
		e.click("#silence")
		e.waitJS(`document.getElementById('silence').dataset.state === 'silenced'`, "silenced")
		beeps := js[int](e, `window.__beeps`)
		time.Sleep(2500 * time.Millisecond) // longer than the P1 repeat period
		if got := js[int](e, `window.__beeps`); got != beeps {
			t.Errorf("%d beeps after the silence", got-beeps)
		}
		if got := js[string](e, `sessionStorage.getItem('hmi.alarm.silenced') || ''`); got != "1" {
			t.Errorf("silence not kept in sessionStorage: %q", got)
		}
		// A summary change without a new alarm keeps the silence; a new alarm ends it.
		e.ws.send(t, map[string]any{"type": "alarms", "unacked": 2, "new": false, "summary": map[string]any{
			"1": map[string]int{"unacked": 0, "active": 2}, "2": map[string]int{"unacked": 2, "active": 4},
		}})
		e.waitJS(`document.getElementById('alarm-banner').dataset.unacked === '2'`, "banner total 2")
		if got := js[string](e, `document.getElementById('silence').dataset.state`); got != "silenced" {
			t.Errorf("after a change without new alarm: %q, want silenced", got)
		}
		e.ws.send(t, map[string]any{"type": "alarms", "unacked": 3, "new": true, "summary": map[string]any{
			"1": map[string]int{"unacked": 1, "active": 3}, "2": map[string]int{"unacked": 2, "active": 4},
		}})
		e.waitJS(`document.getElementById('silence').dataset.state === 'sounding'`, "sounding after a new alarm")
		e.waitJS(`window.__beeps > `+fmt.Sprint(beeps), "beeping again after a new alarm")
		// All acknowledged: quiet.
		e.ws.send(t, map[string]any{"type": "alarms", "unacked": 0, "new": false, "summary": map[string]any{
			"1": map[string]int{"unacked": 0, "active": 3},
		}})
		e.waitJS(`document.getElementById('silence').dataset.state === 'quiet'`, "quiet when all acknowledged")
		beeps = js[int](e, `window.__beeps`)
		time.Sleep(2500 * time.Millisecond)
		if got := js[int](e, `window.__beeps`); got != beeps {
			t.Errorf("%d beeps with no unacknowledged alarm", got-beeps)
		}
	})

	t.Run("AlarmList", func(t *testing.T) {
		e := newEnv(t, b)
		e.alarms = []testAlarm{
			{ID: "a1", Prio: 1, State: "active_unacked", Point: "north.f1.cb", Message: "Feeder 1 breaker tripped", Time: "09:40:12"},
			{ID: "a2", Prio: 2, State: "returned_unacked", Point: "north.t1.temp", Message: "T1 oil temperature high " + evilName, Time: "09:38:55"},
			{ID: "a3", Prio: 3, State: "active_acked", Point: "north.bus.u", Message: "Busbar A voltage low", Time: "09:30:01"},
			{ID: "a4", Prio: 4, State: "shelved", Point: "north.f3.ds", Message: "Disconnector 3 position", Time: "08:12:44"},
		}
		ok := func() (int, any) { return http.StatusOK, map[string]any{} }
		acks := 0
		e.api.on("POST /api/v1/alarms/ack", func() (int, any) {
			acks++ // fakeAPI runs its answers one at a time
			if acks == 1 {
				e.setAlarmState("a1", "active_acked")
			} else {
				e.setAlarmState("a2", "normal")
			}
			return ok()
		})
		e.api.on("POST /api/v1/alarms/a3/shelve", func() (int, any) { e.setAlarmState("a3", "shelved"); return ok() })
		e.do(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(e.srv.URL+"/alarms"))
		e.waitJS(`!document.body.classList.contains('offline') && document.getElementById('conn-banner').hidden`, "page online")
		if got := js[string](e, `getComputedStyle(document.querySelector('tr[data-alarm=a1] td')).animationName`); got != "stripe-blink" {
			t.Errorf("unacknowledged row animation = %q, want stripe-blink", got)
		}
		if got := js[string](e, `getComputedStyle(document.querySelector('tr[data-alarm=a3] td')).animationName`); got != "none" {
			t.Errorf("acknowledged row animation = %q, want none", got)
		}
		e.screenshot("static-alarms")

		// Acknowledge selected: only the unacknowledged of the selection, with the comment.
		e.click(`tr[data-alarm=a1] [data-select-alarm]`)
		e.click(`tr[data-alarm=a3] [data-select-alarm]`)
		e.do(chromedp.SendKeys(chromedp.CSS("[data-alarm-comment]"), "checked on site"))
		e.click("[data-ack-selected]")
		call := e.api.waitCall(t, 1)
		if call.Path != "/api/v1/alarms/ack" || call.CSRF != testCSRF {
			t.Errorf("ack call = %+v", call)
		}
		if got := fmt.Sprint(call.Body["ids"]); got != "[a1]" || call.Body["comment"] != "checked on site" {
			t.Errorf("ack body = %v, want ids [a1] and the comment", call.Body)
		}
		e.waitJS(`document.querySelector('tr[data-alarm=a1]').classList.contains('st-active_acked')`, "list refreshed after the ack")
		if !js[bool](e, `document.querySelector('tr[data-alarm=a3] [data-select-alarm]').checked`) {
			t.Error("the refresh lost the selection of a3")
		}
		if got := e.text(`tr[data-alarm=a2] td:nth-child(5)`); !strings.HasSuffix(got, evilName) {
			t.Errorf("message after the refresh = %q, want the markup as text", got)
		}

		// Shelve the selection (a3 is still selected; a1 is acknowledged now and selected too: deselect it).
		e.click(`tr[data-alarm=a1] [data-select-alarm]`)
		e.do(chromedp.SetValue(chromedp.CSS("[data-shelve-duration]"), "1h"))
		e.click("[data-shelve]")
		call = e.api.waitCall(t, 2)
		if call.Path != "/api/v1/alarms/a3/shelve" || call.Body["duration"] != "1h" {
			t.Errorf("shelve call = %+v", call)
		}
		e.waitJS(`document.querySelector('tr[data-alarm=a3]').classList.contains('st-shelved')`, "list refreshed after the shelve")

		// Acknowledge all visible: the filter hides a1 and a3; a2 is the only unacknowledged one.
		e.do(chromedp.SendKeys(chromedp.CSS("#alarm-filter"), "T1"))
		e.waitJS(`document.querySelector('tr[data-alarm=a1]').hidden`, "filtered")
		e.click("[data-ack-visible]")
		call = e.api.waitCall(t, 3)
		if call.Path != "/api/v1/alarms/ack" || fmt.Sprint(call.Body["ids"]) != "[a2]" {
			t.Errorf("ack visible call = %+v, want ids [a2]", call)
		}
		e.waitJS(`document.querySelector('tr[data-alarm=a2]').classList.contains('st-normal')`, "a2 acknowledged")
		if !js[bool](e, `document.querySelector('tr[data-alarm=a1]').hidden`) {
			t.Error("the refresh dropped the filter")
		}

		// An alarm summary from the socket refreshes the list too.
		e.setAlarmState("a4", "active_unacked")
		e.ws.send(t, map[string]any{"type": "alarms", "unacked": 1, "new": true, "summary": map[string]any{"4": map[string]int{"unacked": 1, "active": 1}}})
		e.waitJS(`document.querySelector('tr[data-alarm=a4]').classList.contains('st-active_unacked')`, "refresh on a summary")
		if n := len(e.api.history()); n != 3 {
			t.Errorf("%d API calls, want 3", n)
		}
	})

	// Out of service: the toolbar's button takes the selected alarms out, the out-of-service section's button
	// returns one; each through its own endpoint with the CSRF token and the comment, and both parts of the page
	// refresh.
	t.Run("AlarmOutOfService", func(t *testing.T) {
		e := newEnv(t, b)
		e.alarms = []testAlarm{
			{ID: "a1", Prio: 1, State: "active_unacked", Point: "north.f1.cb", Message: "Feeder 1 breaker tripped", Time: "09:40:12"},
			{ID: "a2", Prio: 2, State: "active_acked", Point: "north.t1.temp", Message: "T1 oil temperature high", Time: "09:38:55"},
		}
		ok := func() (int, any) { return http.StatusOK, map[string]any{} }
		e.api.on("POST /api/v1/alarms/a2/out-of-service", func() (int, any) { e.setAlarmState("a2", "out_of_service"); return ok() })
		e.api.on("POST /api/v1/alarms/a2/in-service", func() (int, any) { e.setAlarmState("a2", "active_acked"); return ok() })
		e.do(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(e.srv.URL+"/alarms"))
		e.waitJS(`!document.body.classList.contains('offline') && document.getElementById('conn-banner').hidden`, "page online")
		e.click(`tr[data-alarm=a2] [data-select-alarm]`)
		e.do(chromedp.SendKeys(chromedp.CSS("[data-alarm-comment]"), "sensor replaced"))
		e.click("[data-out-of-service]")
		call := e.api.waitCall(t, 1)
		if call.Path != "/api/v1/alarms/a2/out-of-service" || call.CSRF != testCSRF || call.Body["comment"] != "sensor replaced" {
			t.Errorf("out-of-service call = %+v", call)
		}
		e.waitJS(`document.querySelector('#alarms tr[data-alarm=a2]') === null && document.querySelector('#alarms-oos tr[data-alarm=a2]') !== null`, "the alarm moved to the out-of-service section")
		e.click(`#alarms-oos tr[data-alarm=a2] [data-in-service]`)
		call = e.api.waitCall(t, 2)
		if call.Path != "/api/v1/alarms/a2/in-service" || call.CSRF != testCSRF {
			t.Errorf("in-service call = %+v", call)
		}
		e.waitJS(`document.querySelector('#alarms tr[data-alarm=a2]') !== null && document.querySelector('#alarms-oos tr[data-alarm=a2]') === null`, "the alarm back in the list")
		if n := len(e.api.history()); n != 2 {
			t.Errorf("%d API calls, want 2", n)
		}
	})

	t.Run("ControlSBO", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		selectStep := map[string]any{"step": "select", "at": "2026-03-02T09:41:08.000Z", "cot": 7, "latency_ms": 38}
		e.api.on("POST /api/v1/points/north.f1.cb/select", func() (int, any) {
			return http.StatusOK, map[string]any{"id": "c1", "point": "north.f1.cb", "value": 2, "state": "selected", "steps": []any{selectStep}}
		})
		e.api.on("POST /api/v1/commands/c1/execute", func() (int, any) {
			return http.StatusOK, map[string]any{"id": "c1", "point": "north.f1.cb", "value": 2, "state": "executing", "steps": []any{selectStep,
				map[string]any{"step": "execute", "at": "2026-03-02T09:41:10.000Z"}}}
		})

		e.click("#brk1 use")
		e.waitJS(`document.getElementById('control-dialog').open`, "dialog open")
		if got := e.text("#control-dialog [data-field=value]"); got != "Open" {
			t.Errorf("dialog shows the value %q, want Open", got)
		}
		e.click(`#control-dialog [data-value="2"]`)
		call := e.api.waitCall(t, 1)
		if call.CSRF != testCSRF {
			t.Errorf("select X-CSRF-Token = %q, want %q", call.CSRF, testCSRF)
		}
		if v, ok := call.Body["value"].(float64); !ok || v != 2 {
			t.Errorf("select body = %v, want value 2", call.Body)
		}
		e.waitJS(`!document.querySelector('#control-dialog [data-countdown]').hidden && /Execute within (9|10) s/.test(document.querySelector('#control-dialog [data-countdown]').textContent)`, "countdown")
		e.waitJS(`!document.querySelector('#control-dialog [data-execute]').hidden && !document.querySelector('#control-dialog [data-execute]').disabled`, "execute offered")
		if got := e.text("#control-dialog [data-steps]"); !strings.Contains(got, "38 ms") {
			t.Errorf("steps after select = %q, want the select latency", got)
		}
		e.screenshot("static-control-selected")

		e.click("#control-dialog [data-execute]")
		call = e.api.waitCall(t, 2)
		if call.Path != "/api/v1/commands/c1/execute" || call.CSRF != testCSRF {
			t.Errorf("execute call = %+v", call)
		}
		e.waitJS(`document.querySelectorAll('#control-dialog [data-steps] li').length === 2`, "execute step")
		e.ws.send(t, map[string]any{"type": "command", "command": map[string]any{"id": "c1", "point": "north.f1.cb", "value": 2, "state": "confirmed", "steps": []any{selectStep,
			map[string]any{"step": "execute", "at": "2026-03-02T09:41:10.000Z"},
			map[string]any{"step": "actcon", "at": "2026-03-02T09:41:10.041Z", "cot": 7, "latency_ms": 41}}}})
		e.waitJS(`document.querySelectorAll('#control-dialog [data-steps] li').length === 3`, "ACTCON step")
		e.ws.send(t, map[string]any{"type": "command", "command": map[string]any{"id": "c1", "point": "north.f1.cb", "value": 2, "state": "terminated", "steps": []any{selectStep,
			map[string]any{"step": "execute", "at": "2026-03-02T09:41:10.000Z"},
			map[string]any{"step": "actcon", "at": "2026-03-02T09:41:10.041Z", "cot": 7, "latency_ms": 41},
			map[string]any{"step": "actterm", "at": "2026-03-02T09:41:10.160Z", "cot": 10, "latency_ms": 160}}}})
		e.waitJS(`document.querySelector('#control-dialog [data-outcome]').classList.contains('outcome-ok') && document.querySelectorAll('#control-dialog [data-steps] li').length === 4`, "terminated")
		steps := e.text("#control-dialog [data-steps]")
		for _, want := range []string{"41 ms", "160 ms", "ACTTERM"} {
			if !strings.Contains(steps, want) {
				t.Errorf("steps = %q, want %q", steps, want)
			}
		}
		if got := e.text("#control-dialog [data-outcome]"); !strings.Contains(got, "terminated") {
			t.Errorf("outcome = %q", got)
		}
		if !js[bool](e, `document.querySelector('#control-dialog [data-countdown]').hidden && document.querySelector('#control-dialog [data-execute]').hidden`) {
			t.Error("countdown or execute still shown after the command ended")
		}
		e.screenshot("static-control-done")
		e.click("#control-dialog [data-close]")
		e.waitJS(`!document.getElementById('control-dialog').open`, "dialog closed")
		if n := len(e.api.history()); n != 2 {
			t.Errorf("%d API calls, want 2 (select, execute)", n)
		}
	})

	t.Run("ControlRefusedAndDirect", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		refusal := "interlock: earth switch north.f1.es is closed <b>"
		e.expectFailedLoad("/api/v1/points/north.f1.cb/select")
		e.api.on("POST /api/v1/points/north.f1.cb/select", func() (int, any) {
			return http.StatusConflict, map[string]any{"error": refusal}
		})
		e.click("#operate")
		e.waitJS(`document.getElementById('control-dialog').open`, "dialog open from the button")
		e.click(`#control-dialog [data-value="2"]`)
		e.waitJS(`document.querySelector('#control-dialog [data-outcome]').classList.contains('outcome-refused')`, "refusal shown")
		if got := e.text("#control-dialog [data-outcome]"); got != refusal {
			t.Errorf("refusal = %q, want %q", got, refusal)
		}
		e.click("#control-dialog [data-close]")

		// Direct execute: a confirmation that names the point as text, then one select call.
		e.api.on("POST /api/v1/points/north.f2.cb/select", func() (int, any) {
			return http.StatusOK, map[string]any{"id": "c2", "point": "north.f2.cb", "value": 1, "state": "terminated", "steps": []any{
				map[string]any{"step": "execute", "at": "2026-03-02T09:41:10.000Z"},
				map[string]any{"step": "actcon", "at": "2026-03-02T09:41:10.030Z", "cot": 7, "latency_ms": 30},
				map[string]any{"step": "actterm", "at": "2026-03-02T09:41:10.090Z", "cot": 10, "latency_ms": 90}}}
		})
		e.click("#brk2 use")
		e.waitJS(`document.querySelector('dialog[data-point="north.f2.cb"]').open`, "direct dialog open")
		e.click(`dialog[data-point="north.f2.cb"] [data-value="1"]`)
		e.waitJS(`!document.querySelector('dialog[data-point="north.f2.cb"] [data-confirm]').hidden`, "confirmation asked")
		if got, want := e.text(`dialog[data-point="north.f2.cb"] [data-confirm-text]`), "Operate "+evilName+" to Open?"; got != want {
			t.Errorf("confirmation = %q, want %q", got, want)
		}
		if n := len(e.api.history()); n != 1 {
			t.Errorf("%d API calls before the confirmation, want 1 (the refused one)", n)
		}
		e.click(`dialog[data-point="north.f2.cb"] [data-confirm]`)
		call := e.api.waitCall(t, 2)
		if call.Path != "/api/v1/points/north.f2.cb/select" || call.CSRF != testCSRF || call.Body["value"] != float64(1) {
			t.Errorf("direct select call = %+v", call)
		}
		e.waitJS(`document.querySelector('dialog[data-point="north.f2.cb"] [data-outcome]').classList.contains('outcome-ok')`, "direct done")
		if got := e.text(`dialog[data-point="north.f2.cb"] [data-steps]`); !strings.Contains(got, "90 ms") {
			t.Errorf("direct steps = %q", got)
		}
	})

	t.Run("ControlSetpoint", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		e.api.on("POST /api/v1/points/north.g1.sp/select", func() (int, any) {
			return http.StatusOK, map[string]any{"id": "c4", "point": "north.g1.sp", "value": 7.5, "state": "confirmed", "steps": []any{
				map[string]any{"step": "execute", "at": "2026-03-02T09:41:10.000Z"},
				map[string]any{"step": "actcon", "at": "2026-03-02T09:41:10.030Z", "cot": 7, "latency_ms": 30}}}
		})
		sp := `dialog[data-point="north.g1.sp"]`
		e.click("#open-sp")
		e.waitJS(`document.querySelector('`+sp+`').open`, "set-point dialog open")
		e.do(chromedp.SendKeys(chromedp.CSS(sp+" [data-control-input]"), "7.5"))
		e.click(sp + " button[data-control]:not([data-value]):not([data-confirm]):not([data-execute]):not([data-cancel])")
		e.waitJS(`!document.querySelector('`+sp+` [data-confirm]').hidden`, "confirmation asked")
		if got := e.text(sp + " [data-confirm-text]"); got != "Operate G1 active power set-point to 7.5 MW?" {
			t.Errorf("confirmation = %q", got)
		}
		e.click(sp + " [data-confirm]")
		call := e.api.waitCall(t, 1)
		if call.Body["value"] != 7.5 {
			t.Errorf("set-point body = %v, want value 7.5", call.Body)
		}
		e.waitJS(`document.querySelector('`+sp+` [data-outcome]').classList.contains('outcome-ok')`, "confirmed")
		e.click(sp + " [data-close]")

		// A set-point the server rendered disabled (a "do not operate" tag) stays disabled.
		tg := `dialog[data-point="north.g2.sp"]`
		e.click("#open-tagged")
		e.waitJS(`document.querySelector('`+tg+`').open`, "tagged dialog open")
		if !js[bool](e, `document.querySelector('`+tg+` [data-control-input]').disabled && [...document.querySelectorAll('`+tg+` button[data-control]')].every(b => b.disabled || b.hidden)`) {
			t.Error("the tagged set-point can be operated")
		}
		if n := len(e.api.history()); n != 1 {
			t.Errorf("%d API calls, want 1", n)
		}
	})

	t.Run("ControlSocketLost", func(t *testing.T) {
		e := newEnv(t, b)
		e.open(snapshot())
		e.api.on("POST /api/v1/points/north.f1.cb/select", func() (int, any) {
			return http.StatusOK, map[string]any{"id": "c3", "point": "north.f1.cb", "value": 2, "state": "selected", "steps": []any{}}
		})
		e.click("#brk1 use")
		e.click(`#control-dialog [data-value="2"]`)
		e.waitJS(`!document.querySelector('#control-dialog [data-execute]').hidden`, "selected")
		e.ws.hold()
		e.ws.drop(t)
		e.waitJS(`document.querySelector('#control-dialog [data-outcome]').textContent === `+quote(lostText), "outcome unknown")
		if !js[bool](e, `document.querySelector('#control-dialog [data-outcome]').classList.contains('outcome-unknown')`) {
			t.Error("no outcome-unknown class")
		}
		if !js[bool](e, `document.querySelector('#control-dialog [data-execute]').hidden && document.querySelector('#control-dialog [data-countdown]').hidden`) {
			t.Error("execute or countdown still offered after the socket dropped")
		}
		e.screenshot("static-control-lost")
		// Back online: nothing is sent on the command's behalf, and the dialog does not resume it.
		e.ws.release()
		e.ws.waitSubscribe(t, 2)
		e.ws.send(t, map[string]any{"type": "snapshot", "seq": 5, "points": snapshot()})
		e.waitJS(`document.getElementById('conn-banner').hidden`, "online again")
		e.ws.send(t, map[string]any{"type": "command", "command": map[string]any{"id": "c3", "state": "cancelled", "steps": []any{}}})
		time.Sleep(500 * time.Millisecond)
		if got := e.text("#control-dialog [data-outcome]"); got != lostText {
			t.Errorf("outcome after reconnection = %q, want it to stay %q", got, lostText)
		}
		if h := e.api.history(); len(h) != 1 {
			t.Errorf("API calls = %+v, want only the select", h)
		}
		if !js[bool](e, `document.querySelector('#control-dialog [data-execute]').hidden`) {
			t.Error("execute offered again after the reconnection")
		}
	})
}

// TestBrowserSoundNeedsGesture runs a browser whose autoplay policy wants a user gesture on the page, as a normal
// desktop Chrome does: the audible alarm shows its hint, and the first click starts the beeps.
func TestBrowserSoundNeedsGesture(t *testing.T) {
	b := browser(t, chromedp.Flag("autoplay-policy", "document-user-activation-required"))
	e := newEnv(t, b)
	e.open(snapshot())
	e.ws.send(t, map[string]any{"type": "alarms", "unacked": 1, "new": true, "summary": map[string]any{
		"2": map[string]int{"unacked": 1, "active": 1},
	}})
	if js[bool](e, `navigator.userActivation.hasBeenActive`) {
		t.Fatal("the page has user activation before any click: the test no longer checks the hint")
	}
	e.waitJS(`document.querySelector('.sound-hint') !== null && !document.querySelector('.sound-hint').hidden`, "sound hint")
	if n := js[int](e, `window.__beeps`); n != 0 {
		t.Errorf("%d beeps before a gesture", n)
	}
	if got := e.text(".sound-hint"); got != "Click anywhere to enable the alarm sound" {
		t.Errorf("hint = %q", got)
	}
	e.screenshot("static-sound-hint")
	e.click("h1")
	e.waitJS(`window.__beeps >= 2`, "beeping after the click")
	e.waitJS(`document.querySelector('.sound-hint').hidden`, "hint hidden")
}
