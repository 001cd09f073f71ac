package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// openStore opens a store in dir and closes it when the test ends.
func openStore(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// rawDB opens the database file of dir without the store, as another program would.
func rawDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, FileName), Options{BusyTimeout: 30 * time.Second, Synchronous: "FULL"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// count returns the result of a count query.
func count(t testing.TB, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion() || v < 1 {
		t.Errorf("user_version %d, want %d", v, SchemaVersion())
	}
	if err := s.AddEvent(ctx, Event{Kind: KindOperator, Message: "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopening runs no migration again (it would fail: the tables exist) and keeps the data.
	s = openStore(t, dir, Options{})
	evs, _, err := s.Events(ctx, EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Message != "kept" {
		t.Errorf("after reopening: %+v, want the event written before", evs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A database of a newer version is refused, naming both versions.
	db := rawDB(t, dir)
	newer := SchemaVersion() + 3
	if _, err := db.Exec("PRAGMA user_version = " + strconv.Itoa(newer)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, dir, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open of a newer database: %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"schema version " + strconv.Itoa(newer), "up to " + strconv.Itoa(SchemaVersion()), FileName} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := Open(ctx, dir, Options{ReadOnly: true}); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("read-only Open of a newer database: %v, want ErrSchemaTooNew", err)
	}
}

func TestMigrationsOrdered(t *testing.T) {
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("migration %d is %s", i+1, m.name)
		}
	}
}

func TestPragmasOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{BusyTimeout: 7 * time.Second})
	// Hold several connections at once, so the pool opens new ones.
	var conns []*sql.Conn
	for range 4 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var fk, busy, syncMode int
		var journal string
		for _, p := range []struct {
			q string
			v any
		}{
			{"PRAGMA foreign_keys", &fk}, {"PRAGMA busy_timeout", &busy}, {"PRAGMA synchronous", &syncMode},
			{"PRAGMA journal_mode", &journal},
		} {
			if err := c.QueryRowContext(ctx, p.q).Scan(p.v); err != nil {
				t.Fatal(err)
			}
		}
		if fk != 1 || busy != 7000 || syncMode != 2 || journal != "wal" {
			t.Errorf("connection %d: foreign_keys %d, busy_timeout %d, synchronous %d, journal_mode %s; want 1, 7000, 2, wal",
				i, fk, busy, syncMode, journal)
		}
		c.Close()
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, filepath.Join(dir, "none"), Options{ReadOnly: true}); err == nil {
		t.Error("read-only Open of a missing database succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Errorf("read-only Open created the directory: %v", err)
	}
	w := openStore(t, dir, Options{})
	if err := w.AddEvent(ctx, Event{Kind: KindOperator}); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, dir, Options{ReadOnly: true})
	if err := r.QueueEvent(Event{Kind: KindOperator}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("QueueEvent read-only: %v, want ErrReadOnly", err)
	}
	if err := r.AddEvent(ctx, Event{Kind: KindOperator}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("AddEvent read-only: %v, want ErrReadOnly", err)
	}
	if evs, _, err := r.Events(ctx, EventQuery{}); err != nil || len(evs) != 1 {
		t.Errorf("read-only Events: %d events, %v; want 1", len(evs), err)
	}
}

func TestQueueFull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, Options{QueueSize: 4, MaxBatch: 8, MaxDelay: 5 * time.Millisecond, BusyTimeout: time.Minute})

	// Another connection holds the write lock: the writer waits at BEGIN and the queue fills.
	db := rawDB(t, dir)
	hold, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	if _, err := hold.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}

	accepted, refused := 0, 0
	var slowest time.Duration
	for i := 0; i < 10000 && refused < 5; i++ {
		start := time.Now()
		err := s.QueueEvent(Event{Kind: KindPoint, Message: fmt.Sprint(i)})
		slowest = max(slowest, time.Since(start))
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, ErrQueueFull):
			refused++
		default:
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond)
	}
	if refused == 0 {
		t.Fatal("no ErrQueueFull with the writer blocked")
	}
	if got := s.Stats().Refused; got != uint64(refused) {
		t.Errorf("Stats().Refused = %d, want %d", got, refused)
	}
	if d := s.QueueDepth(); d != 4 {
		t.Errorf("QueueDepth() = %d with the queue full, want 4", d)
	}
	if slowest > 100*time.Millisecond {
		t.Errorf("QueueEvent took %v: it must not wait", slowest)
	}

	if _, err := hold.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.db, "SELECT count(*) FROM events"); n != accepted {
		t.Errorf("%d events committed, %d accepted", n, accepted)
	}
	if st := s.Stats(); st.Written != uint64(accepted) || st.Failed != 0 || st.QueueDepth != 0 {
		t.Errorf("Stats %+v, want Written %d, Failed 0, depth 0", st, accepted)
	}
}

func TestCloseCommitsQueued(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// No commit would happen before Close: the batch is larger than what is queued, and the delay an hour.
	s, err := Open(ctx, dir, Options{MaxBatch: 1 << 20, MaxDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := range n {
		if err := s.QueueEvent(Event{Kind: KindPoint, Message: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			if err := s.QueueSample("p", time.UnixMilli(int64(i)), float64(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueEvent(Event{Kind: KindPoint}); !errors.Is(err, ErrClosed) {
		t.Errorf("QueueEvent after Close: %v, want ErrClosed", err)
	}
	if err := s.AddEvent(ctx, Event{Kind: KindPoint}); !errors.Is(err, ErrClosed) {
		t.Errorf("AddEvent after Close: %v, want ErrClosed", err)
	}
	db := rawDB(t, dir)
	if got := count(t, db, "SELECT count(*) FROM events"); got != n {
		t.Errorf("%d events after Close, want %d", got, n)
	}
	if got := count(t, db, "SELECT count(*) FROM history_samples"); got != n/500 {
		t.Errorf("%d samples after Close, want %d", got, n/500)
	}
}

func TestOrderQueuedThenSync(t *testing.T) {
	// An item queued before a synchronous request is committed no later than the request.
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MaxDelay: time.Hour, MaxBatch: 1 << 20})
	for i := range 100 {
		if err := s.QueueEvent(Event{Kind: KindPoint, Message: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddEvent(ctx, Event{Kind: KindOperator, Message: "after"}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.db, "SELECT count(*) FROM events"); n != 101 {
		t.Errorf("%d events committed after AddEvent, want 101", n)
	}
	var last string
	if err := s.db.QueryRow("SELECT message FROM events ORDER BY id DESC LIMIT 1").Scan(&last); err != nil {
		t.Fatal(err)
	}
	if last != "after" {
		t.Errorf("last event written %q, want the synchronous one", last)
	}
}

func TestSyncCancelled(t *testing.T) {
	s := openStore(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.AddEvent(ctx, Event{Kind: KindOperator}); !errors.Is(err, context.Canceled) {
		t.Errorf("AddEvent with a cancelled context: %v", err)
	}
	if n := count(t, s.db, "SELECT count(*) FROM events"); n != 0 {
		t.Errorf("%d events written by a cancelled call", n)
	}
}

// killEnv names the directory of the child process of TestKill.
const killEnv = "HMI_STORE_KILL_DIR"

// TestKillChild is the child of TestKill: it queues events without end, and after each Flush prints the highest
// sequence number committed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killEnv)
	if dir == "" {
		t.Skip("child of TestKill")
	}
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{MaxDelay: 5 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	for seq := 0; ; {
		for range 200 {
			v := float64(seq)
			if err := s.QueueEvent(Event{Kind: KindPoint, Point: "kill", Value: &v, Message: strconv.Itoa(seq)}); err != nil {
				continue // refused: not reported, not counted
			}
			seq++
		}
		if err := s.Flush(ctx); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Fprintf(out, "committed %d\n", seq-1)
		out.Flush()
	}
}

func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kill test")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	committed, reports := -1, 0
	deadline := time.Now().Add(30 * time.Second)
	for reports < 40 && time.Now().Before(deadline) && sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "committed "); ok {
			v, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("child said %q", line)
			}
			committed = v
			reports++
		} else if strings.HasPrefix(line, "error") {
			t.Fatalf("child: %s", line)
		}
	}
	// Kill at a moment unrelated to the reports: most likely while the child queues or commits.
	time.Sleep(time.Duration(rand.IntN(20000)) * time.Microsecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed", err)
	}
	if reports == 0 {
		t.Fatal("the child reported nothing")
	}

	s := openStore(t, dir, Options{})
	if err := s.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
	present := count(t, s.db, "SELECT count(DISTINCT value) FROM events WHERE point = 'kill' AND value <= ?", committed)
	total := count(t, s.db, "SELECT count(*) FROM events WHERE point = 'kill'")
	if present != committed+1 {
		t.Errorf("%d of the %d events reported committed are in the database", present, committed+1)
	}
	t.Logf("killed after %d reports: events 0..%d reported committed, all present; %d in the database; integrity ok",
		reports, committed, total)
}
