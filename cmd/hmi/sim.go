package main

import (
	"context"
	"crypto/tls"
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

	"hmi/frontstation/iec104"
	"hmi/sim"
)

const simUsage = `Usage: hmi sim [--listen ADDR] [--config FILE | --points N] [--rate R] [flags]

Runs an IEC 60870-5-104 outstation (RTU) simulator, for demonstrations,
tests and load: a station with monitor points of every kind and commands
bound to them. It answers interrogations, clock synchronisation, test and
read commands, executes single, double, step and set-point commands (direct
or select-before-operate) and reports their effect with cause 11, and sends
spontaneous changes at --rate to every master connected. It runs until
interrupted (Ctrl-C or SIGTERM), and then exits 0.

Examples:
  hmi sim                                  80 generated points on 127.0.0.1:2404
  hmi sim --points 1000 --rate 50 --tb     50 changes/s with CP56Time2a time tags
  hmi sim --config station.yaml --listen 0.0.0.0:2404

The generated station (--points N): N points dealt to the kinds single,
double, step, bitstring, normalized, scaled, float, counter. For N <= 8000
their IOAs start at 1000, 2000, ..., 8000, one block per kind in that order
(interrogation groups 1..7 by kind; counters in counter groups 1..4). Three
commands per command kind act on the first three points of their kind: IOA
9000+ single, 9100+ double, 9200+ step, 9300+ set-point normalized, 9400+
scaled, 9500+ float; the first executes directly, the second and third need
select-before-operate, the third sends no ACTTERM. (Beyond 8000 points the
blocks are 10000, 100000, ... apart.)

A station file (--config FILE):
  ca: 1
  points:
    - {ioa: 100, kind: double, value: 2, time_tag: true, group: 2}
    - {ioa: 200, kind: float, value: 230.5}
  commands:
    - {ioa: 5100, point: 100, sbo: true, select_timeout: 10s, actterm: true}

TLS (IEC 62351-3): give all of --tls-cert, --tls-key and --tls-ca, e.g.
  hmi sim --listen :19998 --tls-cert rtu.pem --tls-key rtu.key --tls-ca ca.pem

Faults, to see how a master copes (--fault KIND[@DURATION], repeatable):
every DURATION (default 10s) the station commits KIND once on every
started connection:
  wrong_ns               an I-frame whose N(S) skips one
  ack_outside_window     an S-frame acknowledging I-frames never sent
  garbage                16 octets that are not 0x68 where a frame starts
  short_apdu             an APDU of length 3 (68 03 01 00 00)
  objects_beyond_bytes   an ASDU whose VSQ counts 2 objects, holding one
  unknown_type           an ASDU of type 200
  testfr_flood           100 TESTFR act at once
  unsolicited_actcon     an ACTCON of the first command, never sent to it
or it answers every process command (select, execute, cancel):
  no_actcon              never
  late_actcon@DURATION   after DURATION
e.g. hmi sim --fault garbage@30s --fault late_actcon@15s

Exit status: 0 after an interrupt; 1 when it cannot listen or run (TLS
files that cannot be read); 2 wrong flags or arguments, or a station file
with errors (listed as FILE:LINE:COLUMN: message).
`

// rateFlag is --rate: changes per second, or "max".
type rateFlag float64

func (r *rateFlag) String() string {
	if *r < 0 {
		return "max"
	}
	return strconv.FormatFloat(float64(*r), 'g', -1, 64)
}

func (r *rateFlag) Set(s string) error {
	if s == "max" || s == "unlimited" {
		*r = sim.Unlimited
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return errors.New(`want a number of changes per second or "max"`)
	}
	if v < 0 {
		v = sim.Unlimited
	}
	*r = rateFlag(v)
	return nil
}

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sim", simUsage, stdout, stderr)
	var (
		listen     = fs.String("listen", "127.0.0.1:2404", "listen on `ADDR`, host:port (port 0 picks a free one)")
		configFile = fs.String("config", "", "the station description `FILE` (YAML; see above)")
		points     = fs.Int("points", 80, "generate a station of `N` points (not with --config)")
		rate       rateFlag
		ca         = fs.Uint("ca", 1, "common address `N` of the station, 1..65534 (overrides the file's)")
		timeTags   = fs.Bool("tb", false, "report spontaneous changes and command returns with CP56Time2a time tags (M_SP_TB_1, ...)")
		selTimeout = fs.Duration("select-timeout", sim.DefaultSelectTimeout, "how long a select waits for its execute (`DURATION`, e.g. 10s), for commands that set none")
		tlsCert    = fs.String("tls-cert", "", "TLS: the station's certificate `FILE` (PEM); with --tls-key and --tls-ca")
		tlsKey     = fs.String("tls-key", "", "TLS: the station's private key `FILE` (PEM)")
		tlsCA      = fs.String("tls-ca", "", "TLS: CA certificates `FILE` (PEM) that sign the masters' certificates (required)")
		k          = fs.Int("k", 12, "IEC 104 k: the station sends at most `N` unacknowledged I-frames, then waits")
		w          = fs.Int("w", 8, "IEC 104 w: the station acknowledges after `N` received I-frames")
		seed       = fs.Uint64("seed", 1, "seed `N` of the random spontaneous changes")
		evBuffer   = fs.Int("event-buffer", 0, fmt.Sprintf("keep up to `N` spontaneous ASDUs (0..%d) while no master is started, and those a dropped connection left unacknowledged, for the next master (as lib60870's server does); 0: they are lost", sim.MaxEventBuffer))
		logs       = fs.logFlags("info")
	)
	fs.Var(&rate, "rate", "spontaneous changes per second: a number `R` (0: none), or max: as fast as the master acknowledges, in full ASDUs")
	var faultArgs stringsFlag
	fs.Var(&faultArgs, "fault", "misbehave on purpose as `KIND[@DURATION]` says (see Faults above; repeatable)")
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	usageErr := fs.usageError
	if len(pos) != 0 {
		return usageErr("unexpected argument %q", pos[0])
	}
	set := fs.set()
	log, code, ok := fs.logger(logs, stderr)
	if !ok {
		return code
	}

	var cfg sim.Config
	switch {
	case *configFile != "" && set["points"]:
		return usageErr("--config and --points exclude each other")
	case *configFile != "":
		c, err := sim.LoadConfig(*configFile)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				fmt.Fprintln(stderr, "hmi sim: "+line)
			}
			return exitUsage
		}
		cfg = c
	default:
		if *points < 1 || *points > 1_000_000 {
			return usageErr("--points %d: want 1..1000000", *points)
		}
		cfg = sim.Generate(*points)
	}
	if set["ca"] {
		if *ca < 1 || *ca > 65534 {
			return usageErr("--ca %d: want 1..65534", *ca)
		}
		cfg.CA = uint16(*ca)
	}
	if *timeTags {
		for i := range cfg.Points {
			cfg.Points[i].TimeTag = true
		}
	}
	if set["select-timeout"] || cfg.SelectTimeout == 0 {
		if *selTimeout <= 0 {
			return usageErr("--select-timeout %v: want a positive duration", *selTimeout)
		}
		cfg.SelectTimeout = *selTimeout
	}
	faults, err := parseFaults(faultArgs)
	if err != nil {
		return usageErr("%v", err)
	}
	link := iec104.DefaultConfig()
	link.K, link.W = *k, *w
	if err := link.Validate(); err != nil {
		return usageErr("--k %d --w %d: %v", *k, *w, strings.TrimPrefix(err.Error(), "iec104: "))
	}

	var tlsConf *tls.Config
	nTLS := 0
	for _, s := range []string{*tlsCert, *tlsKey, *tlsCA} {
		if s != "" {
			nTLS++
		}
	}
	switch nTLS {
	case 0:
	case 3:
		c, err := iec104.TLSConfig{CertFile: *tlsCert, KeyFile: *tlsKey, CAFile: *tlsCA}.Server()
		if err != nil {
			fmt.Fprintf(stderr, "hmi sim: %v\n", err)
			return exitFailure
		}
		tlsConf = c
	default:
		return usageErr("TLS needs all of --tls-cert, --tls-key and --tls-ca")
	}

	if *evBuffer < 0 || *evBuffer > sim.MaxEventBuffer {
		return usageErr("--event-buffer %d: want 0..%d", *evBuffer, sim.MaxEventBuffer)
	}
	srv, err := sim.New(sim.Options{
		Config:      cfg,
		Rate:        float64(rate),
		TLS:         tlsConf,
		Link:        link,
		Seed:        *seed,
		EventBuffer: *evBuffer,
		Logger:      log,
	})
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "hmi sim: "+line)
		}
		return exitUsage
	}
	for _, f := range faults {
		if f.kind.IsCommandMode() {
			if err := srv.SetCommandFault(f.kind, f.every); err != nil {
				return usageErr("--fault: %v", strings.TrimPrefix(err.Error(), "sim: "))
			}
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "hmi sim: cannot listen on %s: %v\n", *listen, err)
		return exitFailure
	}
	proto := "TCP"
	if tlsConf != nil {
		proto = "TLS"
	}
	fmt.Fprintf(stdout, "hmi sim: listening on %s (%s), common address %d, %d points, %d commands, %s spontaneous changes/s\n",
		ln.Addr(), proto, cfg.CA, len(cfg.Points), len(cfg.Commands), rate.String())
	var wg sync.WaitGroup
	defer wg.Wait()
	runCtx, stop := context.WithCancel(ctx)
	defer stop() // ends the injectors when Run fails
	for _, f := range faults {
		if !f.kind.IsCommandMode() {
			wg.Go(func() { injectEvery(runCtx, srv, f, log) })
		}
	}
	if err := srv.Run(runCtx, ln); err != nil {
		fmt.Fprintf(stderr, "hmi sim: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// simFault is one --fault: a fault injected every period, or a command
// mode and its delay.
type simFault struct {
	kind  sim.FaultKind
	every time.Duration // the period; late_actcon: the delay; no_actcon: 0
}

// parseFaults parses the --fault arguments KIND[@DURATION].
func parseFaults(args []string) ([]simFault, error) {
	var out []simFault
	modes := 0
	for _, a := range args {
		name, d, hasD := strings.Cut(a, "@")
		kind, err := sim.ParseFaultKind(name)
		if err != nil {
			return nil, fmt.Errorf("--fault %s: %v", a, strings.TrimPrefix(err.Error(), "sim: "))
		}
		f := simFault{kind: kind, every: 10 * time.Second}
		if hasD {
			if f.every, err = time.ParseDuration(d); err != nil || f.every <= 0 {
				return nil, fmt.Errorf("--fault %s: want a positive duration after @, e.g. %s@30s", a, name)
			}
		}
		switch {
		case kind == sim.NoActCon && hasD:
			return nil, fmt.Errorf("--fault %s: %v takes no @DURATION", a, kind)
		case kind == sim.NoActCon:
			f.every = 0
		case kind == sim.LateActCon && !hasD:
			return nil, fmt.Errorf("--fault %s: say how late, e.g. %v@15s", a, kind)
		}
		if kind.IsCommandMode() {
			if modes++; modes > 1 {
				return nil, fmt.Errorf("--fault: at most one of %v and %v", sim.NoActCon, sim.LateActCon)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// injectEvery injects f every f.every until ctx ends. A period without a
// started connection is not an error.
func injectEvery(ctx context.Context, srv *sim.Server, f simFault, log *slog.Logger) {
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			switch err := srv.Inject(sim.Fault{Kind: f.kind}); {
			case errors.Is(err, sim.ErrNoConnection):
				log.Debug("sim: fault not injected", "fault", f.kind, "err", err)
			case err != nil:
				log.Warn("sim: fault not injected", "fault", f.kind, "err", err)
			}
		}
	}
}
