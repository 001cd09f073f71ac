package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hmi/config"
	"hmi/store"
)

// TestHostileFiltersStore sends SQL metacharacters to every filter of the pages and the API of an HMI that serve
// runs on its real SQLite store (the server package's hostile table runs on fakes): quotes, ';', '--', the LIKE
// wildcards '%' and '_', '\', NUL and classic injections. Each answer is below 500 (2xx or a 4xx that says why);
// a 2xx finds exactly what a literal match finds: the journal's text is a substring taken literally, areas are
// paths (no wildcard), points, users and command IDs are exact. The journal, the audit and the users are intact
// afterwards.
func TestHostileFiltersStore(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	const (
		oddName = `100% _load_ 'q' "d"; -- \ end`
		oddArea = `plant/a%b`
		oddMsg  = `100% done; it's "quoted" -- c:\path _x_`
		oddUser = `o'brien"; --`
		oddCmd  = `c'1; DROP TABLE audit; --`
	)
	text := fmt.Sprintf(`data_dir: %s
http:
  listen: 127.0.0.1:0
links:
  - name: plant
    addresses: [%s]
    ca: 1
points:
  - id: plant.pct
    name: %q
    area: %q
    link: plant
    ioa: 100
    kind: float
    history: {max_interval: 15m}
  - id: plant.other
    name: "100 load"
    area: plant/ab
    link: plant
    ioa: 101
    kind: float
  - id: plantx.p
    name: elsewhere
    area: plantx
    link: plant
    ioa: 102
    kind: float
simulators:
  - link: plant
    listen: %s
    rate: 0
`, filepath.Join(dir, "data"), addr, oddName, oddArea, addr)
	cfg, err := config.Parse(filepath.Join(dir, "hmi.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	addUsers(t, cfg, "admin", "admin", "admin password 1")

	// The journal and the audit before serve starts: rows with every metacharacter.
	ctx := context.Background()
	st, err := store.Open(ctx, cfg.DataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	events := []store.Event{
		{Time: at, Kind: store.KindOperator, Point: "plant.pct", Area: oddArea, User: oddUser, Message: oddMsg},
		{Time: at.Add(time.Second), Kind: store.KindPoint, Point: "plant.other", Area: "plant/ab", Message: "100 percent done"},
		{Time: at.Add(2 * time.Second), Kind: store.KindPoint, Point: "plantx.p", Area: "plantx", Message: "elsewhere 1000"},
	}
	for _, e := range events {
		if err := st.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []store.AuditRecord{
		{At: at, CommandID: oddCmd, Point: "plant.pct", Step: "refused", User: oddUser, Detail: oddMsg},
		{At: at.Add(time.Second), CommandID: "c2", Point: "plant.other", Step: "refused", User: "operator", Detail: "plain"},
	} {
		if _, err := st.AppendAudit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	h := runHMI(t, cfg)
	c := login(t, h.base, "admin", "admin password 1")
	get := func(path string) (int, string) {
		t.Helper()
		code, b := c.get(path)
		return code, string(b)
	}
	// eventsOf returns the messages of the API's events for the query.
	eventsOf := func(q url.Values) []string {
		t.Helper()
		code, body := get("/api/v1/events?" + q.Encode())
		if code != http.StatusOK {
			t.Fatalf("events %s: %d %s", q.Encode(), code, body)
		}
		var page struct {
			Events []struct{ Message, Point, Area, User, State string }
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range page.Events {
			if s := q.Get("text"); s != "" {
				hay := strings.ToLower(e.Message + "\n" + e.Point + "\n" + e.User + "\n" + e.State)
				if !strings.Contains(hay, strings.ToLower(s)) {
					t.Errorf("text=%q found %+v, which does not contain it", s, e)
				}
			}
			if a := q.Get("area"); a != "" && e.Area != a && !strings.HasPrefix(e.Area, a+"/") {
				t.Errorf("area=%q found an event of area %q", a, e.Area)
			}
			if e.Message == oddMsg || e.Message == "100 percent done" || e.Message == "elsewhere 1000" {
				out = append(out, e.Message)
			}
		}
		return out
	}
	same := func(got []string, want ...string) bool {
		return strings.Join(got, "|") == strings.Join(want, "|")
	}

	// The journal's text: a literal substring, whatever it holds.
	for s, want := range map[string][]string{
		"%":                        {oddMsg},
		"_":                        {oddMsg},
		"100%":                     {oddMsg},
		"100_":                     nil, // a LIKE would find "100%", "100 " and "1000"
		"0_":                       nil,
		"1%0":                      nil,
		"'":                        {oddMsg},
		`"`:                        {oddMsg},
		";":                        {oddMsg},
		"--":                       {oddMsg},
		`\`:                        {oddMsg},
		`c:\path`:                  {oddMsg},
		"it's":                     {oddMsg},
		"' OR '1'='1":              nil,
		"%' OR 1=1 --":             nil,
		"1; DROP TABLE events; --": nil,
		"\x00":                     nil,
		"done\x00":                 nil,
		"O'BRIEN":                  {oddMsg}, // the user, ignoring ASCII case
		"100":                      {"elsewhere 1000", "100 percent done", oddMsg},
	} {
		if got := eventsOf(url.Values{"text": {s}}); !same(got, want...) {
			t.Errorf("text=%q: %q, want %q", s, got, want)
		}
	}
	// Areas are paths: no wildcard, and "plant" is not "plantx".
	for a, want := range map[string][]string{
		oddArea:     {oddMsg},
		"plant/a_b": nil,
		"plant/a%":  nil,
		"plant/%":   nil,
		"%":         nil,
		"plant":     {"100 percent done", oddMsg},
		"plant'--":  nil,
	} {
		if got := eventsOf(url.Values{"area": {a}}); !same(got, want...) {
			t.Errorf("area=%q: %q, want %q", a, got, want)
		}
	}
	// Kinds are exact.
	for _, k := range []string{"operator' OR '1'='1", "%", "operator%", "_perator"} {
		if got := eventsOf(url.Values{"kind": {k}}); len(got) != 0 {
			t.Errorf("kind=%q: %q, want none", k, got)
		}
	}
	if got := eventsOf(url.Values{"kind": {"operator"}, "point": {"plant.pct"}}); !same(got, oddMsg) {
		t.Errorf("kind=operator&point=plant.pct: %q", got)
	}

	// Every filter of every page and API, with every metacharacter: never a 5xx.
	meta := []string{`'`, `"`, `;`, `--`, `%`, `_`, `\`, "\x00", `' OR '1'='1`, `%' OR 1=1 --`, `1; DROP TABLE events; --`,
		`plant/%`, oddArea, oddUser, oddCmd}
	for _, f := range []struct {
		path   string
		params []string
	}{
		{"/events", []string{"from", "to", "point", "area", "kind", "text", "cursor"}},
		{"/events.csv", []string{"from", "to", "point", "area", "kind", "text"}},
		{"/api/v1/events", []string{"from", "to", "point", "area", "kind", "text", "limit", "cursor"}},
		{"/audit", []string{"from", "to", "point", "user", "command", "cursor"}},
		{"/alarms", []string{"area", "priority", "state"}},
		{"/api/v1/alarms", []string{"area", "priority", "state"}},
		{"/points", []string{"area", "q", "quality", "kind", "sort"}},
		{"/api/v1/points", []string{"area", "kind"}},
		{"/api/v1/history/plant.pct", []string{"from", "to", "step"}},
	} {
		for _, p := range f.params {
			for _, m := range meta {
				code, body := get(f.path + "?" + url.Values{p: {m}}.Encode())
				if code >= 500 || (code >= 400 && strings.TrimSpace(body) == "") {
					t.Errorf("%s?%s=%q: %d %.200s", f.path, p, m, code, body)
				}
			}
		}
	}
	for _, prefix := range []string{"/points/", "/api/v1/points/", "/api/v1/history/", "/links/", "/api/v1/links/", "/displays/", "/api/v1/commands/"} {
		for _, m := range meta {
			if code, body := get(prefix + url.PathEscape(m)); code != http.StatusNotFound {
				t.Errorf("%s%q: %d %.200s, want 404", prefix, m, code, body)
			}
		}
	}

	// The pages find the same, literally.
	if _, body := get("/events?text=" + url.QueryEscape("100%")); !strings.Contains(body, "c:\\path _x_") || strings.Contains(body, "100 percent done") {
		t.Error("/events?text=100%: the page does not find exactly the literal match")
	}
	if code, body := get("/events.csv?text=" + url.QueryEscape("_x_")); code != http.StatusOK || !strings.Contains(body, "_x_") || strings.Contains(body, "100 percent done") {
		t.Errorf("/events.csv?text=_x_: %d %.300s", code, body)
	}
	for q, want := range map[string]bool{"user=" + url.QueryEscape(oddUser): true, "command=" + url.QueryEscape(oddCmd): true,
		"user=" + url.QueryEscape("%"): false, "user=o%27%25": false, "command=c%25": false, "point=plant.%25": false} {
		_, body := get("/audit?" + q)
		if got := strings.Contains(body, "c:\\path _x_"); got != want {
			t.Errorf("/audit?%s: shows the record %v, want %v", q, got, want)
		}
	}
	rows := func(q string) int {
		_, body := get("/points?" + q)
		return strings.Count(body, "<tr data-point=")
	}
	for q, want := range map[string]int{"q=%25": 1, "q=_": 1, "q=" + url.QueryEscape("'q'"): 1, "q=%22d%22": 1, "q=" + url.QueryEscape(`\`): 1,
		"q=100": 2, "area=" + url.QueryEscape(oddArea): 1, "area=plant%2Fa_b": 0, "area=plant": 2, "area=%25": 0} {
		if got := rows(q); got != want {
			t.Errorf("/points?%s: %d rows, want %d", q, got, want)
		}
	}

	// Nothing was dropped or changed: the rows are all there.
	if got := eventsOf(url.Values{"text": {"100"}}); len(got) != 3 {
		t.Errorf("after the injections, the journal has %q", got)
	}
	_, body := get("/audit")
	if !strings.Contains(body, "c:\\path _x_") || !strings.Contains(body, "plain") {
		t.Error("after the injections, the audit lost rows")
	}
	if code, _ := c.get("/api/v1/session"); code != http.StatusOK {
		t.Errorf("session after the injections: %d", code)
	}
}
