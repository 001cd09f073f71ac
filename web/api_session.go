package web

import "net/http"

// APISession returns the session's user, role and CSRF token (GET /api/v1/session).
func (a *App) APISession(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	areas := id.areas()
	if areas == nil {
		areas = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"user": id.User.Name, "role": id.Role().String(), "csrf_token": id.Session.CSRF, "areas": areas,
	})
}
