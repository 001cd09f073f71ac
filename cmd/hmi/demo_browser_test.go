package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"hmi/demo"
)

// TestDemoBrowser runs the embedded demo and walks its pages in Chromium as
// a newcomer would, at 1280x800: the overview, both single-line diagrams,
// a breaker's control dialog, the points, a point's page, the alarms after a
// protection trip, a TLS link's live traffic, the audit. Every page must
// load without a console error or CSP violation. The screenshots are the
// README's: with HMI_SCREENSHOTS=DIR they are written to DIR (make
// screenshots: HMI_SCREENSHOTS=$PWD/docs/screenshots go test -run
// TestDemoBrowser ./cmd/hmi/), else under the temporary directory.
func TestDemoBrowser(t *testing.T) {
	browser := startBrowser(t)
	dir := t.TempDir()
	free := demo.Addresses{HTTP: "127.0.0.1:0", Metrics: "127.0.0.1:0", North: "127.0.0.1:0", South: "127.0.0.1:0"}
	ctx := context.Background()
	cfg, err := prepareDemo(ctx, dir, free, false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pw, err := readAccounts(filepath.Join(dir, "accounts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	h := &testHMI{cfg: cfg, base: runHMI(t, cfg).base}

	shots := os.Getenv("HMI_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "hmi-screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	b := newTab(t, browser, h, "demo")
	b.do(chromedp.EmulateViewport(1280, 800))
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(shots, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}

	// Log in as the operator, with the generated password.
	b.open("/login", "login")
	b.do(
		chromedp.SendKeys(chromedp.CSS("#username"), "operator", chromedp.NodeVisible),
		chromedp.SendKeys(chromedp.CSS("#password"), pw["operator"].password, chromedp.NodeVisible),
	)
	b.click(`main.login button[type="submit"]`)
	b.waitPage("overview")
	// Wait for both links to be up before the pictures.
	b.waitJS(`document.querySelectorAll('[data-link-state="active"]').length === 2`, "both links active on the overview", 20*time.Second)
	shot("overview")

	b.open("/displays/northgate", "display")
	b.waitJS(`document.querySelectorAll('svg [data-point].state-2').length >= 5`, "closed breakers on the Northgate diagram", 10*time.Second)
	shot("display-northgate")

	// A breaker's control dialog, opened from the diagram; cancelled without a command.
	b.click(`.display svg [data-point="north.f1.breaker"] use`)
	b.waitJS(`document.querySelector('dialog[data-point="north.f1.breaker"]').open`, "the control dialog", 5*time.Second)
	shot("control-dialog")
	b.do(chromedp.KeyEvent("\x1b")) // Escape closes the dialog

	b.open("/displays/southfield", "display")
	shot("display-southfield")

	b.open("/points?q=north.f1", "points")
	shot("points")

	b.open("/points/north.f1.current", "point")
	shot("point")

	// A protection trip (the operator's test trip) raises a priority 1 alarm.
	r := b.fetchJSON("POST", "/api/v1/points/north.f2.trip/select", map[string]any{"value": 1})
	if r.Status != 200 {
		t.Fatalf("test trip: %d %s", r.Status, r.Body)
	}
	b.open("/alarms", "alarms")
	b.waitJS(`document.querySelector('tr[data-alarm*="north.f2.trip"]') !== null`, "the trip's alarm", 10*time.Second)
	shot("alarms")

	b.open("/links/south", "link")
	time.Sleep(1500 * time.Millisecond) // some live traffic
	shot("link-south-tls")

	b.open("/events", "events")
	shot("events")
}
