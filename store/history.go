package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// HistorySpec says when a point's value is recorded: when it moved more than Deadband from the last recorded
// value, or when MaxInterval passed since the last recorded sample (then the present value is recorded, changed
// or not; 0: never).
type HistorySpec struct {
	Deadband    float64
	MaxInterval time.Duration
}

// Bucket is the summary of a point's samples in [Start, End).
type Bucket struct {
	Start, End time.Time
	Min, Max   float64
	Avg        float64
	Last       float64 // the value of the latest sample
	Count      int
}

const insertSampleSQL = `INSERT INTO history_samples (point_id, t, v) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`

// sampleItem is a queued history sample.
type sampleItem struct {
	point string
	t     int64 // Unix milliseconds
	v     float64
}

func (it *sampleItem) write(w *writer) error {
	id, err := w.pointID(it.point)
	if err != nil {
		return err
	}
	// The history_rollup trigger adds the sample to its minute and hour; a second sample of the same point in the
	// same millisecond is ignored, and so not counted twice.
	if _, err := w.insSample.ExecContext(w.ctx, id, it.t, it.v); err != nil {
		return fmt.Errorf("store: sample of %q: %w", it.point, err)
	}
	return nil
}

// pointID returns the history_points ID of a point, adding it when new.
func (w *writer) pointID(point string) (int64, error) {
	if id, ok := w.pointIDs[point]; ok {
		return id, nil
	}
	if _, err := w.exec(`INSERT INTO history_points (point) VALUES (?) ON CONFLICT DO NOTHING`, point); err != nil {
		return 0, fmt.Errorf("store: history point %q: %w", point, err)
	}
	var id int64
	if err := w.queryRow(`SELECT id FROM history_points WHERE point = ?`, point).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: history point %q: %w", point, err)
	}
	w.pointIDs[point] = id
	return id, nil
}

// QueueSample queues a sample of a point's value at a time (kept to the millisecond) for the group commit; it never
// blocks (ErrQueueFull). NaN and infinite values are refused. Of two samples of a point in the same millisecond,
// the first is kept.
func (s *Store) QueueSample(point string, at time.Time, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("store: sample of %q: value %v", point, v)
	}
	return s.enqueue(&sampleItem{point: point, t: at.UnixMilli(), v: v})
}

// Resolutions of the history tables, in milliseconds.
const (
	msMinute = 60 * 1000
	msHour   = 60 * msMinute
)

// History summarises a point's samples in [from, to) in about buckets buckets of equal width, oldest first; buckets
// without samples are left out. The width is (to-from)/buckets rounded up to a whole millisecond, or to a whole
// hour, or a whole minute, when that makes it at most 25% wider (so there may be up to 20% fewer buckets than
// asked, and one more for the alignment): then the per-hour or per-minute roll-ups answer instead of the samples,
// and a query reads at most a few thousand rows whatever its span (the samples themselves only for spans under a
// day or so at 500 buckets). Buckets are laid from "from" rounded down to that resolution, so the first may start a
// little before from, and the last end a little after to; each summarises exactly the samples in [Start, End).
func (s *Store) History(ctx context.Context, point string, from, to time.Time, buckets int) ([]Bucket, error) {
	if buckets <= 0 {
		return nil, fmt.Errorf("store: history of %q: %d buckets", point, buckets)
	}
	lo, hi := from.UnixMilli(), to.UnixMilli()
	if hi <= lo {
		return nil, fmt.Errorf("store: history of %q: empty span %v to %v", point, from, to)
	}
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM history_points WHERE point = ?`, point).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: history of %q: %w", point, err)
	}

	width := ceilDiv(hi-lo, int64(buckets))
	res, table, tcol := int64(1), "history_samples", "t"
	agg := "min(v), max(v), sum(v), count(*), max(t)"
	last := "v"
	// The coarsest level whose resolution the width can be rounded up to, for at most 25% more width.
	for _, l := range []struct {
		res   int64
		table string
	}{{msHour, "history_1h"}, {msMinute, "history_1m"}} {
		if ceilDiv(width, l.res)*l.res*4 <= width*5 {
			res, table, tcol = l.res, l.table, "start"
			agg, last = "min(mn), max(mx), sum(sm), sum(n), max(start)", "lv"
			break
		}
	}
	width = ceilDiv(width, res) * res
	base := floorDiv(lo, res) * res
	end := ceilDiv(hi, res) * res

	// Per bucket: the aggregates, and the key of its latest row; then that row's value by its primary key.
	query := `WITH g (b, mn, mx, sm, n, lk) AS (
		SELECT (` + tcol + ` - ?2) / ?3, ` + agg + ` FROM ` + table + `
		WHERE point_id = ?1 AND ` + tcol + ` >= ?2 AND ` + tcol + ` < ?4 GROUP BY 1)
	SELECT g.b, g.mn, g.mx, g.sm, g.n, r.` + last + ` FROM g JOIN ` + table + ` r ON r.point_id = ?1 AND r.` + tcol + ` = g.lk
	ORDER BY g.b`
	rows, err := s.db.QueryContext(ctx, query, id, base, width, end)
	if err != nil {
		return nil, fmt.Errorf("store: history of %q: %w", point, err)
	}
	defer rows.Close()
	var bs []Bucket
	for rows.Next() {
		var (
			b   Bucket
			idx int64
			sum float64
		)
		if err := rows.Scan(&idx, &b.Min, &b.Max, &sum, &b.Count, &b.Last); err != nil {
			return nil, fmt.Errorf("store: history of %q: %w", point, err)
		}
		start := base + idx*width
		b.Start, b.End = time.UnixMilli(start).UTC(), time.UnixMilli(start+width).UTC()
		b.Avg = sum / float64(b.Count)
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history of %q: %w", point, err)
	}
	return bs, nil
}

// floorDiv and ceilDiv divide rounding down and up, for any sign of a (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }

// PruneResult counts what Prune deleted.
type PruneResult struct {
	Events  int64
	Samples int64 // raw samples; the roll-ups go with them
}

// DefaultPruneChunk is the most rows one prune transaction deletes, so that the writer never stalls ingest for long.
const DefaultPruneChunk = 10000

// Prune deletes the events older than eventsBefore, and the history older than historyBefore rounded down to the
// hour (samples and roll-ups alike, so they stay consistent); a zero time keeps that part. It deletes in
// transactions of at most DefaultPruneChunk rows through the writer, between which queued writes are committed.
func (s *Store) Prune(ctx context.Context, eventsBefore, historyBefore time.Time) (PruneResult, error) {
	var r PruneResult
	if !eventsBefore.IsZero() {
		n, err := s.pruneChunks(ctx, `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE t < ? ORDER BY t LIMIT `+
			strconv.Itoa(s.pruneChunk)+`)`, eventsBefore.UnixNano())
		r.Events = n
		if err != nil {
			return r, fmt.Errorf("store: prune events: %w", err)
		}
	}
	if historyBefore.IsZero() {
		return r, nil
	}
	cut := floorDiv(historyBefore.UnixMilli(), msHour) * msHour
	ids, err := s.historyPointIDs(ctx)
	if err != nil {
		return r, err
	}
	for _, id := range ids {
		for _, t := range []struct{ table, col string }{
			{"history_samples", "t"}, {"history_1m", "start"}, {"history_1h", "start"},
		} {
			// The chunk ends at the key of the row pruneChunk rows in, or at the cut.
			q := `DELETE FROM ` + t.table + ` WHERE point_id = ?1 AND ` + t.col + ` < coalesce((SELECT ` + t.col + ` FROM ` +
				t.table + ` WHERE point_id = ?1 AND ` + t.col + ` < ?2 ORDER BY ` + t.col + ` LIMIT 1 OFFSET ` +
				strconv.Itoa(s.pruneChunk) + `), ?2)`
			n, err := s.pruneChunks(ctx, q, id, cut)
			if t.table == "history_samples" {
				r.Samples += n
			}
			if err != nil {
				return r, fmt.Errorf("store: prune history: %w", err)
			}
		}
	}
	return r, nil
}

// pruneChunks runs a delete of at most s.pruneChunk rows until it deletes fewer, and returns how many it deleted.
func (s *Store) pruneChunks(ctx context.Context, query string, args ...any) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.do(ctx, func(w *writer) error {
			res, err := w.exec(query, args...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < int64(s.pruneChunk) {
			return total, err
		}
	}
}

// historyPointIDs returns the IDs of every point with history.
func (s *Store) historyPointIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM history_points ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: history points: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: history points: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: history points: %w", err)
	}
	return ids, nil
}

// RunRetention prunes the events older than events and the history older than history (0: keep forever) at once
// and then every period, until ctx ends; it logs what it deleted and the errors, and returns nil when ctx ends.
func (s *Store) RunRetention(ctx context.Context, events, history, every time.Duration) error {
	if events < 0 || history < 0 || every <= 0 {
		return fmt.Errorf("store: retention: events %v and history %v must not be negative, every %v positive", events, history, every)
	}
	cut := func(now time.Time, keep time.Duration) time.Time {
		if keep == 0 {
			return time.Time{}
		}
		return now.Add(-keep)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		now := time.Now()
		r, err := s.Prune(ctx, cut(now, events), cut(now, history))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Error("store: retention", "err", err)
		case r.Events > 0 || r.Samples > 0:
			s.log.Info("store: retention pruned", "events", r.Events, "samples", r.Samples, "events_keep", events, "history_keep", history)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
