package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hmi/alarms"
	"hmi/points"
	"hmi/web"
)

// In-memory fakes of the interfaces web.Deps declares, and a test environment around a Server. The point cache
// and the alarm engine are the real ones.

// memAccounts is web.Accounts in memory.
type memAccounts struct {
	mu       sync.Mutex
	users    map[string]web.User
	sessions map[string]web.Session
	fail     error // every call fails with it when set
}

func newAccounts() *memAccounts {
	return &memAccounts{users: map[string]web.User{}, sessions: map[string]web.Session{}}
}

func (m *memAccounts) GetUser(_ context.Context, name string) (web.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return web.User{}, m.fail
	}
	u, ok := m.users[name]
	if !ok {
		return u, fmt.Errorf("mem: user %q: %w", name, web.ErrNotFound)
	}
	u.Areas = slices.Clone(u.Areas)
	return u, nil
}

func (m *memAccounts) ListUsers(context.Context) ([]web.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []web.User
	for _, u := range m.users {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b web.User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (m *memAccounts) CreateUser(_ context.Context, u web.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[u.Name]; ok {
		return web.ErrExists
	}
	m.users[u.Name] = u
	return nil
}

func (m *memAccounts) UpdateUser(_ context.Context, u web.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.users[u.Name]
	if !ok {
		return web.ErrNotFound
	}
	u.PasswordHash = old.PasswordHash
	m.users[u.Name] = u
	return nil
}

func (m *memAccounts) UpdatePassword(_ context.Context, name, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return web.ErrNotFound
	}
	u.PasswordHash = hash
	m.users[name] = u
	return nil
}

func (m *memAccounts) DeleteUser(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; !ok {
		return web.ErrNotFound
	}
	delete(m.users, name)
	return nil
}

func (m *memAccounts) CreateSession(_ context.Context, s web.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.IDHash] = s
	return nil
}

func (m *memAccounts) GetSession(_ context.Context, idHash string) (web.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return web.Session{}, m.fail
	}
	s, ok := m.sessions[idHash]
	if !ok {
		return s, web.ErrNotFound
	}
	return s, nil
}

func (m *memAccounts) TouchSession(_ context.Context, idHash string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[idHash]
	if !ok {
		return web.ErrNotFound
	}
	s.LastSeen = at
	m.sessions[idHash] = s
	return nil
}

func (m *memAccounts) DeleteSession(_ context.Context, idHash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, idHash)
	return nil
}

func (m *memAccounts) DeleteUserSessions(_ context.Context, user string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, s := range m.sessions {
		if s.User == user {
			delete(m.sessions, k)
			n++
		}
	}
	return n, nil
}

func (m *memAccounts) sessionCount(user string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, s := range m.sessions {
		if s.User == user {
			n++
		}
	}
	return n
}

// fakeLinks is web.Links.
type fakeLinks struct {
	mu     sync.Mutex
	links  []web.LinkInfo
	frames map[string][]web.Frame
	panic  bool // Links panics (to test the recovery)
}

func (f *fakeLinks) Links() []web.LinkInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panic {
		panic("fake links: boom")
	}
	return slices.Clone(f.links)
}

func (f *fakeLinks) Link(name string) (web.LinkInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.links {
		if l.Name == name {
			return l, true
		}
	}
	return web.LinkInfo{}, false
}

func (f *fakeLinks) Traffic(name string, after uint64, dst []web.Frame) []web.Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fr := range f.frames[name] {
		if fr.Seq > after {
			dst = append(dst, fr)
		}
	}
	return dst
}

func (f *fakeLinks) setState(name, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.links {
		if f.links[i].Name == name {
			f.links[i].State = state
		}
	}
}

func (f *fakeLinks) addFrame(name string, fr web.Frame) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frames == nil {
		f.frames = map[string][]web.Frame{}
	}
	fr.Seq = uint64(len(f.frames[name]) + 1)
	f.frames[name] = append(f.frames[name], fr)
}

// fakeJournal is web.Journal: events newest first, the cursor an index.
type fakeJournal struct {
	mu     sync.Mutex
	events []web.Event
}

func (f *fakeJournal) match(q web.EventQuery, e web.Event) bool {
	return (q.Point == "" || e.Point == q.Point) && (q.Kind == "" || e.Kind == q.Kind) &&
		(q.Area == "" || e.Area == q.Area || strings.HasPrefix(e.Area, q.Area+"/")) &&
		(q.Text == "" || strings.Contains(strings.ToLower(e.Message), strings.ToLower(q.Text)))
}

func (f *fakeJournal) Events(_ context.Context, q web.EventQuery) ([]web.Event, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := 0
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("fake: %w", web.ErrBadCursor)
		}
		start = n
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var out []web.Event
	next := ""
	for i := start; i < len(f.events); i++ {
		if !f.match(q, f.events[i]) {
			continue
		}
		if len(out) == limit {
			next = strconv.Itoa(i)
			break
		}
		out = append(out, f.events[i])
	}
	return out, next, nil
}

func (f *fakeJournal) ExportCSV(_ context.Context, q web.EventQuery, w io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := io.WriteString(w, "id,time,kind,point,area,message\n"); err != nil {
		return err
	}
	for _, e := range f.events {
		if f.match(q, e) {
			if _, err := fmt.Fprintf(w, "%d,%s,%s,%s,%s,%q\n", e.ID, e.Time.Format(time.RFC3339), e.Kind, e.Point, e.Area, e.Message); err != nil {
				return err
			}
		}
	}
	return nil
}

// fakeAudit is web.AuditLog.
type fakeAudit struct {
	mu      sync.Mutex
	entries []web.AuditEntry
	fail    error
}

func (f *fakeAudit) AppendAudit(_ context.Context, e web.AuditEntry) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	e.ID = int64(len(f.entries) + 1)
	f.entries = append(f.entries, e)
	return e.ID, nil
}

func (f *fakeAudit) Audit(_ context.Context, q web.AuditQuery) ([]web.AuditEntry, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []web.AuditEntry
	for i := len(f.entries) - 1; i >= 0; i-- {
		e := f.entries[i]
		if (q.Point == "" || e.Point == q.Point) && (q.User == "" || e.User == q.User) && (q.CommandID == "" || e.CommandID == q.CommandID) {
			out = append(out, e)
		}
	}
	return out, "", nil
}

func (f *fakeAudit) steps() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.entries {
		out = append(out, e.Step)
	}
	return out
}

func (f *fakeAudit) last() web.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) == 0 {
		return web.AuditEntry{}
	}
	return f.entries[len(f.entries)-1]
}

// fakeHistory is web.History: one bucket per asked bucket, a ramp.
type fakeHistory struct{}

func (fakeHistory) History(_ context.Context, _ string, from, to time.Time, n int) ([]web.Bucket, error) {
	step := to.Sub(from) / time.Duration(n)
	out := make([]web.Bucket, n)
	for i := range out {
		v := float64(i)
		out[i] = web.Bucket{Start: from.Add(time.Duration(i) * step), End: from.Add(time.Duration(i+1) * step),
			Min: v - 1, Max: v + 1, Avg: v, Last: v, Count: 3}
	}
	return out, nil
}

// fakeCommander is web.Commander: SBO points stop at selected, the others terminate at once; execute
// terminates, cancel cancels. busy makes Select fail as the front end does for a pending command.
type fakeCommander struct {
	mu       sync.Mutex
	sbo      map[string]bool
	records  map[string]web.CommandRecord
	next     int
	selects  int
	executes int
	cancels  int
	busy     bool
	progress func(web.CommandRecord) // the onStep hook, when set
}

func (f *fakeCommander) Select(_ context.Context, point string, value float64, o web.Origin) (web.CommandRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy {
		return web.CommandRecord{}, fmt.Errorf("%w: %s: command c0 is selected", web.ErrCommandBusy, point)
	}
	f.selects++
	f.next++
	now := time.Now()
	r := web.CommandRecord{ID: "c" + strconv.Itoa(f.next), Point: point, Link: "north", Value: value, SBO: f.sbo[point], Origin: o}
	r.Steps = append(r.Steps, web.CommandStep{Name: "select", At: now})
	if r.SBO {
		r.State = "selected"
		r.Steps = append(r.Steps, web.CommandStep{Name: "select_con", At: now, Cause: 7, Latency: 3 * time.Millisecond})
	} else {
		r.Steps[0].Name = "execute"
		r.State = "terminated"
		r.Steps = append(r.Steps, web.CommandStep{Name: "execute_con", At: now, Cause: 7, Latency: 2 * time.Millisecond},
			web.CommandStep{Name: "execute_term", At: now, Cause: 10, Latency: 5 * time.Millisecond})
	}
	f.records[r.ID] = r
	if f.progress != nil {
		f.progress(r)
	}
	return r, nil
}

func (f *fakeCommander) step(id string, want string) (web.CommandRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[id]
	if !ok {
		return r, fmt.Errorf("command %s: %w", id, web.ErrUnknownCommand)
	}
	if r.State != "selected" {
		return r, fmt.Errorf("command %s: %w (it is %s)", id, web.ErrNotSelected, r.State)
	}
	now := time.Now()
	if want == "execute" {
		f.executes++
		r.State = "terminated"
		r.Steps = append(r.Steps, web.CommandStep{Name: "execute", At: now},
			web.CommandStep{Name: "execute_con", At: now, Cause: 7, Latency: time.Millisecond},
			web.CommandStep{Name: "execute_term", At: now, Cause: 10, Latency: 4 * time.Millisecond})
	} else {
		f.cancels++
		r.State = "cancelled"
		r.Steps = append(r.Steps, web.CommandStep{Name: "cancel", At: now},
			web.CommandStep{Name: "cancel_con", At: now, Cause: 9, Latency: time.Millisecond})
	}
	r.Steps = slices.Clone(r.Steps)
	f.records[id] = r
	if f.progress != nil {
		f.progress(r)
	}
	return r, nil
}

func (f *fakeCommander) Execute(_ context.Context, id string) (web.CommandRecord, error) {
	return f.step(id, "execute")
}

func (f *fakeCommander) Cancel(_ context.Context, id string) (web.CommandRecord, error) {
	return f.step(id, "cancel")
}

func (f *fakeCommander) Get(id string) (web.CommandRecord, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.records[id]
	return r, ok
}

// put stores a selected command of origin o.
func (f *fakeCommander) put(id, point string, o web.Origin) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records[id] = web.CommandRecord{ID: id, Point: point, Link: "north", Value: 2, SBO: true, Origin: o, State: "selected",
		Steps: []web.CommandStep{{Name: "select", At: time.Now()}, {Name: "select_con", At: time.Now(), Cause: 7}}}
}

func (f *fakeCommander) counts() (selects, executes, cancels int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.selects, f.executes, f.cancels
}

// memJournal is an alarms.Journal in memory.
type memJournal struct {
	mu sync.Mutex
	ts []alarms.Transition
}

func (j *memJournal) LoadAlarms(context.Context) ([]alarms.Alarm, error) { return nil, nil }
func (j *memJournal) SaveTransition(_ context.Context, t alarms.Transition) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ts = append(j.ts, t)
	return nil
}
func (j *memJournal) QueueTransition(t alarms.Transition) error {
	return j.SaveTransition(context.Background(), t)
}

// The test plant.
const (
	pBreaker  = "north.f1.breaker"  // double, SBO control, interlocked on the earth switch being OPEN
	pEarth    = "north.f1.earth"    // double
	pCurrent  = "north.f1.current"  // float, alarm above 100
	pSetpoint = "north.f1.setpoint" // float, direct set-point control, 0..50
	pTap      = "south.t1.tap"      // step, direct control for engineers only
	pEvil     = "south.evil"        // a point whose name is markup
	evilName  = `<script>alert("x")</script>`
	alarmHigh = "limit:" + pCurrent + ":H"
)

// clock is a settable clock for session and throttle tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a server on the test plant with its fakes.
type env struct {
	t         testing.TB
	srv       *Server
	h         http.Handler
	cache     *points.Cache
	engine    *alarms.Engine
	accounts  *memAccounts
	links     *fakeLinks
	journal   *fakeJournal
	audit     *fakeAudit
	commander *fakeCommander
	tags      *web.MemoryTags
	clock     *clock
	tokens    map[string]string // user -> session token
	base      string            // URL when serving
}

// testArgon2 keeps password hashing cheap in tests.
var testArgon2 = web.Argon2Params{Memory: 64, Time: 1, Threads: 1}

const testPassword = "correct horse battery"

// envOption changes the configuration of a test environment.
type envOption func(*Config, *web.Deps)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	defs := []points.Def{
		{ID: pBreaker, Name: "Feeder 1 breaker", Area: "north/f1", Kind: points.Double, Labels: []string{"OPEN", "CLOSED"}, Link: "north", CA: 1, IOA: 100},
		{ID: pEarth, Name: "Feeder 1 earth switch", Area: "north/f1", Kind: points.Double, Labels: []string{"OPEN", "CLOSED"}, Link: "north", CA: 1, IOA: 101},
		{ID: pCurrent, Name: "Feeder 1 current", Area: "north/f1", Kind: points.Float, Unit: "A", Link: "north", CA: 1, IOA: 200},
		{ID: pSetpoint, Name: "Feeder 1 set-point", Area: "north/f1", Kind: points.Float, Unit: "MW", Link: "north", CA: 1, IOA: 300},
		{ID: pTap, Name: "T1 tap", Area: "south/t1", Kind: points.Step, Link: "south", CA: 2, IOA: 10},
		{ID: pEvil, Name: evilName, Area: "south", Kind: points.Single, Link: "south", CA: 2, IOA: 11},
	}
	cache, err := points.New(defs)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cache.Apply([]points.Update{
		{Point: 0, Value: 1, RecvTime: now}, // breaker OPEN
		{Point: 1, Value: 1, RecvTime: now}, // earth OPEN
		{Point: 2, Value: 42.5, RecvTime: now},
		{Point: 3, Value: 10, RecvTime: now},
		{Point: 4, Value: 3, RecvTime: now},
		{Point: 5, Value: 1, RecvTime: now},
	})
	engine, err := alarms.New(alarms.Defs{Points: []alarms.PointDef{{Point: pCurrent,
		Limits: &alarms.LimitsDef{H: &alarms.LimitDef{Value: 100, Priority: 2}}}}}, &memJournal{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = engine.Run(ctx, cache)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	e := &env{
		t: t, cache: cache, engine: engine, accounts: newAccounts(),
		links: &fakeLinks{links: []web.LinkInfo{
			{Name: "north", State: web.LinkActive, Address: "127.0.0.1:2404", Since: now},
			{Name: "south", State: web.LinkActive, Address: "127.0.0.1:2405", Since: now},
		}},
		journal: &fakeJournal{}, audit: &fakeAudit{},
		commander: &fakeCommander{sbo: map[string]bool{pBreaker: true}, records: map[string]web.CommandRecord{}},
		tags:      web.NewMemoryTags(nil),
		clock:     &clock{t: now}, tokens: map[string]string{},
	}
	for i := range 30 {
		v := float64(i)
		e.journal.events = append(e.journal.events, web.Event{ID: int64(30 - i), Time: now.Add(-time.Duration(i) * time.Minute),
			Kind: "point", Point: pCurrent, Area: "north/f1", Link: "north", Message: fmt.Sprintf("current %d A", i), Value: &v})
	}
	min, max := 0.0, 50.0
	deps := web.Deps{
		Points: cache, Alarms: engine, Accounts: e.accounts, Links: e.links, Journal: e.journal, Audit: e.audit,
		History: fakeHistory{}, Commander: e.commander, Tags: e.tags,
		Controls: []web.Control{
			{Point: pBreaker, Type: "double", SBO: true, SelectTimeout: 20 * time.Second,
				Interlocks: []web.Interlock{{Point: pEarth, Value: 1, Reason: "the earth switch must be OPEN"}}},
			{Point: pSetpoint, Type: "setpoint_float", Min: &min, Max: &max},
			{Point: pTap, Type: "step", Roles: []web.Role{web.RoleEngineer, web.RoleAdmin}},
			{Point: pEvil, Type: "single"},
		},
		Displays: []web.Display{{ID: "north", Name: "North substation", SVG: []byte(testSVG)}},
	}
	cfg := Config{
		Addr: "127.0.0.1:0", Argon2: testArgon2, Now: e.clock.Now, AuditSteps: true,
		SessionIdle: 30 * time.Minute, SessionAbsolute: 12 * time.Hour,
		Throttle: web.ThrottleConfig{Free: 5, Base: 2 * time.Second, Max: time.Minute},
		WS:       WSConfig{WriteTimeout: 2 * time.Second, SessionCheck: 200 * time.Millisecond, TrafficEvery: 50 * time.Millisecond},
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	srv, err := New(cfg, deps, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e.srv, e.h = srv, srv.Handler()
	e.srv.hub.start(context.Background()) // sockets are accepted without Serve; serve() replaces the context
	e.commander.progress = srv.App().CommandProgress
	for _, u := range []struct {
		name  string
		role  web.Role
		areas []string
	}{
		{"viewer", web.RoleViewer, nil}, {"operator", web.RoleOperator, nil}, {"engineer", web.RoleEngineer, nil},
		{"admin", web.RoleAdmin, nil}, {"southop", web.RoleOperator, []string{"south"}},
	} {
		hash, err := web.HashPasswordParams(testPassword, testArgon2)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.accounts.CreateUser(context.Background(), web.User{Name: u.name, Role: u.role, PasswordHash: hash, Areas: u.areas, Created: now}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// testSVG is a display with bound elements and things the sanitiser must remove.
const testSVG = `<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 400 200" onload="alert(1)">
  <script>alert(2)</script>
  <g data-point="north.f1.breaker" id="brk"><rect x="10" y="10" width="40" height="40"/><text data-field="value" x="10" y="70">?</text></g>
  <g data-point="south.t1.tap"><text data-field="value">tap</text></g>
  <text data-point="north.f1.current" data-field="value" x="100" y="30">&lt;b&gt;</text>
  <a xlink:href="javascript:alert(3)"><text>link</text></a>
  <foreignObject><div>html</div></foreignObject>
  <rect style="fill:red" fill="url(http://evil.example/x)" x="1" y="1" width="1" height="1"/>
  <use xlink:href="#brk" x="200"/>
</svg>`

// session logs user in (directly in the store, as a login would) and returns its token; the CSRF token is
// csrfOf(user).
func (e *env) session(user string) string {
	e.t.Helper()
	if tok, ok := e.tokens[user]; ok {
		return tok
	}
	tok := "token-of-" + user + "-0123456789abcdef0123456789"
	now := e.clock.Now()
	if err := e.accounts.CreateSession(context.Background(), web.Session{IDHash: hashOf(tok), User: user,
		CSRF: "csrf-" + user, Created: now, LastSeen: now, Client: "192.0.2.1"}); err != nil {
		e.t.Fatal(err)
	}
	e.tokens[user] = tok
	return tok
}

func csrfOf(user string) string { return "csrf-" + user }

// hashOf is the session's IDHash for a token, as web computes it (hex SHA-256).
func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// refOf is the session's reference for a token (web.Identity.Ref).
func refOf(token string) string { return hashOf(token)[:16] }

// req is a request for do.
type req struct {
	method, path string
	body         string
	form         url.Values
	user         string // "" for none
	csrf         bool   // send the user's CSRF token
	header       http.Header
}

// do runs r against the handler and returns the recorder.
func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	ct := ""
	switch {
	case r.form != nil:
		f := url.Values{}
		for k, v := range r.form {
			f[k] = v
		}
		if r.csrf && r.user != "" {
			f.Set("csrf_token", csrfOf(r.user))
		}
		body, ct = strings.NewReader(f.Encode()), "application/x-www-form-urlencoded"
	case r.body != "":
		body, ct = strings.NewReader(r.body), "application/json"
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	hr.RemoteAddr = "192.0.2.1:40000"
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	for k, v := range r.header {
		hr.Header[k] = v
	}
	if r.user != "" {
		hr.AddCookie(&http.Cookie{Name: "hmi_session", Value: e.session(r.user)})
		if r.csrf && r.form == nil {
			hr.Header.Set("X-CSRF-Token", csrfOf(r.user))
		}
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

// serve runs the server on a loopback port until the test ends.
func (e *env) serve() {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	e.base = "http://" + ln.Addr().String()
	if e.srv.tls != nil {
		e.base = "https://" + ln.Addr().String()
	}
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Serve: %v", err)
		}
	})
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// raiseAlarm drives the current above its H limit and waits for the alarm.
func (e *env) raiseAlarm() {
	e.t.Helper()
	h, _ := e.cache.Lookup(pCurrent)
	e.cache.Apply([]points.Update{{Point: h, Value: 150}})
	waitFor(e.t, 2*time.Second, "the alarm", func() bool {
		a, ok := e.engine.Get(alarmHigh)
		return ok && a.State == alarms.ActiveUnacked
	})
}
