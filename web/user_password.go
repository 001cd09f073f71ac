package web

import (
	"context"
	"errors"
	"net/http"
)

// UserPassword sets a user's password (POST /admin/users/{name}/password: password) and ends the user's sessions.
func (a *App) UserPassword(w http.ResponseWriter, r *http.Request) {
	a.userForm(w, r, func(ctx context.Context, id *Identity) (string, error) {
		u, err := a.targetUser(ctx, r)
		if err != nil {
			return "", err
		}
		hash, err := hashPassword(r.PostForm.Get("password"), a.cfg.Argon2)
		if errors.Is(err, ErrPassword) {
			return "", errorf(CodeUnprocessable, passwordRule(err))
		}
		if err != nil {
			return "", err
		}
		if err := a.deps.Accounts.UpdatePassword(ctx, u.Name, hash); err != nil {
			return "", wrapf(CodeInternal, err, "cannot set the password")
		}
		if _, err := a.deps.Accounts.DeleteUserSessions(ctx, u.Name); err != nil {
			return "", wrapf(CodeInternal, err, "the password is set, but the user's sessions could not be ended")
		}
		a.sessionsEnded(SessionEnd{User: u.Name})
		a.log.Info("web: password reset", "user", u.Name, "by", id.User.Name)
		msg := "Password of " + u.Name + " reset; the user's sessions have ended."
		if u.Name == id.User.Name {
			msg += " Log in again."
		}
		return msg, nil
	})
}
