package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"hmi/config"
	"hmi/frontstation"
	"hmi/store"
)

// TestServeMetrics runs hmi serve on the example configuration with
// metrics.listen on port 0 and scrapes /metrics over HTTP: the simulated
// links become active and count objects, the alarms, store and point
// gauges are there, an SBO command shows in the latency histograms and the
// outcome counter, a WebSocket client is counted; the metrics server stops
// with serve.
func TestServeMetrics(t *testing.T) {
	text := strings.Replace(exampleText(t), "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0", 1)
	text = strings.Replace(text, "listen: 127.0.0.1:9108", "listen: 127.0.0.1:0", 1)
	cfg, err := config.Parse("../../config.example.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.Listen != "127.0.0.1:0" {
		t.Fatalf("metrics.listen %q: the example no longer has 127.0.0.1:9108", cfg.Metrics.Listen)
	}
	ctx := context.Background()
	addUsers(t, cfg, "op", "operator", "correct horse battery")
	running := runHMI(t, cfg)
	base, out, stop := running.base, running.out, running.stop

	// serve prints the address before it calls ready.
	m := regexp.MustCompile(`hmi: metrics on (http://127\.0\.0\.1:[0-9]+/metrics)\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("serve printed no metrics address:\n%s", out.String())
	}
	murl := m[1]
	hc := &http.Client{Timeout: 10 * time.Second}

	// The links come up and receive.
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(15 * time.Second)
	for {
		fams = scrapeMetrics(t, hc, murl)
		waiting := ""
		for _, l := range cfg.Links {
			up, _ := metricValue(fams, "hmi_link_up", "link", l.Name)
			active, _ := metricValue(fams, "hmi_link_state", "link", l.Name, "state", "active")
			rx, _ := metricValue(fams, "hmi_link_rx_objects_total", "link", l.Name)
			if up != 1 || active != 1 || rx == 0 {
				waiting = l.Name
			}
		}
		if waiting == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("link %s not active with objects received within 15 s", waiting)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, l := range cfg.Links {
		for _, s := range []string{"disconnected", "connecting", "stopped"} {
			if v, ok := metricValue(fams, "hmi_link_state", "link", l.Name, "state", s); !ok || v != 0 {
				t.Errorf("hmi_link_state{link=%q,state=%q} = %v (present %v), want 0", l.Name, s, v, ok)
			}
		}
		if v, _ := metricValue(fams, "hmi_link_rx_frames_total", "link", l.Name); v == 0 {
			t.Errorf("hmi_link_rx_frames_total{link=%q} = 0", l.Name)
		}
	}
	if n := len(fams["hmi_alarms"].GetMetric()); n != 4*6 {
		t.Errorf("hmi_alarms has %d series, want 24 (4 priorities, 6 states)", n)
	}
	for _, c := range []struct {
		name string
		want float64
	}{
		{"hmi_points", float64(len(cfg.Points))},
		{"hmi_websocket_clients", 0},
		{"hmi_store_queue_capacity", store.DefaultQueueSize},
	} {
		if got, ok := metricValue(fams, c.name); !ok || got != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.name, got, ok, c.want)
		}
	}
	for _, name := range []string{
		"hmi_store_queue_depth", "hmi_store_written_total", "hmi_points_quality", "hmi_alarm_transitions_total",
		"hmi_link_reconnects_total", "hmi_link_unknown_objects_total", "go_goroutines", "process_cpu_seconds_total",
	} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	if n, _ := metricValue(fams, "hmi_commands_total", "outcome", "terminated"); n != 0 {
		t.Errorf("hmi_commands_total{outcome=terminated} = %v before any command", n)
	}

	// An SBO command, through the API as a browser sends it.
	op := login(t, base, "op", "correct horse battery")
	var id string
	for _, p := range cfg.Points {
		if c := p.Control; c != nil && c.SBO && c.ActTerm && c.Type == config.ControlDouble {
			id = p.ID
		}
	}
	if id == "" {
		t.Fatal("no SBO double control with ACTTERM in the example")
	}
	code, rec := op.post("/api/v1/points/"+id+"/select", map[string]any{"value": 2})
	if code != http.StatusOK || rec["state"] != "selected" {
		t.Fatalf("select %s: %d %v", id, code, rec)
	}
	code, rec = op.post("/api/v1/commands/"+rec["id"].(string)+"/execute", map[string]any{})
	if code != http.StatusOK || (rec["state"] != "terminated" && rec["state"] != "confirmed") {
		t.Fatalf("execute: %d %v", code, rec)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		fams = scrapeMetrics(t, hc, murl)
		if n, _ := metricValue(fams, "hmi_commands_total", "outcome", "terminated"); n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hmi_commands_total{outcome=terminated} not 1 within 10 s: %v", fams["hmi_commands_total"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	for outcome, want := range map[string]float64{"terminated": 1, "confirmed": 0, "failed": 0, "cancelled": 0} {
		if got, ok := metricValue(fams, "hmi_commands_total", "outcome", outcome); !ok || got != want {
			t.Errorf("hmi_commands_total{outcome=%q} = %v (present %v), want %v", outcome, got, ok, want)
		}
	}
	for step, want := range map[string]float64{"select_con": 1, "execute_con": 1, "execute_term": 1, "cancel_con": 0} {
		if got, ok := metricValue(fams, "hmi_command_step_latency_seconds", "step", step); !ok || got != want {
			t.Errorf("hmi_command_step_latency_seconds{step=%q} count = %v (present %v), want %v", step, got, ok, want)
		}
	}

	// A WebSocket client is counted while it is connected.
	u, _ := url.Parse(base)
	h := http.Header{"Origin": {base}}
	for _, c := range op.hc.Jar.Cookies(u) {
		h.Add("Cookie", c.String())
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, "ws://"+u.Host+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	waitMetric(t, hc, murl, "hmi_websocket_clients", 1)
	if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Logf("websocket close: %v", err)
	}
	waitMetric(t, hc, murl, "hmi_websocket_clients", 0)

	// Only /metrics, and only GET.
	for _, c := range []struct {
		method, url string
		want        int
	}{
		{http.MethodGet, strings.TrimSuffix(murl, "/metrics") + "/", http.StatusNotFound},
		{http.MethodPost, murl, http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(c.method, c.url, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.url, resp.StatusCode, c.want)
		}
	}

	stop()
	if resp, err := hc.Get(murl); err == nil {
		resp.Body.Close()
		t.Errorf("metrics still served after serve returned: %s", resp.Status)
	}
}

// TestMetricsCommandStepsOnce hands the backend the records of three
// commands as the commander does, each one again as it grows and repeated
// without change: every step is observed once, every outcome counted
// once, a confirmed command counts as ended only where no ACTTERM follows.
func TestMetricsCommandStepsOnce(t *testing.T) {
	cfg := exampleOnFreePorts(t)
	b, err := openBackend(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.store.Close()
	b.metrics = newMetrics(b, nil)
	var sbo, direct string // an SBO control with ACTTERM, a direct one without
	for _, p := range cfg.Points {
		switch c := p.Control; {
		case c == nil:
		case c.SBO && c.ActTerm && sbo == "":
			sbo = p.ID
		case !c.SBO && !c.ActTerm && direct == "":
			direct = p.ID
		}
	}
	if sbo == "" || direct == "" {
		t.Fatalf("the example lacks a control: SBO with ACTTERM %q, direct without %q", sbo, direct)
	}

	at := time.Now()
	step := func(name string, lat time.Duration) frontstation.Step {
		return frontstation.Step{Name: name, At: at, Latency: lat}
	}
	// deliver sends r once per state, with the steps grown to n each time;
	// the last record is the final one (Done), as the commander delivers it.
	type delivery struct {
		state frontstation.CommandState
		n     int
	}
	deliver := func(id, point string, steps []frontstation.Step, ds ...delivery) {
		for i, d := range ds {
			b.commandStep(frontstation.Record{ID: id, Point: point, State: d.state, Steps: steps[:d.n], Done: i == len(ds)-1})
		}
	}
	deliver("c1", sbo, []frontstation.Step{
		step("select", 0), step("select_con", 10*time.Millisecond), step("execute", 0),
		step("execute_con", 20*time.Millisecond), step("execute_term", 2*time.Second),
	},
		delivery{frontstation.Selecting, 1}, delivery{frontstation.Selecting, 2}, delivery{frontstation.Selected, 2},
		delivery{frontstation.Executing, 3}, delivery{frontstation.Executing, 4},
		delivery{frontstation.Confirmed, 4}, // ACTCON; ACTTERM awaited
		delivery{frontstation.Confirmed, 5}, delivery{frontstation.Terminated, 5})
	deliver("c2", direct, []frontstation.Step{step("execute", 0), step("execute_con", 5*time.Millisecond)},
		delivery{frontstation.Executing, 1}, delivery{frontstation.Executing, 2}, delivery{frontstation.Confirmed, 2})
	refused := step("select_con", 3*time.Millisecond)
	refused.Negative = true
	deliver("c3", sbo, []frontstation.Step{step("select", 0), refused},
		delivery{frontstation.Selecting, 1}, delivery{frontstation.Selecting, 2}, delivery{frontstation.Failed, 2})
	deliver("c4", sbo, []frontstation.Step{step("select", 0), step("timeout", 0)},
		delivery{frontstation.Selecting, 1}, delivery{frontstation.Selecting, 2}, delivery{frontstation.Failed, 2})

	gathered, err := b.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range gathered {
		fams[f.GetName()] = f
	}
	for _, c := range []struct {
		step  string
		count float64
		sum   float64
	}{
		{"select_con", 2, .013},
		{"execute_con", 2, .025},
		{"execute_term", 1, 2},
		{"cancel_con", 0, 0},
	} {
		count, _ := metricValue(fams, "hmi_command_step_latency_seconds", "step", c.step)
		sum := histogramSum(fams, "hmi_command_step_latency_seconds", "step", c.step)
		if count != c.count || sum < c.sum-1e-9 || sum > c.sum+1e-9 {
			t.Errorf("step %s: count %v sum %v, want %v and %v", c.step, count, sum, c.count, c.sum)
		}
	}
	for outcome, want := range map[string]float64{"terminated": 1, "confirmed": 1, "failed": 2, "cancelled": 0} {
		if got, ok := metricValue(fams, "hmi_commands_total", "outcome", outcome); !ok || got != want {
			t.Errorf("hmi_commands_total{outcome=%q} = %v (present %v), want %v", outcome, got, ok, want)
		}
	}
	if n := len(fams["hmi_command_step_latency_seconds"].GetMetric()); n != len(commandSteps) {
		t.Errorf("%d latency series, want %d (timeout and the sent steps are not observed)", n, len(commandSteps))
	}
	// Without metrics.listen the backend has no metrics, and still audits.
	b.metrics = nil
	deliver("c5", direct, []frontstation.Step{step("execute", 0), step("execute_con", time.Millisecond)},
		delivery{frontstation.Executing, 2}, delivery{frontstation.Confirmed, 2})
}

// scrapeMetrics gets and parses the Prometheus text at murl.
func scrapeMetrics(t *testing.T, hc *http.Client, murl string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := hc.Get(murl)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", murl, resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: Content-Type %q", murl, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", murl, err)
	}
	return fams
}

// waitMetric scrapes until the unlabelled metric name has the value want,
// for up to 10 s.
func waitMetric(t *testing.T, hc *http.Client, murl, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, ok := metricValue(scrapeMetrics(t, hc, murl), name)
		if ok && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v (present %v) after 10 s, want %v", name, got, ok, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// findMetric returns the series of family name whose labels include the
// pairs of kv (name, value, name, value...).
func findMetric(fams map[string]*dto.MetricFamily, name string, kv ...string) *dto.Metric {
	for _, m := range fams[name].GetMetric() {
		match := true
		for i := 0; i+1 < len(kv); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == kv[i] && lp.GetValue() == kv[i+1] {
					found = true
				}
			}
			match = match && found
		}
		if match {
			return m
		}
	}
	return nil
}

// metricValue returns the value of a gauge, counter or untyped series, or
// the sample count of a histogram, and whether the series exists.
func metricValue(fams map[string]*dto.MetricFamily, name string, kv ...string) (float64, bool) {
	m := findMetric(fams, name, kv...)
	switch {
	case m == nil:
		return 0, false
	case m.Gauge != nil:
		return m.GetGauge().GetValue(), true
	case m.Counter != nil:
		return m.GetCounter().GetValue(), true
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount()), true
	case m.Untyped != nil:
		return m.GetUntyped().GetValue(), true
	}
	return 0, false
}

// histogramSum is the sample sum of a histogram series, 0 when there is none.
func histogramSum(fams map[string]*dto.MetricFamily, name string, kv ...string) float64 {
	return findMetric(fams, name, kv...).GetHistogram().GetSampleSum()
}

// loginForMetrics logs user in over HTTP and returns the client with the
