package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Event kinds.
const (
	KindPoint    = "point"    // a discrete point changed (the sequence of events)
	KindAlarm    = "alarm"    // an alarm transition
	KindOperator = "operator" // an operator action
	KindCommand  = "command"  // a command step
	KindLink     = "link"     // a link changed state
	KindSecurity = "security" // something this HMI did not cause, a TLS failure
	KindAnomaly  = "anomaly"  // a protocol oddity
	KindDevice   = "device"   // the device reports itself
)

// Event is one entry of the journal.
type Event struct {
	ID      int64     // assigned by the store
	Time    time.Time // the source time when the device gave one, else the receive time; zero: Recv
	Recv    time.Time // when the HMI received it; zero: when it was queued
	Kind    string    // one of the Kind constants
	Point   string    // point ID
	Area    string    // slash path
	Link    string
	User    string
	Message string
	Value   *float64 // the value, for point events
	State   string   // the value's state label ("ON"), or the alarm's state
	Quality string   // points.Quality.String() of the value
}

// EventQuery selects events. Zero fields do not filter.
type EventQuery struct {
	From, To time.Time // Time in [From, To)
	Point    string    // exact point ID
	Area     string    // the area and everything below it: "north" matches "north" and "north/f1", not "northeast"
	Kind     string
	Text     string // substring of message, point, user or state, ignoring ASCII case; taken literally
	Limit    int    // page size; DefaultEventLimit when 0, at most MaxEventLimit (ExportCSV: 0 is no limit)
	Cursor   string // from a previous page: continue after its last event
}

// Page sizes of Events.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 10000
)

const insertEventSQL = `INSERT INTO events (t, recv, kind, point, area, link, user_name, message, value, state, quality)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// maxEventRows is the most events one INSERT of the writer's holds, 1<<maxEventRowsLog. Each statement costs a round
// through database/sql and the driver; 64 rows of 11 values are well under SQLite's limit of 32766 parameters.
const (
	maxEventRowsLog = 6
	maxEventRows    = 1 << maxEventRowsLog
)

// insertEventsSQL returns the INSERT of n events in one statement.
//
// OR FAIL: when a row fails, the rows before it stay and the statement stops. SQLite can then skip the statement
// journal that it keeps for a statement of several rows that may be undone (ABORT, the default), a copy of every page
// the statement changes. The writer does not keep a partly written statement: it undoes the transaction and writes
// it again a statement per event (see rowsError).
func insertEventsSQL(n int) string {
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	var b strings.Builder
	b.WriteString("INSERT OR FAIL INTO events (t, recv, kind, point, area, link, user_name, message, value, state, quality) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// eventItem is a queued event.
type eventItem Event

func (e *eventItem) write(w *writer) error {
	_, err := w.insEvent.ExecContext(w.ctx, eventArgs((*Event)(e))...)
	return err
}

// eventArgs returns the values of insertEventSQL.
func eventArgs(e *Event) []any {
	return appendEventArgs(make([]any, 0, 11), e)
}

// appendEventArgs appends the values of one row of insertEventSQL.
func appendEventArgs(args []any, e *Event) []any {
	var v any
	if e.Value != nil {
		v = *e.Value
	}
	return append(args, e.Time.UnixNano(), e.Recv.UnixNano(), e.Kind, e.Point, e.Area, e.Link, e.User, e.Message, v,
		e.State, e.Quality)
}

// prepare fills the defaults of an event to be written.
func (e *Event) prepare() {
	if e.Recv.IsZero() {
		e.Recv = time.Now()
	}
	if e.Time.IsZero() {
		e.Time = e.Recv
	}
}

// QueueEvent queues an event for the group commit; it never blocks (ErrQueueFull).
func (s *Store) QueueEvent(e Event) error {
	e.prepare()
	it := eventItem(e)
	return s.enqueue(&it)
}

// AddEvent writes an event and returns when it is committed.
func (s *Store) AddEvent(ctx context.Context, e Event) error {
	e.prepare()
	return s.do(ctx, func(w *writer) error {
		_, err := w.insEvent.ExecContext(w.ctx, eventArgs(&e)...)
		return err
	})
}

// cursor tags, so that one kind of cursor is not taken for another.
const (
	cursorEvent byte = 'e'
	cursorAudit byte = 'a'
)

// encodeCursor returns the opaque form of a position: a tag and int64s, in base64url.
func encodeCursor(tag byte, vals ...int64) string {
	b := make([]byte, 1, 1+8*len(vals))
	b[0] = tag
	for _, v := range vals {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor is the inverse of encodeCursor, for n values.
func decodeCursor(c string, tag byte, n int) ([]int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != 1+8*n || b[0] != tag {
		return nil, fmt.Errorf("%w %q", ErrBadCursor, c)
	}
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = int64(binary.BigEndian.Uint64(b[1+8*i:]))
	}
	return vals, nil
}

// eventWhere returns the WHERE clause and arguments of q, without the limit.
func eventWhere(q EventQuery) (string, []any, error) {
	var (
		conds []string
		args  []any
	)
	if !q.From.IsZero() {
		conds = append(conds, "t >= ?")
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		conds = append(conds, "t < ?")
		args = append(args, q.To.UnixNano())
	}
	if q.Point != "" {
		conds = append(conds, "point = ?")
		args = append(args, q.Point)
	}
	if a := strings.TrimRight(q.Area, "/"); a != "" {
		// Below "a": from "a/" up to "a0" ('0' follows '/'), a range the area index serves.
		conds = append(conds, "(area = ? OR (area >= ? AND area < ?))")
		args = append(args, a, a+"/", a+"0")
	}
	if q.Kind != "" {
		conds = append(conds, "kind = ?")
		args = append(args, q.Kind)
	}
	if q.Text != "" {
		// instr takes its argument as a plain string: no LIKE wildcards to escape.
		conds = append(conds, "(instr(lower(message), lower(?)) > 0 OR instr(lower(point), lower(?)) > 0 OR "+
			"instr(lower(user_name), lower(?)) > 0 OR instr(lower(state), lower(?)) > 0)")
		args = append(args, q.Text, q.Text, q.Text, q.Text)
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, cursorEvent, 2)
		if err != nil {
			return "", nil, err
		}
		// A row value, which the planner turns into a range of the index: a true keyset, whatever the depth.
		conds = append(conds, "(t, id) < (?, ?)")
		args = append(args, c[0], c[1])
	}
	if len(conds) == 0 {
		return "", args, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

const eventColumns = "id, t, recv, kind, point, area, link, user_name, message, value, state, quality"

// scanEvent reads a row of eventColumns.
func scanEvent(rows *sql.Rows) (Event, error) {
	var (
		e       Event
		t, recv int64
		v       sql.NullFloat64
	)
	if err := rows.Scan(&e.ID, &t, &recv, &e.Kind, &e.Point, &e.Area, &e.Link, &e.User, &e.Message, &v, &e.State,
		&e.Quality); err != nil {
		return Event{}, err
	}
	e.Time, e.Recv = time.Unix(0, t).UTC(), time.Unix(0, recv).UTC()
	if v.Valid {
		e.Value = &v.Float64
	}
	return e, nil
}

// Events returns the events q selects, newest first (by Time, then by ID), and the cursor of the next page, empty
// after the last page. A cursor that is not one of Events' is ErrBadCursor.
func (s *Store) Events(ctx context.Context, q EventQuery) ([]Event, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	limit = min(limit, MaxEventLimit)
	where, args, err := eventWhere(q)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+eventColumns+" FROM events"+where+
		" ORDER BY t DESC, id DESC LIMIT "+strconv.Itoa(limit+1), args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var evs []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: events: %w", err)
		}
		evs = append(evs, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: events: %w", err)
	}
	var next string
	if len(evs) > limit {
		evs = evs[:limit]
		last := evs[limit-1]
		next = encodeCursor(cursorEvent, last.Time.UnixNano(), last.ID)
	}
	return evs, next, nil
}

// csvHeader is the first line of ExportCSV.
var csvHeader = []string{"id", "time", "recv", "kind", "point", "area", "link", "user", "value", "state", "quality", "message"}

// ExportCSV writes the events q selects to w as CSV, newest first, with a header line and RFC 3339 times in UTC. It
// streams: rows are written as they are read, a buffer of a few kilobytes at a time, never the whole result in
// memory. A Limit of 0 exports everything. Text fields that a spreadsheet would take for a formula (starting with
// =, +, -, @, tab or carriage return) get a leading apostrophe.
func (s *Store) ExportCSV(ctx context.Context, q EventQuery, w io.Writer) error {
	where, args, err := eventWhere(q)
	if err != nil {
		return err
	}
	query := "SELECT " + eventColumns + " FROM events" + where + " ORDER BY t DESC, id DESC"
	if q.Limit > 0 {
		query += " LIMIT " + strconv.Itoa(q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	rec := make([]string, len(csvHeader))
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("store: export: %w", err)
		}
		v := ""
		if e.Value != nil {
			v = strconv.FormatFloat(*e.Value, 'g', -1, 64)
		}
		rec[0] = strconv.FormatInt(e.ID, 10)
		rec[1] = e.Time.Format(time.RFC3339Nano)
		rec[2] = e.Recv.Format(time.RFC3339Nano)
		rec[3] = safeCell(e.Kind)
		rec[4] = safeCell(e.Point)
		rec[5] = safeCell(e.Area)
		rec[6] = safeCell(e.Link)
		rec[7] = safeCell(e.User)
		rec[8] = v
		rec[9] = safeCell(e.State)
		rec[10] = safeCell(e.Quality)
		rec[11] = safeCell(e.Message)
		if err := cw.Write(rec); err != nil { // buffered: the writer gets the bytes a buffer at a time
			return fmt.Errorf("store: export: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("store: export: %w", err)
	}
	return nil
}

// safeCell defuses text that a spreadsheet would run as a formula.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
