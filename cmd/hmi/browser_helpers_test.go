package main

// Helpers of the browser tests (browser_test.go): an HMI started in-process with serve, a headless Chromium,
// and one tab per browser context (its own cookies, so its own session), with every console error, uncaught
// exception, CSP violation and JavaScript dialog recorded.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"hmi/config"
)

const chromiumPath = "/usr/bin/chromium"

// The users every test HMI has, created in the store before serve starts.
var testUsers = []struct{ name, role, password string }{
	{"admin", "admin", "admin password 1"},
	{"operator", "operator", "operator password 2"},
	{"viewer", "viewer", "viewer password 3"},
}

func passwordOf(user string) string {
	for _, u := range testUsers {
		if u.name == user {
			return u.password
		}
	}
	panic("no test user " + user)
}

// testHMI is an HMI that serve runs in-process.
type testHMI struct {
	base string // http://127.0.0.1:PORT
	cfg  *config.Config
}

// startHMI runs serve on the configuration text (file names its place, for relative paths and messages) until
// the test ends: the web server on a free port, no metrics, the users of testUsers.
func startHMI(t *testing.T, file, text string) *testHMI {
	t.Helper()
	text = strings.Replace(text, "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0", 1)
	text = strings.Replace(text, "listen: 127.0.0.1:9108", `listen: ""`, 1)
	cfg, err := config.Parse(file, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range testUsers {
		addUsers(t, cfg, u.name, u.role, u.password)
	}
	return &testHMI{cfg: cfg, base: runHMI(t, cfg).base}
}

// startBrowser starts one headless Chromium for a test (as static/browser_test.go does); its tabs come from
// newTab. Without /usr/bin/chromium the test skips, unless CI=true, where it fails.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need %s (Debian package chromium), and CI=true: %v", chromiumPath, err)
		}
		t.Skipf("skipping the browser tests: %s not found (apt-get install chromium)", chromiumPath)
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
		// Background tabs must keep their timers (the parallel tests have several tabs open at once).
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
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

// pageProbe runs in every document before the page's scripts (DevTools scripts are not subject to the CSP): it
// records CSP violations, so that the test sees them even if the console reports them differently, and how
// the page's WebSockets closed (code and reason: the test can tell that the server closed one; also in the tab's
// sessionStorage, __wsCloses, which outlives a navigation), and counts the point batches (snapshots and changes)
// that the page's script applied.
const pageProbe = `window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
});
window.__pointBatches = 0;
document.addEventListener('hmi:points', () => window.__pointBatches++);
window.__wsCloses = [];
window.WebSocket = class extends window.WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('close', (e) => {
      const c = {code: e.code, reason: e.reason, clean: e.wasClean, page: location.pathname};
      window.__wsCloses.push(c);
      try {
        const all = JSON.parse(sessionStorage.getItem('__wsCloses') || '[]');
        all.push(c);
        sessionStorage.setItem('__wsCloses', JSON.stringify(all));
      } catch {}
    });
  }
};`

// tab is one browser tab on an HMI.
type tab struct {
	t      *testing.T
	ctx    context.Context // the tab, bounded in time
	tabCtx context.Context // the tab without the time bound, the parent of sibling tabs
	hmi    *testHMI
	name   string // prefix of its screenshots

	mu      sync.Mutex
	console []chromedp.ConsoleMessage // guarded by mu
	dialogs []string                  // JavaScript dialogs (alert, confirm, prompt) that opened; guarded by mu
	expect  []string                  // URLs whose failed loads the test causes on purpose; guarded by mu
}

// newTab opens a tab in a new browser context of the browser (its own cookie jar: its own session). Every
// console error, exception, CSP violation and JavaScript dialog fails the test when it ends.
func newTab(t *testing.T, browser context.Context, h *testHMI, name string) *tab {
	t.Helper()
	return openTab(t, browser, h, name, chromedp.WithNewBrowserContext())
}

// sibling opens another tab in b's browser context: it shares b's cookies, so b's session.
func (b *tab) sibling(name string) *tab {
	b.t.Helper()
	return openTab(b.t, b.tabCtx, b.hmi, name)
}

func openTab(t *testing.T, parent context.Context, h *testHMI, name string, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	tc, cancelTab := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tc); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	b := &tab{t: t, hmi: h, name: name, tabCtx: tc}
	msgs := chromedp.Console(tc)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	dialogs := chromedp.Events(tc, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			// Dismiss it, or the page stays blocked.
			go chromedp.Call(tc, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	if _, err := chromedp.Call(tc, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageProbe}); err != nil {
		t.Fatalf("page probe: %v", err)
	}
	ctx, cancel := context.WithTimeout(tc, 90*time.Second)
	t.Cleanup(cancel)
	b.ctx = ctx
	t.Cleanup(b.check)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("viewport: %v", err)
	}
	return b
}

// expectFailedLoad tells check that the browser will log a failed load of the path (a refusal the test causes).
func (b *tab) expectFailedLoad(path string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expect = append(b.expect, b.hmi.base+path, strings.Replace(b.hmi.base, "http:", "ws:", 1)+path)
}

// check fails the test on console errors, exceptions, CSP violations and JavaScript dialogs.
func (b *tab) check() {
	t := b.t
	if v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__csp || []`)); err == nil && len(v) > 0 {
		t.Errorf("%s: CSP violations: %q", b.name, v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dialogs {
		t.Errorf("%s: a JavaScript dialog opened: %s", b.name, d)
	}
	for _, m := range b.console {
		if m.Source == "network" && slices.ContainsFunc(b.expect, func(u string) bool { return m.URL == u || strings.Contains(m.Text, u) }) {
			continue
		}
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Source == "security" ||
			strings.Contains(m.Text, "Content Security Policy") {
			t.Errorf("%s: browser console %s (%s) %s:%d: %s", b.name, m.Type, m.Source, m.URL, m.Line, m.Text)
		} else if testing.Verbose() {
			t.Logf("%s: browser console %s: %s", b.name, m.Type, m.Text)
		}
	}
}

func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: browser: %v", b.name, err)
	}
}

// open loads path and waits until the page's script has its socket open (or, for the login page, the page is
// there).
func (b *tab) open(path, wantPage string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.hmi.base + path))
	b.waitPage(wantPage)
}

// waitPage waits for <body data-page=want> and, but on the login page, for the page to be online and to have
// applied the snapshot of its points, if it shows any.
func (b *tab) waitPage(want string) {
	b.t.Helper()
	b.waitJS(`document.body && document.body.dataset.page === `+quote(want), "page "+want, 10*time.Second)
	if want != "login" {
		b.waitJS(`!document.body.classList.contains('offline') && document.getElementById('conn-banner').hidden && ![...document.querySelectorAll('[data-control-open]')].some((e) => e.hasAttribute('data-offline-disabled'))`,
			"page "+want+" online", 10*time.Second)
		b.waitJS(`document.querySelector('[data-point]') === null || window.__pointBatches > 0`, "the snapshot of page "+want, 10*time.Second)
	}
}

// login logs in through the login form and waits for the overview.
func (b *tab) login(user string) {
	b.t.Helper()
	b.open("/login", "login")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#username"), user, chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS("#password"), passwordOf(user), chromedp.NodeVisible),
	)
	b.click(`main.login button[type="submit"]`)
	b.waitPage("overview")
	if got := js[string](b, `document.body.dataset.user + ' ' + document.body.dataset.role`); got != user+" "+roleOf(user) {
		b.t.Fatalf("%s: logged in as %q, want %s", b.name, got, user)
	}
}

func roleOf(user string) string {
	for _, u := range testUsers {
		if u.name == user {
			return u.role
		}
	}
	return ""
}

func (b *tab) click(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		b.t.Fatalf("%s: click %s: %v", b.name, sel, err)
	}
}

// js evaluates expr and decodes its value.
func js[T any](b *tab, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// waitJS waits until expr is truthy. It evaluates expr in a loop (and not with chromedp.Poll, whose predicate
// runs as a user gesture), tolerating the errors of a page being replaced.
func (b *tab) waitJS(expr, what string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`Boolean(`+expr+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			state, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.pathname + ' | ' + document.body.className + ' | banner hidden=' + (document.getElementById('conn-banner') || {}).hidden`))
			b.t.Fatalf("%s: waiting %v for %s (%s): %v; page: %s", b.name, timeout, what, expr, err, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	return js[string](b, `(document.querySelector(`+quote(sel)+`) || {}).textContent || ''`)
}

// fetchResult is what fetchJSON returns.
type fetchResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// fetchJSON runs fetch in the page, with the page's session and, for unsafe methods, its CSRF token.
func (b *tab) fetchJSON(method, path string, body any) fetchResult {
	b.t.Helper()
	payload := "undefined"
	if body != nil {
		j, _ := json.Marshal(body)
		payload = quote(string(j))
	}
	expr := fmt.Sprintf(`(async () => {
  const res = await fetch(%s, {method: %s, credentials: 'same-origin', body: %s, headers: {
    'Content-Type': 'application/json',
    'X-CSRF-Token': document.querySelector('meta[name="csrf-token"]').content}});
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = text; }
  return {status: res.status, body};
})()`, quote(path), quote(method), payload)
	return js[fetchResult](b, expr)
}

// screenshot saves the viewport as PNG under os.TempDir()/hmi-screenshots/ (CI keeps it as an artifact).
func (b *tab) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("%s: screenshot: %v", b.name, err)
	}
	dir := filepath.Join(os.TempDir(), "hmi-screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(dir, "serve-"+name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", p)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// errorOf returns the "error" of an API error body.
func errorOf(body json.RawMessage) string {
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return string(body)
	}
	return e.Error
}
