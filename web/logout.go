package web

import (
	"errors"
	"net/http"
)

// Logout ends the session on the server and clears its cookie (POST /logout).
func (a *App) Logout(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	if id != nil {
		if err := a.deps.Accounts.DeleteSession(r.Context(), id.Session.IDHash); err != nil && !errors.Is(err, ErrNotFound) {
			a.Fail(w, r, wrapf(CodeInternal, err, "cannot end the session"))
			return
		}
		a.sessionsEnded(SessionEnd{User: id.User.Name, IDHash: id.Session.IDHash})
		a.log.Info("web: logout", "user", id.User.Name, "client", id.Client)
	}
	a.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
