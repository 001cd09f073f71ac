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
// browser context.
func TestBrowser(t *testing.T) {
	b := startBrowser(t)
	h := startHMI(t, "../../config.example.yaml", exampleText(t))

	// The server closes the sockets of a session as soon as it ends: log the session out in another tab (the
	// header's user menu, "Log out") and watch the first tab lose its socket with 1008 "session ended" at once
	// (not at the server's periodic check of the sessions, every 30 s), and go to the login page, which brings it
	// back to the same page after the login.
	t.Run("Disconnection", func(t *testing.T) {
		t.Parallel()
		p := newTab(t, b, h, "disconnection")
		p.login("operator")
		p.open("/points/"+breaker, "point")
		p.waitJS(`document.querySelector('section[data-point] [data-field=value]').textContent.trim() !== ''`, "the value shown", 10*time.Second)
		if js[bool](p, `document.querySelector('[data-control-open]').disabled`) {
			t.Fatal("the Operate button is disabled while online")
		}

		other := p.sibling("disconnection-logout")
		other.open("/", "overview")
		other.click(`header details.user > summary`)
		other.click(`header form[action="/logout"] button[type=submit]`)
		other.waitPage("login")
		loggedOut := time.Now()

		p.waitJS(`location.pathname === '/login'`, "the login page", 10*time.Second)
		p.waitPage("login")
		t.Logf("at the login page %v after the logout", time.Since(loggedOut).Round(time.Millisecond))
		if d := time.Since(loggedOut); d > 8*time.Second {
			t.Errorf("the page went to the login page %v after the logout: not at once", d)
		}
		closes := js[[]struct {
			Code   int    `json:"code"`
			Reason string `json:"reason"`
			Page   string `json:"page"`
		}](p, `JSON.parse(sessionStorage.getItem('__wsCloses') || '[]')`)
		if len(closes) == 0 || closes[0].Code != 1008 || closes[0].Reason != "session ended" || closes[0].Page != "/points/"+breaker {
			t.Errorf("socket closes = %+v, want the server's 1008 \"session ended\" of the point page first", closes)
		}
		if got, want := js[string](p, `location.search`), "?ended=1&next=%2Fpoints%2F"+breaker; got != want {
			t.Errorf("login URL query = %q, want %q", got, want)
		}
		if got := p.text(".login-notice"); !strings.Contains(got, "session has ended") {
			t.Errorf("login page notice = %q", got)
		}
		p.screenshot("disconnected")
		// Logging in again goes back to the point page.
		p.do(
			chromedp.SendKeys(chromedp.CSS("#username"), "operator", chromedp.NodeVisible),
			chromedp.SendKeys(chromedp.CSS("#password"), passwordOf("operator"), chromedp.NodeVisible),
		)
		p.click(`main.login button[type="submit"]`)
		p.waitPage("point")
		if got := js[string](p, `location.pathname`); got != "/points/"+breaker {
			t.Errorf("after the login at %s, want the point page again", got)
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
				// Measured values: at most three decimals (or three significant digits in scientific notation).
				number := regexp.MustCompile(`^(—|-?\d+(\.\d{1,3})?|-?\d(\.\d{1,2})?e[+-]\d+)( .+)?$`)
				for _, pt := range h.cfg.Points {
					switch pt.Kind.String() {
					case "float", "normalized":
						v := strings.TrimSpace(p.text(`table#points tr[data-point="` + pt.ID + `"] [data-field=value]`))
						if !number.MatchString(v) {
							t.Errorf("%s shows %q: not the number format", pt.ID, v)
						}
					case "single":
						// A single point without labels says off or on, in lower case like the labels.
						if len(pt.Labels) == 0 {
							if v := strings.TrimSpace(p.text(`table#points tr[data-point="` + pt.ID + `"] [data-field=value]`)); v != "off" && v != "on" {
								t.Errorf("%s (no labels) shows %q, want off or on", pt.ID, v)
							}
						}
					}
				}
			case "alarms":
				// The alarm table fits the window: its last column is in view, nothing scrolls sideways.
				if !js[bool](p, `(() => { const t = document.getElementById('alarms'); const s = t.closest('.scroll'); const th = [...t.tHead.rows[0].cells].filter((c) => c.getBoundingClientRect().width > 0).pop(); return th.getBoundingClientRect().right <= window.innerWidth && s.scrollWidth <= s.clientWidth; })()`) {
					t.Errorf("the alarm table does not fit 1280 px: %s", js[string](p, `JSON.stringify([...document.querySelectorAll('table#alarms thead th')].map((c) => [c.textContent.trim(), Math.round(c.getBoundingClientRect().right)]))`))
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
			time.Sleep(500 * time.Millisecond) // a few live updates (and the sound hint, if any), then the picture
			// At 1280 px the header is one row, and nothing makes the page wider than the window.
			if !js[bool](p, headerOneRow) {
				t.Errorf("%s: the header is not one row at 1280 px: %s", pg.path, js[string](p, headerBoxes))
			}
			if w := js[int](p, `document.documentElement.scrollWidth`); w > 1280 {
				t.Errorf("%s: the page is %d px wide in a 1280 px window", pg.path, w)
			}
			p.screenshot(pg.shot)
		}
	})

	// At 1024 px the header takes two rows, and everything in it stays reachable: the navigation, the displays'
	// menu, the alarm counts and the user's menu with "Log out".
	t.Run("NarrowWindow", func(t *testing.T) {
		t.Parallel()
		p := newTab(t, b, h, "narrow")
		p.do(chromedp.EmulateViewport(1024, 768))
		p.login("admin") // the widest navigation
		for _, pg := range []struct{ path, page string }{{"/", "overview"}, {"/alarms", "alarms"}, {"/points", "points"}} {
			p.open(pg.path, pg.page)
			if w := js[int](p, `document.documentElement.scrollWidth`); w > 1024 {
				t.Errorf("%s: the page is %d px wide in a 1024 px window", pg.path, w)
			}
			inView := `[...document.querySelectorAll('header.topbar > *, header nav > ul > li')].every((e) => { const r = e.getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth && r.width > 0; })`
			if !js[bool](p, inView) {
				t.Errorf("%s: part of the header is out of the window: %s", pg.path, js[string](p, headerBoxes))
			}
			if hh := js[int](p, `Math.round(document.querySelector('header.topbar').getBoundingClientRect().height)`); hh > 110 {
				t.Errorf("%s: the header is %d px high", pg.path, hh)
			}
			p.screenshot("narrow-" + pg.page)
		}
		p.click(`header nav details.menu > summary`)
		p.waitJS(`[...document.querySelectorAll('header nav details.menu a')].every((a) => { const r = a.getBoundingClientRect(); return r.width > 0 && r.right <= window.innerWidth && r.bottom <= window.innerHeight; })`, "the displays' menu in view", 5*time.Second)
		p.screenshot("narrow-displays-menu")
		p.click(`header details.user > summary`)
		p.waitJS(`!document.querySelector('header nav details.menu').open`, "the other menu closed", 5*time.Second)
		p.waitJS(`(() => { const r = document.querySelector('header form[action="/logout"] button').getBoundingClientRect(); return r.width > 0 && r.right <= window.innerWidth; })()`, "Log out in view", 5*time.Second)
		p.screenshot("narrow-user-menu")
		p.click(`header nav details.menu > summary`) // opening the displays' menu again, then choosing a display
		p.click(`header nav details.menu a[href="` + northScreen + `"]`)
		p.waitPage("display")
		if !js[bool](p, `document.querySelector('header nav details.menu > summary').classList.contains('current')`) {
			t.Error("the displays' menu is not marked current on a display")
		}
	})

	// The point page's times follow the live value: "Received" changes as values arrive.
	t.Run("PointTimesLive", func(t *testing.T) {
		t.Parallel()
		p := newTab(t, b, h, "point-times")
		p.login("viewer")
		p.open("/points/"+frequency, "point")
		recv := `document.querySelector('section[data-point] [data-field=recv_time]').textContent`
		first := js[string](p, recv)
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`).MatchString(first) {
			t.Fatalf("received = %q, want a date and time", first)
		}
		p.waitJS(recv+` !== `+quote(first), "the receive time to change", 20*time.Second)
		got := js[string](p, recv)
		if src := js[string](p, `document.querySelector('section[data-point] [data-field=source_time]').textContent`); strings.HasPrefix(src, "none") {
			// Without a source time, the value's time is the receive time.
			if tm := js[string](p, `document.querySelector('section[data-point] [data-field=time]').textContent`); !strings.HasSuffix(got, tm) {
				t.Errorf("received %q and the value's time %q differ", got, tm)
			}
		}
		t.Logf("received: %q -> %q", first, got)
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

// headerOneRow is true when every visible part of the header sits on one row, within the window, and the
// header is no taller than one row; headerBoxes describes the parts for the error message.
const headerOneRow = `(() => {
  const h = document.querySelector('header.topbar');
  const parts = [...h.children].filter((e) => e.getBoundingClientRect().width > 0);
  const mids = parts.map((e) => { const r = e.getBoundingClientRect(); return r.top + r.height / 2; });
  return parts.length >= 5 && Math.max(...mids) - Math.min(...mids) < 6 && h.getBoundingClientRect().height < 60 &&
    parts.every((e) => e.getBoundingClientRect().right <= window.innerWidth) &&
    [...h.querySelectorAll('.alarm-count, #silence, .user > summary, .nav a, .nav summary')].every((e) => e.scrollWidth <= e.clientWidth + 1);
})()`

const headerBoxes = `JSON.stringify([...document.querySelector('header.topbar').children].map((e) => { const r = e.getBoundingClientRect(); return [e.className || e.localName, Math.round(r.left), Math.round(r.top), Math.round(r.width), Math.round(r.height)]; }))`

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
	// The value by its label, and the steps in time order.
	if got := a.text(cmd + " h2"); !strings.Contains(got, "→ closed") {
		t.Errorf("audit heading = %q, want the value as its label (→ closed)", got)
	}
	if !js[bool](a, `(() => { const ts = [...document.querySelector('section[data-command]').querySelectorAll('tbody time')].map((t) => Date.parse(t.getAttribute('datetime'))); return ts.every((t, i) => i === 0 || t >= ts[i - 1]); })()`) {
		t.Errorf("audit steps not in time order: %s", js[string](a, `[...document.querySelector('section[data-command]').querySelectorAll('tbody time')].map((t) => t.getAttribute('datetime')).join(' ')`))
	}
	if n := js[int](a, `document.querySelectorAll('section[data-command] tbody tr').length`); n < 5 {
		t.Errorf("the audit has %d steps of the command, want select, its ACTCON, execute, ACTCON, ACTTERM", n)
	}
	a.screenshot("control-audit")
}

// testScriptName runs an HMI on a configuration of its own, with a point named <script>alert(1)</script> feeder:
// the points list, the point page and its control dialog show the name as text, and no script runs (no dialog
// opens, no CSP violation, no script element but the page's module). Its second link has no station: the link's
// alarm says what is down once ("link dead down: connecting").
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
  - name: dead
    addresses: [%s]
    ca: 2
    alarm: {delay: 0s}
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
`, filepath.Join(dir, "data"), addr, freePort(t), evilName, addr)
	h := startHMI(t, filepath.Join(dir, "hmi.yaml"), text)
	if got := h.cfg.Point("evil.feeder").Name; got != evilName {
		t.Fatalf("point name %q, want %q", got, evilName)
	}
	p := newTab(t, b, h, "script-name")
	p.login("operator")

	// The alarm of the link without a station.
	var linkAlarm struct{ ID, State, Message string }
	for deadline := time.Now().Add(10 * time.Second); linkAlarm.ID == ""; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no alarm of the link dead")
		}
		res := p.fetchJSON("GET", "/api/v1/alarms", nil)
		var list []struct{ ID, State, Message string }
		if res.Status != 200 || json.Unmarshal(res.Body, &list) != nil {
			t.Fatalf("GET /api/v1/alarms: %d %s", res.Status, res.Body)
		}
		for _, a := range list {
			if a.ID == "link:dead" {
				linkAlarm = a
			}
		}
	}
	if !regexp.MustCompile(`^link dead down: (connecting|disconnected)$`).MatchString(linkAlarm.Message) {
		t.Errorf("link alarm message %q, want \"link dead down: connecting\" (the link named once)", linkAlarm.Message)
	}
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
