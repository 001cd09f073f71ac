package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// AuditRecord is one row of the command audit trail: a step of a command, with who asked for it and what came of it.
type AuditRecord struct {
	ID        int64     // assigned by AppendAudit: 1, 2, 3, ... without gaps
	At        time.Time // zero: now
	CommandID string
	Point     string
	Link      string
	Step      string // select, select_con, execute, execute_con, execute_term, cancel, timeout, refused, ...
	Value     float64
	State     string // the command's state after the step
	User      string
	Session   string
	Client    string
	Cause     int  // IEC cause of transmission of the step's ASDU, 0 when none
	Negative  bool // the P/N bit
	LatencyMS float64
	Detail    string
	Hash      string // hex SHA-256 of the row, chained to the previous row's; set by the store
}

// AuditQuery selects audit records. Zero fields do not filter.
type AuditQuery struct {
	From, To  time.Time // At in [From, To)
	Point     string
	User      string
	CommandID string
	Limit     int // page size; DefaultEventLimit when 0, at most MaxEventLimit
	Cursor    string
}

// BreakReason says how the audit chain is broken.
type BreakReason uint8

// Reasons of an AuditBreak.
const (
	// BreakHash: the row's content and previous hash do not give its hash: the row was edited.
	BreakHash BreakReason = iota + 1
	// BreakPrevHash: the row's previous hash is not the hash of the row before it: a row before it was deleted,
	// inserted or moved (rows reordered), or the row was copied from elsewhere.
	BreakPrevHash
	// BreakIDGap: the row's ID does not follow the previous row's: rows between them were deleted.
	BreakIDGap
	// BreakHead: the chain does not end where the store last wrote it: rows at the end were deleted, or the record
	// of the end was edited.
	BreakHead
)

func (r BreakReason) String() string {
	switch r {
	case BreakHash:
		return "hash mismatch"
	case BreakPrevHash:
		return "previous-hash mismatch"
	case BreakIDGap:
		return "id gap"
	case BreakHead:
		return "end of chain mismatch"
	}
	return fmt.Sprintf("BreakReason(%d)", uint8(r))
}

// AuditBreak names the first broken row of the audit chain.
type AuditBreak struct {
	ID     int64 // the row at which the chain breaks
	Reason BreakReason
	Detail string // what was found and what it means
}

func (b *AuditBreak) Error() string {
	return fmt.Sprintf("store: audit chain broken at row %d: %v: %s", b.ID, b.Reason, b.Detail)
}

// AuditCheck is the outcome of CheckAudit.
type AuditCheck struct {
	Rows   int64       // rows checked
	LastID int64       // ID of the last row, 0 when there is none
	Head   string      // hex hash of the last row: note it down, and a later check can prove nothing was cut off
	Break  *AuditBreak // nil when the chain is whole
}

// auditVersion is the first field of the canonical encoding, so that a later encoding can be told apart.
const auditVersion = "hmi-audit-v1"

// canonical returns the encoding of a row that its hash covers: the version and then every field in a fixed order,
// integers as 8 bytes big-endian, floats as their IEEE 754 bits (every NaN as one NaN, -0 as 0), strings with a
// 4-byte length before them, booleans as one byte. Every field has a fixed size or a length, so two different rows
// never encode alike.
func canonical(r *AuditRecord) []byte {
	b := make([]byte, 0, 160+len(r.CommandID)+len(r.Point)+len(r.Link)+len(r.Step)+len(r.State)+len(r.User)+
		len(r.Session)+len(r.Client)+len(r.Detail))
	str := func(s string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	i64 := func(v int64) { b = binary.BigEndian.AppendUint64(b, uint64(v)) }
	f64 := func(v float64) {
		switch {
		case math.IsNaN(v):
			v = math.NaN()
		case v == 0:
			v = 0
		}
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	}
	str(auditVersion)
	i64(r.ID)
	i64(r.At.UnixNano())
	str(r.CommandID)
	str(r.Point)
	str(r.Link)
	str(r.Step)
	f64(r.Value)
	str(r.State)
	str(r.User)
	str(r.Session)
	str(r.Client)
	i64(int64(r.Cause))
	if r.Negative {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	f64(r.LatencyMS)
	str(r.Detail)
	return b
}

// chainHash is SHA-256(canonical(r) || prev).
func chainHash(r *AuditRecord, prev []byte) []byte {
	h := sha256.New()
	h.Write(canonical(r))
	h.Write(prev)
	return h.Sum(nil)
}

// genesis is the previous hash of row 1.
var genesis = make([]byte, sha256.Size)

// AppendAudit adds a record to the audit trail and returns its ID once it is committed. Appends are serialised by
// the writer, which reads the end of the chain in the same transaction, so the chain never forks.
func (s *Store) AppendAudit(ctx context.Context, r AuditRecord) (int64, error) {
	if r.At.IsZero() {
		r.At = time.Now()
	}
	r.At = r.At.UTC()
	var id int64
	err := s.do(ctx, func(w *writer) error {
		var (
			last int64
			prev []byte
		)
		err := w.queryRow(`SELECT last_id, hash FROM audit_head WHERE one = 1`).Scan(&last, &prev)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			last, prev = 0, genesis
		case err != nil:
			return fmt.Errorf("store: audit: %w", err)
		}
		r.ID = last + 1
		hash := chainHash(&r, prev)
		if _, err := w.exec(`INSERT INTO audit (id, at, command_id, point, link, step, value, state, user_name, session,
			client, cause, negative, latency_ms, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.At.UnixNano(), r.CommandID, r.Point, r.Link, r.Step, floatOrNull(r.Value), r.State, r.User, r.Session,
			r.Client, int64(r.Cause), r.Negative, floatOrNull(r.LatencyMS), r.Detail, prev, hash); err != nil {
			return fmt.Errorf("store: audit: %w", err)
		}
		if _, err := w.exec(`INSERT INTO audit_head (one, last_id, hash) VALUES (1, ?, ?)
			ON CONFLICT (one) DO UPDATE SET last_id = excluded.last_id, hash = excluded.hash`, r.ID, hash); err != nil {
			return fmt.Errorf("store: audit head: %w", err)
		}
		id = r.ID
		return nil
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

const auditColumns = `id, at, command_id, point, link, step, value, state, user_name, session, client, cause, negative,
	latency_ms, detail, prev_hash, hash`

// scanAudit reads a row of auditColumns.
func scanAudit(rows *sql.Rows) (r AuditRecord, prev, hash []byte, err error) {
	var (
		at, cause        int64
		value, latencyMS sql.NullFloat64
	)
	err = rows.Scan(&r.ID, &at, &r.CommandID, &r.Point, &r.Link, &r.Step, &value, &r.State, &r.User, &r.Session,
		&r.Client, &cause, &r.Negative, &latencyMS, &r.Detail, &prev, &hash)
	r.At = time.Unix(0, at).UTC()
	r.Cause = int(cause)
	r.Value, r.LatencyMS = nullFloat(value), nullFloat(latencyMS)
	r.Hash = hex.EncodeToString(hash)
	return r, prev, hash, err
}

// VerifyAudit walks the audit chain and returns the first broken row, or nil when the chain is whole.
func (s *Store) VerifyAudit(ctx context.Context) (*AuditBreak, error) {
	c, err := s.CheckAudit(ctx)
	return c.Break, err
}

// CheckAudit walks the audit chain from row 1, in one read transaction, and checks for each row that its ID
// follows the previous one, that its previous hash is the previous row's hash, and that its content and previous
// hash give its hash; and at the end that the chain ends where the store last appended. It stops at the first
// break.
func (s *Store) CheckAudit(ctx context.Context) (AuditCheck, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return AuditCheck{}, fmt.Errorf("store: verify audit: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, "SELECT "+auditColumns+" FROM audit ORDER BY id")
	if err != nil {
		return AuditCheck{}, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	var (
		c        AuditCheck
		lastHash = genesis
	)
	for rows.Next() {
		r, prev, hash, err := scanAudit(rows)
		if err != nil {
			return c, fmt.Errorf("store: verify audit: %w", err)
		}
		switch {
		case r.ID != c.LastID+1:
			what := fmt.Sprintf("rows %d to %d are missing (deleted)", c.LastID+1, r.ID-1)
			if r.ID == c.LastID+2 {
				what = fmt.Sprintf("row %d is missing (deleted)", c.LastID+1)
			}
			if r.ID <= c.LastID {
				what = "IDs out of order"
			}
			if c.LastID == 0 {
				c.Break = &AuditBreak{ID: r.ID, Reason: BreakIDGap, Detail: fmt.Sprintf("the chain starts at row %d, not 1: %s", r.ID, what)}
			} else {
				c.Break = &AuditBreak{ID: r.ID, Reason: BreakIDGap, Detail: fmt.Sprintf("follows row %d: %s", c.LastID, what)}
			}
		case !bytes.Equal(prev, lastHash):
			c.Break = &AuditBreak{ID: r.ID, Reason: BreakPrevHash, Detail: fmt.Sprintf(
				"its previous hash %s is not the hash of row %d (%s): a row before it was deleted, inserted or moved, or rows were reordered",
				short(prev), c.LastID, short(lastHash))}
		case !bytes.Equal(chainHash(&r, prev), hash):
			c.Break = &AuditBreak{ID: r.ID, Reason: BreakHash, Detail: fmt.Sprintf(
				"its content does not give its hash %s: the row was edited", short(hash))}
		}
		if c.Break != nil {
			return c, nil
		}
		c.Rows++
		c.LastID = r.ID
		lastHash = hash
	}
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("store: verify audit: %w", err)
	}
	var (
		headID   int64
		headHash []byte
	)
	err = tx.QueryRowContext(ctx, `SELECT last_id, hash FROM audit_head WHERE one = 1`).Scan(&headID, &headHash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if c.Rows > 0 {
			c.Break = &AuditBreak{ID: c.LastID, Reason: BreakHead, Detail: "the record of the chain's end is missing (deleted)"}
		}
	case err != nil:
		return c, fmt.Errorf("store: verify audit: %w", err)
	case headID != c.LastID || !bytes.Equal(headHash, lastHash):
		id := c.LastID
		detail := fmt.Sprintf("the chain ends at row %d but the store last appended row %d (%s)", c.LastID, headID, short(headHash))
		switch {
		case headID == c.LastID+1:
			id = headID
			detail += fmt.Sprintf(": row %d was deleted", headID)
		case headID > c.LastID:
			id = c.LastID + 1
			detail += fmt.Sprintf(": rows %d to %d were deleted", c.LastID+1, headID)
		}
		c.Break = &AuditBreak{ID: id, Reason: BreakHead, Detail: detail}
	}
	if c.LastID > 0 {
		c.Head = hex.EncodeToString(lastHash)
	}
	return c, nil
}

// short returns the first 12 hex digits of a hash, for messages.
func short(h []byte) string {
	s := hex.EncodeToString(h)
	if len(s) > 12 {
		return s[:12] + "…"
	}
	if s == "" {
		return "(none)"
	}
	return s
}

// Audit returns the audit records q selects, newest first, and the cursor of the next page (empty after the last).
func (s *Store) Audit(ctx context.Context, q AuditQuery) ([]AuditRecord, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	limit = min(limit, MaxEventLimit)
	var (
		conds []string
		args  []any
	)
	if !q.From.IsZero() {
		conds = append(conds, "at >= ?")
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		conds = append(conds, "at < ?")
		args = append(args, q.To.UnixNano())
	}
	if q.Point != "" {
		conds = append(conds, "point = ?")
		args = append(args, q.Point)
	}
	if q.User != "" {
		conds = append(conds, "user_name = ?")
		args = append(args, q.User)
	}
	if q.CommandID != "" {
		conds = append(conds, "command_id = ?")
		args = append(args, q.CommandID)
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, cursorAudit, 1)
		if err != nil {
			return nil, "", err
		}
		conds = append(conds, "id < ?")
		args = append(args, c[0])
	}
	query := "SELECT " + auditColumns + " FROM audit"
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, query+" ORDER BY id DESC LIMIT "+strconv.Itoa(limit+1), args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	var rs []AuditRecord
	for rows.Next() {
		r, _, _, err := scanAudit(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: audit: %w", err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: audit: %w", err)
	}
	var next string
	if len(rs) > limit {
		rs = rs[:limit]
		next = encodeCursor(cursorAudit, rs[limit-1].ID)
	}
	return rs, next, nil
}
