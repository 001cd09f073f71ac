package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// UserAdd adds a user (POST /admin/users: name, role, areas, password).
func (a *App) UserAdd(w http.ResponseWriter, r *http.Request) {
	a.userForm(w, r, func(ctx context.Context, id *Identity) (string, error) {
		f := r.PostForm
		name := strings.TrimSpace(f.Get("name"))
		if !userName.MatchString(name) {
			return "", errorf(CodeUnprocessable, "name: 1 to 64 letters, digits, '.', '_', '@' or '-'")
		}
		role, err := ParseRole(f.Get("role"))
		if err != nil {
			return "", errorf(CodeUnprocessable, "role: want viewer, operator, engineer or admin")
		}
		areas, err := parseAreas(f.Get("areas"))
		if err != nil {
			return "", err
		}
		hash, err := hashPassword(f.Get("password"), a.cfg.Argon2)
		if errors.Is(err, ErrPassword) {
			return "", errorf(CodeUnprocessable, passwordRule(err))
		}
		if err != nil {
			return "", err
		}
		err = a.deps.Accounts.CreateUser(ctx, User{Name: name, Role: role, PasswordHash: hash, Areas: areas, Created: a.cfg.Now()})
		if errors.Is(err, ErrExists) {
			return "", errorf(CodeConflict, "the user "+name+" exists already")
		}
		if err != nil {
			return "", wrapf(CodeInternal, err, "cannot add the user")
		}
		a.log.Info("web: user added", "user", name, "role", role, "by", id.User.Name)
		return "User " + name + " added as " + role.String() + ".", nil
	})
}
