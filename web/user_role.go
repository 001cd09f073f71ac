package web

import (
	"context"
	"net/http"
)

// UserRole changes a user's role and areas (POST /admin/users/{name}/role: role, areas).
func (a *App) UserRole(w http.ResponseWriter, r *http.Request) {
	a.userForm(w, r, func(ctx context.Context, id *Identity) (string, error) {
		u, err := a.targetUser(ctx, r)
		if err != nil {
			return "", err
		}
		role, err := ParseRole(r.PostForm.Get("role"))
		if err != nil {
			return "", errorf(CodeUnprocessable, "role: want viewer, operator, engineer or admin")
		}
		areas, err := parseAreas(r.PostForm.Get("areas"))
		if err != nil {
			return "", err
		}
		if role != RoleAdmin {
			if last, err := a.lastAdmin(ctx, u); err != nil || last {
				if err != nil {
					return "", err
				}
				return "", errorf(CodeConflict, u.Name+" is the last admin: make another user admin first")
			}
		}
		u.Role, u.Areas = role, areas
		if err := a.deps.Accounts.UpdateUser(ctx, u); err != nil {
			return "", wrapf(CodeInternal, err, "cannot change the user")
		}
		a.log.Info("web: user changed", "user", u.Name, "role", role, "areas", areas, "by", id.User.Name)
		return "User " + u.Name + " is now " + role.String() + ".", nil
	})
}
