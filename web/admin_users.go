package web

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"hmi/templates"
)

// userName is what a user name may hold.
var userName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// AdminUsers lists the users (GET /admin/users); admins.
func (a *App) AdminUsers(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	users, err := a.deps.Accounts.ListUsers(r.Context())
	if err != nil {
		a.Fail(w, r, wrapf(CodeInternal, err, "cannot list the users"))
		return
	}
	p := templates.UsersPage{Page: a.page(w, r, "admin-users", "Users")}
	for _, u := range users {
		p.Users = append(p.Users, templates.UserRow{Name: u.Name, Role: u.Role.String(), Areas: strings.Join(u.Areas, ", "),
			Created: dateTimeText(u.Created), Disabled: u.Disabled, Self: u.Name == id.User.Name})
	}
	for _, r := range Roles {
		p.Roles = append(p.Roles, templates.Option{Value: r.String(), Label: r.String(), Selected: r == RoleViewer})
	}
	a.render(w, r, http.StatusOK, templates.Users(p))
}

// parseAreas reads a comma-separated list of areas; empty is all.
func parseAreas(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.Trim(strings.TrimSpace(f), "/")
		if f == "" {
			continue
		}
		if len(f) > 200 || strings.ContainsAny(f, "\x00\r\n") {
			return nil, errorf(CodeUnprocessable, "areas: not an area path")
		}
		out = append(out, f)
	}
	return out, nil
}

// userForm runs an admin's form action and sends the admin back to the list with its outcome.
func (a *App) userForm(w http.ResponseWriter, r *http.Request, act func(ctx context.Context, id *Identity) (string, error)) {
	if err := r.ParseForm(); err != nil {
		a.Fail(w, r, formError(err))
		return
	}
	release, err := a.hashSlot(r.Context()) // most of these actions hash a password
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	notice, err := act(r.Context(), IdentityFrom(r.Context()))
	release()
	if err != nil {
		if Status(err) >= 500 {
			a.Fail(w, r, err)
			return
		}
		a.redirectBack(w, r, "/admin/users", "", Message(err))
		return
	}
	a.redirectBack(w, r, "/admin/users", notice, "")
}

// targetUser returns the user named in the URL.
func (a *App) targetUser(ctx context.Context, r *http.Request) (User, error) {
	name := param(r, "name")
	u, err := a.deps.Accounts.GetUser(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return u, errorf(CodeNotFound, "no user "+name)
	}
	if err != nil {
		return u, wrapf(CodeInternal, err, "cannot read the user")
	}
	return u, nil
}

// lastAdmin reports whether u is the only admin.
func (a *App) lastAdmin(ctx context.Context, u User) (bool, error) {
	if u.Role != RoleAdmin {
		return false, nil
	}
	users, err := a.deps.Accounts.ListUsers(ctx)
	if err != nil {
		return false, wrapf(CodeInternal, err, "cannot list the users")
	}
	for _, o := range users {
		if o.Name != u.Name && o.Role == RoleAdmin && !o.Disabled {
			return false, nil
		}
	}
	return true, nil
}
