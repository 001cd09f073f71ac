package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hmi/alarms"
	"hmi/frontstation"
	"hmi/points"
	"hmi/store"
)

// Bounds of the metrics server.
const (
	metricsShutdown = 5 * time.Second  // how long a scrape may go on when hmi serve stops
	metricsScrape   = 10 * time.Second // the longest a scrape may take before it gets 503
)

// commandSteps are the steps that answer another, with their latency since
// the step they answer (frontstation.Step.Latency): the label values of
// hmi_command_step_latency_seconds. Other steps are not observed, so the
// label's values stay this fixed set.
var commandSteps = []string{"select_con", "execute_con", "execute_term", "cancel_con"}

// commandOutcomes are the final states of a command: the label values of
// hmi_commands_total.
var commandOutcomes = []frontstation.CommandState{frontstation.Terminated, frontstation.Confirmed, frontstation.Failed, frontstation.Cancelled}

// metrics is what hmi serve exports to Prometheus: a private registry with
// the Go and process collectors, a collector that reads the current
// statistics of the links, alarms, store, point cache and WebSockets at each
// scrape (hmiCollector), and the command metrics, which are events rather
// than state and so are counted as the commands' steps happen. Its methods
// are safe for concurrent use, and for a nil *metrics (no metrics.listen),
// where they do nothing.
type metrics struct {
	reg      *prometheus.Registry
	latency  *prometheus.HistogramVec // hmi_command_step_latency_seconds{step}
	commands *prometheus.CounterVec   // hmi_commands_total{outcome}
}

// newMetrics builds the registry on the backend (wsClients, when not nil,
// reports the number of WebSocket clients) with the command metrics, every
// label value of which is present from the start (at zero), so that rates
// and ratios have a series before the first command.
func newMetrics(b *backend, wsClients func() int) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hmi_command_step_latency_seconds",
			Help: "Time from a command step sent to the station's answer, positive or negative: select_con (select to ACTCON), execute_con (execute to ACTCON), execute_term (execute to ACTTERM), cancel_con (cancel to DEACTCON).",
			// From a LAN RTU's few milliseconds to a slow radio link's tens of seconds.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"step"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hmi_commands_total",
			Help: "Commands ended, by outcome: terminated (ACTTERM received), confirmed (ACTCON, no ACTTERM expected), failed, cancelled.",
		}, []string{"outcome"}),
	}
	for _, s := range commandSteps {
		m.latency.WithLabelValues(s)
	}
	for _, o := range commandOutcomes {
		m.commands.WithLabelValues(o.String())
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.latency, m.commands, newHMICollector(b, wsClients),
	)
	return m
}

// commandStep observes one step of a command, once (the backend calls it
// for each step as it enters the audit trail).
func (m *metrics) commandStep(s frontstation.Step) {
	if m == nil {
		return
	}
	for _, name := range commandSteps {
		if s.Name == name {
			m.latency.WithLabelValues(name).Observe(s.Latency.Seconds())
			return
		}
	}
}

// commandRecord counts the outcome of a command when r is its last record
// (the commander delivers that one once, with Done set).
func (m *metrics) commandRecord(r frontstation.Record) {
	if m == nil {
		return
	}
	if r.Done {
		m.commands.WithLabelValues(r.State.String()).Inc()
	}
}

// hmiCollector reads the current statistics of the running HMI at each
// scrape; it keeps no copy of them. Everything it reads is cheap: counters
// and counts behind short locks, and one pass over the point cache's
// seqlocked values without allocation.
type hmiCollector struct {
	links     []*frontstation.Link
	alarms    *alarms.Engine
	store     *store.Store
	cache     *points.Cache
	wsClients func() int

	linkState, linkUp, linkSince             *prometheus.Desc
	rxFrames, txFrames, rxObjects, txObjects *prometheus.Desc
	linkErrors, reconnects, replays          *prometheus.Desc
	unknownObjects, unknownAddresses         *prometheus.Desc
	giDuration, giLast, testRTT              *prometheus.Desc
	alarmCount, alarmTransitions, alarmLost  *prometheus.Desc
	alarmBacklog                             *prometheus.Desc
	ws                                       *prometheus.Desc
	queueDepth, queueCap, written, refused   *prometheus.Desc
	failed, batches, lastBatch               *prometheus.Desc
	pointCount, pointQuality                 *prometheus.Desc
	descs                                    []*prometheus.Desc
	linkStates                               []frontstation.State
	alarmStates                              []alarms.State
	qualityFlags                             []points.Quality
}

// newHMICollector collects from the backend and, when wsClients is not
// nil, the number of WebSocket clients it reports.
func newHMICollector(b *backend, wsClients func() int) *hmiCollector {
	c := &hmiCollector{
		links: b.plant.links, alarms: b.alarms, store: b.store, cache: b.plant.cache, wsClients: wsClients,
		linkStates:   []frontstation.State{frontstation.Disconnected, frontstation.Connecting, frontstation.Stopped, frontstation.Active},
		alarmStates:  []alarms.State{alarms.ActiveUnacked, alarms.ActiveAcked, alarms.ReturnedUnacked, alarms.Shelved, alarms.Suppressed, alarms.OutOfService},
		qualityFlags: []points.Quality{points.IV, points.NT, points.SB, points.BL, points.OV, points.CommFail, points.Stale, points.Initial},
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		d := prometheus.NewDesc(name, help, labels, nil)
		c.descs = append(c.descs, d)
		return d
	}
	link := []string{"link"}
	c.linkState = desc("hmi_link_state", "1 for the link's current state, 0 for the others (disconnected, connecting, stopped, active).", "link", "state")
	c.linkUp = desc("hmi_link_up", "1 when the link is active (data transfer started), else 0.", link...)
	c.linkSince = desc("hmi_link_state_since_timestamp_seconds", "When the link entered its current state, Unix time.", link...)
	c.rxFrames = desc("hmi_link_rx_frames_total", "APDUs received on the link.", link...)
	c.txFrames = desc("hmi_link_tx_frames_total", "APDUs sent on the link.", link...)
	c.rxObjects = desc("hmi_link_rx_objects_total", "Information objects received on the link.", link...)
	c.txObjects = desc("hmi_link_tx_objects_total", "Information objects sent on the link.", link...)
	c.linkErrors = desc("hmi_link_errors_total", "Errors on the link, by kind.", "link", "kind")
	c.reconnects = desc("hmi_link_reconnects_total", "Connections of the link that ended and were dialled again.", link...)
	c.replays = desc("hmi_link_replays_total", "Time-tagged objects not newer than the point's value, not applied.", link...)
	c.unknownObjects = desc("hmi_link_unknown_objects_total", "Objects received at addresses that map to no point.", link...)
	c.unknownAddresses = desc("hmi_link_unknown_addresses", "Distinct (common address, IOA, kind) received that map to no point.", link...)
	c.giDuration = desc("hmi_link_interrogation_duration_seconds", "Duration of the last complete station interrogation, from ACT to ACTTERM; absent before the first.", link...)
	c.giLast = desc("hmi_link_last_interrogation_timestamp_seconds", "When the last station interrogation completed, Unix time; absent before the first.", link...)
	c.testRTT = desc("hmi_link_testfr_rtt_seconds", "Round trip of the last TESTFR act/con; absent before the first.", link...)
	c.alarmCount = desc("hmi_alarms", "Alarms by state (all but normal) and priority (1 critical .. 4 low).", "state", "priority")
	c.alarmTransitions = desc("hmi_alarm_transitions_total", "Alarm state transitions, the engine's and the operators'.")
	c.alarmLost = desc("hmi_alarm_transitions_lost_total", "Alarm transitions not journaled because the engine's backlog was full.")
	c.alarmBacklog = desc("hmi_alarm_journal_backlog", "Alarm transitions waiting for room in the store's queue.")
	c.ws = desc("hmi_websocket_clients", "Open WebSocket connections of browsers.")
	c.queueDepth = desc("hmi_store_queue_depth", "Items (events, alarm transitions, history) waiting for the database writer.")
	c.queueCap = desc("hmi_store_queue_capacity", "Size of the database writer's queue.")
	c.written = desc("hmi_store_written_total", "Queued items committed to the database.")
	c.refused = desc("hmi_store_refused_total", "Queued items refused because the queue was full.")
	c.failed = desc("hmi_store_failed_total", "Queued items the database rejected.")
	c.batches = desc("hmi_store_batches_total", "Transactions the database writer committed.")
	c.lastBatch = desc("hmi_store_last_batch_items", "Items in the writer's last transaction.")
	c.pointCount = desc("hmi_points", "Configured points.")
	c.pointQuality = desc("hmi_points_quality", "Points with a quality flag set, by flag: iv, nt, sb, bl, ov (IEC bits), commfail, stale, initial (derived).", "flag")
	return c
}

// Describe implements prometheus.Collector.
func (c *hmiCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *hmiCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, l := range c.links {
		name := l.Name()
		st, since := l.State()
		for _, s := range c.linkStates {
			gauge(c.linkState, b2f(st == s), name, s.String())
		}
		gauge(c.linkUp, b2f(st == frontstation.Active), name)
		gauge(c.linkSince, unixSeconds(since), name)
		s := l.Stats()
		counter(c.rxFrames, s.RxFrames, name)
		counter(c.txFrames, s.TxFrames, name)
		counter(c.rxObjects, s.RxObjects, name)
		counter(c.txObjects, s.TxObjects, name)
		for kind, n := range s.Errors {
			counter(c.linkErrors, n, name, kind)
		}
		counter(c.reconnects, s.Reconnects, name)
		counter(c.replays, s.Replays, name)
		counter(c.unknownObjects, s.UnknownObjects, name)
		gauge(c.unknownAddresses, float64(s.UnknownAddresses), name)
		if !s.LastInterrogation.IsZero() {
			gauge(c.giDuration, s.InterrogationTime.Seconds(), name)
			gauge(c.giLast, unixSeconds(s.LastInterrogation), name)
		}
		if s.TestRTT > 0 {
			gauge(c.testRTT, s.TestRTT.Seconds(), name)
		}
	}

	for p, n := range c.alarms.Summary() {
		prio := strconv.Itoa(int(p))
		for _, st := range c.alarmStates {
			gauge(c.alarmCount, float64(alarmCount(n, st)), st.String(), prio)
		}
	}
	as := c.alarms.Stats()
	counter(c.alarmTransitions, as.Transitions)
	counter(c.alarmLost, as.Lost)
	gauge(c.alarmBacklog, float64(as.Backlog))

	if c.wsClients != nil {
		gauge(c.ws, float64(c.wsClients()))
	}

	ss := c.store.Stats()
	gauge(c.queueDepth, float64(ss.QueueDepth))
	gauge(c.queueCap, float64(ss.QueueCapacity))
	counter(c.written, ss.Written)
	counter(c.refused, ss.Refused)
	counter(c.failed, ss.Failed)
	counter(c.batches, ss.Batches)
	gauge(c.lastBatch, float64(ss.LastBatch))

	n := c.cache.Len()
	gauge(c.pointCount, float64(n))
	counts := make([]int, len(c.qualityFlags))
	for h := range n {
		q := c.cache.Get(points.Handle(h)).Quality
		if q == 0 {
			continue
		}
		for i, f := range c.qualityFlags {
			if q.Has(f) {
				counts[i]++
			}
		}
	}
	for i, f := range c.qualityFlags {
		gauge(c.pointQuality, float64(counts[i]), f.Flags()[0])
	}
}

// alarmCount is the count of state st in n.
func alarmCount(n alarms.Counts, st alarms.State) int {
	switch st {
	case alarms.ActiveUnacked:
		return n.ActiveUnacked
	case alarms.ActiveAcked:
		return n.ActiveAcked
	case alarms.ReturnedUnacked:
		return n.ReturnedUnacked
	case alarms.Shelved:
		return n.Shelved
	case alarms.Suppressed:
		return n.Suppressed
	case alarms.OutOfService:
		return n.OutOfService
	}
	return 0
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// metricsServer is the HTTP server of metrics.listen: GET /metrics and
// nothing else, apart from the web server.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
}

// listenMetrics opens addr for the metrics of reg; Run serves them.
func listenMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	errLog := slog.NewLogLogger(log.With("server", "metrics").Handler(), slog.LevelError)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            errLog,
		Registry:            reg, // counts its own errors in promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
		Timeout:             metricsScrape,
	}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      metricsScrape + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          errLog,
	}
	return &metricsServer{ln: ln, srv: srv}, nil
}

// Addr is the address the server listens on.
func (s *metricsServer) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx ends, then lets the scrapes under way finish (up to
// metricsShutdown) and returns. It returns early only when serving fails.
func (s *metricsServer) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }() // ends when Shutdown (below) closes the listener
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), metricsShutdown)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
