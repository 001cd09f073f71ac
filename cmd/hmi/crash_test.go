package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"hmi/config"
	"hmi/store"
)

// TestCrashRecovery kills hmi serve with SIGKILL while a station (an hmi
// sim process, which lives on) floods its event journal, and restarts it
// on the same data directory. What a separate read-only connection saw
// committed before the kill must all be there afterwards, unchanged and
// not repeated; the database must pass the integrity check, as the crash
// left it and after the restart, and the audit chain must verify; the
// alarms come back in the states they had (unacknowledged, acknowledged,
// shelved), but for the one whose condition went while the HMI was down;
// the links reconnect and interrogate their stations, and no error is
// logged.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the hmi binary")
	}
	start := time.Now()
	bin := buildHMI(t)
	t.Logf("built hmi in %v", time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "hmi.yaml")
	station := filepath.Join(dir, "station.yaml")
	if err := os.WriteFile(station, []byte(crashStation()), 0o600); err != nil {
		t.Fatal(err)
	}
	rtu := startProc(t, bin, "sim", "--listen", "127.0.0.1:0", "--config", station, "--rate", "4000", "--log-format", "json")
	rtu.waitFor(t, 15*time.Second, "listening line", func(out, _ string) bool { return simAddr.MatchString(out) })
	text := crashConfig(data, simAddr.FindStringSubmatch(rtu.stdout.String())[1], freePort(t))
	cfg, err := config.Parse(conf, []byte(text))
	if err != nil {
		t.Fatalf("configuration: %v\n%s", err, text)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "correct horse battery"
	addUsers(t, cfg, "op", "operator", password)

	// First run: the flood starts with the links; the alarms of the quiet
	// station are raised by its first interrogation.
	p1 := startProc(t, bin, "serve", "--config", conf, "--log-format", "json")
	base := crashServing(t, p1)
	crashLinksActive(t, p1)
	op := login(t, base, "op", password)
	alarmOf := crashWaitAlarms(t, op, map[string]string{
		"quiet.a1": "active_unacked", "quiet.a2": "active_unacked", "quiet.a3": "active_unacked",
	})

	// Varied states to restore: one left unacknowledged, one acknowledged,
	// one shelved; and a command, so the audit chain has rows.
	if code, m := op.post("/api/v1/alarms/"+alarmOf["quiet.a2"]+"/ack", map[string]any{"comment": "seen"}); code != http.StatusOK {
		t.Fatalf("ack: %d %v", code, m)
	}
	if code, m := op.post("/api/v1/alarms/"+alarmOf["quiet.a3"]+"/shelve", map[string]any{"duration": "1h", "comment": "maintenance"}); code != http.StatusOK {
		t.Fatalf("shelve: %d %v", code, m)
	}
	// The breaker's alarm is raised by the command and left
	// unacknowledged; the restarted simulator has it off again.
	op.command("quiet.breaker", 2)
	crashWaitAlarms(t, op, map[string]string{"quiet.breaker": "active_unacked"})

	ro := openRawReadOnly(t, data)
	seen := &committedEvents{byID: map[int64]eventRow{}}
	// Let the flood run a while, reading what is committed as it goes.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		seen.read(t, ro, 5000)
		time.Sleep(50 * time.Millisecond)
	}
	// The alarms as the operators see them, which must also be what the
	// database holds before the kill (the operators' actions are committed
	// before they return; the engine's raises within a batch or two).
	wantAlarms := crashAlarms(t, op)
	crashAlarmsCommitted(t, ro, wantAlarms)
	for range 3 {
		seen.read(t, ro, 5000)
		time.Sleep(30 * time.Millisecond)
	}
	before := seen.read(t, ro, 5000) // the last read: kill right after it
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	select {
	case <-p1.done:
		p1.ended = true
	case <-time.After(10 * time.Second):
		t.Fatal("hmi still running 10 s after SIGKILL")
	}
	ro.Close()
	if len(seen.byID) < 1000 {
		t.Fatalf("only %d events committed before the kill: no flood", len(seen.byID))
	}
	t.Logf("killed with %d events committed (%d new in the last read), %d point events",
		len(seen.byID), before, seen.points)

	// The database as the crash left it, checked on a copy (database and
	// WAL) so that the restart finds the files as the crash left them:
	// opening the copy recovers its WAL, as hmi serve will.
	crashed := crashCopy(t, data)
	crashCheckDB(t, crashed, "after the kill")
	got := crashEvents(t, crashed)
	crashSameEvents(t, seen.byID, got, "after the kill: of those committed before it")
	next := int64(1)
	for id := range got {
		next = max(next, id+1)
	}
	t.Logf("%d events in the database after the kill, %d committed after the last read", len(got), len(got)-len(seen.byID))

	// Second run on the same data directory.
	p2 := startProc(t, bin, "serve", "--config", conf, "--log-format", "json")
	base = crashServing(t, p2)
	crashLinksActive(t, p2)
	op = login(t, base, "op", password)
	crashInterrogated(t, op, killed, cfg)
	rtu.waitFor(t, 5*time.Second, "the station's second connection", func(_, errOut string) bool {
		n := 0
		for _, r := range logRecords(nil, errOut) {
			if r["msg"] == "sim: connection accepted" {
				n++
			}
		}
		return n >= 2
	})
	// The alarms come back as they were, but the breaker's, whose
	// condition went while the HMI was down: returned to normal, still
	// unacknowledged.
	crashAlarmsBack(t, op, wantAlarms, map[string]string{"quiet.breaker": "returned_unacked"})
	// The journal goes on after the restart, on top of what was there,
	// with nothing of it journaled again.
	ro = openRawReadOnly(t, data)
	after := &committedEvents{byID: map[int64]eventRow{}}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after.read(t, ro, 20000)
		if after.maxID >= next+100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hardly any events after the restart: last id %d, the second run's first would be %d", after.maxID, next)
		}
	}
	ro.Close()
	// What the crash left, including what was committed after the last
	// read, is all there.
	crashSameEvents(t, got, after.byID, "after the restart: of those in the database after the kill")
	crashNoRepeats(t, after.byID, next, killed)
	p2.stop(t, syscall.SIGTERM)
	// Neither run logged an error (the first one's last line may be cut
	// by the kill).
	for _, r := range append(logRecords(nil, p1.stderr.String()), logRecords(t, p2.stderr.String())...) {
		if r["level"] == "ERROR" {
			t.Errorf("logged: %v", r)
		}
	}

	crashCheckDB(t, data, "after the restart")
	rtu.stop(t, os.Interrupt)
	out, err := exec.Command(bin, "audit", "verify", "--data-dir", data).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "audit trail ok") {
		t.Errorf("hmi audit verify: %v\n%s", err, out)
	}
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}

// crashFloodPoints is how many discrete points the flooding station has.
const crashFloodPoints = 240

// crashKinds are the kinds of its points, in turn.
var crashKinds = []string{"single", "double", "step"}

// crashStation is the station file of hmi sim for the flooding station:
// discrete points with time tags, IOA 1000 on.
func crashStation() string {
	var b strings.Builder
	b.WriteString("ca: 1\ntime_tags: true\npoints:\n")
	for i := range crashFloodPoints {
		v := 0
		if crashKinds[i%3] == "double" {
			v = 1 // off rather than intermediate
		}
		fmt.Fprintf(&b, "  - {ioa: %d, kind: %s, value: %d}\n", 1000+i, crashKinds[i%3], v)
	}
	return b.String()
}

// crashConfig has two links. The flood link's station is an hmi sim
// process, which outlives the HMI's kill, and floods its discrete points
// (every change an event). The quiet link's is a simulator of the server's
// own, without spontaneous changes, which dies and restarts with the HMI:
// its points have alarms active from its first interrogation on, and a
// breaker to operate.
func crashConfig(data, flood, quiet string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `data_dir: %s
http:
  listen: 127.0.0.1:0
links:
  - name: flood
    addresses: [%s]
    ca: 1
    reconnect: {min: 100ms, max: 1s}
  - name: quiet
    addresses: [%s]
    ca: 2
    reconnect: {min: 100ms, max: 1s}
simulators:
  - {link: quiet, listen: %s, rate: 0}
points:
`, data, flood, quiet, quiet)
	for i := range crashFloodPoints {
		fmt.Fprintf(&b, "  - {id: flood.p%d, link: flood, ioa: %d, kind: %s}\n", i, 1000+i, crashKinds[i%3])
	}
	for i := 1; i <= 3; i++ {
		// A simulator's single point is 0 until something changes it.
		fmt.Fprintf(&b, "  - {id: quiet.a%d, link: quiet, ioa: %d, kind: single, alarm: {priority: 2, states: [0], message: alarm %d}}\n", i, i, i)
	}
	b.WriteString(`  - id: quiet.breaker
    link: quiet
    ioa: 10
    kind: double
    control: {type: double, ioa: 5010}
    alarm: {priority: 3, states: [2], message: breaker closed}
`)
	return b.String()
}

var servingURL = regexp.MustCompile(`hmi: serving (http://127\.0\.0\.1:\d+) `)

// crashServing waits for hmi serve's serving line and returns its URL.
func crashServing(t *testing.T, p *proc) string {
	t.Helper()
	p.waitFor(t, 20*time.Second, `"hmi: serving"`, func(out, _ string) bool { return servingURL.MatchString(out) })
	return servingURL.FindStringSubmatch(p.stdout.String())[1]
}

// crashLinksActive waits for both links to log that they are active.
func crashLinksActive(t *testing.T, p *proc) {
	t.Helper()
	p.waitFor(t, 15*time.Second, "both links active", func(_, errOut string) bool {
		recs := logRecords(nil, errOut)
		return linkState(recs, "flood", map[string]string{"state": "active"}) &&
			linkState(recs, "quiet", map[string]string{"state": "active"})
	})
}

// apiAlarm is an alarm as GET /api/v1/alarms gives it, the fields that
// must survive a restart.
type apiAlarm struct {
	ID           string     `json:"id"`
	Point        string     `json:"point"`
	Source       string     `json:"source"`
	State        string     `json:"state"`
	RaisedAt     *time.Time `json:"raised_at"`
	AckedBy      string     `json:"acked_by"`
	AckedAt      *time.Time `json:"acked_at"`
	Comment      string     `json:"comment"`
	ShelvedBy    string     `json:"shelved_by"`
	ShelvedUntil *time.Time `json:"shelved_until"`
}

func (a apiAlarm) String() string {
	f := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s %s raised %s acked by %q at %s (%q) shelved by %q until %s",
		a.ID, a.State, f(a.RaisedAt), a.AckedBy, f(a.AckedAt), a.Comment, a.ShelvedBy, f(a.ShelvedUntil))
}

// crashAlarms returns the listed state alarms of the quiet station's
// points, by point.
func crashAlarms(t *testing.T, c *apiClient) map[string]apiAlarm {
	t.Helper()
	code, body := c.get("/api/v1/alarms")
	var as []apiAlarm
	if code != http.StatusOK || json.Unmarshal(body, &as) != nil {
		t.Fatalf("alarms: %d %s", code, body)
	}
	out := map[string]apiAlarm{}
	for _, a := range as {
		if a.Source == "discrete" && strings.HasPrefix(a.Point, "quiet.") {
			out[a.Point] = a
		}
	}
	return out
}

// crashWaitAlarms waits until the alarms of the points are in the states
// wanted, and returns their IDs by point.
func crashWaitAlarms(t *testing.T, c *apiClient, want map[string]string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := crashAlarms(t, c)
		ids := map[string]string{}
		for p, st := range want {
			if a, ok := got[p]; ok && a.State == st {
				ids[p] = a.ID
			}
		}
		if len(ids) == len(want) {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("alarms %v, want the states %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashAlarmsCommitted waits until the database's alarm states agree with
// want, as another connection sees them.
func crashAlarmsCommitted(t *testing.T, db *sql.DB, want map[string]apiAlarm) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rows, err := db.Query(`SELECT id, state, acked_by, shelved_by FROM alarm_states`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for rows.Next() {
			var id, st, ack, shelf string
			if err := rows.Scan(&id, &st, &ack, &shelf); err != nil {
				t.Fatal(err)
			}
			got[id] = st + "/" + ack + "/" + shelf
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		ok := true
		for _, a := range want {
			ok = ok && got[a.ID] == a.State+"/"+a.AckedBy+"/"+a.ShelvedBy
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alarm states in the database %v, the API shows %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashAlarmsBack checks that the alarms come back as they were once the
// stations were interrogated, but for the states of cleared, the alarms
// whose condition went meanwhile. The engine evaluates the values of the
// interrogation on its own goroutine: it waits a little for the states.
func crashAlarmsBack(t *testing.T, c *apiClient, want map[string]apiAlarm, cleared map[string]string) {
	t.Helper()
	same := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := crashAlarms(t, c)
		var diffs []string
		for p, w := range want {
			if st, ok := cleared[p]; ok {
				w.State = st
			}
			g, ok := got[p]
			if !ok || g.ID != w.ID || g.State != w.State || g.AckedBy != w.AckedBy || g.Comment != w.Comment ||
				g.ShelvedBy != w.ShelvedBy || !same(g.RaisedAt, w.RaisedAt) || !same(g.AckedAt, w.AckedAt) ||
				!same(g.ShelvedUntil, w.ShelvedUntil) {
				diffs = append(diffs, fmt.Sprintf("alarm of %s after the restart:\n  got  %v\n  want %v", p, g, w))
			}
		}
		if len(got) != len(want) {
			diffs = append(diffs, fmt.Sprintf("alarms after the restart %v, want %v", got, want))
		}
		if len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Error(strings.Join(diffs, "\n"))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashCopy copies the database files of data to a new directory, and
// returns it.
func crashCopy(t *testing.T, data string) string {
	t.Helper()
	dst := t.TempDir()
	// Not the -shm file: SQLite rebuilds the WAL index from the WAL.
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(filepath.Join(data, store.FileName+suffix))
		if os.IsNotExist(err) && suffix != "" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, store.FileName+suffix), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// crashInterrogated waits until both links completed an interrogation
// after the kill, and every point is good.
func crashInterrogated(t *testing.T, c *apiClient, killed time.Time, cfg *config.Config) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := c.get("/api/v1/links")
		var ls []struct {
			Name              string
			State             string
			LastInterrogation *time.Time `json:"last_interrogation"`
		}
		if code != http.StatusOK || json.Unmarshal(body, &ls) != nil {
			t.Fatalf("links: %d %s", code, body)
		}
		var bad []string
		for _, l := range ls {
			if l.State != "active" || l.LastInterrogation == nil || l.LastInterrogation.Before(killed) {
				bad = append(bad, fmt.Sprintf("%s %s interrogated %v", l.Name, l.State, l.LastInterrogation))
			}
		}
		ps := c.points()
		for _, p := range cfg.Points {
			ap, ok := ps[p.ID]
			if !ok || ap.Value == nil || ap.Quality["initial"] || ap.Quality["commfail"] || ap.Quality["iv"] {
				bad = append(bad, fmt.Sprintf("point %s %v", p.ID, ap.Quality))
			}
		}
		if len(ls) == 2 && len(bad) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart, not interrogated or not good: %v", bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventRow is a row of the events table, every column.
type eventRow struct {
	ID                                                 int64
	T, Recv                                            int64
	Kind, Point, Area, Link, User, Message, State, Qty string
	Value                                              sql.NullFloat64
}

const eventCols = `id, t, recv, kind, point, area, link, user_name, message, value, state, quality`

func scanEvent(rows *sql.Rows) (eventRow, error) {
	var e eventRow
	err := rows.Scan(&e.ID, &e.T, &e.Recv, &e.Kind, &e.Point, &e.Area, &e.Link, &e.User, &e.Message, &e.Value, &e.State, &e.Qty)
	return e, err
}

// content is the event without its ID.
func (e eventRow) content() eventRow { e.ID = 0; return e }

// openRawReadOnly opens the database file read-only with database/sql on one connection, as another
// process would.
func openRawReadOnly(t *testing.T, data string) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.ToSlash(filepath.Join(data, store.FileName)) + "?mode=ro&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// committedEvents is what reads of the events table found committed.
type committedEvents struct {
	byID   map[int64]eventRow
	maxID  int64
	points int // events of kind point
}

// read adds the events committed since the last read, at most limit of
// them (so that a read never takes long, whatever the flood), in one read
// transaction that also counts the table: the rows seen so far must still
// all be there, none gone, none added below the last ID seen. It returns
// the number of new events.
func (c *committedEvents) read(t *testing.T, db *sql.DB, limit int) int {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var below int
	if err := tx.QueryRow(`SELECT count(*) FROM events WHERE id <= ?`, c.maxID).Scan(&below); err != nil {
		t.Fatal(err)
	}
	if below != len(c.byID) {
		t.Fatalf("%d events up to id %d, an earlier read found %d", below, c.maxID, len(c.byID))
	}
	rows, err := tx.Query(`SELECT `+eventCols+` FROM events WHERE id > ? ORDER BY id LIMIT ?`, c.maxID, limit)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			t.Fatal(err)
		}
		c.byID[e.ID] = e
		c.maxID = max(c.maxID, e.ID)
		if e.Kind == store.KindPoint {
			c.points++
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// crashSameEvents checks that every event of want is in got, with the
// same ID and content.
func crashSameEvents(t *testing.T, want, got map[int64]eventRow, when string) {
	t.Helper()
	missing, changed := 0, 0
	for id, e := range want {
		g, ok := got[id]
		switch {
		case !ok:
			if missing++; missing <= 5 {
				t.Errorf("%s: event %d is gone: %+v", when, id, e)
			}
		case g != e:
			if changed++; changed <= 5 {
				t.Errorf("%s: event %d changed:\n  was %+v\n  now %+v", when, id, e, g)
			}
		}
	}
	if missing+changed > 0 {
		t.Errorf("%s: of %d events, %d gone, %d changed", when, len(want), missing, changed)
	}
}

// crashNoRepeats checks that no event is in got twice. An event written
// twice (a batch committed again, or journaled again after the restart)
// shows as a point's event equal to the one before it: the journal has an
// event of a point only when its value, quality or time tag changed, so
// two of them in a row are never the same (several changes in one ASDU
// share the receive time and the time tag, but not the value). And the
// point events the second run wrote (from ID next on) were all received
// after the kill.
func crashNoRepeats(t *testing.T, got map[int64]eventRow, next int64, killed time.Time) {
	t.Helper()
	ids := slices.Sorted(maps.Keys(got))
	last := map[string]eventRow{}
	repeats, old := 0, 0
	for _, id := range ids {
		e := got[id]
		if e.Kind != store.KindPoint {
			continue
		}
		if id >= next && e.Recv < killed.UnixNano() {
			if old++; old <= 5 {
				t.Errorf("event %d of the second run was received before the kill (%v): %+v", id,
					killed.Sub(time.Unix(0, e.Recv)), e)
			}
		}
		if prev, ok := last[e.Point]; ok && prev.content() == e.content() {
			if repeats++; repeats <= 5 {
				t.Errorf("event %d repeats event %d: %+v", id, prev.ID, e)
			}
		}
		last[e.Point] = e
	}
	if repeats+old > 0 {
		t.Errorf("of %d events, %d repeat the one before, %d of the second run are older than the kill", len(got), repeats, old)
	}
}

// crashCheckDB opens the database (read-only, but with the usual open, so
// that a crashed WAL is recovered), runs the integrity check and verifies
// the audit chain.
func crashCheckDB(t *testing.T, data, when string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // slow only on a loaded machine
	defer cancel()
	st, err := store.Open(ctx, data, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	defer st.Close()
	if err := st.IntegrityCheck(ctx); err != nil {
		t.Errorf("%s: %v", when, err)
	}
	chk, err := st.CheckAudit(ctx)
	if err != nil || chk.Break != nil || chk.Rows == 0 {
		t.Errorf("%s: audit chain: %v %+v", when, err, chk)
	}
}

// crashEvents returns every event of the database in data.
func crashEvents(t *testing.T, data string) map[int64]eventRow {
	t.Helper()
	db := openRawReadOnly(t, data)
	defer db.Close()
	all := &committedEvents{byID: map[int64]eventRow{}}
	all.read(t, db, -1)
	return all.byID
}
