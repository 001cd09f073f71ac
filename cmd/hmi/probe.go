package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // --zone works where the system has no zone database (Windows laptops)

	"hmi/frontstation"
	"hmi/frontstation/iec104"
	"hmi/points"
)

const probeUsage = `Usage: hmi probe HOST[:PORT] [flags]

Tests an IEC 60870-5-104 outstation (RTU, PLC, IED) from a laptop: it
connects to HOST (port 2404, or 19998 with TLS), starts data transfer, runs
what the flags ask, and stops cleanly (STOPDT). With none of --clock-sync,
--gi, --counters, --command or --watch it does a station interrogation. It
prints every object the station sends, each step of a command with its
latency, and a last line with the result; with --json, one JSON object per
line. It never reconnects: a connection that fails or is lost ends it.

Examples:
  hmi probe 10.0.0.5
  hmi probe 10.0.0.5:2404 --ca 7 --clock-sync --gi --counters
  hmi probe 10.0.0.5 --command double:5100:on --sbo

What runs, in this order:
  --clock-sync   clock synchronisation (C_CS_NA_1), confirmed by ACTCON
  --gi           station interrogation (C_IC_NA_1), ended by ACTTERM
  --counters     counter interrogation (C_CI_NA_1), ended by ACTTERM
  --command      one command, direct or --sbo (select, then execute)
  --watch D      then keeps listening for D (Ctrl-C ends it early)

--command KIND:IOA:VALUE sends one command to the station's command object
at IOA. KIND is single (VALUE 0/off or 1/on), double (1/off or 2/on), step
(1/lower or 2/higher), setpoint_normalized (-1..1), setpoint_scaled
(-32768..32767) or setpoint_float. The probe waits for the ACTCON of each
step and, unless --no-actterm, for the ACTTERM of the execution. A command
operates real equipment: check the IOA and the value first. The command is
not sent when an earlier request of the same run failed.

--json lines: objects {"ioa","type_id","type","cot","value","quality",
"time",...}, command steps {"step","cot","negative","latency_ms"}, and a
last line {"result": "ok" or "failed", "error": ..., ...}. For example
  hmi probe 10.0.0.5 --gi --watch 1m --json > rtu.jsonl

TLS (IEC 62351-3): give all of --tls-cert, --tls-key and --tls-ca, e.g.
  hmi probe rtu.example --tls-cert hmi.pem --tls-key hmi.key --tls-ca ca.pem --tls-pin 3fa1...

Exit status: 0 when everything asked succeeded (clock sync confirmed,
interrogations terminated, the command terminated, or confirmed with
--no-actterm); 1 when the device failed a step, or the connection failed
or was lost (the reason is on stderr and in the last line); 2 wrong flags
or arguments. --timeout bounds connecting and each wait for an answer.
`

// probeCommand is what --command and its companions ask for.
type probeCommand struct {
	typ     frontstation.CommandType
	ioa     uint32
	value   float64
	sbo     bool
	qu      uint8
	timeTag bool
	actTerm bool
}

// probeOptions is a checked probe request.
type probeOptions struct {
	addr                 string
	ca                   uint16
	oa                   uint8
	tls                  *tls.Config
	clockSync, gi, count bool
	qoi, qcc             uint8
	command              *probeCommand
	watch                time.Duration
	json                 bool
	timeout              time.Duration
	apci                 iec104.Config
	zone                 *time.Location
	log                  *slog.Logger // the link's and the commander's log
}

// stringsFlag is a flag that may be given several times.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("probe", probeUsage, stdout, stderr)
	def := iec104.DefaultConfig()
	var (
		ca        = fs.Uint("ca", 1, "common address `N` of the station, 1..65534 (65535: broadcast, not for --command)")
		oa        = fs.Uint("oa", 0, "originator address `N` 0..255 in what the probe sends")
		gi        = fs.Bool("gi", false, "station interrogation (the default when nothing else is asked)")
		qoi       = fs.Uint("qoi", 20, "interrogation qualifier `QOI` of --gi: 20 station, 21..36 groups 1..16")
		counters  = fs.Bool("counters", false, "counter interrogation")
		qcc       = fs.Uint("qcc", 5, "counter interrogation qualifier `QCC`: 5 reads all counters, 1..4 a group; +64 freeze, +128 freeze and reset")
		clockSync = fs.Bool("clock-sync", false, "clock synchronisation with this computer's clock (in --zone)")
		command   = fs.String("command", "", "send the command `KIND:IOA:VALUE` (see above)")
		sbo       = fs.Bool("sbo", false, "--command: select before operate (select, ACTCON, execute); default direct execute")
		qu        = fs.Uint("qu", 0, "--command: qualifier `N`: QU 0..31 of commands (0 default, 1 short, 2 long pulse, 3 persistent), QL 0..127 of set-points")
		timeTag   = fs.Bool("time-tag", false, "--command: send the command with a CP56Time2a time tag (types 58..63)")
		noActTerm = fs.Bool("no-actterm", false, "--command: the station sends no ACTTERM; the command ends at the execution's ACTCON")
		watch     = fs.Duration("watch", 0, "after the rest, keep printing what arrives for `DURATION` (e.g. 30s; Ctrl-C ends it early)")
		asJSON    = fs.Bool("json", false, "print one JSON object per line")
		timeout   = fs.Duration("timeout", 10*time.Second, "how long to wait for the connection (t0, unless --t0) and for each answer")
		zone      = fs.String("zone", "UTC", "time `ZONE` of the station's clock (IANA name, e.g. Europe/Berlin): read time tags and sync the clock in it")
		tlsCert   = fs.String("tls-cert", "", "TLS: this probe's certificate `FILE` (PEM); with --tls-key and --tls-ca")
		tlsKey    = fs.String("tls-key", "", "TLS: this probe's private key `FILE` (PEM)")
		tlsCA     = fs.String("tls-ca", "", "TLS: CA certificates `FILE` (PEM) that sign the station's certificate")
		pins      stringsFlag
		t0        = fs.Duration("t0", 0, "IEC 104 t0: connection timeout (0: --timeout)")
		t1        = fs.Duration("t1", def.T1, "IEC 104 t1: timeout of acknowledgements and STARTDT/STOPDT confirmations")
		t2        = fs.Duration("t2", def.T2, "IEC 104 t2: acknowledge received frames after this at the latest (< t1)")
		t3        = fs.Duration("t3", def.T3, "IEC 104 t3: send TESTFR after this idle time")
		k         = fs.Int("k", def.K, "IEC 104 k: send at most `N` unacknowledged I-frames, then wait")
		w         = fs.Int("w", def.W, "IEC 104 w: acknowledge after `N` received I-frames")
		logs      = fs.logFlags("warn")
	)
	fs.Var(&pins, "tls-pin", "TLS: accept only the station certificate with this SHA-256 `FINGERPRINT` (hex, colons allowed; repeatable)")
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	usageErr := fs.usageError
	set := fs.set()
	log, code, ok := fs.logger(logs, stderr)
	if !ok {
		return code
	}

	switch {
	case len(pos) == 0:
		return usageErr("no address given: hmi probe HOST[:PORT] [flags]")
	case len(pos) > 1:
		return usageErr("unexpected argument %q", pos[1])
	}
	o := probeOptions{
		clockSync: *clockSync, gi: *gi, count: *counters, watch: *watch, json: *asJSON, timeout: *timeout,
		apci: iec104.Config{K: *k, W: *w, T0: *t0, T1: *t1, T2: *t2, T3: *t3}, log: log,
	}
	if *ca < 1 || *ca > 65535 {
		return usageErr("--ca %d: want 1..65534, or 65535 for broadcast", *ca)
	}
	o.ca = uint16(*ca)
	if *oa > 255 {
		return usageErr("--oa %d: want 0..255", *oa)
	}
	o.oa = uint8(*oa)
	if *qoi < 20 || *qoi > 36 {
		return usageErr("--qoi %d: want 20 (station) or 21..36 (groups 1..16)", *qoi)
	}
	o.qoi = uint8(*qoi)
	if *qcc > 255 || *qcc&0x3F < 1 || *qcc&0x3F > 5 {
		return usageErr("--qcc %d: want 1..5 (group 1..4 or all), plus 64 (freeze) or 128 (freeze and reset)", *qcc)
	}
	o.qcc = uint8(*qcc)
	if *timeout <= 0 {
		return usageErr("--timeout %v: want a positive duration", *timeout)
	}
	if *watch < 0 {
		return usageErr("--watch %v: want a positive duration", *watch)
	}
	if o.apci.T0 == 0 {
		o.apci.T0 = *timeout
	}
	if err := o.apci.Validate(); err != nil {
		return usageErr("%v", strings.TrimPrefix(err.Error(), "iec104: "))
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return usageErr("--zone %q: %v", *zone, err)
	}
	o.zone = loc

	if *command != "" {
		c, err := parseProbeCommand(*command)
		if err != nil {
			return usageErr("--command %q: %v", *command, err)
		}
		maxQU := uint(31)
		if c.typ >= frontstation.SetpointNormalized {
			maxQU = 127
		}
		if *qu > maxQU {
			return usageErr("--qu %d: want 0..%d for a %v command", *qu, maxQU, c.typ)
		}
		if o.ca == iec104.GlobalCA {
			return usageErr("--command needs the station's own common address, not the broadcast address 65535")
		}
		c.sbo, c.qu, c.timeTag, c.actTerm = *sbo, uint8(*qu), *timeTag, !*noActTerm
		o.command = &c
	} else {
		for _, f := range []string{"sbo", "qu", "time-tag", "no-actterm"} {
			if set[f] {
				return usageErr("--%s applies to --command, which is not given", f)
			}
		}
	}
	if !o.clockSync && !o.gi && !o.count && o.command == nil && o.watch == 0 {
		o.gi = true
	}

	nTLS := 0
	for _, s := range []string{*tlsCert, *tlsKey, *tlsCA} {
		if s != "" {
			nTLS++
		}
	}
	switch {
	case nTLS != 0 && nTLS != 3:
		return usageErr("TLS needs all of --tls-cert, --tls-key and --tls-ca")
	case nTLS == 0 && len(pins) > 0:
		return usageErr("--tls-pin needs TLS: --tls-cert, --tls-key and --tls-ca")
	}
	port := "2404"
	if nTLS == 3 {
		port = "19998"
	}
	if o.addr, err = probeAddress(pos[0], port); err != nil {
		return usageErr("address %q: %v", pos[0], err)
	}
	if nTLS == 3 {
		c, err := iec104.TLSConfig{CertFile: *tlsCert, KeyFile: *tlsKey, CAFile: *tlsCA, Pins: pins}.Client()
		if err != nil {
			fmt.Fprintf(stderr, "hmi probe: %v\n", err)
			return exitFailure
		}
		o.tls = c
	}
	return probe(ctx, o, stdout, stderr)
}

// probeAddress adds the default port to an address without one.
func probeAddress(s, port string) (string, error) {
	if s == "" {
		return "", errors.New("empty")
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s, nil
	}
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if host == "" || strings.ContainsAny(host, "[] /") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return "", errors.New("want HOST or HOST:PORT")
	}
	return net.JoinHostPort(host, port), nil
}

// parseProbeCommand parses KIND:IOA:VALUE and checks the value.
func parseProbeCommand(s string) (probeCommand, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return probeCommand{}, errors.New("want KIND:IOA:VALUE, e.g. single:5000:1")
	}
	typ, err := frontstation.ParseCommandType(parts[0])
	if err != nil {
		return probeCommand{}, fmt.Errorf("unknown kind %q: want single, double, step, setpoint_normalized, setpoint_scaled or setpoint_float", parts[0])
	}
	ioa, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil || ioa < 1 || ioa > 0xFFFFFF {
		return probeCommand{}, fmt.Errorf("IOA %q: want 1..16777215", parts[1])
	}
	c := probeCommand{typ: typ, ioa: uint32(ioa)}
	words := map[frontstation.CommandType]map[string]float64{
		frontstation.SingleCommand: {"off": 0, "on": 1},
		frontstation.DoubleCommand: {"off": 1, "on": 2},
		frontstation.StepCommand:   {"lower": 1, "higher": 2},
	}
	v, named := words[typ][strings.ToLower(parts[2])]
	if !named {
		if v, err = strconv.ParseFloat(parts[2], 64); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return probeCommand{}, fmt.Errorf("value %q is not a number", parts[2])
		}
	}
	bad := ""
	switch typ {
	case frontstation.SingleCommand:
		if v != 0 && v != 1 {
			bad = "0 (off) or 1 (on)"
		}
	case frontstation.DoubleCommand:
		if v != 1 && v != 2 {
			bad = "1 (off) or 2 (on)"
		}
	case frontstation.StepCommand:
		if v != 1 && v != 2 {
			bad = "1 (lower) or 2 (higher)"
		}
	case frontstation.SetpointNormalized:
		if v < -1 || v >= 1 {
			bad = "-1 up to (not including) 1"
		}
	case frontstation.SetpointScaled:
		if v != math.Trunc(v) || v < math.MinInt16 || v > math.MaxInt16 {
			bad = "an integer in -32768..32767"
		}
	case frontstation.SetpointFloat:
		if math.Abs(v) > math.MaxFloat32 {
			bad = "a 32-bit float"
		}
	}
	if bad != "" {
		return probeCommand{}, fmt.Errorf("value %s: a %v command takes %s", parts[2], typ, bad)
	}
	c.value = v
	return c, nil
}

// pointKind is the kind of the status point a command type acts on.
func pointKind(t frontstation.CommandType) points.Kind {
	switch t {
	case frontstation.DoubleCommand:
		return points.Double
	case frontstation.StepCommand:
		return points.Step
	case frontstation.SetpointNormalized:
		return points.Normalized
	case frontstation.SetpointScaled:
		return points.Scaled
	case frontstation.SetpointFloat:
		return points.Float
	}
	return points.Single
}

// probeOut queues output lines so that the link's receive path never waits
// for the terminal; run writes them.
type probeOut struct {
	mu   sync.Mutex
	buf  []byte // guarded by mu
	wake chan struct{}
}

func (p *probeOut) line(b []byte) {
	p.mu.Lock()
	p.buf = append(p.buf, b...)
	p.buf = append(p.buf, '\n')
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run writes queued output to w until stop is closed, then the rest.
func (p *probeOut) run(w io.Writer, stop <-chan struct{}) error {
	var spare []byte
	var werr error
	flush := func() {
		p.mu.Lock()
		b := p.buf
		p.buf = spare[:0]
		p.mu.Unlock()
		if len(b) > 0 && werr == nil {
			_, werr = w.Write(b)
		}
		spare = b
	}
	for {
		select {
		case <-p.wake:
			flush()
		case <-stop:
			flush()
			return werr
		}
	}
}

// prober runs one probe.
type prober struct {
	o     probeOptions
	out   probeOut
	start time.Time

	mu         sync.Mutex
	objects    int                       // guarded by mu: monitor objects received
	byCause    map[iec104.Cause]int      // guarded by mu
	stationCS  iec104.CP56Time2a         // guarded by mu: time of the last clock sync ACTCON
	csSeen     bool                      // guarded by mu
	stepsShown map[string]int            // guarded by mu: command steps printed, by command ID
	holding    bool                      // guarded by mu: a command runs; objects wait in held
	held       [][]byte                  // guarded by mu
	result     map[string]any            // summary fields of the result line; only the probe goroutine
	errs       []string                  // only the probe goroutine
	systems    map[string]map[string]any // only the probe goroutine
}

func (p *prober) jsonLine(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = fmt.Appendf(nil, `{"error":%q}`, err.Error())
	}
	p.out.line(b)
}

func (p *prober) textLine(format string, a ...any) { p.out.line(fmt.Appendf(nil, format, a...)) }

func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

func probe(ctx context.Context, o probeOptions, stdout, stderr io.Writer) int {
	p := &prober{
		o: o, start: time.Now(), byCause: map[iec104.Cause]int{}, stepsShown: map[string]int{},
		result: map[string]any{}, systems: map[string]map[string]any{},
	}
	p.out.wake = make(chan struct{}, 1)
	stopOut := make(chan struct{})
	outDone := make(chan error, 1)
	go func() { outDone <- p.out.run(stdout, stopOut) }()

	code := p.run(ctx)

	result := "ok"
	if code != exitOK {
		result = "failed"
	}
	errText := strings.Join(p.errs, "; ")
	if o.json {
		r := map[string]any{"result": result, "error": errText}
		for k, v := range p.result {
			r[k] = v
		}
		p.jsonLine(r)
	} else if code == exitOK {
		n, _ := p.result["objects"].(int)
		p.textLine("result: ok, %s in %v", plural(n, "object"), time.Since(p.start).Round(time.Millisecond))
	} else {
		p.textLine("result: FAILED: %s", errText)
	}
	close(stopOut)
	if err := <-outDone; err != nil {
		fmt.Fprintf(stderr, "hmi probe: writing output: %v\n", err)
		return exitFailure
	}
	for _, e := range p.errs {
		fmt.Fprintf(stderr, "hmi probe: %s\n", e)
	}
	return code
}

func (p *prober) fail(format string, a ...any) { p.errs = append(p.errs, fmt.Sprintf(format, a...)) }

// run does the probe and returns the exit status; the result fields and
// errors are left in p.
func (p *prober) run(ctx context.Context) int {
	o := p.o
	p.result["address"], p.result["ca"], p.result["tls"] = o.addr, o.ca, o.tls != nil
	defer func() {
		p.mu.Lock()
		p.result["objects"] = p.objects
		p.mu.Unlock()
		p.result["duration_ms"] = ms(time.Since(p.start))
	}()

	// The link: one address, no reconnection, nothing sent unasked, no
	// points but the command's, everything observed.
	var defs []points.Def
	const cmdPoint = "command"
	if c := o.command; c != nil {
		defs = append(defs, points.Def{ID: cmdPoint, Name: fmt.Sprintf("IOA %d", c.ioa), Kind: pointKind(c.typ), Link: "probe", CA: o.ca, IOA: c.ioa})
	}
	cache, err := points.New(defs)
	if err != nil {
		p.fail("%v", err)
		return exitFailure
	}
	lc := frontstation.LinkConfig{
		Name: "probe", Addresses: []string{o.addr}, CA: o.ca, OA: o.oa, TLS: o.tls, APCI: o.apci,
		ClockZone: o.zone, DeviceZone: o.zone,
		Manual: true, Once: true, QuietUnmapped: true,
		Observe: p.observe,
		Events:  p.event,
		Logger:  o.log,
	}
	var ctl frontstation.Control
	if c := o.command; c != nil {
		h, _ := cache.Lookup(cmdPoint)
		lc.Points = []frontstation.PointMap{{Point: h, ID: cmdPoint, CA: o.ca, IOA: c.ioa, Kind: pointKind(c.typ)}}
		ctl = frontstation.Control{
			Point: h, ID: cmdPoint, Link: "probe", CA: o.ca, IOA: c.ioa, Type: c.typ, SBO: c.sbo, QU: c.qu,
			TimeTag: c.timeTag, Zone: o.zone, ResponseTimeout: o.timeout, ActTerm: c.actTerm,
		}
	}
	link, err := frontstation.NewLink(lc, cache)
	if err != nil {
		p.fail("%v", err)
		return exitFailure
	}
	var cmdr *frontstation.Commander
	if o.command != nil {
		if cmdr, err = frontstation.NewCommander([]frontstation.Control{ctl}, []*frontstation.Link{link}, o.log, p.step); err != nil {
			p.fail("%v", err)
			return exitFailure
		}
	}

	// opCtx ends when the caller's ctx does (interrupt) or the link fails,
	// with the link's error as its cause.
	opCtx, cancelOp := context.WithCancelCause(ctx)
	defer cancelOp(nil)
	runCtx, stopLink := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		if err := link.Run(runCtx); err != nil {
			cancelOp(err)
		}
	}()
	defer func() { stopLink(); <-runDone }() // STOPDT, close

	proto := "TCP"
	if o.tls != nil {
		proto = "TLS"
	}
	waitCtx, cancelWait := context.WithTimeoutCause(opCtx, o.apci.T0+o.apci.T1+time.Second,
		fmt.Errorf("no active connection to %s within t0 + t1 = %v", o.addr, o.apci.T0+o.apci.T1))
	err = link.WaitActive(waitCtx)
	cancelWait()
	if err != nil {
		msg := p.why(ctx, opCtx, err)
		switch op := (*net.OpError)(nil); {
		case ctx.Err() != nil:
		case errors.As(err, &op) && op.Op == "dial":
			msg = fmt.Sprintf("cannot connect to %s: %v", o.addr, op.Err)
		case errors.Is(err, io.EOF):
			msg = fmt.Sprintf("%s closed the connection before data transfer started (does it expect TLS, or accept no other master?): %s", o.addr, msg)
		}
		p.fail("%s", msg)
		return exitFailure
	}
	up := time.Since(p.start)
	p.result["connect_ms"] = ms(up)
	if o.json {
		p.jsonLine(map[string]any{"connected": o.addr, "tls": o.tls != nil, "latency_ms": ms(up)})
	} else {
		p.textLine("connected to %s (%s), data transfer started after %v; common address %d", o.addr, proto, up.Round(time.Microsecond), o.ca)
	}

	ok := true
	if o.clockSync {
		ok = p.system(ctx, opCtx, link, "clock_sync", iec104.C_CS_NA_1, 0) && ok
	}
	if o.gi && opCtx.Err() == nil {
		ok = p.system(ctx, opCtx, link, "interrogation", iec104.C_IC_NA_1, o.qoi) && ok
	}
	if o.count && opCtx.Err() == nil {
		ok = p.system(ctx, opCtx, link, "counters", iec104.C_CI_NA_1, o.qcc) && ok
	}
	if c := o.command; c != nil && opCtx.Err() == nil {
		if ok {
			ok = p.command(ctx, opCtx, cmdr, cmdPoint)
		} else {
			p.fail("command not sent: an earlier request failed")
			p.result["command"] = map[string]any{"state": "not_sent"}
		}
	}
	if o.watch > 0 && opCtx.Err() == nil {
		if !o.json {
			p.textLine("watching for %v (Ctrl-C ends it)", o.watch)
		}
		t := time.NewTimer(o.watch)
		select {
		case <-t.C:
		case <-opCtx.Done():
			t.Stop()
		}
	}
	if opCtx.Err() != nil {
		if ctx.Err() != nil && o.watch > 0 && ok {
			// Interrupting the watch is how it is ended early.
			return exitOK
		}
		p.fail("%s", p.why(ctx, opCtx, context.Cause(opCtx)))
		return exitFailure
	}
	if !ok {
		return exitFailure
	}
	return exitOK
}

// why says why an operation ended: interrupt, link failure or err.
func (p *prober) why(ctx, opCtx context.Context, err error) string {
	switch {
	case ctx.Err() != nil:
		return "interrupted"
	case opCtx.Err() != nil:
		return context.Cause(opCtx).Error()
	}
	return err.Error()
}

var systemNames = map[string]string{
	"clock_sync":    "clock sync",
	"interrogation": "interrogation",
	"counters":      "counter interrogation",
}

// system runs one system command and reports it.
func (p *prober) system(ctx, opCtx context.Context, link *frontstation.Link, name string, t iec104.TypeID, q uint8) bool {
	var causes func(iec104.Cause) bool
	switch t {
	case iec104.C_IC_NA_1:
		causes = iec104.Cause.IsInterrogation
	case iec104.C_CI_NA_1:
		causes = func(c iec104.Cause) bool { return c >= iec104.CauseCounterGeneral && c <= iec104.CauseCounterGroup1+3 }
	}
	countObjs := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		n := 0
		for c, k := range p.byCause {
			if causes != nil && causes(c) {
				n += k
			}
		}
		return n
	}
	before := countObjs()
	if !p.o.json {
		what := ""
		switch t {
		case iec104.C_IC_NA_1:
			what = fmt.Sprintf(", QOI %d", q)
		case iec104.C_CI_NA_1:
			what = fmt.Sprintf(", QCC %d", q)
		}
		p.textLine("%s: %v sent%s", systemNames[name], t, what)
	}
	sctx, cancel := context.WithTimeout(opCtx, p.o.timeout)
	start := time.Now()
	err := link.System(sctx, t, q)
	took := time.Since(start)
	cancel()
	rep := map[string]any{"system": name, "type": t.String(), "ok": err == nil, "latency_ms": ms(took)}
	if causes != nil {
		rep["objects"] = countObjs() - before
	}
	if t == iec104.C_CS_NA_1 {
		p.mu.Lock()
		if p.csSeen {
			if err := p.stationCS.Validate(); err == nil && !p.stationCS.Invalid {
				rep["station_time"] = p.stationCS.Time(p.o.zone).Format(time.RFC3339Nano)
			}
		}
		p.mu.Unlock()
	}
	if err != nil {
		msg := p.why(ctx, opCtx, err)
		rep["error"] = msg
		p.fail("%s: %s", systemNames[name], msg)
	}
	summary := map[string]any{}
	for k, v := range rep {
		if k != "system" {
			summary[k] = v
		}
	}
	p.result[name] = summary
	if p.o.json {
		p.jsonLine(rep)
		return err == nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", systemNames[name])
	switch {
	case err != nil:
		fmt.Fprintf(&b, "FAILED after %v: %s", took.Round(time.Microsecond), rep["error"])
	case t == iec104.C_CS_NA_1:
		fmt.Fprintf(&b, "confirmed after %v", took.Round(time.Microsecond))
		if st, ok := rep["station_time"]; ok {
			fmt.Fprintf(&b, "; the station's clock reads %s", st)
		}
	default:
		fmt.Fprintf(&b, "terminated after %v, %d objects", took.Round(time.Microsecond), rep["objects"])
	}
	p.textLine("%s", b.String())
	return err == nil
}

// command runs the command and reports its outcome.
func (p *prober) command(ctx, opCtx context.Context, cmdr *frontstation.Commander, point string) bool {
	c := p.o.command
	mode := "direct execute"
	if c.sbo {
		mode = "select before operate"
	}
	if !p.o.json {
		tt := ""
		if c.timeTag {
			tt = ", with time tag"
		}
		p.textLine("command: %v IOA %d value %s, %s, QU %d%s", c.typ, c.ioa, strconv.FormatFloat(c.value, 'g', -1, 64), mode, c.qu, tt)
	}
	p.hold(true)
	rec, err := cmdr.Select(opCtx, point, c.value, frontstation.Origin{User: "probe"})
	if err == nil && c.sbo {
		rec, err = cmdr.Execute(opCtx, rec.ID)
	}
	p.hold(false)
	sum := map[string]any{
		"kind": c.typ.String(), "ioa": c.ioa, "value": c.value, "sbo": c.sbo, "qu": c.qu, "state": rec.State.String(),
	}
	if rec.SelectLatency > 0 {
		sum["select_latency_ms"] = ms(rec.SelectLatency)
	}
	if rec.ExecuteLatency > 0 {
		sum["execute_latency_ms"] = ms(rec.ExecuteLatency)
	}
	if rec.TermLatency > 0 {
		sum["term_latency_ms"] = ms(rec.TermLatency)
	}
	want := frontstation.Terminated
	if !c.actTerm {
		want = frontstation.Confirmed
	}
	if err == nil && rec.State != want {
		err = fmt.Errorf("command ended %v, want %v", rec.State, want)
	}
	if err != nil {
		msg := err.Error()
		if rec.Err != "" {
			msg = rec.Err
		}
		if opCtx.Err() != nil {
			msg = p.why(ctx, opCtx, err)
		}
		if rec.State == 0 {
			sum["state"] = "not_sent"
		}
		sum["error"] = msg
		p.fail("command: %s", msg)
	}
	p.result["command"] = sum
	if !p.o.json {
		if err != nil {
			p.textLine("command: FAILED (%v): %s", sum["state"], sum["error"])
		} else {
			lat := []string{}
			for _, l := range []struct {
				n string
				d time.Duration
			}{{"select", rec.SelectLatency}, {"execute", rec.ExecuteLatency}, {"termination", rec.TermLatency}} {
				if l.d > 0 {
					lat = append(lat, fmt.Sprintf("%s %v", l.n, l.d.Round(time.Microsecond)))
				}
			}
			p.textLine("command: %v (%s)", rec.State, strings.Join(lat, ", "))
		}
	}
	return err == nil
}

// step prints the steps of a command record not printed yet. The
// commander calls it after every step; it must not block.
func (p *prober) step(r frontstation.Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := p.stepsShown[r.ID]; i < len(r.Steps); i++ {
		s := r.Steps[i]
		if p.o.json {
			p.jsonLine(map[string]any{
				"step": s.Name, "cot": uint8(s.Cause), "negative": s.Negative, "latency_ms": ms(s.Latency),
				"at": s.At.Format(time.RFC3339Nano),
			})
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "command: %-13s", s.Name)
		if s.Cause != 0 {
			fmt.Fprintf(&b, " cot=%-2d %-8s", uint8(s.Cause), s.Cause)
			if s.Negative {
				b.WriteString(" NEGATIVE")
			}
		}
		if s.Latency > 0 {
			fmt.Fprintf(&b, "  latency %v", s.Latency.Round(time.Microsecond))
		}
		p.out.line([]byte(strings.TrimRight(b.String(), " ")))
	}
	p.stepsShown[r.ID] = len(r.Steps)
}

// event prints what the link reports besides values. Link states and
// command events are left out: the probe says those itself.
func (p *prober) event(e frontstation.Event) {
	switch e.Kind {
	case frontstation.EventSecurity, frontstation.EventAnomaly, frontstation.EventDevice:
	default:
		return
	}
	if p.o.json {
		p.jsonLine(map[string]any{"event": e.Kind.String(), "message": e.Message, "at": e.Time.Format(time.RFC3339Nano)})
		return
	}
	p.textLine("%s: %s", e.Kind, e.Message)
}

// observe prints the monitor objects of an ASDU and notes clock sync
// confirmations. It runs on the link's receive path.
func (p *prober) observe(a iec104.ASDU, objs []iec104.Object, _ time.Time) {
	if a.Type == iec104.C_CS_NA_1 && a.Cause == iec104.CauseActivationCon && !a.IsNegative() && len(objs) == 1 {
		p.mu.Lock()
		p.stationCS, p.csSeen = objs[0].Time, true
		p.mu.Unlock()
		return
	}
	if !a.Type.IsMonitor() && a.Type != iec104.M_EI_NA_1 {
		return
	}
	p.mu.Lock()
	p.objects += len(objs)
	p.byCause[a.Cause] += len(objs)
	p.mu.Unlock()
	var buf bytes.Buffer
	for i := range objs {
		buf.Reset()
		if p.o.json {
			p.jsonObject(&buf, a, &objs[i])
		} else {
			p.textObject(&buf, a, &objs[i])
		}
		p.mu.Lock()
		if p.holding {
			p.held = append(p.held, bytes.Clone(buf.Bytes()))
		} else {
			p.out.line(buf.Bytes())
		}
		p.mu.Unlock()
	}
}

// hold makes objects wait while a command runs, so that they are printed
// after the steps of the command that were answered before them (the
// commander reports a step a moment after its answer arrived).
func (p *prober) hold(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = on
	if !on {
		for _, b := range p.held {
			p.out.line(b)
		}
		p.held = nil
	}
}

// probeObject is the JSON line of a received object.
type probeObject struct {
	IOA         uint32          `json:"ioa"`
	TypeID      uint8           `json:"type_id"`
	Type        string          `json:"type"`
	COT         uint8           `json:"cot"`
	Cause       string          `json:"cause"`
	Negative    bool            `json:"negative,omitempty"`
	Test        bool            `json:"test,omitempty"`
	CA          uint16          `json:"ca"`
	Value       json.RawMessage `json:"value"`
	Quality     []string        `json:"quality"`
	Transient   bool            `json:"transient,omitempty"`
	Seq         *uint8          `json:"seq,omitempty"`
	Carry       bool            `json:"carry,omitempty"`
	Adjusted    bool            `json:"adjusted,omitempty"`
	Time        string          `json:"time,omitempty"`
	TimeInvalid bool            `json:"time_invalid,omitempty"`
	TimeError   string          `json:"time_error,omitempty"`
}

func qualityNames(q iec104.Quality) []string {
	names := []string{}
	for _, f := range [...]struct {
		q iec104.Quality
		n string
	}{{iec104.QualityIV, "iv"}, {iec104.QualityNT, "nt"}, {iec104.QualitySB, "sb"}, {iec104.QualityBL, "bl"}, {iec104.QualityOV, "ov"}} {
		if q&f.q != 0 {
			names = append(names, f.n)
		}
	}
	return names
}

// valueText formats an object's value as a JSON number (or a quoted NaN or
// infinity, which JSON numbers cannot carry).
func valueText(t iec104.TypeID, o *iec104.Object) string {
	v := o.Value(t)
	switch t {
	case iec104.M_ME_NC_1, iec104.M_ME_TF_1:
		f := float64(o.Float)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.Quote(strconv.FormatFloat(f, 'g', -1, 32))
		}
		return strconv.FormatFloat(f, 'g', -1, 32)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func timeOf(t iec104.TypeID, o *iec104.Object, loc *time.Location) (s string, invalid bool, errText string) {
	if !t.HasTime() {
		return "", false, ""
	}
	if err := o.Time.Validate(); err != nil {
		return "", o.Time.Invalid, strings.TrimPrefix(err.Error(), "iec104: ")
	}
	return o.Time.Time(loc).Format("2006-01-02T15:04:05.000Z07:00"), o.Time.Invalid, ""
}

func (p *prober) jsonObject(buf *bytes.Buffer, a iec104.ASDU, o *iec104.Object) {
	j := probeObject{
		IOA: o.IOA, TypeID: uint8(a.Type), Type: a.Type.String(), COT: uint8(a.Cause), Cause: a.Cause.String(),
		Negative: a.Negative, Test: a.Test, CA: a.CA, Value: json.RawMessage(valueText(a.Type, o)),
		Quality: qualityNames(o.Quality), Transient: o.Transient,
	}
	if a.Type == iec104.M_IT_NA_1 || a.Type == iec104.M_IT_TB_1 {
		seq := o.CounterSeq
		j.Seq, j.Carry, j.Adjusted = &seq, o.Carry, o.Adjusted
	}
	j.Time, j.TimeInvalid, j.TimeError = timeOf(a.Type, o, p.o.zone)
	b, err := json.Marshal(j)
	if err != nil {
		b = fmt.Appendf(nil, `{"error":%q}`, err.Error())
	}
	buf.Write(b)
}

var stateLabels = map[iec104.TypeID][]string{
	iec104.M_SP_NA_1: {"off", "on"}, iec104.M_SP_TB_1: {"off", "on"},
	iec104.M_DP_NA_1: {"intermediate", "off", "on", "indeterminate"}, iec104.M_DP_TB_1: {"intermediate", "off", "on", "indeterminate"},
}

func (p *prober) textObject(buf *bytes.Buffer, a iec104.ASDU, o *iec104.Object) {
	fmt.Fprintf(buf, "%-9s cot=%-2d %-8s ca=%d ioa=%-7d value=", a.Type, uint8(a.Cause), a.Cause, a.CA, o.IOA)
	v := valueText(a.Type, o)
	switch a.Type {
	case iec104.M_BO_NA_1, iec104.M_BO_TB_1:
		v = fmt.Sprintf("0x%08X", o.Bits)
	case iec104.M_EI_NA_1:
		v = fmt.Sprintf("%d (end of initialisation, COI)", o.Qualifier)
	default:
		if l := stateLabels[a.Type]; int(o.State) < len(l) {
			v += " (" + l[o.State] + ")"
		}
	}
	fmt.Fprintf(buf, "%-12s", v)
	if o.Transient {
		buf.WriteString(" transient")
	}
	if a.Type == iec104.M_IT_NA_1 || a.Type == iec104.M_IT_TB_1 {
		fmt.Fprintf(buf, " seq=%d", o.CounterSeq)
		if o.Carry {
			buf.WriteString(" carry")
		}
		if o.Adjusted {
			buf.WriteString(" adjusted")
		}
	}
	q := "good"
	if n := qualityNames(o.Quality); len(n) > 0 {
		q = strings.ToUpper(strings.Join(n, ","))
	}
	fmt.Fprintf(buf, " quality=%s", q)
	if s, inv, errText := timeOf(a.Type, o, p.o.zone); s != "" || errText != "" {
		if errText != "" {
			fmt.Fprintf(buf, " time=BAD(%s)", errText)
		} else {
			fmt.Fprintf(buf, " time=%s", s)
		}
		if inv {
			buf.WriteString(" (time invalid)")
		}
	}
	if a.Negative {
		buf.WriteString(" NEGATIVE")
	}
	if a.Test {
		buf.WriteString(" TEST")
	}
}
