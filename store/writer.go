package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// item is one queued write. The writer goroutine calls write inside its open transaction; an item of more than
// one statement wraps them in w.savepoint, so that it is written whole or not at all.
type item interface {
	write(w *writer) error
}

// request is a synchronous write: the writer runs fn in a savepoint of its transaction, commits, and then sends the
// outcome on done.
type request struct {
	ctx  context.Context // checked before fn runs: a request whose caller gave up is not run
	fn   func(w *writer) error
	done chan error // capacity 1
}

// entry is one element of a batch: a queued item or a request, in the order the writer took them.
type entry struct {
	it  item
	req *request
	err error // the outcome of the last attempt
}

// Writer tuning that Options do not expose.
const (
	commitAttempts = 5                      // tries of a transaction that fails as a whole (busy, I/O)
	retryPause     = 100 * time.Millisecond // before the second try; doubles each time
	writerCacheKiB = 32 << 10               // the writer connection's page cache, KiB (SQLite's default: 2000)
)

// writer is the one goroutine that writes. Everything in it is owned by that goroutine: the connection, the
// statements prepared on it, the point ID cache and the batch.
type writer struct {
	s    *Store
	conn *sql.Conn       // a connection of the pool, held for the writer's life; transactions by BEGIN/COMMIT
	ctx  context.Context // background: a transaction is never cut in the middle

	insEvent      *sql.Stmt
	insSample     *sql.Stmt
	upsertAlarm   *sql.Stmt
	insTransition *sql.Stmt
	savepointSt   *sql.Stmt // SAVEPOINT item
	releaseSt     *sql.Stmt // RELEASE item
	// insEvents[k] inserts 1<<k events (insertEventsSQL), prepared on first use; insEvents[0] is unused (insEvent).
	insEvents [maxEventRowsLog + 1]*sql.Stmt

	pointIDs map[string]int64 // history_points IDs by point ID
	batch    []entry
	reqs     int   // requests in batch
	args     []any // the arguments of an insEvents statement, reused
	// oneByOne makes try write a statement per event, as the other items, rather than several events per statement:
	// for the attempts after a multi-row INSERT failed, until the batch is done.
	oneByOne bool
}

// newWriter takes a connection for the writer and prepares its statements.
func newWriter(ctx context.Context, s *Store) (*writer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: writer connection: %w", err)
	}
	w := &writer{s: s, conn: conn, ctx: context.Background(), pointIDs: make(map[string]int64)}
	// The page cache must hold every page a transaction changes, the table's and the leaves of its indexes (one or
	// more per distinct point and area in the batch): with SQLite's default of 2 MiB a large batch spills pages into
	// the WAL before its commit, and then reads and writes them again. Only the writer's connection gets it; it goes
	// back to the pool when the store closes.
	if _, err := conn.ExecContext(ctx, "PRAGMA cache_size = -"+strconv.Itoa(writerCacheKiB)); err != nil {
		w.close()
		return nil, fmt.Errorf("store: writer connection: %w", err)
	}
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&w.insEvent, insertEventSQL},
		{&w.insSample, insertSampleSQL},
		{&w.upsertAlarm, upsertAlarmSQL},
		{&w.insTransition, insertTransitionSQL},
		{&w.savepointSt, "SAVEPOINT item"},
		{&w.releaseSt, "RELEASE item"},
	} {
		if *p.st, err = conn.PrepareContext(ctx, p.sql); err != nil {
			w.close()
			return nil, fmt.Errorf("store: prepare: %w", err)
		}
	}
	return w, nil
}

// close releases the statements and the connection.
func (w *writer) close() {
	sts := []*sql.Stmt{w.insEvent, w.insSample, w.upsertAlarm, w.insTransition, w.savepointSt, w.releaseSt}
	for _, st := range append(sts, w.insEvents[1:]...) {
		if st != nil {
			if err := st.Close(); err != nil {
				w.s.log.Warn("store: close statement", "err", err)
			}
		}
	}
	if err := w.conn.Close(); err != nil {
		w.s.log.Warn("store: close writer connection", "err", err)
	}
}

// run is the writer goroutine, started by Open. It returns when Close has closed s.closing and everything queued
// is committed; then it closes s.writerDone.
func (w *writer) run() {
	s := w.s
	defer close(s.writerDone)
	defer w.close()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	stop := func() {
		w.drain()
		// Let SQLite refresh the statistics its planner uses, as it advises before a long-lived connection closes.
		if _, err := w.conn.ExecContext(w.ctx, "PRAGMA optimize"); err != nil {
			s.log.Warn("store: optimize", "err", err)
		}
	}
	for {
		w.batch, w.reqs = w.batch[:0], 0
		select {
		case <-s.closing: // before the queue, which may still hold items: drain takes them in full batches
			stop()
			return
		default:
		}
		select {
		case it := <-s.queue:
			w.add(it)
		case r := <-s.syncs:
			w.addRequest(r)
		case <-s.closing:
			stop()
			return
		}
		if w.reqs == 0 {
			// Group commit: wait for more until MaxBatch items or MaxDelay, or until a request wants a commit now.
			timer.Reset(s.opts.MaxDelay)
		collect:
			for len(w.batch) < s.opts.MaxBatch {
				select {
				case it := <-s.queue:
					w.add(it)
				case r := <-s.syncs:
					w.addRequest(r)
					break collect
				case <-timer.C:
					break collect
				case <-s.closing:
					break collect // commit these; the next round drains the rest
				}
			}
			timer.Stop()
		}
		w.commit()
	}
}

// add appends a queued item to the batch.
func (w *writer) add(it item) { w.batch = append(w.batch, entry{it: it}) }

// addRequest appends a request to the batch, after every item queued before it: a producer that queued an item and
// then made a request finds them written in that order.
func (w *writer) addRequest(r *request) {
	for n := len(w.s.queue); n > 0; n-- {
		w.add(<-w.s.queue)
	}
	w.batch = append(w.batch, entry{req: r})
	w.reqs++
}

// drain commits everything left in the queue, after Close; producers can add nothing more by then.
func (w *writer) drain() {
	for {
		w.batch, w.reqs = w.batch[:0], 0
	take:
		for len(w.batch) < w.s.opts.MaxBatch {
			select {
			case it := <-w.s.queue:
				w.add(it)
			default:
				break take
			}
		}
		if len(w.batch) == 0 {
			return
		}
		w.commit()
	}
}

// commit writes the batch in one transaction, retrying a transaction that fails as a whole, and then counts,
// logs and replies. After the last failed attempt its queued items are counted as failed and logged, and its
// requests get the error.
func (w *writer) commit() {
	var err error
	pause := retryPause
	for attempt := 1; attempt <= commitAttempts; attempt++ {
		err = w.try()
		if re := (rowsError{}); errors.As(err, &re) {
			// Undone; done again at once, so that the failure is the failing event's alone.
			w.s.log.Debug("store: multi-row insert failed, writing the batch a statement per event", "err", re.err)
			w.oneByOne = true
			err = w.try()
		}
		if err == nil {
			break
		}
		w.s.log.Error("store: write transaction failed", "attempt", attempt, "items", len(w.batch), "err", err)
		if attempt < commitAttempts {
			time.Sleep(pause)
			pause *= 2
		}
	}
	var written, failed uint64
	var firstErr error
	for i := range w.batch {
		e := &w.batch[i]
		if err != nil {
			e.err = err
		}
		if e.req != nil {
			continue // replied below, once the counters include this batch
		}
		if e.err != nil {
			failed++
			if firstErr == nil {
				firstErr = e.err
			}
		} else {
			written++
		}
	}
	w.s.written.Add(written)
	if failed > 0 {
		w.s.failed.Add(failed)
		w.s.log.Error("store: queued writes failed", "failed", failed, "failed_total", w.s.failed.Load(), "err", firstErr)
	}
	if err == nil {
		w.s.batches.Add(1)
		w.s.lastBatch.Store(int64(len(w.batch)))
	}
	for i := range w.batch {
		if e := &w.batch[i]; e.req != nil {
			e.req.done <- e.err
		}
	}
	clear(w.batch) // let the items go
	w.oneByOne = false
}

// try runs the batch in one transaction. It returns an error when the transaction failed as a whole (and was
// rolled back); an error of one item or request is kept in its entry and the rest is committed.
func (w *writer) try() error {
	if _, err := w.conn.ExecContext(w.ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	for i := 0; i < len(w.batch); {
		if n := w.eventRun(i); n > 1 && !w.oneByOne {
			if err := w.writeEvents(w.batch[i : i+n]); err != nil {
				w.rollback()
				return err
			}
			i += n
			continue
		}
		e := &w.batch[i]
		i++
		if e.req != nil {
			if err := e.req.ctx.Err(); err != nil {
				e.err = fmt.Errorf("store: %w", err)
				continue
			}
			e.err = w.savepoint(e.req.fn)
		} else {
			e.err = e.it.write(w)
		}
		if e.err != nil && !statementError(e.err) {
			err := e.err
			w.rollback()
			return err
		}
	}
	if _, err := w.conn.ExecContext(w.ctx, "COMMIT"); err != nil {
		w.rollback()
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// eventRun returns the number of queued events in a row in the batch from index i.
func (w *writer) eventRun(i int) int {
	n := 0
	for _, e := range w.batch[i:] {
		if _, ok := e.it.(*eventItem); !ok {
			break
		}
		n++
	}
	return n
}

// writeEvents inserts the events of run, queued items all, maxEventRows or fewer per statement. When a statement
// fails for one of its rows, the transaction must be undone: it returns a rowsError.
func (w *writer) writeEvents(run []entry) error {
	for len(run) > 0 {
		k := bits.Len(uint(min(len(run), maxEventRows))) - 1 // the largest power of two that fits
		n := 1 << k
		st, err := w.eventsStmt(k)
		if err != nil {
			return err
		}
		args := w.args[:0]
		for i := range run[:n] {
			args = appendEventArgs(args, (*Event)(run[i].it.(*eventItem)))
		}
		_, err = st.ExecContext(w.ctx, args...)
		clear(args) // let the strings go
		w.args = args
		if err != nil {
			if statementError(err) {
				return rowsError{err}
			}
			return err
		}
		for i := range run[:n] {
			run[i].err = nil
		}
		run = run[n:]
	}
	return nil
}

// eventsStmt returns the statement that inserts 1<<k events, preparing it the first time.
func (w *writer) eventsStmt(k int) (*sql.Stmt, error) {
	if k == 0 {
		return w.insEvent, nil
	}
	if w.insEvents[k] == nil {
		st, err := w.conn.PrepareContext(w.ctx, insertEventsSQL(1<<k))
		if err != nil {
			if statementError(err) {
				return nil, rowsError{err}
			}
			return nil, fmt.Errorf("store: prepare: %w", err)
		}
		w.insEvents[k] = st
	}
	return w.insEvents[k], nil
}

// rowsError is the failure of a multi-row INSERT that concerns one of its rows, not the transaction: which row, and
// how many before it were written, the error does not say. The writer undoes the transaction and writes the batch
// again with a statement per event, so that only the failing event fails.
type rowsError struct{ err error }

func (e rowsError) Error() string { return e.err.Error() }
func (e rowsError) Unwrap() error { return e.err }

// rollback ends a failed transaction. SQLite may have rolled it back itself already (on I/O errors, for instance);
// then ROLLBACK fails with "no transaction is active", which is what we want anyway.
// The point IDs the transaction added are gone with it: forget them all.
func (w *writer) rollback() {
	if _, err := w.conn.ExecContext(w.ctx, "ROLLBACK"); err != nil {
		w.s.log.Debug("store: rollback", "err", err)
	}
	clear(w.pointIDs)
}

// savepoint runs fn so that its writes are kept whole or undone whole, leaving the transaction open either way.
func (w *writer) savepoint(fn func(w *writer) error) error {
	if _, err := w.savepointSt.ExecContext(w.ctx); err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	if err := fn(w); err != nil {
		if !statementError(err) {
			return err // the transaction is lost anyway
		}
		if _, rerr := w.conn.ExecContext(w.ctx, "ROLLBACK TO item; RELEASE item"); rerr != nil {
			return fmt.Errorf("store: rollback to savepoint: %w (after %w)", rerr, err)
		}
		return err
	}
	if _, err := w.releaseSt.ExecContext(w.ctx); err != nil {
		return fmt.Errorf("store: release savepoint: %w", err)
	}
	return nil
}

// itemError marks an error of one item or request that leaves the transaction intact (a check of the store's own,
// such as a user that exists).
type itemError struct{ err error }

func (e itemError) Error() string { return e.err.Error() }
func (e itemError) Unwrap() error { return e.err }

// statementError reports whether err concerns one statement only, so that the transaction can go on: a constraint
// or type violation, a value too big, or the store's own check. Anything else (busy, I/O, full disk, out of memory)
// may have rolled the transaction back: the batch is retried.
func statementError(err error) bool {
	var ie itemError
	if errors.As(err, &ie) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_ERROR:
		return true
	}
	return false
}

// isConstraint reports whether err is a constraint violation (a duplicate key, a missing reference).
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// exec runs a statement in the writer's transaction.
func (w *writer) exec(query string, args ...any) (sql.Result, error) {
	return w.conn.ExecContext(w.ctx, query, args...)
}

// queryRow runs a query in the writer's transaction: it sees what the transaction wrote.
func (w *writer) queryRow(query string, args ...any) *sql.Row {
	return w.conn.QueryRowContext(w.ctx, query, args...)
}

// enqueue puts an item on the writer's queue without waiting: ErrQueueFull, counted and logged, when the queue is
// full.
func (s *Store) enqueue(it item) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		if s.opts.ReadOnly {
			return ErrReadOnly
		}
		return ErrClosed
	}
	select {
	case s.queue <- it:
		s.mu.RUnlock()
		return nil
	default:
	}
	s.mu.RUnlock()
	n := s.refused.Add(1)
	now := time.Now().UnixNano()
	if last := s.lastLog.Load(); now-last >= int64(time.Second) && s.lastLog.CompareAndSwap(last, now) {
		s.log.Warn("store: write queue full, refusing writes", "refused_total", n, "capacity", cap(s.queue))
	}
	return ErrQueueFull
}

// do runs fn in the writer and returns once it is committed (nil) or failed. A request that the writer has taken is
// always answered; ctx only cuts the wait for the writer to take it, and stops a request taken after ctx ended.
func (s *Store) do(ctx context.Context, fn func(w *writer) error) error {
	if s.opts.ReadOnly {
		return ErrReadOnly
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.syncs <- r:
	case <-s.writerDone:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("store: %w", ctx.Err())
	}
	return <-r.done
}

// Flush returns when everything queued before the call is committed.
func (s *Store) Flush(ctx context.Context) error {
	return s.do(ctx, func(*writer) error { return nil })
}
