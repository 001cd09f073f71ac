package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"hmi/config"
	"hmi/frontstation"
	"hmi/points"
)

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// exampleText is config.example.yaml with every simulator (and the link it
// serves) moved to a free loopback port and the data directory in a temp
// dir.
func exampleText(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, port := range []string{"127.0.0.1:2404", "127.0.0.1:2405"} {
		text = strings.ReplaceAll(text, port, freePort(t))
	}
	return strings.ReplaceAll(text, "./hmi-data", t.TempDir())
}

// exampleOnFreePorts parses exampleText.
func exampleOnFreePorts(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse("../../config.example.yaml", []byte(exampleText(t)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestPlantFromExampleConfig builds the front end of config.example.yaml,
// simulators included, and checks that every point gets a good value and
// that a command goes through.
func TestPlantFromExampleConfig(t *testing.T) {
	cfg := exampleOnFreePorts(t)
	p, err := buildPlant(cfg, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		bad := ""
		for _, d := range p.cache.Defs() {
			if d.Kind == points.Counter && cfg.Link(d.Link).CounterInterrogation == nil {
				continue // counters come only with counter interrogation or when they count
			}
			v, _ := p.cache.GetID(d.ID)
			if !v.Quality.Good() {
				bad = d.ID + " " + v.Quality.String()
				break
			}
		}
		if bad == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("point %s never got a good value", bad)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, l := range p.links {
		if st, _ := l.State(); st != frontstation.Active {
			t.Fatalf("link %s %v", l.Name(), st)
		}
	}
	// An SBO double command on the example's breaker.
	var id string
	for _, pt := range cfg.Points {
		if pt.Control != nil && pt.Control.SBO && pt.Kind == points.Double {
			id = pt.ID
			break
		}
	}
	r, err := p.cmd.Select(ctx, id, 2, frontstation.Origin{User: "test"})
	if err != nil {
		t.Fatalf("select %s: %v", id, err)
	}
	if r, err = p.cmd.Execute(ctx, r.ID); err != nil || !r.State.Final() {
		t.Fatalf("execute %s: %v %+v", id, err, r)
	}
	for v, _ := p.cache.GetID(id); v.Value != 2; v, _ = p.cache.GetID(id) {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after the command, want 2", id, v.Value)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
