package web

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"hmi/points"
	"hmi/templates"
)

func sanitise(t *testing.T, svg string) (*display, error) {
	t.Helper()
	cache, err := points.New(testDefs)
	if err != nil {
		t.Fatal(err)
	}
	// The asset URL as static.URL makes it: versioned, the fragment kept after the query.
	assetURL := func(n string) string {
		n, frag, _ := strings.Cut(n, "#")
		return "/static/" + n + "?v=1#" + frag
	}
	return parseDisplay(Display{ID: "d", Name: "D", SVG: []byte(svg)}, cache, assetURL)
}

func render(t *testing.T, d *display) string {
	t.Helper()
	var b bytes.Buffer
	if err := templates.Display(templates.DisplayPage{SVG: d.root}).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	i := strings.Index(s, "<svg")
	j := strings.LastIndex(s, "</svg>")
	return s[i : j+6]
}

func TestSVGSanitiser(t *testing.T) {
	d, err := sanitise(t, `<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY x "boom">]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" viewBox="0 0 10 10" onload="evil()" inkscape:version="1">
  <script>evil()</script>
  <style>rect { fill: red }</style>
  <g id="conn-banner" data-point="n.brk" onclick="evil()" class="breaker">
    <rect x="1" y="1" width="2" height="2" style="fill:red" fill="url(#grad)" stroke="url(https://evil.example/#x)"/>
    <text data-field="value" data-bogus="1">a &lt;b&gt; &amp; c<tspan> more</tspan></text>
  </g>
  <foreignObject><div xmlns="http://www.w3.org/1999/xhtml">html</div></foreignObject>
  <image href="https://evil.example/x.png"/>
  <a href="javascript:evil()"><text>link</text></a>
  <use xlink:href="#grad"/>
  <use href="/static/svg/symbols.svg#breaker"/>
  <use href="https://evil.example/s.svg#x"/>
  <use href=" JaVaScRiPt:evil()"/>
  <linearGradient id="grad"><stop offset="0" stop-color="#fff"/></linearGradient>
  <inkscape:thing/>
  <animate attributeName="href" to="javascript:evil()"/>
  <path d="M0 0 L10 10" data-field="javascript"/>
</svg>`)
	if err != nil {
		t.Fatal(err)
	}
	out := render(t, d)
	for _, bad := range []string{"evil", "script", "style", "onload", "onclick", "foreignObject", "image", "inkscape",
		"animate", "conn-banner", "data-bogus", `data-field="javascript"`, "<a"} {
		if strings.Contains(out, bad) {
			t.Errorf("kept %q:\n%s", bad, out)
		}
	}
	for _, good := range []string{`viewBox="0 0 10 10"`, `data-point="n.brk"`, `class="breaker"`, `fill="url(#grad)"`,
		`a &lt;b&gt; &amp; c`, `<tspan> more</tspan>`, `href="#grad"`, `href="/static/svg/symbols.svg?v=1#breaker"`,
		`<stop offset="0" stop-color="#fff">`, `d="M0 0 L10 10"`, `<linearGradient id="grad">`} {
		if !strings.Contains(out, good) {
			t.Errorf("lost %q:\n%s", good, out)
		}
	}
	if len(d.points) != 1 || d.points[0] != "n.brk" {
		t.Errorf("points %v", d.points)
	}
}

func TestSVGSanitiserRefuses(t *testing.T) {
	for name, svg := range map[string]string{
		"not svg":       `<html><body/></html>`,
		"unknown point": `<svg><g data-point="no.such"/></svg>`,
		"malformed":     `<svg><g></svg>`,
		"empty":         ``,
		"deep":          "<svg>" + strings.Repeat("<g>", 100) + strings.Repeat("</g>", 100) + "</svg>",
	} {
		if _, err := sanitise(t, svg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestBindSVG(t *testing.T) {
	d, err := sanitise(t, `<svg><g data-point="n.brk"><text data-field="value"/></g><g data-point="s.tap"/></svg>`)
	if err != nil {
		t.Fatal(err)
	}
	n := bindSVG(d.root, map[string]bool{"n.brk": true}, map[string]bool{"n.brk": true})
	out := render(t, &display{root: n})
	if !strings.Contains(out, `<g data-point="n.brk" data-controllable="true">`) || strings.Contains(out, "s.tap") {
		t.Fatalf("bound: %s", out)
	}
	// The parsed display is not changed by binding.
	if strings.Contains(render(t, d), "data-controllable") {
		t.Fatal("bindSVG changed the display")
	}
}
