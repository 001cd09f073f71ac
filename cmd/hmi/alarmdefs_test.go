package main

import (
	"context"
	"log/slog"
	"testing"

	"hmi/alarms"
)

// TestAlarmDefsOfExample checks that the example configuration's alarm
// settings make a set of definitions the engine accepts, with every kind.
func TestAlarmDefsOfExample(t *testing.T) {
	cfg := exampleOnFreePorts(t)
	d := alarmDefs(cfg)
	if _, err := alarms.New(d, nopJournal{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("engine refuses the example's alarms: %v", err)
	}
	var discrete, limits, quality int
	for _, p := range d.Points {
		if p.Discrete != nil {
			discrete++
		}
		if p.Limits != nil {
			limits++
		}
		if p.Quality != nil {
			quality++
		}
	}
	if len(d.Links) != len(cfg.Links) || discrete == 0 || limits == 0 || quality == 0 || len(d.Commands) == 0 || d.Security.Priority == 0 {
		t.Fatalf("defs %+v: want link, discrete, limit, quality, command and security alarms", d)
	}
}

// nopJournal keeps nothing.
type nopJournal struct{}

func (nopJournal) LoadAlarms(context.Context) ([]alarms.Alarm, error)      { return nil, nil }
func (nopJournal) SaveTransition(context.Context, alarms.Transition) error { return nil }
func (nopJournal) QueueTransition(alarms.Transition) error                 { return nil }
