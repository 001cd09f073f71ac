package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"

	"hmi/frontstation/iec104"
	"hmi/sim"
)

const simUsage = `Usage: hmi sim [flags]

Runs an IEC 60870-5-104 outstation (RTU) simulator: a station with monitor
points of every kind and commands bound to them. It answers station and
group interrogation, counter interrogation, clock synchronisation, test and
read commands, executes single, double, step and set-point commands (direct
or select-before-operate), reports each executed command's effect with cause
11, and sends spontaneous changes at --rate. Any number of masters may
connect at once; every started connection receives all spontaneous data.

The station comes from --config FILE (YAML), or is generated with --points N:
N points dealt to the kinds single, double, step, bitstring, normalized,
scaled, float, counter. For N <= 8000 their IOAs start at 1000, 2000, ...,
8000, one block per kind in that order (interrogation groups 1..7 by kind;
counters in counter groups 1..4). Three commands per command kind act on the
first three points of their kind: IOA 9000+ single, 9100+ double, 9200+ step,
9300+ set-point normalized, 9400+ scaled, 9500+ float; the first executes
directly, the second and third need select-before-operate, the third sends no
ACTTERM. (Beyond 8000 points the blocks are 10000, 100000, ... apart.)

Examples:
  hmi sim                                     80 generated points on 127.0.0.1:2404
  hmi sim --points 1000 --rate 50 --tb        50 changes/s with CP56Time2a time tags
  hmi sim --points 2000 --rate max            load generator: as fast as the master acknowledges
  hmi sim --config station.yaml --listen 0.0.0.0:2404
  hmi sim --listen :19998 --tls-cert rtu.pem --tls-key rtu.key --tls-ca ca.pem

A station file:
  ca: 1
  points:
    - {ioa: 100, kind: double, value: 2, time_tag: true, group: 2}
    - {ioa: 200, kind: float, value: 230.5}
  commands:
    - {ioa: 5100, point: 100, sbo: true, select_timeout: 10s, actterm: true}

Flags:
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
	fs := flag.NewFlagSet("hmi sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", "127.0.0.1:2404", "`address` to listen on (host:port; port 0 picks a free one)")
		configFile = fs.String("config", "", "station description `file` (YAML); see above")
		points     = fs.Int("points", 80, "generate a station of `N` points (not with --config)")
		rate       rateFlag
		ca         = fs.Uint("ca", 1, "common address of the station, 1..65534 (overrides the file's)")
		timeTags   = fs.Bool("tb", false, "report spontaneous changes and command returns with CP56Time2a time tags (M_SP_TB_1, ...)")
		selTimeout = fs.Duration("select-timeout", sim.DefaultSelectTimeout, "how long a select waits for its execute, for commands that set none")
		tlsCert    = fs.String("tls-cert", "", "TLS: the station's certificate `file` (PEM); with --tls-key and --tls-ca")
		tlsKey     = fs.String("tls-key", "", "TLS: the station's private key `file` (PEM)")
		tlsCA      = fs.String("tls-ca", "", "TLS: CA certificates `file` (PEM) that sign the masters' certificates (required)")
		k          = fs.Int("k", 12, "IEC 104 k: unacknowledged I-frames the station sends before it waits")
		w          = fs.Int("w", 8, "IEC 104 w: received I-frames after which the station acknowledges")
		seed       = fs.Uint64("seed", 1, "seed of the random spontaneous changes")
		logLevel   = fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	)
	fs.Var(&rate, "rate", "number of spontaneous `changes` per second (0: none; max: as fast as the master acknowledges, in full ASDUs)")
	fs.Usage = func() {} // Parse prints the error; --help goes to stdout below
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, simUsage)
			fs.PrintDefaults()
			return exitOK
		}
		fmt.Fprintln(stderr, "Run 'hmi sim --help' for usage.")
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hmi sim: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run 'hmi sim --help' for usage.")
		return exitUsage
	}
	if fs.NArg() != 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageErr("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

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

	srv, err := sim.New(sim.Options{
		Config: cfg,
		Rate:   float64(rate),
		TLS:    tlsConf,
		Link:   link,
		Seed:   *seed,
		Logger: log,
	})
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "hmi sim: "+line)
		}
		return exitUsage
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
	if err := srv.Run(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "hmi sim: %v\n", err)
		return exitFailure
	}
	return exitOK
}
