package main

// Browser tests against the real server: serve runs the HMI in-process on the example configuration (its
// simulators on free ports, the web server on 127.0.0.1:0) and a headless Chromium (Debian's chromium package)
// drives it through chromedp. Each test works in its own browser context, so with its own session. Any console
// error, uncaught exception, CSP violation or JavaScript dialog fails the test (browser_helpers_test.go).
// Screenshots of every page go to os.TempDir()/hmi-screenshots/serve-*.png, which CI keeps as artifacts.
//
// Without /usr/bin/chromium the tests skip, unless CI=true, where they fail.

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hmi/config"
)

const (
	breaker     = "north.feeder1.breaker" // double, SBO, labels [open, closed]; interlocked on local and earth
	frequency   = "north.busbar.frequency"
	northScreen = "/displays/north"
	// evilName is the name of a point in testScriptName's configuration.
	evilName = `<script>alert(1)</script> feeder`
)

// TestBrowser runs the HMI on the example configuration and drives it as admin, operator and viewer; ControlSBO
// and ScriptName run HMIs of their own. The subtests share one Chromium and run in parallel, each in its own
// browser context; Disconnection starts first, because it waits for the server's periodic session check (30 s)
// to close the socket of a logged-out session.
func TestBrowser(t *testing.T) {
	b := startBrowser(t)
	h := startHMI(t, "../../config.example.yaml", exampleText(t))

	// The server closes the socket of a session that ended: log the session out in another tab (the header's
	// "Log out" button) and watch the first tab lose its socket. The server checks the sessions of its sockets
	// every 30 s (server.WSConfig.SessionCheck, which serve leaves at its default), so this takes up to 30 s.
	t.Run("Disconnection", func(t *testing.T) {
		// Up to the logout, before the other subtests start (t.Parallel below): the server's check runs 30 s
		// after the socket opened, meanwhile the others run.
		p := newTab(t, b, h, "disconnection")
		p.login("operator")
		p.open("/points/"+breaker, "point")
		p.waitJS(`document.querySelector('section[data-point] [data-field=value]').textContent.trim() !== ''`, "the value shown", 10*time.Second)
		if js[bool](p, `document.querySelector('[data-control-open]').disabled`) {
			t.Fatal("the Operate button is disabled while online")
		}
		liveColour := js[string](p, `getComputedStyle(document.querySelector('section[data-point] [data-field=value]')).color`)
		offColour := js[string](p, `(() => { const s = document.createElement('span'); s.style.color = getComputedStyle(document.body).getPropertyValue('--offline'); document.body.append(s); const c = getComputedStyle(s).color; s.remove(); return c; })()`)
		if liveColour == offColour {
			t.Fatalf("the live value already has the offline colour %s", offColour)
		}

		// Once the session ends, the page's reconnection attempts are refused (401): expected failures.
		p.expectFailedLoad("/ws")
		other := p.sibling("disconnection-logout")
		other.open("/", "overview")
		other.click(`header form[action="/logout"] button[type=submit]`)
		other.waitPage("login")
		loggedOut := time.Now()
		t.Parallel()

		p.waitJS(`!document.getElementById('conn-banner').hidden`, "the disconnection banner", 40*time.Second)
		t.Logf("banner seen %v after the logout", time.Since(loggedOut).Round(time.Millisecond))
		closes := js[[]struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
		}](p, `window.__wsCloses`)
		if len(closes) == 0 || closes[0].Code != 1008 || closes[0].Reason != "session ended" {
			t.Errorf("socket closes = %+v, want the server's 1008 \"session ended\" first", closes)
		}
		if got := p.text("#conn-banner"); !strings.Contains(got, "Connection to the server lost") {
			t.Errorf("banner = %q", got)
		}
		if !js[bool](p, `(() => { const r = document.getElementById('conn-banner').getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(document.getElementById('conn-banner')).display !== 'none'; })()`) {
			t.Error("the banner is not visible")
		}
		if !js[bool](p, `document.body.classList.contains('offline')`) {
			t.Error("body has no class offline")
		}
		if got := js[string](p, `getComputedStyle(document.querySelector('section[data-point] [data-field=value]')).color`); got != offColour {
			t.Errorf("live value colour offline = %s, want the grey %s (online it was %s)", got, offColour, liveColour)
		}
		if !js[bool](p, `[...document.querySelectorAll('[data-control]')].every((e) => e.disabled)`) {
			t.Errorf("control buttons enabled while offline: %s", js[string](p, `[...document.querySelectorAll('[data-control]')].filter((e) => !e.disabled).map((e) => e.outerHTML).join(' ')`))
		}
		p.screenshot("disconnected")
		// It stays offline: the session is gone, the reconnections are refused.
		time.Sleep(1500 * time.Millisecond)
		if js[bool](p, `document.getElementById('conn-banner').hidden`) {
			t.Error("the banner went away although the session ended")
		}
	})

	// Log in through the form, open every page of the navigation and a few detail pages, screenshot each.
	t.Run("Pages", func(t *testing.T) {
		t.Parallel()
		p := newTab(t, b, h, "pages")
		p.open("/", "login") // not logged in: the login page
		p.screenshot("login")
		p.login("admin")
		if !strings.HasSuffix(js[string](p, `location.pathname`), "/") {
			t.Errorf("after the login at %s, want the overview at /", js[string](p, `location.href`))
		}
		var nav []string
		if err := json.Unmarshal([]byte(js[string](p, `JSON.stringify([...document.querySelectorAll('header nav a')].map((a) => a.getAttribute('href')))`)), &nav); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"/", northScreen, "/points", "/alarms", "/events", "/links", "/audit", "/admin/users"} {
			if !slices.Contains(nav, want) {
				t.Errorf("navigation %v lacks %s", nav, want)
			}
		}
		pages := []struct{ path, page, shot string }{
			{"/", "overview", "overview"},
			{"/points", "points", "points"},
			{"/points/" + breaker, "point", "point"},
			{"/points/" + frequency, "point", "point-analog"},
			{"/alarms", "alarms", "alarms"},
			{"/events", "events", "events"},
			{"/links", "links", "links"},
			{"/links/north", "link", "link"},
			{"/audit", "audit", "audit"},
			{"/admin/users", "admin-users", "admin-users"},
			{"/account", "account", "account"},
		}
		for _, d := range h.cfg.Displays {
			pages = append(pages, struct{ path, page, shot string }{"/displays/" + d.ID, "display", "display-" + d.ID})
		}
		for _, href := range nav { // whatever else the navigation offers
			if !slices.ContainsFunc(pages, func(pg struct{ path, page, shot string }) bool { return pg.path == href }) {
				t.Errorf("navigation entry %s not covered by this test", href)
			}
		}
		for _, pg := range pages {
			p.open(pg.path, pg.page)
			if js[bool](p, `document.querySelector('main') === null || document.querySelector('main').textContent.trim() === ''`) {
				t.Errorf("%s: empty main", pg.path)
			}
			if !js[bool](p, `getComputedStyle(document.body).backgroundColor !== 'rgba(0, 0, 0, 0)'`) {
				t.Errorf("%s: unstyled (no background colour)", pg.path)
			}
			switch pg.page {
			case "display":
				if n := js[int](p, `document.querySelectorAll('.display svg [data-point]').length`); n == 0 {
					t.Errorf("%s: no live element", pg.path)
				}
			case "points":
				if n := js[int](p, `document.querySelectorAll('table#points tbody tr[data-point]').length`); n != len(h.cfg.Points) {
					t.Errorf("points list has %d rows, want %d", n, len(h.cfg.Points))
				}
			case "links":
				if n := js[int](p, `document.querySelectorAll('main a[href^="/links/"]').length`); n < len(h.cfg.Links) {
					t.Errorf("links page links to %d links, want %d", n, len(h.cfg.Links))
				}
			case "link":
				// The live decoded traffic of the link arrives (the simulator sends spontaneous data).
				p.waitJS(`document.querySelectorAll('[data-traffic] tr').length > 0`, "traffic rows", 10*time.Second)
			case "admin-users":
				for _, u := range testUsers {
					if !strings.Contains(p.text("main"), u.name) {
						t.Errorf("admin users page lacks %s", u.name)
					}
				}
			}
			time.Sleep(300 * time.Millisecond) // a few live updates, then the picture
			p.screenshot(pg.shot)
		}
	})

	// A measured value changes live on the north display as the simulator's spontaneous changes arrive.
	t.Run("LiveDisplay", func(t *testing.T) {
		t.Parallel()
		p := newTab(t, b, h, "live-display")
		p.login("operator")
		p.open(northScreen, "display")
		var measured []string
		for _, id := range js[[]string](p, `[...new Set([...document.querySelectorAll('.display svg [data-point]')].filter((e) => e.querySelector('[data-field=value]') || e.matches('[data-field=value]')).map((e) => e.getAttribute('data-point')))]`) {
			if pt := h.cfg.Point(id); pt != nil && analog(pt) {
				measured = append(measured, id)
			}
		}
		if len(measured) == 0 {
			t.Fatalf("%s shows no measured value", northScreen)
		}
		t.Logf("measured values on %s: %v", northScreen, measured)
		values := `JSON.stringify(Object.fromEntries(` + quote(strings.Join(measured, ",")) + `.split(',').map((id) => [id, document.querySelector('.display svg [data-point="' + id + '"] [data-field=value], .display svg [data-field=value][data-point="' + id + '"]').textContent.trim()])))`
		first := js[string](p, values)
		var before map[string]string
		json.Unmarshal([]byte(first), &before)
		p.screenshot("display-live-before")
		p.waitJS(values+` !== `+quote(first), "a measured value to change", 20*time.Second)
		var after map[string]string
		json.Unmarshal([]byte(js[string](p, values)), &after)
		for id, v := range after {
			if v != before[id] {
				t.Logf("%s: %q -> %q", id, before[id], v)
				if u := h.cfg.Point(id).Unit; u != "" && !strings.HasSuffix(v, u) {
					t.Errorf("%s shows %q, want the unit %s", id, v, u)
				}
			}
		}
		p.screenshot("display-live-after")
	})

	// Acknowledge an active alarm in the alarm list: the frequency of the simulated busbar starts at 0 Hz, below
	// its low limits, so its alarms are active (and stay so: the simulator walks it by 0.1 Hz at most).
	t.Run("AlarmAck", func(t *testing.T) {
		t.Parallel()
		p := newTab(t, b, h, "alarm-ack")
		p.login("operator")
		p.open("/alarms", "alarms")
		row := `[...document.querySelectorAll('table#alarms tr.alarm.st-active_unacked')].find((r) => r.querySelector('a[href="/points/` + frequency + `"]'))`
		for deadline := time.Now().Add(15 * time.Second); !js[bool](p, `Boolean(`+row+`)`); {
			// The list refreshes on alarm summary changes; the alarm needs its on-delay (2 s) first.
			if time.Now().After(deadline) {
				t.Fatalf("no active unacknowledged alarm of %s; rows: %s", frequency, p.text("table#alarms tbody"))
			}
			time.Sleep(time.Second)
			p.open("/alarms", "alarms")
		}
		id := js[string](p, row+`.getAttribute('data-alarm')`)
		sel := `table#alarms tr[data-alarm=` + quote(id) + `]`
		p.screenshot("alarms-before-ack")
		p.click(sel + ` [data-select-alarm]`)
		p.do(chromedp.SendKeys(chromedp.CSS(`[data-alarm-comment]`), "seen in the browser test"))
		p.click(`[data-ack-selected]`)
		p.waitJS(`document.querySelector(`+quote(sel)+`) && document.querySelector(`+quote(sel)+`).classList.contains('st-active_acked')`, "the row acknowledged", 10*time.Second)
		if got := p.text(sel); !strings.Contains(got, "operator") {
			t.Errorf("acknowledged row = %q, want the operator's name", got)
		}
		p.screenshot("alarms-after-ack")
		res := p.fetchJSON("GET", "/api/v1/alarms", nil)
		var list []struct {
			ID, State, Comment string
			AckedBy            string `json:"acked_by"`
		}
		if res.Status != 200 || json.Unmarshal(res.Body, &list) != nil {
			t.Fatalf("GET /api/v1/alarms: %d %s", res.Status, res.Body)
		}
		i := slices.IndexFunc(list, func(a struct {
			ID, State, Comment string
			AckedBy            string `json:"acked_by"`
		}) bool {
			return a.ID == id
		})
		if i < 0 {
			t.Fatalf("alarm %s not in /api/v1/alarms: %s", id, res.Body)
		}
		if a := list[i]; a.State != "active_acked" || a.AckedBy != "operator" || a.Comment != "seen in the browser test" {
			t.Errorf("alarm after the ack: %+v", a)
		}
	})

	// A viewer sees no control, and the server refuses a select forged with the viewer's own CSRF token.
	t.Run("Viewer", func(t *testing.T) {
		t.Parallel()
		p := newTab(t, b, h, "viewer")
		p.login("viewer")
		p.open(northScreen, "display")
		if n := js[int](p, `document.querySelectorAll('[data-controllable="true"], dialog.control-dialog, [data-control]').length`); n != 0 {
			t.Errorf("the viewer's display has %d controls", n)
		}
		if js[int](p, `document.querySelectorAll('.display svg [data-point="`+breaker+`"]').length`) == 0 {
			t.Errorf("the viewer's display does not show %s", breaker)
		}
		p.screenshot("viewer-display")
		p.open("/points/"+breaker, "point")
		if n := js[int](p, `[...document.querySelectorAll('[data-control], [data-control-open]')].filter((e) => !e.disabled).length`); n != 0 {
			t.Errorf("the viewer's point page has %d enabled controls", n)
		}
		if got := p.text("main"); !strings.Contains(got, "You may not operate this point.") {
			t.Errorf("the point page does not say the viewer may not operate")
		}
		p.screenshot("viewer-point")
		path := "/api/v1/points/" + breaker + "/select"
		p.expectFailedLoad(path)
		res := p.fetchJSON("POST", path, map[string]any{"value": 2})
		if res.Status != 403 || !strings.Contains(errorOf(res.Body), "role") {
			t.Errorf("forged select as viewer: %d %s, want 403 with the reason", res.Status, res.Body)
		}
		t.Logf("forged select: %d %s", res.Status, res.Body)
	})

	// These two run HMIs of their own.
	t.Run("ControlSBO", func(t *testing.T) {
		t.Parallel()
		testControlSBO(t, b)
	})
	t.Run("ScriptName", func(t *testing.T) {
		t.Parallel()
		testScriptName(t, b)
	})
}

// analog reports whether the point is a measured value.
func analog(p *config.Point) bool {
	switch p.Kind.String() {
	case "normalized", "scaled", "float", "counter":
		return true
	}
	return false
}

// quietExample is the example configuration with simulators that make no spontaneous changes: the breaker's
// interlocks (local/remote, earthing switch) then hold, and its state changes only by command.
func quietExample(t *testing.T) string {
	t.Helper()
	text := exampleText(t)
	re := regexp.MustCompile(`(?m)^(\s+)rate: 2 `)
	if !re.MatchString(text) {
		t.Fatal("config.example.yaml: no simulator with rate: 2")
	}
	text = re.ReplaceAllString(text, "${1}rate: 0 ")
	re = regexp.MustCompile(`(?m)^  - link: south\n`)
	if !re.MatchString(text) {
		t.Fatal("config.example.yaml: no simulator of the link south")
	}
	return re.ReplaceAllString(text, "  - link: south\n    rate: 0\n")
}

// testControlSBO operates the feeder 1 breaker from the control dialog of the north display: Select, the
// countdown, Execute, the steps and the outcome, then the new state on the display. Its HMI's simulators make no
// spontaneous changes (quietExample).
func testControlSBO(t *testing.T, b context.Context) {
	h := startHMI(t, "../../config.example.yaml", quietExample(t))
	for _, s := range h.cfg.Simulators {
		if s.Rate != 0 {
			t.Fatalf("simulator %s has rate %v, want 0", s.Name, s.Rate)
		}
	}
	p := newTab(t, b, h, "control")
	p.login("operator")
	p.open(northScreen, "display")
	el := `.display svg [data-point="` + breaker + `"]`
	p.waitJS(`document.querySelector('`+el+`').classList.contains('state-1')`, "the breaker open", 10*time.Second)
	hasLabel := js[bool](p, `document.querySelector('`+el+` [data-field=value]') !== null`)
	if hasLabel {
		if got := strings.TrimSpace(p.text(el + " [data-field=value]")); got != "open" {
			t.Errorf("breaker label = %q, want open", got)
		}
	}
	dlg := `dialog[data-point="` + breaker + `"]`
	p.click(el)
	p.waitJS(`document.querySelector('`+dlg+`').open`, "the control dialog", 5*time.Second)
	if got := strings.TrimSpace(p.text(dlg + " [data-field=value]")); got != "open" {
		t.Errorf("dialog shows %q, want open", got)
	}
	if !js[bool](p, `document.querySelector('`+dlg+`').dataset.sbo === 'true'`) {
		t.Error("the breaker's dialog is not SBO")
	}
	p.click(dlg + ` button[data-control][data-value="2"]`)
	p.waitJS(`!document.querySelector('`+dlg+` [data-countdown]').hidden && /\d+ s/.test(document.querySelector('`+dlg+` [data-countdown]').textContent)`, "the countdown", 10*time.Second)
	p.waitJS(`!document.querySelector('`+dlg+` [data-execute]').hidden && !document.querySelector('`+dlg+` [data-execute]').disabled`, "Execute offered", 5*time.Second)
	countdown := p.text(dlg + " [data-countdown]")
	t.Logf("after select: countdown %q, steps %q", countdown, p.text(dlg+" [data-steps]"))
	p.screenshot("control-selected")
	p.waitJS(`document.querySelector('`+dlg+` [data-countdown]').textContent !== `+quote(countdown), "the countdown to count down", 5*time.Second)
	p.click(dlg + " [data-execute]")
	p.waitJS(`document.querySelector('`+dlg+` [data-outcome]').classList.contains('outcome-ok')`, "the outcome", 15*time.Second)
	steps := p.text(dlg + " [data-steps]")
	outcome := p.text(dlg + " [data-outcome]")
	t.Logf("steps %q, outcome %q", steps, outcome)
	for _, want := range []string{"ACTCON", "ACTTERM", " ms"} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps = %q, want %q", steps, want)
		}
	}
	if !strings.Contains(outcome, "terminated") {
		t.Errorf("outcome = %q, want terminated", outcome)
	}
	p.screenshot("control-terminated")
	p.click(dlg + " [data-close]")
	p.waitJS(`!document.querySelector('`+dlg+`').open`, "the dialog closed", 5*time.Second)
	p.waitJS(`document.querySelector('`+el+`').classList.contains('state-2') && !document.querySelector('`+el+`').classList.contains('state-1')`, "the breaker closed on the display", 5*time.Second)
	if hasLabel {
		if got := strings.TrimSpace(p.text(el + " [data-field=value]")); got != "closed" {
			t.Errorf("breaker label = %q, want closed", got)
		}
	}
	p.screenshot("control-display-after")

	// The point page and the API agree, and the audit (an admin's page) has the command with its steps.
	p.open("/points/"+breaker, "point")
	if got := strings.TrimSpace(p.text("section[data-point] [data-field=value]")); got != "closed" {
		t.Errorf("point page value = %q, want closed", got)
	}
	res := p.fetchJSON("GET", "/api/v1/points/"+breaker, nil)
	var pt struct{ Value float64 }
	if res.Status != 200 || json.Unmarshal(res.Body, &pt) != nil || pt.Value != 2 {
		t.Errorf("GET /api/v1/points/%s: %d %s, want value 2", breaker, res.Status, res.Body)
	}
	a := newTab(t, b, h, "control-audit")
	a.login("admin")
	a.open("/audit?point="+breaker, "audit")
	cmd := `section[data-command]`
	if got := a.text(cmd); !strings.Contains(got, breaker) || !strings.Contains(got, "operator") || !strings.Contains(got, "terminated") {
		t.Errorf("audit of the command = %q, want the point, the user and terminated", got)
	}
	if n := js[int](a, `document.querySelectorAll('section[data-command] tbody tr').length`); n < 5 {
		t.Errorf("the audit has %d steps of the command, want select, its ACTCON, execute, ACTCON, ACTTERM", n)
	}
	a.screenshot("control-audit")
}

// testScriptName runs an HMI on a configuration of its own, with a point named <script>alert(1)</script> feeder:
// the points list, the point page and its control dialog show the name as text, and no script runs (no dialog
// opens, no CSP violation, no script element but the page's module).
func testScriptName(t *testing.T, b context.Context) {
	dir := t.TempDir()
	addr := freePort(t)
	text := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:0
links:
  - name: evil
    addresses: [%s]
    ca: 1
points:
  - id: evil.feeder
    name: %q
    link: evil
    ioa: 100
    kind: single
    labels: ["off", "on"]
    control: {type: single, ioa: 5100, sbo: false}
  # A recorded point: serve panics on a configuration without one (store.NewHistoryRecorder
  # with no point subscribes to every point).
  - id: evil.current
    name: Feeder current
    link: evil
    ioa: 200
    kind: float
    unit: A
    history: {max_interval: 15m}
simulators:
  - link: evil
    listen: %s
    rate: 0
`, filepath.Join(dir, "data"), addr, evilName, addr)
	h := startHMI(t, filepath.Join(dir, "hmi.yaml"), text)
	if got := h.cfg.Point("evil.feeder").Name; got != evilName {
		t.Fatalf("point name %q, want %q", got, evilName)
	}
	p := newTab(t, b, h, "script-name")
	p.login("operator")
	noScript := func(where string) {
		t.Helper()
		if n := js[int](p, `[...document.querySelectorAll('script')].filter((s) => !/\/static\/js\/app\.js/.test(s.src)).length`); n != 0 {
			t.Errorf("%s: %d script elements besides app.js: %s", where, n, js[string](p, `[...document.querySelectorAll('script')].map((s) => s.outerHTML).join(' ')`))
		}
	}

	p.open("/points", "points")
	row := `table#points tr[data-point="evil.feeder"]`
	p.waitJS(`document.querySelector('`+row+`') !== null`, "the point's row", 5*time.Second)
	if got := js[string](p, `document.querySelector('`+row+` td:nth-child(2)').textContent.trim()`); got != evilName {
		t.Errorf("points list name = %q, want %q", got, evilName)
	}
	noScript("points list")
	p.screenshot("script-name-points")

	p.open("/points/evil.feeder", "point")
	if got := js[string](p, `document.querySelector('h1').firstChild.textContent.trim()`); got != evilName {
		t.Errorf("point page title = %q, want %q", got, evilName)
	}
	if got := js[string](p, `document.title`); !strings.Contains(got, evilName) {
		t.Errorf("document title = %q, want the name as text", got)
	}
	noScript("point page")
	dlg := `dialog[data-point="evil.feeder"]`
	if got := js[string](p, `document.querySelector('`+dlg+`').dataset.pointName`); got != evilName {
		t.Errorf("dialog data-point-name = %q", got)
	}
	p.click("[data-control-open]")
	p.waitJS(`document.querySelector('`+dlg+`').open`, "the control dialog", 5*time.Second)
	if got := strings.TrimSpace(p.text(dlg + " h2")); got != "Operate "+evilName {
		t.Errorf("dialog heading = %q", got)
	}
	p.click(dlg + ` button[data-control][data-value="1"]`)
	p.waitJS(`!document.querySelector('`+dlg+` [data-confirm-text]').hidden`, "the confirmation", 5*time.Second)
	if got := p.text(dlg + " [data-confirm-text]"); got != "Operate "+evilName+" to on?" {
		t.Errorf("confirmation = %q", got)
	}
	noScript("control dialog")
	p.screenshot("script-name-point")
	p.click(dlg + " [data-close]")
	p.waitJS(`!document.querySelector('`+dlg+`').open`, "the dialog closed", 5*time.Second)
}
