package web

import (
	"context"
	"net/http"
)

// UserDelete deletes a user and ends the user's sessions (POST /admin/users/{name}/delete). An admin cannot
// delete themselves, nor the last admin.
func (a *App) UserDelete(w http.ResponseWriter, r *http.Request) {
	a.userForm(w, r, func(ctx context.Context, id *Identity) (string, error) {
		u, err := a.targetUser(ctx, r)
		if err != nil {
			return "", err
		}
		if u.Name == id.User.Name {
			return "", errorf(CodeConflict, "you cannot delete yourself")
		}
		if last, err := a.lastAdmin(ctx, u); err != nil || last {
			if err != nil {
				return "", err
			}
			return "", errorf(CodeConflict, u.Name+" is the last admin")
		}
		if _, err := a.deps.Accounts.DeleteUserSessions(ctx, u.Name); err != nil {
			return "", wrapf(CodeInternal, err, "cannot end the user's sessions")
		}
		a.sessionsEnded(SessionEnd{User: u.Name})
		if err := a.deps.Accounts.DeleteUser(ctx, u.Name); err != nil {
			return "", wrapf(CodeInternal, err, "cannot delete the user")
		}
		a.log.Info("web: user deleted", "user", u.Name, "by", id.User.Name)
		return "User " + u.Name + " deleted.", nil
	})
}
