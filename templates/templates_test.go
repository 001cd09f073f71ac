package templates

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

func renderString(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

const evil = `<script>alert("x")</script>`

func page() Page {
	return Page{Name: "points", Title: "Points " + evil, User: "op" + evil, Role: "operator", CSRF: `tok"en`,
		CSS: "/static/css/hmi.css?v=1", JS: "/static/js/app.js?v=2",
		Nav: []NavItem{{Href: "/", Label: "Overview"}, {Label: "Displays", Children: []NavItem{{Href: "/displays/n", Label: "North"}}},
			{Href: "/points", Label: "Points", Current: true}},
		Alarms: AlarmBanner{Counts: []PriorityCount{{1, 0, 0}, {2, 3, 1}, {3, 0, 2}, {4, 0, 0}}, Unacked: 3}}
}

func TestLayoutContract(t *testing.T) {
	out := renderString(t, Points(PointsPage{Page: page(), Rows: []PointRow{{ID: "p.1", Name: evil, Area: "north/f1", Kind: "double",
		Value: evil, Quality: "good", Classes: "q-bad state-2", Time: "12:00:00.000", TimeISO: "2025-01-01T12:00:00Z", Link: "l"}}}))
	for _, want := range []string{
		`<meta name="csrf-token" content="tok&#34;en">`,
		`<body data-page="points" data-user="op&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" data-role="operator">`,
		`<script type="module" src="/static/js/app.js?v=2"></script>`,
		`<div id="conn-banner" class="banner banner-down" role="alert" hidden>`,
		`<div id="alarm-banner" class="alarm-banner" data-unacked="3">`,
		`<a class="alarm-count p2 has-unacked has-active" data-priority="2"`,
		`<span data-count="unacked">3</span>`,
		`<a class="alarm-count p1 is-zero"`,
		`<button id="silence" type="button" data-silence`,
		`<a href="/points" aria-current="page">Points</a>`,
		`<details class="menu" data-menu><summary>Displays</summary><ul class="menu-list"><li><a href="/displays/n">North</a></li></ul></details>`,
		`<details class="menu user" data-menu>`,
		`<form method="post" action="/logout"><input type="hidden" name="csrf_token" value="tok&#34;en"> <button type="submit">Log out</button></form>`,
		`<tr data-point="p.1" data-area="north/f1" data-kind="double" class="q-bad state-2">`,
		`<td data-field="value" class="num">&lt;script&gt;`,
		`<time data-field="time" datetime="2025-01-01T12:00:00Z">`,
		`<table id="points" data-sortable>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, evil) {
		t.Error("markup rendered unescaped")
	}
	if n := strings.Count(out, "<script"); n != 1 {
		t.Errorf("%d script elements", n)
	}
	for _, bad := range []string{" style=", " onclick", " onload"} {
		if strings.Contains(out, bad) {
			t.Errorf("inline %s", bad)
		}
	}
}

// TestPointPageLiveTimes checks the times that live.js keeps up to date on the point page, and its alarms panel.
func TestPointPageLiveTimes(t *testing.T) {
	out := renderString(t, Point(PointPage{Page: page(), Point: PointRow{ID: "p.1", Name: "P"},
		RecvTime: "2025-01-01 12:00:00.000", RecvTimeISO: "2025-01-01T12:00:00Z",
		Alarms: []AlarmRow{{ID: "limit:p.1:H", Priority: 2, State: "out_of_service", StateText: "out of service", Source: "limit H"}}, CanService: true}))
	for _, want := range []string{
		`<time data-field="source_time" data-none="none (the device sent no time tag)" class="muted">none (the device sent no time tag)</time>`,
		`<time data-field="recv_time" data-none="never" datetime="2025-01-01T12:00:00Z">2025-01-01 12:00:00.000</time>`,
		`<section id="point-alarms" class="panel">`, `<tr data-alarm="limit:p.1:H" class="alarm p2 st-out_of_service">`,
		`<button type="button" data-in-service>`, `<input data-alarm-comment`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestControlDialogContract(t *testing.T) {
	out := renderString(t, ControlDialog(ControlView{Point: "p.1", Name: evil, DialogID: "control-dialog", SBO: true,
		SelectTimeoutMS: 30000, Choices: []Option{{Value: "1", Label: "OPEN"}, {Value: "2", Label: "CLOSED"}}, Kind: "double"}))
	for _, want := range []string{
		`<dialog id="control-dialog" class="control-dialog" data-point="p.1" data-point-name="&lt;script&gt;`,
		`data-sbo="true" data-select-timeout-ms="30000"`,
		`<button type="button" data-control data-value="1">OPEN</button>`,
		`<ol data-steps`, `<p data-outcome`, `data-execute`, `data-cancel`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
	tagged := renderString(t, ControlDialog(ControlView{Point: "p.1", Setpoint: true, Unit: "MW", Min: "0", Max: "50",
		Tagged: true, TagReason: "work"}))
	for _, want := range []string{`class="control-dialog"`, `data-sbo="false"`, `data-control-input data-unit="MW" min="0" max="50" disabled`, `Do not operate: work`} {
		if !strings.Contains(tagged, want) {
			t.Errorf("tagged set-point: missing %s in %s", want, tagged)
		}
	}
	if strings.Contains(tagged, `id="control-dialog"`) {
		t.Error("a dialog without DialogID has the id")
	}
}

func TestAlarmListContract(t *testing.T) {
	out := renderString(t, Alarms(AlarmsPage{Page: page(), CanAct: true, Durations: []Option{{Value: "1h", Label: "1 hour"}},
		Rows: []AlarmRow{{ID: "limit:p:H", Point: "p", Priority: 2, State: "active_unacked", Message: evil, Unacked: true}}}))
	for _, want := range []string{
		`<table id="alarms" class="alarm-table" data-sortable>`,
		`<tr data-alarm="limit:p:H" data-area="" class="alarm p2 st-active_unacked">`,
		`<input type="checkbox" data-select-alarm`,
		`data-ack-selected`, `data-ack-visible`, `data-shelve>`, `data-unshelve`, `<select data-shelve-duration>`,
		`<input data-alarm-comment`, `<button type="button" data-ack>Ack</button>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, evil) {
		t.Error("alarm message unescaped")
	}
	if strings.Contains(out, "data-out-of-service") || !strings.Contains(out, `<section id="alarms-oos" class="panel" hidden>`) {
		t.Error("an operator's list offers out of service, or the (empty) out-of-service section is not there, hidden")
	}
	// An engineer takes alarms out of service, and returns those out of service.
	out = renderString(t, Alarms(AlarmsPage{Page: page(), CanAct: true, CanService: true,
		OutOfService: []AlarmRow{{ID: "quality:q", Point: "north.f1.q", Priority: 3, State: "out_of_service", Comment: evil}}}))
	for _, want := range []string{`data-out-of-service`, `<section id="alarms-oos" class="panel">`,
		`<tr data-alarm="quality:q" data-area="" class="alarm p3 st-out_of_service">`, `<button type="button" data-in-service>`,
		`north.<wbr>f1.<wbr>q</a>`} {
		if !strings.Contains(out, want) {
			t.Errorf("engineer's list: missing %s", want)
		}
	}
	if strings.Contains(out, evil) {
		t.Error("comment unescaped")
	}
	if out := renderString(t, breakable(`a.<b>.c`)); out != `a.<wbr>&lt;b&gt;.<wbr>c` {
		t.Errorf("breakable: %s", out)
	}
	// A viewer has no action.
	out = renderString(t, Alarms(AlarmsPage{Page: page(), Rows: []AlarmRow{{ID: "a", Priority: 1, State: "active_unacked", Unacked: true}}}))
	for _, bad := range []string{"data-ack", "data-shelve", "data-select-alarm", "data-out-of-service", "data-in-service"} {
		if strings.Contains(out, bad) {
			t.Errorf("viewer's list has %s", bad)
		}
	}
}

func TestSVGRendering(t *testing.T) {
	n := SVGNode{Tag: "svg", Attrs: []SVGAttr{{"viewBox", "0 0 1 1"}}, Children: []SVGNode{
		{Tag: "text", Attrs: []SVGAttr{{"data-point", `p"1`}, {"data-field", "value"}}, Children: []SVGNode{{Text: evil}}},
		{Tag: "script", Children: []SVGNode{{Text: "alert(1)"}}}, // never produced by the sanitiser; rendered as nothing
	}}
	out := renderString(t, svgNode(n))
	want := `<svg viewBox="0 0 1 1"><text data-point="p&#34;1" data-field="value">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</text></svg>`
	if out != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestLinkTrafficContract(t *testing.T) {
	out := renderString(t, Link(LinkPage{Page: page(), Link: LinkRow{Name: "north", State: "active"}, Traffic: true}))
	if !strings.Contains(out, `<table data-traffic="north">`) || !strings.Contains(out, `<span data-link-state="active">`) {
		t.Error(out)
	}
}
