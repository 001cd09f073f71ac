package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// User is an account. The store keeps the password hash the caller computed; it never sees a password.
type User struct {
	Name         string
	Role         string
	PasswordHash string
	Areas        []string // the areas the user may see and operate; empty: all
	Created      time.Time
	Disabled     bool
}

// Session is a logged-in browser session. IDHash is a hash of the cookie's value, so that the database does not
// hold anything that logs in.
type Session struct {
	IDHash   string
	User     string
	CSRF     string
	Created  time.Time
	LastSeen time.Time
	Client   string // the client's address
}

// CreateUser adds a user; ErrExists when the name is taken. A zero Created is now.
func (s *Store) CreateUser(ctx context.Context, u User) error {
	if u.Name == "" {
		return errors.New("store: user without a name")
	}
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	areas, err := json.Marshal(nonNil(u.Areas))
	if err != nil {
		return fmt.Errorf("store: user %q: %w", u.Name, err)
	}
	return s.do(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO users (name, role, password_hash, areas, created, disabled) VALUES (?, ?, ?, ?, ?, ?)`,
			u.Name, u.Role, u.PasswordHash, string(areas), u.Created.UnixNano(), u.Disabled)
		if isConstraint(err) {
			return itemError{fmt.Errorf("%w: user %q", ErrExists, u.Name)}
		}
		if err != nil {
			return fmt.Errorf("store: create user %q: %w", u.Name, err)
		}
		return nil
	})
}

// UpdateUser changes a user's role, areas and disabled flag (not the password: UpdatePassword); ErrNotFound when
// there is no such user.
func (s *Store) UpdateUser(ctx context.Context, u User) error {
	areas, err := json.Marshal(nonNil(u.Areas))
	if err != nil {
		return fmt.Errorf("store: user %q: %w", u.Name, err)
	}
	return s.do(ctx, func(w *writer) error {
		res, err := w.exec(`UPDATE users SET role = ?, areas = ?, disabled = ? WHERE name = ?`,
			u.Role, string(areas), u.Disabled, u.Name)
		return changed(res, err, fmt.Sprintf("user %q", u.Name))
	})
}

// UpdatePassword replaces a user's password hash; ErrNotFound when there is no such user.
func (s *Store) UpdatePassword(ctx context.Context, name, hash string) error {
	return s.do(ctx, func(w *writer) error {
		res, err := w.exec(`UPDATE users SET password_hash = ? WHERE name = ?`, hash, name)
		return changed(res, err, fmt.Sprintf("user %q", name))
	})
}

// DeleteUser removes a user and its sessions; ErrNotFound when there is no such user.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.do(ctx, func(w *writer) error {
		res, err := w.exec(`DELETE FROM users WHERE name = ?`, name)
		return changed(res, err, fmt.Sprintf("user %q", name))
	})
}

// changed checks that a statement on what (`user "x"`, "session") changed a row: ErrNotFound if not.
func changed(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return itemError{fmt.Errorf("%w: %s", ErrNotFound, what)}
	}
	return nil
}

const userColumns = "name, role, password_hash, areas, created, disabled"

// scanUser reads a row of userColumns.
func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var (
		u       User
		areas   string
		created int64
	)
	if err := sc.Scan(&u.Name, &u.Role, &u.PasswordHash, &areas, &created, &u.Disabled); err != nil {
		return User{}, err
	}
	if err := json.Unmarshal([]byte(areas), &u.Areas); err != nil {
		return User{}, fmt.Errorf("areas of user %q: %w", u.Name, err)
	}
	if len(u.Areas) == 0 {
		u.Areas = nil
	}
	u.Created = time.Unix(0, created).UTC()
	return u, nil
}

// GetUser returns a user; ErrNotFound when there is none of that name.
func (s *Store) GetUser(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	return us, nil
}

// CreateSession records a session of an existing user (ErrNotFound otherwise); ErrExists when the ID hash is
// taken. Zero times are now.
func (s *Store) CreateSession(ctx context.Context, ss Session) error {
	now := time.Now()
	if ss.Created.IsZero() {
		ss.Created = now
	}
	if ss.LastSeen.IsZero() {
		ss.LastSeen = ss.Created
	}
	return s.do(ctx, func(w *writer) error {
		var n int
		if err := w.queryRow(`SELECT count(*) FROM users WHERE name = ?`, ss.User).Scan(&n); err != nil {
			return fmt.Errorf("store: create session: %w", err)
		}
		if n == 0 {
			return itemError{fmt.Errorf("%w: user %q", ErrNotFound, ss.User)}
		}
		_, err := w.exec(`INSERT INTO sessions (id_hash, user_name, csrf, created, last_seen, client) VALUES (?, ?, ?, ?, ?, ?)`,
			ss.IDHash, ss.User, ss.CSRF, ss.Created.UnixNano(), ss.LastSeen.UnixNano(), ss.Client)
		if isConstraint(err) {
			return itemError{fmt.Errorf("%w: session", ErrExists)}
		}
		if err != nil {
			return fmt.Errorf("store: create session: %w", err)
		}
		return nil
	})
}

// GetSession returns the session with that ID hash; ErrNotFound when there is none.
func (s *Store) GetSession(ctx context.Context, idHash string) (Session, error) {
	var (
		ss                Session
		created, lastSeen int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id_hash, user_name, csrf, created, last_seen, client FROM sessions WHERE id_hash = ?`,
		idHash).Scan(&ss.IDHash, &ss.User, &ss.CSRF, &created, &lastSeen, &ss.Client)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("%w: session", ErrNotFound)
	}
	if err != nil {
		return Session{}, fmt.Errorf("store: session: %w", err)
	}
	ss.Created, ss.LastSeen = time.Unix(0, created).UTC(), time.Unix(0, lastSeen).UTC()
	return ss, nil
}

// TouchSession records that a session was used at at; ErrNotFound when there is no such session. Each call is a
// commit: call it when LastSeen is older than a minute or so, not on every request.
func (s *Store) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	return s.do(ctx, func(w *writer) error {
		res, err := w.exec(`UPDATE sessions SET last_seen = max(last_seen, ?) WHERE id_hash = ?`, at.UnixNano(), idHash)
		return changed(res, err, "session")
	})
}

// DeleteSession removes a session (logout); ErrNotFound when there is none.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	return s.do(ctx, func(w *writer) error {
		res, err := w.exec(`DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return changed(res, err, "session")
	})
}

// DeleteUserSessions removes every session of a user (password change, account disabled) and returns how many.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int64, error) {
	var n int64
	err := s.do(ctx, func(w *writer) error {
		res, err := w.exec(`DELETE FROM sessions WHERE user_name = ?`, user)
		if err != nil {
			return fmt.Errorf("store: delete sessions of %q: %w", user, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// PruneSessions removes the sessions idle since before idleBefore, or created before createdBefore (an absolute
// lifetime; zero: none), and returns how many.
func (s *Store) PruneSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	var created int64 = -1 << 63
	if !createdBefore.IsZero() {
		created = createdBefore.UnixNano()
	}
	var n int64
	err := s.do(ctx, func(w *writer) error {
		res, err := w.exec(`DELETE FROM sessions WHERE last_seen < ? OR created < ?`, idleBefore.UnixNano(), created)
		if err != nil {
			return fmt.Errorf("store: prune sessions: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// nonNil returns s, or an empty slice for nil, so that JSON has [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
