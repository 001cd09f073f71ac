// Package store keeps what the HMI must remember in one SQLite database (modernc.org/sqlite, pure Go) under the
// data directory: users and HTTP sessions, the event journal, alarm states and transitions, the tamper-evident
// command audit trail, and the history of analog points.
//
// # Writes
//
// One goroutine, the writer, owns every write. Producers on the ingest path (QueueEvent, QueueTransition, the
// recorders' samples) put items on a bounded queue and never wait: when the queue is full they get ErrQueueFull at
// once, and the refusal is counted (Stats) and logged. The writer commits queued items in groups, when MaxBatch items
// are waiting or MaxDelay after the first one, whichever comes first.
//
// Operator actions and anything whose caller must know it is durable (AddEvent, SaveTransition, AppendAudit, users
// and sessions, Flush) are synchronous: they go to the writer as requests with a reply channel. The writer first
// takes every item already queued (so a transition queued before an operator's acknowledgement is written before
// it), then runs the request inside a savepoint of the same transaction, commits, and only then replies. A nil error
// means committed.
//
// Reads (queries, LoadAlarms, GetUser, ...) use the connection pool directly; WAL mode lets them run while the
// writer writes.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database's file name inside the data directory.
const FileName = "hmi.db"

// Errors the caller can branch on with errors.Is.
var (
	ErrQueueFull = errors.New("store: write queue full")
	ErrClosed    = errors.New("store: closed")
	ErrReadOnly  = errors.New("store: opened read-only")
	ErrNotFound  = errors.New("store: not found")
	ErrExists    = errors.New("store: already exists")
	ErrBadCursor = errors.New("store: bad cursor")
	// ErrSchemaTooNew is wrapped by the error of Open when the database was written by a newer version of hmi.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
)

// Defaults of Options.
//
// DefaultMaxBatch is reached only under load: 8192 items within MaxDelay (over 160 000/s), or as many waiting when
// the writer ends a commit. A large transaction costs less per event: a commit writes every page it changed to the
// WAL, and the events of one point or area in a transaction change the same index pages. A synchronous request may
// wait for one such transaction, some 60 ms of events, before its own.
const (
	DefaultQueueSize   = 65536
	DefaultMaxBatch    = 8192
	DefaultMaxDelay    = 50 * time.Millisecond
	DefaultBusyTimeout = 10 * time.Second
)

// Options tune a Store; the zero value is the defaults.
type Options struct {
	QueueSize   int           // capacity of the write queue; DefaultQueueSize when 0
	MaxBatch    int           // the writer commits when this many items are waiting; DefaultMaxBatch when 0
	MaxDelay    time.Duration // ... or this long after the first of them; DefaultMaxDelay when 0
	BusyTimeout time.Duration // how long a connection waits for a lock held by another; DefaultBusyTimeout when 0
	// Synchronous is SQLite's synchronous setting: "FULL" (the default: a commit survives a power loss) or
	// "NORMAL" (a commit survives a crash of the process, the last ones may be lost on a power loss).
	Synchronous string
	// ReadOnly opens an existing database for reading only (hmi audit verify): no migration, no writer; its schema
	// must be the current one, and every write returns ErrReadOnly.
	ReadOnly bool
	Logger   *slog.Logger // nil: discard
}

// Store is the database. Its methods are safe for concurrent use.
type Store struct {
	path string
	db   *sql.DB
	log  *slog.Logger
	opts Options

	pruneChunk int // rows per prune transaction: DefaultPruneChunk; tests make it smaller

	// queue holds the items for the writer; producers send without blocking, only the writer receives.
	queue chan item
	// syncs carries synchronous requests to the writer; unbuffered, so a request that is sent has been taken.
	syncs chan *request
	// closing is closed by Close to tell the writer to commit what is queued and stop; writerDone is closed by the
	// writer when it has.
	closing    chan struct{}
	writerDone chan struct{}

	// mu guards closed. Producers hold it for reading while they check closed and send to queue (without
	// blocking), so that once Close has set closed, nothing more enters the queue and the writer's last drain
	// takes everything.
	mu     sync.RWMutex
	closed bool

	closeOnce sync.Once
	closeErr  error

	// Counters, atomic.
	written   atomic.Uint64 // queued items committed
	refused   atomic.Uint64 // queued items refused with ErrQueueFull
	failed    atomic.Uint64 // queued items that could not be written (logged)
	batches   atomic.Uint64 // transactions committed by the writer
	lastBatch atomic.Int64  // items in the last committed transaction
	lastLog   atomic.Int64  // Unix nanoseconds of the last refusal logged, for rate limiting
}

// Stats are the writer's counters.
type Stats struct {
	QueueDepth    int    // items waiting now
	QueueCapacity int    // the queue's size
	Written       uint64 // queued items committed since Open
	Refused       uint64 // queued items refused because the queue was full
	Failed        uint64 // queued items the database rejected (each logged)
	Batches       uint64 // transactions the writer committed
	LastBatch     int    // items in the last of them
}

// Open opens, or creates, the database DIR/hmi.db, brings its schema up to date and starts the writer. It refuses a
// database whose schema is newer than this program's (ErrSchemaTooNew). Close it when done.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = DefaultMaxDelay
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	switch strings.ToUpper(opts.Synchronous) {
	case "":
		opts.Synchronous = "FULL"
	case "FULL", "NORMAL":
		opts.Synchronous = strings.ToUpper(opts.Synchronous)
	default:
		return nil, fmt.Errorf("store: synchronous %q: want FULL or NORMAL", opts.Synchronous)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: data directory %q: %w", dir, err)
	}
	path := filepath.Join(abs, FileName)
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: no database: %w", err)
		}
	} else if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	} else if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		// A new database is readable by its owner only (it holds password hashes); SQLite gives its -wal and
		// -shm files the same permissions.
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("store: create %s: %w", path, err)
	}

	db, err := sql.Open("sqlite", dsn(path, opts))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{
		path:       path,
		db:         db,
		pruneChunk: DefaultPruneChunk,
		log:        opts.Logger,
		opts:       opts,
		queue:      make(chan item, opts.QueueSize),
		syncs:      make(chan *request),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if opts.ReadOnly {
		s.closed = true // nothing may be queued
		close(s.writerDone)
		return s, nil
	}
	w, err := newWriter(ctx, s)
	if err != nil {
		db.Close()
		return nil, err
	}
	go w.run()
	return s, nil
}

// dsn returns the data source name: a file: URI whose _pragma parameters every pooled connection executes when it
// opens, so none of them misses a setting.
func dsn(path string, opts Options) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	p := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10) + ")",
		"_pragma=journal_mode(WAL)",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(" + opts.Synchronous + ")",
		"_txlock=immediate", // a transaction takes the write lock at BEGIN, never upgrades later
	}
	if opts.ReadOnly {
		p = append(p, "_pragma=query_only(1)")
	}
	return "file:" + esc + "?" + strings.Join(p, "&")
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close commits everything queued, stops the writer and closes the database. Writes after Close return ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if !s.opts.ReadOnly {
			s.mu.Lock()
			s.closed = true
			s.mu.Unlock()
			close(s.closing)
			<-s.writerDone
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return s.closeErr
}

// QueueDepth returns the number of items waiting in the write queue.
func (s *Store) QueueDepth() int { return len(s.queue) }

// Stats returns the writer's counters.
func (s *Store) Stats() Stats {
	return Stats{
		QueueDepth:    len(s.queue),
		QueueCapacity: cap(s.queue),
		Written:       s.written.Load(),
		Refused:       s.refused.Load(),
		Failed:        s.failed.Load(),
		Batches:       s.batches.Load(),
		LastBatch:     int(s.lastBatch.Load()),
	}
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil when SQLite says ok.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("store: integrity check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	return fmt.Errorf("store: integrity check failed: %s", strings.Join(msgs, "; "))
}

// migrations are the schema's scripts, applied in the order of their names' numbers; the database's user_version
// is the number of the last one applied.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migration is one script.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded scripts in order. Their names are NNNN_what.sql, numbered 1, 2, 3 ... with no
// gap.
func loadMigrations() ([]migration, error) {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s: name must be NNNN_what.sql", e.Name())
		}
		b, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("store: migration %s: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this program writes: the number of its last migration.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate applies the migrations the database lacks, each in its own transaction together with the new
// user_version, on one connection. A concurrent Open of the same file waits for the write lock and then sees the
// version the first one recorded.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	defer conn.Close()

	version := func() (int, error) {
		var v int
		if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return 0, fmt.Errorf("store: open %s: schema version: %w", s.path, err)
		}
		return v, nil
	}
	tooNew := func(v int) error {
		return fmt.Errorf("%w: %s has schema version %d, this program knows versions up to %d; use the hmi that wrote it, or a newer one",
			ErrSchemaTooNew, s.path, v, len(ms))
	}
	v, err := version()
	if err != nil {
		return err
	}
	if v > len(ms) {
		return tooNew(v)
	}
	if s.opts.ReadOnly {
		if v != len(ms) {
			return fmt.Errorf("store: %s has schema version %d, this program needs %d: open it read-write once (hmi serve) to migrate it",
				s.path, v, len(ms))
		}
		return nil
	}
	for _, m := range ms[v:] {
		if err := s.apply(ctx, conn, m, tooNew); err != nil {
			return err
		}
	}
	return nil
}

// apply runs one migration in a transaction, unless another process applied it meanwhile.
func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration, tooNew func(int) error) (err error) {
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock): holds the write lock from here
	if err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var cur int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	switch {
	case cur >= m.version:
		if cur > SchemaVersion() {
			return tooNew(cur)
		}
		return tx.Rollback() // applied by another process meanwhile
	case cur != m.version-1:
		return fmt.Errorf("store: migration %s: database at version %d", m.name, cur)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	// user_version lives in the database header, so setting it is part of the transaction.
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(m.version)); err != nil {
		return fmt.Errorf("store: migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migration %s: commit: %w", m.name, err)
	}
	s.log.Info("store: schema migrated", "path", s.path, "migration", m.name, "version", m.version)
	return nil
}
