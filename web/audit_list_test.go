package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fakeAudit returns its entries, as the store does: newest (highest ID) first.
type fakeAudit struct{ entries []AuditEntry }

func (f *fakeAudit) AppendAudit(_ context.Context, e AuditEntry) (int64, error) {
	e.ID = int64(len(f.entries) + 1)
	f.entries = append([]AuditEntry{e}, f.entries...)
	return e.ID, nil
}

func (f *fakeAudit) Audit(context.Context, AuditQuery) ([]AuditEntry, string, error) {
	return f.entries, "", nil
}

// TestAuditStepsInTimeOrder checks that the audit page lists a command's steps by their time, not in the order
// they were written, and names the command's value by the control's label.
func TestAuditStepsInTimeOrder(t *testing.T) {
	audit := &fakeAudit{}
	t0 := time.Date(2026, 3, 2, 9, 41, 0, 0, time.Local)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Written in this order: the final "terminated" row before the ACTTERM that the device sent earlier.
	for _, e := range []AuditEntry{
		{At: at(0), Step: "select", State: "selecting", Cause: 6},
		{At: at(40), Step: "select_con", State: "selected", Cause: 7},
		{At: at(1000), Step: "execute", State: "executing", Cause: 6},
		{At: at(1041), Step: "execute_con", State: "confirmed", Cause: 7},
		{At: at(1100), Step: "terminated", State: "terminated"},
		{At: at(1090), Step: "execute_term", State: "terminated", Cause: 10},
	} {
		e.CommandID, e.Point, e.Value, e.User = "c1", "n.brk", 2, "op"
		audit.AppendAudit(context.Background(), e)
	}
	audit.AppendAudit(context.Background(), AuditEntry{At: at(2000), CommandID: "c2", Point: "n.i", Value: 12.5, User: "op", Step: "select"})
	a, _ := newTestApp(t, Deps{Audit: audit, Controls: []Control{{Point: "n.brk", Type: "double", SBO: true}}})
	r := httptest.NewRequest(http.MethodGet, "/audit", nil)
	r = r.WithContext(WithIdentity(r.Context(), &Identity{User: User{Name: "eng", Role: RoleEngineer}}))
	w := httptest.NewRecorder()
	a.AuditList(w, r)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, body)
	}
	c1 := body[strings.Index(body, `data-command="c1"`):]
	c1 = c1[:strings.Index(c1, "</section>")]
	var steps []string
	for _, m := range regexp.MustCompile(`<tr><td><time[^>]*>[^<]*</time></td><td>([a-z_]+)`).FindAllStringSubmatch(c1, -1) {
		steps = append(steps, m[1])
	}
	if got, want := strings.Join(steps, " "), "select select_con execute execute_con execute_term terminated"; got != want {
		t.Errorf("steps %q, want %q", got, want)
	}
	if !strings.Contains(c1, "n.brk → CLOSED") {
		t.Errorf("command c1 does not name its value by the label CLOSED:\n%s", c1)
	}
	if !strings.Contains(body, "n.i → 12.5 A") {
		t.Errorf("set-point value without its unit:\n%s", body)
	}
}
