package web

import (
	"errors"
	"net/http"
	"strings"

	"hmi/templates"
)

// AccountPage shows the user's account and the password form (GET /account).
func (a *App) AccountPage(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	areas := "all"
	if id.restricted() {
		areas = strings.Join(id.User.Areas, ", ")
	}
	a.render(w, r, http.StatusOK, templates.Account(templates.AccountPage{Page: a.page(w, r, "account", "Account"), Areas: areas}))
}

// AccountPassword changes the user's own password (POST /account/password). It needs the current password
// (throttled like a login), ends every other session of the user, and gives this browser a new session.
func (a *App) AccountPassword(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		a.Fail(w, r, formError(err))
		return
	}
	cur, pw, repeat := r.PostForm.Get("current"), r.PostForm.Get("new"), r.PostForm.Get("repeat")
	now := a.cfg.Now()
	at, wait := a.throttle.begin(id.User.Name, id.Client, now)
	if wait > 0 {
		a.Fail(w, r, &Error{Code: CodeTooMany, Message: "too many wrong passwords: try again later", RetryAfter: wait})
		return
	}
	defer at.abandon(now) // a check that ends without a verdict counts neither way
	release, err := a.hashSlot(r.Context())
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	defer release()
	if !CheckPassword(id.User.PasswordHash, cur) {
		at.fail(now)
		a.redirectBack(w, r, "/account", "", "The current password is wrong.")
		return
	}
	if pw != repeat {
		a.redirectBack(w, r, "/account", "", "The new passwords differ.")
		return
	}
	hash, err := hashPassword(pw, a.cfg.Argon2)
	if errors.Is(err, ErrPassword) {
		a.redirectBack(w, r, "/account", "", passwordRule(err))
		return
	}
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	if err := a.deps.Accounts.UpdatePassword(r.Context(), id.User.Name, hash); err != nil {
		a.Fail(w, r, wrapf(CodeInternal, err, "cannot change the password"))
		return
	}
	if _, err := a.deps.Accounts.DeleteUserSessions(r.Context(), id.User.Name); err != nil {
		a.Fail(w, r, wrapf(CodeInternal, err, "the password changed, but the other sessions could not be ended"))
		return
	}
	a.sessionsEnded(SessionEnd{User: id.User.Name})
	if _, err := a.startSession(r.Context(), w, id.User.Name, id.Client); err != nil {
		a.Fail(w, r, err)
		return
	}
	a.log.Info("web: password changed", "user", id.User.Name, "client", id.Client)
	a.redirectBack(w, r, "/account", "Password changed; your other sessions have ended.", "")
}

// passwordRule says which rule a password breaks.
func passwordRule(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return "the password is not acceptable: " + strings.TrimPrefix(msg, ErrPassword.Error()+": ") + "."
}
