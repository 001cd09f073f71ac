package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Backup writes a consistent copy of the database to the new file dst while the store stays in use, and checks it.
//
// It refuses a dst that exists (ErrExists), creates dst with mode 0600 (the database holds password and session
// hashes), commits what is queued (Flush, so everything written or queued before the call is in the copy), and runs
// VACUUM INTO dst: SQLite copies one read transaction's snapshot, compacted, while the writer goes on writing (WAL).
// The copy is a single file in rollback-journal mode, with no -wal or -shm beside it; Open turns it back to WAL.
// Backup then syncs dst and its directory to disk (VACUUM INTO does not), opens the copy read-only and runs
// PRAGMA integrity_check on it. On any error it removes dst.
//
// A read-only store (Options.ReadOnly, as another process uses while hmi serve has the database open) has no
// queue to flush: the copy holds what the other process has committed.
func (s *Store) Backup(ctx context.Context, dst string) (err error) {
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("store: backup to %q: %w", dst, err)
	}
	// O_EXCL: an existing file, or a symbolic link, is never overwritten, even one created meanwhile. VACUUM INTO
	// accepts an empty file.
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: backup destination %s: remove it or choose another name", ErrExists, abs)
	}
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	// Closed before SQLite opens the file: closing a descriptor drops every POSIX lock the process holds on it.
	if err := f.Close(); err != nil {
		os.Remove(abs)
		return fmt.Errorf("store: backup: %w", err)
	}
	defer func() {
		if err != nil {
			if rerr := os.Remove(abs); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = fmt.Errorf("%w (and removing the incomplete copy: %w)", err, rerr)
			}
		}
	}()

	if err := s.vacuumInto(ctx, abs); err != nil {
		return err
	}
	if err := syncFile(abs); err != nil {
		return fmt.Errorf("store: backup: sync %s: %w", abs, err)
	}
	if err := syncFile(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("store: backup: sync directory of %s: %w", abs, err)
	}
	if err := checkCopy(ctx, abs); err != nil {
		return fmt.Errorf("store: backup: the copy %s: %w", abs, err)
	}
	return nil
}

// vacuumInto flushes the queue and copies the database into the empty file path.
func (s *Store) vacuumInto(ctx context.Context, path string) error {
	if s.opts.ReadOnly {
		// query_only forbids VACUUM INTO, since it writes (the copy): use a connection of its own without it. VACUUM
		// INTO only reads the source.
		opts := s.opts
		opts.ReadOnly = false
		db, err := sql.Open("sqlite", dsn(s.path, opts))
		if err != nil {
			return fmt.Errorf("store: backup: %w", err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		if _, err := db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
			return fmt.Errorf("store: backup: vacuum into %s: %w", path, err)
		}
		if err := db.Close(); err != nil {
			return fmt.Errorf("store: backup: %w", err)
		}
		return nil
	}
	if err := s.Flush(ctx); err != nil {
		return fmt.Errorf("store: backup: flush: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return fmt.Errorf("store: backup: vacuum into %s: %w", path, err)
	}
	return nil
}

// syncFile flushes a file, or a directory's entries, to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkCopy opens the database file path read-only (mode=ro: SQLite writes nothing to it) and runs
// PRAGMA integrity_check.
func checkCopy(ctx context.Context, path string) error {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(path))
	db, err := sql.Open("sqlite", "file:"+esc+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		return fmt.Errorf("integrity check failed: %s", strings.Join(msgs, "; "))
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	return db.Close()
}
