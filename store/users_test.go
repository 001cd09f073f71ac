package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir(), Options{})
	alice := User{Name: "alice", Role: "operator", PasswordHash: "h1", Areas: []string{"north", "south/s1"}, Created: t0}
	if err := s.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, User{Name: "bob", Role: "admin", PasswordHash: "h2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, User{Name: "alice", Role: "viewer"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate user: %v, want ErrExists", err)
	}
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "alice" || got.Role != "operator" || got.PasswordHash != "h1" || !slices.Equal(got.Areas, alice.Areas) ||
		!got.Created.Equal(t0) || got.Disabled {
		t.Errorf("GetUser %+v, want %+v", got, alice)
	}
	if _, err := s.GetUser(ctx, "carol"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetUser of nobody: %v, want ErrNotFound", err)
	}
	if err := s.UpdatePassword(ctx, "alice", "h3"); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdatePassword(ctx, "carol", "h3"); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdatePassword of nobody: %v, want ErrNotFound", err)
	}
	if err := s.UpdateUser(ctx, User{Name: "alice", Role: "engineer", Disabled: true}); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetUser(ctx, "alice")
	if err != nil || got.PasswordHash != "h3" || got.Role != "engineer" || !got.Disabled || got.Areas != nil {
		t.Errorf("after updates: %+v, %v", got, err)
	}
	us, err := s.ListUsers(ctx)
	if err != nil || len(us) != 2 || us[0].Name != "alice" || us[1].Name != "bob" {
		t.Errorf("ListUsers %+v, %v", us, err)
	}

	// Sessions.
	ss := Session{IDHash: "s1", User: "alice", CSRF: "c1", Created: t0, Client: "10.0.0.1:5000"}
	if err := s.CreateSession(ctx, ss); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, Session{IDHash: "s2", User: "alice", CSRF: "c2", Created: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, Session{IDHash: "s3", User: "bob", CSRF: "c3", Created: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, Session{IDHash: "s1", User: "bob"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate session: %v, want ErrExists", err)
	}
	if err := s.CreateSession(ctx, Session{IDHash: "s9", User: "carol"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("session of nobody: %v, want ErrNotFound", err)
	}
	gs, err := s.GetSession(ctx, "s1")
	if err != nil || gs.User != "alice" || gs.CSRF != "c1" || !gs.Created.Equal(t0) || !gs.LastSeen.Equal(t0) ||
		gs.Client != "10.0.0.1:5000" {
		t.Errorf("GetSession %+v, %v", gs, err)
	}
	if err := s.TouchSession(ctx, "s1", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, "s1", t0.Add(time.Hour)); err != nil { // older: kept the later
		t.Fatal(err)
	}
	if gs, _ := s.GetSession(ctx, "s1"); !gs.LastSeen.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("LastSeen %v after touches", gs.LastSeen)
	}
	if err := s.TouchSession(ctx, "nope", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("TouchSession of nothing: %v, want ErrNotFound", err)
	}
	// Idle since before t0+90min: s3 (t0) goes, s2 (t0+1h) goes, s1 (t0+2h) stays.
	n, err := s.PruneSessions(ctx, t0.Add(90*time.Minute), time.Time{})
	if err != nil || n != 2 {
		t.Errorf("PruneSessions: %d, %v; want 2", n, err)
	}
	if err := s.CreateSession(ctx, Session{IDHash: "s4", User: "alice", Created: t0.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Absolute lifetime: created before t0+150min.
	if n, err := s.PruneSessions(ctx, time.Time{}, t0.Add(150*time.Minute)); err != nil || n != 1 {
		t.Errorf("PruneSessions by age: %d, %v; want 1", n, err)
	}
	if n, err := s.DeleteUserSessions(ctx, "alice"); err != nil || n != 1 {
		t.Errorf("DeleteUserSessions: %d, %v; want 1", n, err)
	}
	if err := s.CreateSession(ctx, Session{IDHash: "s5", User: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "s5"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "s5"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteSession: %v, want ErrNotFound", err)
	}

	// Deleting a user deletes its sessions.
	if err := s.CreateSession(ctx, Session{IDHash: "s6", User: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, "s6"); !errors.Is(err, ErrNotFound) {
		t.Errorf("session of a deleted user: %v, want ErrNotFound", err)
	}
	if err := s.DeleteUser(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteUser: %v, want ErrNotFound", err)
	}
}
