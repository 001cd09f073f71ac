package main

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// xssPayload is markup with an inline handler that records that it ran; tag tells the places apart.
func xssPayload(tag string) string { return `<img src=x onerror="window.__xss='` + tag + `'">` + tag }

// xssProbe inspects the page: whether an injected handler ran (window.__xss), the elements that carry an inline
// handler or that no page of the HMI has (img, iframe, object, embed, a script other than the module), and the
// text of the page: the body's text nodes (menus and dialogs closed or not), the titles, the SVG's text and the
// document's title, and the values of text inputs.
const xssProbe = `(() => {
  const bad = [];
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) bad.push(el.tagName.toLowerCase() + '[' + a.name + ']');
    }
  }
  for (const el of document.querySelectorAll('img, iframe, object, embed, frame, foreignObject')) bad.push(el.tagName.toLowerCase());
  for (const s of document.querySelectorAll('script')) {
    if (!/\/static\/js\/app\.js/.test(s.src)) bad.push('script ' + s.outerHTML.slice(0, 80));
  }
  const text = [document.title, document.body ? document.body.textContent : '',
    ...[...document.querySelectorAll('[title]')].map((e) => e.getAttribute('title')),
    ...[...document.querySelectorAll('svg text, svg title')].map((e) => e.textContent),
    ...[...document.querySelectorAll('input[type=text], input:not([type])')].map((e) => e.value)].join('\n');
  return {xss: typeof window.__xss === 'undefined' ? '' : String(window.__xss), bad, text};
})()`

type xssResult struct {
	XSS  string   `json:"xss"`
	Bad  []string `json:"bad"`
	Text string   `json:"text"`
}

// TestXSSBrowser runs an HMI whose configuration puts markup with an inline handler in every text it has (point
// names, areas, units, state labels, alarm messages, the display's name and its SVG's text and title), and whose
// users then write the same into every text they can (alarm comments on acknowledge, typed in the alarm list, on
// shelve and out of service, a tag's reason, a login name). Chromium loads every page that shows them: each shows
// the markup as text, no handler runs (window.__xss stays undefined, and no CSP violation, which fails any
// browser test), and no element with a handler, no img, no foreign script is in the document. User names cannot
// carry markup: the server refuses them (server's hostile table).
func TestXSSBrowser(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	svg := `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 240" width="600" height="240">
  <title>` + html.EscapeString(xssPayload("svg-title")) + `</title>
  <g data-point="xss.breaker"><rect x="10" y="10" width="40" height="40"/><text data-field="value" x="60" y="35">?</text></g>
  <text x="10" y="120">` + html.EscapeString(xssPayload("svg-text")) + `</text>
  <g data-point="xss.current"><text data-field="value" x="10" y="180">?</text></g>
</svg>
`
	if err := os.WriteFile(filepath.Join(dir, "xss.svg"), []byte(svg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	area := "xss/" + xssPayload("area")
	text := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:0
links:
  - name: xss
    addresses: [%s]
    ca: 1
  - name: dead
    addresses: [%s]
    ca: 2
    alarm: {delay: 0s}
points:
  - id: xss.breaker
    name: %q
    area: %q
    link: xss
    ioa: 100
    kind: single
    labels: [%q, %q]
    control: {type: single, ioa: 5100, sbo: false}
    alarm: {priority: 2, states: [0, 1], message: %q}
  - id: xss.current
    name: %q
    area: %q
    link: xss
    ioa: 200
    kind: float
    unit: %q
    history: {max_interval: 15m}
displays:
  - id: xss
    name: %q
    file: xss.svg
simulators:
  - link: xss
    listen: %s
    rate: 0
`, filepath.Join(dir, "data"), addr, freePort(t), xssPayload("name"), area, xssPayload("off"), xssPayload("on"),
		xssPayload("message"), xssPayload("current"), area, xssPayload("unit"), xssPayload("display"), addr)
	h := startHMI(t, filepath.Join(dir, "hmi.yaml"), text)
	if got := h.cfg.Point("xss.breaker").Name; got != xssPayload("name") {
		t.Fatalf("point name %q", got)
	}

	p := newTab(t, b, h, "xss")
	p.login("admin")

	// The alarms the configuration raises: the point's (any state) and the dead link's.
	const pointAlarm, linkAlarm = "discrete:xss.breaker", "link:dead"
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		res := p.fetchJSON("GET", "/api/v1/alarms", nil)
		var list []struct{ ID, State string }
		if res.Status != 200 || json.Unmarshal(res.Body, &list) != nil {
			t.Fatalf("GET /api/v1/alarms: %d %s", res.Status, res.Body)
		}
		if slices.ContainsFunc(list, func(a struct{ ID, State string }) bool { return a.ID == pointAlarm }) &&
			slices.ContainsFunc(list, func(a struct{ ID, State string }) bool { return a.ID == linkAlarm }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alarms %s", res.Body)
		}
	}

	// check loads path (a page of name, or an error page) and checks it; the payload tags of want must show as
	// text.
	check := func(path, name string, want ...string) {
		t.Helper()
		if name == "error" {
			p.expectFailedLoad(path) // the 404 of the page itself
			p.do(chromedp.Navigate(h.base + path))
			p.waitJS(`document.body && document.body.dataset.page === 'error'`, "the error page", 10*time.Second)
		} else {
			p.open(path, name)
		}
		time.Sleep(200 * time.Millisecond) // live values applied; an onerror of a broken image would have run
		r := js[xssResult](p, xssProbe)
		if r.XSS != "" {
			t.Errorf("%s: injected script ran (window.__xss = %q)", path, r.XSS)
		}
		if len(r.Bad) > 0 {
			t.Errorf("%s: injected elements %q", path, r.Bad)
		}
		for _, tag := range want {
			if tag == "label" { // the point's state, whichever it is
				if !strings.Contains(r.Text, xssPayload("off")) && !strings.Contains(r.Text, xssPayload("on")) {
					t.Errorf("%s: the state label is not shown as text", path)
				}
				continue
			}
			if !strings.Contains(r.Text, xssPayload(tag)) {
				t.Errorf("%s: the %s is not shown as text", path, tag)
			}
		}
	}

	// Acknowledge the point's alarm in the alarm list, with markup typed as the comment.
	p.open("/alarms", "alarms")
	sel := `table#alarms tr[data-alarm="` + pointAlarm + `"]`
	p.click(sel + ` [data-select-alarm]`)
	p.do(chromedp.SendKeys(chromedp.CSS(`[data-alarm-comment]`), xssPayload("ack")))
	p.click(`[data-ack-selected]`)
	p.waitJS(`document.querySelector(`+quote(sel)+`) && document.querySelector(`+quote(sel)+`).classList.contains('st-active_acked')`, "the row acknowledged", 10*time.Second)
	check("/alarms", "alarms", "message", "ack")

	// The other texts users write, through the API.
	for _, c := range []struct {
		path string
		body any
	}{
		{"/api/v1/alarms/" + linkAlarm + "/shelve", map[string]any{"duration": "1h", "comment": xssPayload("shelve")}},
		{"/api/v1/points/xss.breaker/tag", map[string]any{"on": true, "reason": xssPayload("tag")}},
	} {
		if res := p.fetchJSON("POST", c.path, c.body); res.Status != 200 {
			t.Fatalf("POST %s: %d %s", c.path, res.Status, res.Body)
		}
	}
	check("/alarms?state=shelved", "alarms", "shelve")
	check("/points/xss.breaker", "point", "name", "area", "label", "tag", "message", "ack")
	// The control dialog: its heading and its choices.
	p.click("[data-control-open]")
	dlg := `dialog[data-point="xss.breaker"]`
	p.waitJS(`document.querySelector('`+dlg+`').open`, "the control dialog", 5*time.Second)
	r := js[xssResult](p, xssProbe)
	if r.XSS != "" || len(r.Bad) > 0 || !strings.Contains(p.text(dlg), xssPayload("name")) || !strings.Contains(p.text(dlg), xssPayload("off")) {
		t.Errorf("control dialog: xss %q, injected %q, text %q", r.XSS, r.Bad, p.text(dlg))
	}
	p.click(dlg + " [data-close]")

	if res := p.fetchJSON("POST", "/api/v1/alarms/"+pointAlarm+"/out-of-service", map[string]any{"comment": xssPayload("oos")}); res.Status != 200 {
		t.Fatalf("out of service: %d %s", res.Status, res.Body)
	}
	check("/alarms", "alarms", "oos")
	check("/points/xss.breaker", "point", "oos")
	check("/points/xss.current", "point", "current", "unit")
	check("/points", "points", "name", "current", "area", "label", "tag")
	check("/points?q="+url.QueryEscape("onerror"), "points", "name", "current")
	check("/", "overview", "display")
	check("/displays/xss", "display", "display", "svg-title", "svg-text", "label", "unit")
	check("/events", "events")
	check("/events?text="+url.QueryEscape(xssPayload("ack")), "events")
	check("/audit", "audit", "tag")
	check("/links", "links")
	check("/links/xss", "link")
	check("/links/dead", "link")
	check("/account", "account", "display")
	check("/admin/users", "admin-users")
	check("/points/"+url.PathEscape(xssPayload("path")), "error", "path")
	check("/displays/"+url.PathEscape(xssPayload("path")), "error", "path")
	p.screenshot("xss-display")

	// A login name with markup comes back in the login form as text.
	q := newTab(t, b, h, "xss-login")
	q.expectFailedLoad("/login")
	q.open("/login", "login")
	q.do(
		chromedp.SendKeys(chromedp.CSS("#username"), xssPayload("login"), chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS("#password"), "wrong password", chromedp.NodeVisible),
	)
	js[bool](q, `window.__stale = true`) // gone once the answer's page replaces this one
	q.click(`main.login button[type="submit"]`)
	q.waitJS(`!window.__stale && document.readyState === 'complete' && document.querySelector('main.login .error-text') !== null`, "the login error", 10*time.Second)
	lr := js[xssResult](q, xssProbe)
	if lr.XSS != "" || len(lr.Bad) > 0 || !strings.Contains(lr.Text, xssPayload("login")) {
		t.Errorf("login page: xss %q, injected %q; the name shown as text: %v", lr.XSS, lr.Bad, strings.Contains(lr.Text, xssPayload("login")))
	}
}
