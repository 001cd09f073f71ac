package web

import (
	"context"
	"testing"
	"time"

	"hmi/alarms"
	"hmi/points"
)

// Small fakes for the package's own tests; the server package's tests drive the handlers with fuller ones.

type noAccounts struct{}

func (noAccounts) GetUser(context.Context, string) (User, error)        { return User{}, ErrNotFound }
func (noAccounts) ListUsers(context.Context) ([]User, error)            { return nil, nil }
func (noAccounts) CreateUser(context.Context, User) error               { return nil }
func (noAccounts) UpdateUser(context.Context, User) error               { return nil }
func (noAccounts) UpdatePassword(context.Context, string, string) error { return nil }
func (noAccounts) DeleteUser(context.Context, string) error             { return nil }
func (noAccounts) CreateSession(context.Context, Session) error         { return nil }
func (noAccounts) GetSession(context.Context, string) (Session, error)  { return Session{}, ErrNotFound }
func (noAccounts) TouchSession(context.Context, string, time.Time) error {
	return nil
}
func (noAccounts) DeleteSession(context.Context, string) error { return nil }
func (noAccounts) DeleteUserSessions(context.Context, string) (int64, error) {
	return 0, nil
}

type oneLink struct{ frames []Frame }

func (oneLink) Links() []LinkInfo { return []LinkInfo{{Name: "l", State: LinkActive}} }
func (oneLink) Link(name string) (LinkInfo, bool) {
	return LinkInfo{Name: "l", State: LinkActive}, name == "l"
}
func (o oneLink) Traffic(_ string, after uint64, dst []Frame) []Frame {
	for _, f := range o.frames {
		if f.Seq > after {
			dst = append(dst, f)
		}
	}
	return dst
}

type nopJournal struct{}

func (nopJournal) LoadAlarms(context.Context) ([]alarms.Alarm, error)      { return nil, nil }
func (nopJournal) SaveTransition(context.Context, alarms.Transition) error { return nil }
func (nopJournal) QueueTransition(alarms.Transition) error                 { return nil }

// testDefs is a small plant in two areas.
var testDefs = []points.Def{
	{ID: "n.brk", Name: "Breaker <1>", Area: "north/f1", Kind: points.Double, Labels: []string{"OPEN", "CLOSED"}, Link: "l", IOA: 1},
	{ID: "n.i", Name: "Current", Area: "north/f1", Kind: points.Float, Unit: "A", Link: "l", IOA: 2},
	{ID: "s.tap", Name: "Tap", Area: "south", Kind: points.Step, Link: "l", IOA: 3},
}

// newTestApp returns an App on testDefs, with its cache and a running alarm engine (an H alarm on n.i at 100).
func newTestApp(t *testing.T, deps Deps) (*App, *points.Cache) {
	t.Helper()
	cache, err := points.New(testDefs)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alarms.New(alarms.Defs{Points: []alarms.PointDef{{Point: "n.i",
		Limits: &alarms.LimitsDef{H: &alarms.LimitDef{Value: 100, Priority: 1}}}}}, nopJournal{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = eng.Run(ctx, cache)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	deps.Points, deps.Alarms, deps.Accounts = cache, eng, noAccounts{}
	if deps.Links == nil {
		deps.Links = oneLink{}
	}
	a, err := New(Config{Argon2: Argon2Params{Memory: 64, Time: 1, Threads: 1}}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return a, cache
}
