package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"path/filepath"

	"hmi/config"
	"hmi/demo"
	"hmi/frontstation"
	"hmi/points"
	"hmi/sim"
)

// plant is the front end built from a configuration: the point cache, one
// link per configured link, the commander, and the simulators the server
// runs itself.
type plant struct {
	cache *points.Cache
	links []*frontstation.Link
	cmd   *frontstation.Commander
	sims  []*plantSim
	log   *slog.Logger
}

type plantSim struct {
	name  string
	cfg   *config.Simulator
	srv   *sim.Server
	model *demo.Substation // with model: substation, else nil
}

// buildPlant checks that everything in cfg can be built and builds it; it
// starts nothing. events receives the links' events (it must not block);
// onStep, when not nil, every step of every command (see NewCommander).
func buildPlant(cfg *config.Config, log *slog.Logger, events frontstation.EventSink, onStep func(frontstation.Record)) (*plant, error) {
	cache, err := points.New(cfg.Defs())
	if err != nil {
		return nil, err
	}
	p := &plant{cache: cache, log: log}
	var ctls []frontstation.Control
	for _, lc := range cfg.Links {
		fl, err := linkConfig(cfg, lc, cache)
		if err != nil {
			return nil, err
		}
		fl.Logger, fl.Events = log, events
		l, err := frontstation.NewLink(fl, cache)
		if err != nil {
			return nil, err
		}
		p.links = append(p.links, l)
		for _, pt := range cfg.PointsOf(lc.Name) {
			if pt.Control == nil {
				continue
			}
			c, err := controlOf(pt, lc, cache)
			if err != nil {
				return nil, err
			}
			ctls = append(ctls, c)
		}
	}
	if p.cmd, err = frontstation.NewCommander(ctls, p.links, log, onStep); err != nil {
		return nil, err
	}
	for _, sc := range cfg.Simulators {
		s, err := simulatorOf(cfg, sc, log)
		if err != nil {
			return nil, err
		}
		p.sims = append(p.sims, s)
	}
	return p, nil
}

func linkConfig(cfg *config.Config, lc *config.Link, cache *points.Cache) (frontstation.LinkConfig, error) {
	fl := frontstation.LinkConfig{
		Name:                lc.Name,
		Addresses:           lc.Addresses,
		CA:                  uint16(lc.CA),
		OA:                  uint8(lc.Originator),
		APCI:                lc.APCI(),
		InterrogationPeriod: lc.Interrogation.Period.D(),
		DeviceZone:          lc.Location(),
		BackoffMin:          lc.Reconnect.Min.D(),
		BackoffMax:          lc.Reconnect.Max.D(),
		TrafficBuffer:       lc.TrafficBuffer,
	}
	if t := lc.TLSConfig(); t != nil {
		tc, err := t.Client()
		if err != nil {
			return fl, fmt.Errorf("link %s: %w", lc.Name, err)
		}
		fl.TLS = tc
	}
	if cs := lc.ClockSync; cs != nil {
		fl.ClockSync, fl.ClockSyncPeriod, fl.ClockZone = true, cs.Period.D(), cs.Location()
	}
	if ci := lc.CounterInterrogation; ci != nil {
		fl.Counters, fl.CounterPeriod = true, ci.Period.D()
	}
	if c := lc.Capture; c != nil {
		fl.Capture = frontstation.CaptureConfig{Dir: c.Dir, MaxBytes: int64(c.MaxSize), MaxFiles: c.MaxFiles}
	}
	for _, pt := range cfg.PointsOf(lc.Name) {
		h, ok := cache.Lookup(pt.ID)
		if !ok {
			return fl, fmt.Errorf("point %s is not in the cache", pt.ID)
		}
		pm := frontstation.PointMap{Point: h, ID: pt.ID, CA: uint16(pt.CA), IOA: uint32(pt.IOA), Kind: pt.Kind}
		if pt.Scale != nil {
			pm.Scale, pm.Offset = pt.Scale.Factor, pt.Scale.Offset
		}
		fl.Points = append(fl.Points, pm)
	}
	return fl, nil
}

func controlOf(pt *config.Point, lc *config.Link, cache *points.Cache) (frontstation.Control, error) {
	c := pt.Control
	typ, err := frontstation.ParseCommandType(string(c.Type))
	if err != nil {
		return frontstation.Control{}, fmt.Errorf("point %s: %w", pt.ID, err)
	}
	h, _ := cache.Lookup(pt.ID)
	ctl := frontstation.Control{
		Point: h, ID: pt.ID, Link: pt.Link, CA: uint16(pt.CA), IOA: uint32(c.IOA), Type: typ,
		SBO: c.SBO, QU: uint8(c.QU), TimeTag: c.TimeTag, Zone: lc.Location(),
		SelectTimeout: c.SelectTimeout.D(), ResponseTimeout: c.ResponseTimeout.D(), ActTerm: c.ActTerm,
	}
	if pt.Scale != nil {
		ctl.Scale, ctl.Offset = pt.Scale.Factor, pt.Scale.Offset
	}
	return ctl, nil
}

// simulatorOf builds the outstation that serves a link's points: each
// point with its kind and address, each control as a command on it.
func simulatorOf(cfg *config.Config, sc *config.Simulator, log *slog.Logger) (*plantSim, error) {
	lc := cfg.Link(sc.Link)
	sconf := sim.Config{CA: uint16(lc.CA), SelectTimeout: sc.SelectTimeout.D()}
	binds := map[string]demo.Point{}
	for _, pt := range cfg.PointsOf(sc.Link) {
		if pt.CA != lc.CA {
			return nil, fmt.Errorf("simulator %s: point %s has CA %d; a simulator serves one CA (%d)", sc.Name, pt.ID, pt.CA, lc.CA)
		}
		k, err := sim.ParseKind(pt.Kind.String())
		if err != nil {
			return nil, fmt.Errorf("simulator %s: point %s: %w", sc.Name, pt.ID, err)
		}
		// Events of discrete points carry their time, as from a real RTU.
		sp := sim.Point{IOA: uint32(pt.IOA), Name: pt.ID, Kind: k, TimeTag: k == sim.Single || k == sim.Double || k == sim.Step}
		if k == sim.Double {
			sp.Value = 1 // OFF rather than indeterminate
		}
		sconf.Points = append(sconf.Points, sp)
		bp := demo.Point{IOA: sp.IOA, Kind: k}
		if pt.Scale != nil {
			bp.Scale, bp.Offset = pt.Scale.Factor, pt.Scale.Offset
		}
		binds[pt.ID] = bp
		if c := pt.Control; c != nil {
			ck, err := sim.ParseCommandKind(string(c.Type))
			if err != nil {
				return nil, fmt.Errorf("simulator %s: control of %s: %w", sc.Name, pt.ID, err)
			}
			sconf.Commands = append(sconf.Commands, sim.Command{
				IOA: uint32(c.IOA), Name: pt.ID, Kind: ck, Point: uint32(pt.IOA), SBO: c.SBO, ActTerm: c.ActTerm,
			})
		}
	}
	// Each simulator its own seed: with one seed, simulators of one layout would change the same points by the same
	// steps at the same moments.
	opts := sim.Options{Config: sconf, Rate: sc.Rate, Seed: seedOf(sc.Name), Link: lc.APCI(), Location: lc.Location(),
		EventBuffer: sc.EventBuffer, Logger: log.With("simulator", sc.Name)}
	if t := sc.TLSConfig(); t != nil {
		tc, err := t.Server()
		if err != nil {
			return nil, fmt.Errorf("simulator %s: %w", sc.Name, err)
		}
		opts.TLS = tc
	}
	ps := &plantSim{name: sc.Name, cfg: sc}
	if sc.Model == config.ModelSubstation {
		opts.Rate = 0
		opts.OnExecute = func(ioa uint32) { ps.model.Executed(ioa) }
	}
	srv, err := sim.New(opts)
	if err != nil {
		return nil, fmt.Errorf("simulator %s (serving link %s, %s): %w", sc.Name, sc.Link, filepath.Base(cfg.File), err)
	}
	ps.srv = srv
	if sc.Model == config.ModelSubstation {
		if ps.model, err = demo.NewSubstation(srv, binds, demo.Options{Seed: seedOf(sc.Name), Logger: log.With("simulator", sc.Name)}); err != nil {
			return nil, fmt.Errorf("simulator %s: model %s: %w", sc.Name, sc.Model, err)
		}
	}
	return ps, nil
}

// run listens for every simulator (all or none), then runs them, the links
// and the cache's staleness sweep until ctx ends.
func (p *plant) run(ctx context.Context) error {
	var lns []net.Listener
	for _, s := range p.sims {
		ln, err := net.Listen("tcp", s.cfg.Listen)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("simulator %s: %w", s.name, err)
		}
		lns = append(lns, ln)
	}
	var simTasks []task
	for i, s := range p.sims {
		if s.model != nil {
			// The plant's state is set before the first connection.
			if err := s.model.Prime(); err != nil {
				for _, l := range lns {
					l.Close()
				}
				return fmt.Errorf("simulator %s: %w", s.name, err)
			}
			simTasks = append(simTasks, task{"model of simulator " + s.name, s.model.Run})
		}
		simTasks = append(simTasks, task{"simulator " + s.name, func(ctx context.Context) error { return s.srv.Run(ctx, lns[i]) }})
	}
	var tasks []task
	for _, l := range p.links {
		tasks = append(tasks, task{"link " + l.Name(), l.Run})
	}
	tasks = append(tasks, task{"point cache", p.cache.Run})
	if len(simTasks) == 0 {
		return runTasks(ctx, tasks...)
	}
	// The simulators outlive the links, so that the links' STOPDT at
	// shutdown reaches them; a simulator that fails stops the links.
	linkCtx, stopLinks := context.WithCancel(ctx)
	defer stopLinks()
	simCtx, stopSims := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSims()
	simErr := make(chan error, 1)
	go func() {
		err := runTasks(simCtx, simTasks...)
		stopLinks()
		simErr <- err
	}()
	err := runTasks(linkCtx, tasks...)
	stopSims()
	return errors.Join(err, <-simErr)
}

// seedOf derives a simulator's (and its model's) random seed from its name, so that
// two simulated stations do not move in step.
func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}
