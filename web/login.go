package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"hmi/templates"
)

// LoginPage shows the login form (GET /login). The form carries a CSRF token that is also in a cookie (double
// submit): a login cannot be forced on a browser from another site.
func (a *App) LoginPage(w http.ResponseWriter, r *http.Request) {
	if id, err := a.Authenticate(r); err == nil && id != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	a.renderLogin(w, r, http.StatusOK, "", "")
}

// renderLogin renders the login form with a fresh (or the current) login token.
func (a *App) renderLogin(w http.ResponseWriter, r *http.Request, status int, username, errText string) {
	token := ""
	if c, err := r.Cookie(a.cookieName(loginCookie)); err == nil && len(c.Value) == 43 {
		token = c.Value
	} else {
		t, err := newToken()
		if err != nil {
			a.Fail(w, r, err)
			return
		}
		token = t
	}
	a.setCookie(w, loginCookie, token, 3600)
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostFormValue("next")
	}
	p := templates.LoginPage{Page: a.page(nil, r, "login", "Log in"), Username: username, Next: safeNext(next)}
	p.CSRF, p.Error = token, errText
	if r.Method == http.MethodGet && r.URL.Query().Get("ended") != "" {
		// The page's script came here because the socket said the session has ended.
		p.Notice = "Your session has ended: log in again."
	}
	a.render(w, r, status, templates.Login(p))
}

// Login checks a user name and password (POST /login) and starts a session. Failures are throttled per account and
// per client address; the answer does not say whether the user exists.
func (a *App) Login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		a.Fail(w, r, formError(err))
		return
	}
	c, err := r.Cookie(a.cookieName(loginCookie))
	token := r.PostForm.Get("csrf_token")
	if err != nil || token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(c.Value)) != 1 {
		a.renderLogin(w, r, http.StatusForbidden, "", "The login form has expired: please log in again.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("username"))
	logName := limitText(name, 100) // a guessed name may be as long as the body: the log keeps its start
	pw := r.PostForm.Get("password")
	client := ClientAddr(r)
	now := a.cfg.Now()
	at, wait := a.throttle.begin(name, client, now)
	if wait > 0 {
		a.log.Warn("web: login refused: throttled", "user", logName, "client", client, "wait", wait.Round(time.Second))
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
		a.renderLogin(w, r, http.StatusTooManyRequests, name,
			fmt.Sprintf("Too many failed logins: try again in %s.", wait.Round(time.Second)))
		return
	}
	defer at.abandon(now) // a check that ends without a verdict (an error) counts neither way
	release, err := a.hashSlot(r.Context())
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	defer release()
	ok := false
	u, err := a.deps.Accounts.GetUser(r.Context(), name)
	switch {
	case errors.Is(err, ErrNotFound) || name == "":
		CheckPassword(a.dummyHash, pw) // the same work as for a real user
	case err != nil:
		a.Fail(w, r, wrapf(CodeInternal, err, "cannot read the user"))
		return
	default:
		ok = CheckPassword(u.PasswordHash, pw) && !u.Disabled && u.Role.Valid()
	}
	if !ok {
		at.fail(now)
		a.log.Warn("web: login failed", "user", logName, "client", client)
		a.renderLogin(w, r, http.StatusUnauthorized, name, "Wrong user name or password.")
		return
	}
	at.succeed(now)
	// A session this browser had (another user's, or its own) ends: a login always starts a new one.
	if old, err := r.Cookie(a.cookieName(sessionCookie)); err == nil && old.Value != "" && len(old.Value) <= 128 {
		if err := a.deps.Accounts.DeleteSession(r.Context(), hashToken(old.Value)); err != nil && !errors.Is(err, ErrNotFound) {
			a.log.Warn("web: end the previous session at login", "err", err)
		} else if err == nil {
			a.sessionsEnded(SessionEnd{IDHash: hashToken(old.Value)})
		}
	}
	if _, err := a.startSession(r.Context(), w, u.Name, client); err != nil {
		a.Fail(w, r, err)
		return
	}
	// The login token stays: it binds the login form to this browser, not to one login. Deleting it made every tab
	// that came to the login page after a logout (the server sends them all there at once) mint its own token, and
	// all but the last one's form was refused.
	a.log.Info("web: login", "user", u.Name, "role", u.Role, "client", client)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// safeNext returns next when it is a path of this site, "/" otherwise: the login never redirects elsewhere.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(u.Path, "/login") {
		return "/"
	}
	return next
}

// hashSlot waits for a turn to hash or check a password: each takes tens of megabytes for tens of milliseconds,
// so only a few run at once and the others wait, within their request's context. Call release when done.
func (a *App) hashSlot(ctx context.Context) (release func(), err error) {
	select {
	case a.hashing <- struct{}{}:
		return func() { <-a.hashing }, nil
	case <-ctx.Done():
		return nil, wrapf(CodeUnavailable, ctx.Err(), "the server is busy: try again")
	}
}

// formError classifies an error of ParseForm: 413 over the body limit, 400 otherwise.
func formError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return wrapf(CodeTooLarge, err, "request body too large")
	}
	return wrapf(CodeInvalid, err, "cannot read the form")
}
