package store

import (
	"context"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"
)

// auditChain opens a store in a new directory with n audit records appended concurrently.
func auditChain(t *testing.T, n int) *Store {
	t.Helper()
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	var wg sync.WaitGroup
	ids := make(chan int64, n)
	for i := range n {
		wg.Go(func() {
			id, err := s.AppendAudit(ctx, AuditRecord{At: t0.Add(time.Duration(i) * time.Second), CommandID: "c" + strconv.Itoa(i/3),
				Point: "north.f1.brk", Link: "north", Step: "execute", Value: float64(i), State: "executing", User: "alice",
				Session: "s1", Client: "10.0.0.1", Cause: 7, Negative: i%5 == 0, LatencyMS: 12.5, Detail: "d" + strconv.Itoa(i)})
			if err != nil {
				t.Error(err)
			}
			ids <- id
		})
	}
	wg.Wait()
	close(ids)
	seen := make(map[int64]bool)
	for id := range ids {
		if id < 1 || id > int64(n) || seen[id] {
			t.Fatalf("AppendAudit returned ID %d twice or out of 1..%d", id, n)
		}
		seen[id] = true
	}
	return s
}

func TestAuditChain(t *testing.T) {
	ctx := context.Background()
	s := auditChain(t, 30)
	c, err := s.CheckAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Break != nil || c.Rows != 30 || c.LastID != 30 || len(c.Head) != 64 {
		t.Fatalf("CheckAudit of a whole chain: %+v (break %v)", c, c.Break)
	}
	if b, err := s.VerifyAudit(ctx); b != nil || err != nil {
		t.Fatalf("VerifyAudit: %v, %v", b, err)
	}

	// Query, newest first, paginated.
	var all []AuditRecord
	for cursor := ""; ; {
		page, next, err := s.Audit(ctx, AuditQuery{Limit: 7, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 30 || all[0].ID != 30 || all[29].ID != 1 || all[0].Hash != c.Head {
		t.Errorf("Audit pages: %d records, first %d, last %d", len(all), all[0].ID, all[len(all)-1].ID)
	}
	r := all[29]
	if r.Point != "north.f1.brk" || r.Link != "north" || r.Step != "execute" || r.State != "executing" || r.User != "alice" ||
		r.Session != "s1" || r.Client != "10.0.0.1" || r.Cause != 7 || r.LatencyMS != 12.5 || r.Detail == "" {
		t.Errorf("record %+v", r)
	}
	if rs, _, err := s.Audit(ctx, AuditQuery{CommandID: "c2"}); err != nil || len(rs) != 3 {
		t.Errorf("by command: %d, %v", len(rs), err)
	}
	if rs, _, err := s.Audit(ctx, AuditQuery{From: t0.Add(10 * time.Second), To: t0.Add(20 * time.Second), User: "alice"}); err != nil || len(rs) != 10 {
		t.Errorf("by time: %d, %v", len(rs), err)
	}
	if _, _, err := s.Audit(ctx, AuditQuery{Cursor: encodeCursor(cursorEvent, 1, 2)}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("event cursor for audit: %v", err)
	}
}

func TestAuditSpecialValues(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	for _, v := range []float64{math.NaN(), math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 1e-300, -5} {
		if _, err := s.AppendAudit(ctx, AuditRecord{Step: "select", Value: v, LatencyMS: v}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AppendAudit(ctx, AuditRecord{Step: "select", Detail: "unicode: ü € 😀, a NUL \x00 and\nnewline"}); err != nil {
		t.Fatal(err)
	}
	if b, err := s.VerifyAudit(ctx); b != nil || err != nil {
		t.Errorf("VerifyAudit: %v, %v", b, err)
	}
}

func TestCanonicalUnambiguous(t *testing.T) {
	// Moving text from one field to the next changes the encoding.
	a := AuditRecord{ID: 1, At: t0, Point: "ab", Link: "c"}
	b := AuditRecord{ID: 1, At: t0, Point: "a", Link: "bc"}
	if string(canonical(&a)) == string(canonical(&b)) {
		t.Error("two records encode alike")
	}
	// Stable: a golden hash of a fixed record, so a change of the encoding does not go unnoticed.
	r := AuditRecord{ID: 7, At: time.Unix(1700000000, 5).UTC(), CommandID: "c", Point: "p", Link: "l", Step: "execute",
		Value: 1, State: "confirmed", User: "u", Session: "s", Client: "127.0.0.1", Cause: 7, Negative: true,
		LatencyMS: 3.25, Detail: "d"}
	got := hex.EncodeToString(chainHash(&r, genesis))
	const want = "787e2dd77d53e33b1d855d0a517d0566542f20a5a3096966d1a3e0c5e552fc3e"
	if got != want {
		t.Errorf("hash of the golden record %s, want %s", got, want)
	}
}

func TestAuditTamper(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		sql    []string
		id     int64
		reason BreakReason
	}{
		{"edited", []string{`UPDATE audit SET value = 99 WHERE id = 4`}, 4, BreakHash},
		{"edited user", []string{`UPDATE audit SET user_name = 'mallory' WHERE id = 9`}, 9, BreakHash},
		{"hash edited", []string{`UPDATE audit SET hash = zeroblob(32) WHERE id = 4`}, 4, BreakHash},
		{"deleted", []string{`DELETE FROM audit WHERE id = 4`}, 5, BreakIDGap},
		{"deleted two", []string{`DELETE FROM audit WHERE id IN (4, 5)`}, 6, BreakIDGap},
		{"deleted first", []string{`DELETE FROM audit WHERE id = 1`}, 2, BreakIDGap},
		{"deleted and renumbered", []string{`DELETE FROM audit WHERE id = 4`,
			`UPDATE audit SET id = id - 1 WHERE id > 4`}, 4, BreakPrevHash},
		{"swapped", []string{
			// Rows 4 and 5 exchange everything but their IDs: the order of the records changed.
			`UPDATE audit SET id = -4 WHERE id = 4`, `UPDATE audit SET id = 4 WHERE id = 5`, `UPDATE audit SET id = 5 WHERE id = -4`},
			4, BreakPrevHash},
		{"deleted at the end", []string{`DELETE FROM audit WHERE id = 10`}, 10, BreakHead},
		{"head deleted", []string{`DELETE FROM audit_head`}, 10, BreakHead},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := auditChain(t, 10)
			for _, q := range tt.sql {
				if _, err := s.db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			b, err := s.VerifyAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if b == nil {
				t.Fatal("VerifyAudit found no break")
			}
			if b.ID != tt.id || b.Reason != tt.reason {
				t.Errorf("break at row %d: %v (%s), want row %d: %v", b.ID, b.Reason, b.Detail, tt.id, tt.reason)
			}
			t.Log(b)
		})
	}
}

func TestAuditEditRehashed(t *testing.T) {
	// Whoever edits a row and recomputes its hash breaks the next row's link.
	ctx := context.Background()
	s := auditChain(t, 10)
	rs, _, err := s.Audit(ctx, AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[len(rs)-4] // row 4
	var prev []byte
	if err := s.db.QueryRowContext(ctx, `SELECT prev_hash FROM audit WHERE id = 4`).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	r.Value = 1234
	if _, err := s.db.ExecContext(ctx, `UPDATE audit SET value = ?, hash = ? WHERE id = 4`, r.Value, chainHash(&r, prev)); err != nil {
		t.Fatal(err)
	}
	b, err := s.VerifyAudit(ctx)
	if err != nil || b == nil || b.ID != 5 || b.Reason != BreakPrevHash {
		t.Errorf("VerifyAudit: %v, %v; want a previous-hash mismatch at row 5", b, err)
	}
}

func TestAuditAfterTailDeleted(t *testing.T) {
	// An append after the last row was deleted chains from the recorded end: the gap shows.
	ctx := context.Background()
	s := auditChain(t, 5)
	if _, err := s.db.ExecContext(ctx, `DELETE FROM audit WHERE id = 5`); err != nil {
		t.Fatal(err)
	}
	id, err := s.AppendAudit(ctx, AuditRecord{Step: "select"})
	if err != nil || id != 6 {
		t.Fatalf("AppendAudit: %d, %v; want 6", id, err)
	}
	b, err := s.VerifyAudit(ctx)
	if err != nil || b == nil || b.ID != 6 || b.Reason != BreakIDGap {
		t.Errorf("VerifyAudit: %v, %v; want an id gap at row 6", b, err)
	}
}
