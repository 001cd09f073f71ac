package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Cookie names; under TLS they carry the __Host- prefix, which binds them to this host, Secure and path /.
const (
	sessionCookie = "hmi_session"
	loginCookie   = "hmi_login" // the login form's CSRF token, before there is a session
)

func (a *App) cookieName(base string) string {
	if a.cfg.Secure {
		return "__Host-" + base
	}
	return base
}

// newToken returns 32 random bytes in unpadded base64url.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("web: random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashToken returns the hex SHA-256 of a session token: what the store keeps.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// sessionRef names a session in the audit without revealing anything that logs in.
func sessionRef(idHash string) string {
	if len(idHash) > 16 {
		return idHash[:16]
	}
	return idHash
}

// ClientAddr returns the address of the client of r (the TCP peer; no proxy header is trusted).
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// setCookie sets a cookie of the HMI: HttpOnly, SameSite=Strict, path /, Secure under TLS. maxAge 0 makes a
// session cookie (the browser's session), -1 deletes.
func (a *App) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.cfg.Secure, SameSite: http.SameSiteStrictMode,
	})
}

// Authenticate finds the session of r and its user. It fails with errUnauthenticated when there is no cookie, the
// session is unknown, has been idle too long or is older than the absolute limit, or its user is gone or disabled;
// an ended session is deleted. A session in use is touched, at most every touchEvery, so that the idle limit runs
// from the last request.
func (a *App) Authenticate(r *http.Request) (*Identity, error) {
	c, err := r.Cookie(a.cookieName(sessionCookie))
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, errUnauthenticated
	}
	idHash := hashToken(c.Value)
	id, err := a.lookup(r.Context(), idHash)
	if err != nil {
		return nil, err
	}
	id.Client = ClientAddr(r)
	now := a.cfg.Now()
	if now.Sub(id.Session.LastSeen) >= a.touchEvery() {
		if err := a.deps.Accounts.TouchSession(r.Context(), idHash, now); err != nil {
			a.log.Warn("web: touch session", "user", id.User.Name, "err", err)
		}
	}
	return id, nil
}

// touchEvery is how stale a session's LastSeen may be before a request updates it: a tenth of the idle limit, at
// most a minute, so that the idle limit is kept within that and the store is not written on every request.
func (a *App) touchEvery() time.Duration { return min(a.cfg.SessionIdle/10, time.Minute) }

// lookup returns the identity of a session that is still valid, deleting it when it has ended.
func (a *App) lookup(ctx context.Context, idHash string) (*Identity, error) {
	s, err := a.deps.Accounts.GetSession(ctx, idHash)
	if errors.Is(err, ErrNotFound) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, wrapf(CodeInternal, err, "cannot read the session")
	}
	now := a.cfg.Now()
	if now.Sub(s.Created) >= a.cfg.SessionAbsolute || now.Sub(s.LastSeen) >= a.cfg.SessionIdle {
		if err := a.deps.Accounts.DeleteSession(ctx, idHash); err != nil && !errors.Is(err, ErrNotFound) {
			a.log.Warn("web: delete an ended session", "user", s.User, "err", err)
		}
		return nil, errUnauthenticated
	}
	u, err := a.deps.Accounts.GetUser(ctx, s.User)
	if errors.Is(err, ErrNotFound) || (err == nil && (u.Disabled || !u.Role.Valid())) {
		return nil, errUnauthenticated
	}
	if err != nil {
		return nil, wrapf(CodeInternal, err, "cannot read the user")
	}
	return &Identity{User: u, Session: s, Ref: sessionRef(idHash)}, nil
}

// SessionValid reports whether the session of id is still valid, without touching it: for a WebSocket, which the
// server closes when its session ends (logout, idle or absolute limit, user removed).
func (a *App) SessionValid(ctx context.Context, id *Identity) bool {
	_, err := a.lookup(ctx, id.Session.IDHash)
	return err == nil
}

// sessionsEnded tells the server (Config.SessionsEnded) that sessions have ended.
func (a *App) sessionsEnded(e SessionEnd) {
	if a.cfg.SessionsEnded != nil {
		a.cfg.SessionsEnded(e)
	}
}

// startSession creates a session for user and sets its cookie.
func (a *App) startSession(ctx context.Context, w http.ResponseWriter, user, client string) (Session, error) {
	token, err := newToken()
	if err != nil {
		return Session{}, err
	}
	csrf, err := newToken()
	if err != nil {
		return Session{}, err
	}
	now := a.cfg.Now()
	s := Session{IDHash: hashToken(token), User: user, CSRF: csrf, Created: now, LastSeen: now, Client: client}
	if err := a.deps.Accounts.CreateSession(ctx, s); err != nil {
		return Session{}, wrapf(CodeInternal, err, "cannot create the session")
	}
	a.setCookie(w, sessionCookie, token, 0)
	return s, nil
}
