package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backupWriter adds events to s until it has n of them or stop is closed: events with point "bk" and value seq,
// 0, 1, 2, ..., queued (QueueEvent) or, when sync, written (AddEvent), and every 50th an audit row. committed is the
// number of events before which every one has been accepted, audits the number of audit rows committed.
type backupWriter struct {
	committed atomic.Int64
	audits    atomic.Int64
	wg        sync.WaitGroup
	err       error // set before wg.Done
}

func startBackupWriter(s *Store, n int, sync bool, stop <-chan struct{}) *backupWriter {
	bw := &backupWriter{}
	bw.wg.Add(1)
	go func() {
		defer bw.wg.Done()
		ctx := context.Background()
		for seq := 0; seq < n; {
			select {
			case <-stop:
				return
			default:
			}
			v := float64(seq)
			e := Event{Kind: KindPoint, Point: "bk", Value: &v, Message: strconv.Itoa(seq)}
			var err error
			if sync {
				err = s.AddEvent(ctx, e)
			} else {
				err = s.QueueEvent(e)
			}
			if errors.Is(err, ErrQueueFull) {
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil {
				bw.err = err
				return
			}
			seq++
			bw.committed.Store(int64(seq))
			if seq%50 == 0 {
				if _, err := s.AppendAudit(ctx, AuditRecord{CommandID: "c" + strconv.Itoa(seq), Point: "bk", Step: "select",
					Value: v, User: "alice"}); err != nil {
					bw.err = err
					return
				}
				bw.audits.Add(1)
			}
		}
	}()
	return bw
}

// backupWait waits until f is true, for at most 30 s.
func backupWait(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !f(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// checkBackup opens the copy dir/hmi.db and checks that it holds the events 0..events-1 of point "bk", at least
// audits audit rows, a whole audit chain, and passes the integrity check.
func checkBackup(t *testing.T, dir string, events, audits int64) {
	t.Helper()
	path := filepath.Join(dir, FileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("copy has mode %v, want 0600", fi.Mode().Perm())
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(path + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s beside the copy: %v", FileName+suffix, err)
		}
	}
	c := openStore(t, dir, Options{})
	ctx := context.Background()
	if err := c.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
	if got := count(t, c.db, "SELECT count(DISTINCT value) FROM events WHERE point = 'bk' AND value < ?", events); int64(got) != events {
		t.Errorf("the copy holds %d of the %d events committed before the backup", got, events)
	}
	b, err := c.VerifyAudit(ctx)
	if err != nil || b != nil {
		t.Errorf("VerifyAudit of the copy: %v, %v", b, err)
	}
	if got := count(t, c.db, "SELECT count(*) FROM audit"); int64(got) < audits {
		t.Errorf("the copy holds %d audit rows, want at least %d", got, audits)
	}
	t.Logf("copy: %d events (%d committed before the backup), %d audit rows (%d before)",
		count(t, c.db, "SELECT count(*) FROM events WHERE point = 'bk'"), events, count(t, c.db, "SELECT count(*) FROM audit"), audits)
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{MaxDelay: 2 * time.Millisecond})
	for i := range 5 {
		if _, err := s.AppendAudit(ctx, AuditRecord{CommandID: "first", Point: "bk", Step: "select", Value: float64(i), User: "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddEvent(ctx, Event{Kind: KindOperator, User: "bob", Message: "before the writer"}); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	bw := startBackupWriter(s, 50000, false, stop)
	backupWait(t, "the writer", func() bool { return bw.committed.Load() >= 1000 })
	// Queued but perhaps not yet committed: Backup's Flush must put them in the copy.
	events, audits := bw.committed.Load(), bw.audits.Load()+5
	dst := filepath.Join(t.TempDir(), FileName)
	err := s.Backup(ctx, dst)
	during := bw.committed.Load()
	close(stop)
	bw.wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if bw.err != nil {
		t.Fatal(bw.err)
	}
	t.Logf("%d events queued when the backup started, %d when it ended", events, during)
	checkBackup(t, filepath.Dir(dst), events, audits)
}

// TestBackupReadOnly backs up through a second Store, read-only, on the same directory while the first one writes:
// what hmi backup does while hmi serve runs.
func TestBackupReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, Options{MaxDelay: 2 * time.Millisecond})
	stop := make(chan struct{})
	bw := startBackupWriter(s, 50000, true, stop)
	defer func() {
		close(stop)
		bw.wg.Wait()
		if bw.err != nil {
			t.Error(bw.err)
		}
	}()
	backupWait(t, "the writer", func() bool { return bw.committed.Load() >= 200 })

	ro := openStore(t, dir, Options{ReadOnly: true})
	events, audits := bw.committed.Load(), bw.audits.Load()
	dst := filepath.Join(t.TempDir(), FileName)
	if err := ro.Backup(ctx, dst); err != nil {
		t.Fatal(err)
	}
	if err := ro.AddEvent(ctx, Event{Kind: KindOperator}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("AddEvent of the read-only store after Backup: %v, want ErrReadOnly", err)
	}
	t.Logf("%d events committed when the backup started, %d when it ended", events, bw.committed.Load())
	checkBackup(t, filepath.Dir(dst), events, audits)

	// A second read-write Store on the same directory may back up as well.
	rw := openStore(t, dir, Options{})
	events = bw.committed.Load()
	dst = filepath.Join(t.TempDir(), FileName)
	if err := rw.Backup(ctx, dst); err != nil {
		t.Fatal(err)
	}
	checkBackup(t, filepath.Dir(dst), events, 0)
}

func TestBackupRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	if err := s.AddEvent(ctx, Event{Kind: KindOperator}); err != nil {
		t.Fatal(err)
	}

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.db")
	if err := os.Symlink(filepath.Join(dir, "nowhere.db"), link); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{existing, s.Path(), s.Path() + "-wal", link} {
		err := s.Backup(ctx, dst)
		if !errors.Is(err, ErrExists) {
			t.Errorf("Backup to %s: %v, want ErrExists", dst, err)
		}
	}
	if b, err := os.ReadFile(existing); err != nil || string(b) != "keep me" {
		t.Errorf("existing file now %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the symbolic link's target was created: %v", err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}

	// No directory: an error, nothing created.
	if err := s.Backup(ctx, filepath.Join(dir, "none", "copy.db")); err == nil || errors.Is(err, ErrExists) {
		t.Errorf("Backup into a missing directory: %v", err)
	}

	// Cancelled: an error, and the file Backup created is gone.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	dst := filepath.Join(dir, "cancelled.db")
	if err := s.Backup(cctx, dst); !errors.Is(err, context.Canceled) {
		t.Errorf("Backup with a cancelled context: %v", err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the incomplete copy is left behind: %v", err)
	}

	// Closed: an error, nothing left.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dst = filepath.Join(dir, "closed.db")
	if err := s.Backup(ctx, dst); !errors.Is(err, ErrClosed) {
		t.Errorf("Backup of a closed store: %v, want ErrClosed", err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the incomplete copy is left behind: %v", err)
	}
}

func TestNewDatabaseOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, name := range []string{FileName, FileName + "-wal"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", name, fi.Mode().Perm())
		}
	}
}
