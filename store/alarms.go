package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"hmi/alarms"
)

// The Store is the alarm engine's journal, with batches.
var _ alarms.BatchJournal = (*Store)(nil)

// transitionItem is a queued alarm transition.
type transitionItem alarms.Transition

func (t *transitionItem) write(w *writer) error {
	return w.savepoint(func(w *writer) error { return writeTransition(w, (*alarms.Transition)(t)) })
}

// SaveTransition writes a transition and returns when it is committed: for operator actions (ack, shelve, ...).
// Like QueueTransition, it updates the alarm's saved state, records the transition, and adds an event of kind
// "alarm" to the journal.
func (s *Store) SaveTransition(ctx context.Context, t alarms.Transition) error {
	return s.do(ctx, func(w *writer) error { return writeTransition(w, &t) })
}

// SaveTransitions writes several transitions in order, all or none, and returns when they are committed: for an
// operator action on many alarms (acknowledge all visible).
func (s *Store) SaveTransitions(ctx context.Context, ts []alarms.Transition) error {
	return s.do(ctx, func(w *writer) error { // in one savepoint: an error undoes them all
		for i := range ts {
			if err := writeTransition(w, &ts[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// QueueTransition queues a transition of the engine's own for the group commit; it never blocks. A full queue is
// an error that is both ErrQueueFull and alarms.ErrQueueFull. A transition queued before a SaveTransition is
// written before it.
func (s *Store) QueueTransition(t alarms.Transition) error {
	it := transitionItem(t)
	err := s.enqueue(&it)
	if errors.Is(err, ErrQueueFull) {
		return fmt.Errorf("%w: %w", err, alarms.ErrQueueFull)
	}
	return err
}

const upsertAlarmSQL = `INSERT INTO alarm_states (id, source, point, link, area, priority, state, underlying, message, value,
	raised_at, cleared_at, acked_by, acked_at, comment, shelved_by, shelved_until, updated)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET source = excluded.source, point = excluded.point, link = excluded.link,
	area = excluded.area, priority = excluded.priority, state = excluded.state, underlying = excluded.underlying,
	message = excluded.message, value = excluded.value, raised_at = excluded.raised_at,
	cleared_at = excluded.cleared_at, acked_by = excluded.acked_by, acked_at = excluded.acked_at,
	comment = excluded.comment, shelved_by = excluded.shelved_by, shelved_until = excluded.shelved_until,
	updated = excluded.updated`

const insertTransitionSQL = `INSERT INTO alarm_transitions (alarm_id, at, from_state, to_state, underlying, user_name,
	action, comment, priority, value, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// writeTransition upserts the alarm's state, records the transition and its event, in the writer's transaction.
func writeTransition(w *writer, t *alarms.Transition) error {
	a := &t.Alarm
	if a.ID == "" {
		return itemError{fmt.Errorf("store: alarm transition without an alarm ID")}
	}
	at := t.At
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := w.upsertAlarm.ExecContext(w.ctx, a.ID, a.Source.String(), a.Point, a.Link, a.Area, int64(a.Priority),
		stateName(a.State), stateName(a.Underlying), a.Message, floatOrNull(a.Value), nanosOrNull(a.RaisedAt),
		nanosOrNull(a.ClearedAt), a.AckedBy, nanosOrNull(a.AckedAt), a.Comment, a.ShelvedBy,
		nanosOrNull(a.ShelvedUntil), at.UnixNano()); err != nil {
		return fmt.Errorf("store: alarm %q: %w", a.ID, err)
	}
	if _, err := w.insTransition.ExecContext(w.ctx, a.ID, at.UnixNano(), stateName(t.From), stateName(a.State), stateName(a.Underlying), t.User, t.Action,
		t.Comment, int64(a.Priority), floatOrNull(a.Value), a.Message); err != nil {
		return fmt.Errorf("store: alarm %q: transition: %w", a.ID, err)
	}
	msg := t.Action + ": " + a.Message
	if t.Comment != "" {
		msg += " (" + t.Comment + ")"
	}
	e := Event{Time: at, Recv: at, Kind: KindAlarm, Point: a.Point, Area: a.Area, Link: a.Link, User: t.User,
		Message: msg, State: stateName(a.State)}
	if !math.IsNaN(a.Value) && a.Point != "" {
		v := a.Value
		e.Value = &v
	}
	if _, err := w.insEvent.ExecContext(w.ctx, eventArgs(&e)...); err != nil {
		return fmt.Errorf("store: alarm %q: event: %w", a.ID, err)
	}
	return nil
}

// LoadAlarms returns the last saved state of every alarm, by ID.
func (s *Store) LoadAlarms(ctx context.Context) ([]alarms.Alarm, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, source, point, link, area, priority, state, underlying, message,
		value, raised_at, cleared_at, acked_by, acked_at, comment, shelved_by, shelved_until FROM alarm_states ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: load alarms: %w", err)
	}
	defer rows.Close()
	var as []alarms.Alarm
	for rows.Next() {
		var (
			a                                      alarms.Alarm
			source, state, underlying              string
			priority                               int64
			value                                  sql.NullFloat64
			raised, cleared, acked, shelvedUntilNs sql.NullInt64
		)
		if err := rows.Scan(&a.ID, &source, &a.Point, &a.Link, &a.Area, &priority, &state, &underlying, &a.Message,
			&value, &raised, &cleared, &a.AckedBy, &acked, &a.Comment, &a.ShelvedBy, &shelvedUntilNs); err != nil {
			return nil, fmt.Errorf("store: load alarms: %w", err)
		}
		if a.Source, err = parseSource(source); err != nil {
			return nil, fmt.Errorf("store: load alarm %q: %w", a.ID, err)
		}
		if a.State, err = parseState(state); err != nil {
			return nil, fmt.Errorf("store: load alarm %q: %w", a.ID, err)
		}
		if a.Underlying, err = parseState(underlying); err != nil {
			return nil, fmt.Errorf("store: load alarm %q: %w", a.ID, err)
		}
		a.Priority = alarms.Priority(priority)
		a.Value = nullFloat(value)
		a.RaisedAt, a.ClearedAt, a.AckedAt, a.ShelvedUntil = nullTime(raised), nullTime(cleared), nullTime(acked),
			nullTime(shelvedUntilNs)
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: load alarms: %w", err)
	}
	return as, nil
}

// AlarmHistory returns the last limit transitions of an alarm (all when limit <= 0), newest first. Each carries
// the alarm's ID, state, underlying state, priority, value and message after the transition; the alarm's other
// fields are in LoadAlarms.
func (s *Store) AlarmHistory(ctx context.Context, alarmID string, limit int) ([]alarms.Transition, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT at, from_state, to_state, underlying, user_name, action, comment,
		priority, value, message FROM alarm_transitions WHERE alarm_id = ? ORDER BY at DESC, id DESC LIMIT ?`, alarmID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: alarm history: %w", err)
	}
	defer rows.Close()
	var ts []alarms.Transition
	for rows.Next() {
		var (
			t                    alarms.Transition
			at, priority         int64
			from, to, underlying string
			value                sql.NullFloat64
		)
		if err := rows.Scan(&at, &from, &to, &underlying, &t.User, &t.Action, &t.Comment, &priority, &value,
			&t.Alarm.Message); err != nil {
			return nil, fmt.Errorf("store: alarm history: %w", err)
		}
		if t.From, err = parseState(from); err == nil {
			if t.Alarm.State, err = parseState(to); err == nil {
				t.Alarm.Underlying, err = parseState(underlying)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("store: alarm history %q: %w", alarmID, err)
		}
		t.At = time.Unix(0, at).UTC()
		t.Alarm.ID = alarmID
		t.Alarm.Priority = alarms.Priority(priority)
		t.Alarm.Value = nullFloat(value)
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: alarm history: %w", err)
	}
	return ts, nil
}

// stateName is how a state is stored: its name, empty for the zero state.
func stateName(s alarms.State) string {
	if s == 0 {
		return ""
	}
	return s.String()
}

// parseState is the inverse of stateName.
func parseState(s string) (alarms.State, error) {
	if s == "" {
		return 0, nil
	}
	return alarms.ParseState(s)
}

// parseSource is the inverse of Source.String.
func parseSource(s string) (alarms.Source, error) {
	for src := alarms.Source(1); src < 64; src++ {
		if n := src.String(); n == s {
			return src, nil
		} else if strings.HasPrefix(n, "Source(") {
			break
		}
	}
	if s == "" || s == "Source(0)" {
		return 0, nil
	}
	return 0, fmt.Errorf("unknown alarm source %q", s)
}

// nanosOrNull stores a time as Unix nanoseconds, the zero time as NULL.
func nanosOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// nullTime is the inverse of nanosOrNull.
func nullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// floatOrNull stores NaN as NULL (SQLite would anyway).
func floatOrNull(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// nullFloat is the inverse of floatOrNull.
func nullFloat(v sql.NullFloat64) float64 {
	if !v.Valid {
		return math.NaN()
	}
	return v.Float64
}
