package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"hmi/static"
	"hmi/web"
)

// routes is the whole route table. Every route but /healthz, /static/ and /login needs a session; every unsafe
// method needs the session's CSRF token; the roles are checked here, the per-point rules (areas, controls, tags,
// interlocks) in the handlers.
func (s *Server) routes() http.Handler {
	a := s.app
	operator := s.requireRole(web.RoleOperator)
	engineer := s.requireRole(web.RoleEngineer)
	admin := s.requireRole(web.RoleAdmin)

	r := chi.NewRouter()
	r.Use(s.logRequests, s.recoverPanics, s.securityHeaders, s.limitBody)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		a.Fail(w, r, &web.Error{Code: web.CodeNotFound, Message: "no such page: " + r.URL.Path})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeMethodNotAllowed(w, r)
	})

	// Public.
	r.Get("/healthz", s.healthz)
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	r.Method(http.MethodGet, "/static/*", static.Handler())
	r.Method(http.MethodHead, "/static/*", static.Handler())
	r.Get("/login", a.LoginPage)
	r.Post("/login", a.Login)

	// Pages: a session; unsafe methods also the CSRF token (form field csrf_token).
	r.Group(func(r chi.Router) {
		r.Use(s.authenticate, s.checkCSRF)
		r.Get("/", a.Overview)
		r.Get("/displays/{id}", a.DisplayPage)
		r.Get("/points", a.PointsList)
		r.Get("/points/{id}", a.PointDetail)
		r.With(engineer).Post("/points/{id}/tag", a.PointTagForm)
		r.Get("/alarms", a.AlarmsList)
		r.Get("/events", a.EventsList)
		r.Get("/events.csv", a.EventsExport)
		r.Get("/links", a.LinksList)
		r.Get("/links/{name}", a.LinkDetail)
		r.With(engineer).Get("/audit", a.AuditList)
		r.Get("/account", a.AccountPage)
		r.Post("/account/password", a.AccountPassword)
		r.Post("/logout", a.Logout)
		r.Route("/admin/users", func(r chi.Router) {
			r.Use(admin)
			r.Get("/", a.AdminUsers)
			r.Post("/", a.UserAdd)
			r.Post("/{name}/role", a.UserRole)
			r.Post("/{name}/password", a.UserPassword)
			r.Post("/{name}/delete", a.UserDelete)
		})
		r.Get("/ws", s.hub.serveWS)
	})

	// The JSON API: a session; unsafe methods also the X-CSRF-Token header.
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(s.authenticate, s.checkCSRF)
		r.Get("/session", a.APISession)
		r.Get("/points", a.APIPoints)
		r.Get("/points/{id}", a.APIPoint)
		r.With(operator).Post("/points/{id}/select", a.CommandSelect)
		r.With(engineer).Post("/points/{id}/tag", a.PointTag)
		r.Get("/links", a.APILinks)
		r.Get("/links/{name}", a.APILink)
		r.Get("/alarms", a.APIAlarms)
		r.With(operator).Post("/alarms/ack", a.AlarmsAck)
		r.With(operator).Post("/alarms/{id}/ack", a.AlarmAck)
		r.With(operator).Post("/alarms/{id}/shelve", a.AlarmShelve)
		r.With(operator).Post("/alarms/{id}/unshelve", a.AlarmUnshelve)
		r.With(engineer).Post("/alarms/{id}/out-of-service", a.AlarmOutOfService)
		r.With(engineer).Post("/alarms/{id}/in-service", a.AlarmInService)
		r.Get("/events", a.APIEvents)
		r.With(operator).Get("/commands/{cid}", a.CommandGet)
		r.With(operator).Post("/commands/{cid}/execute", a.CommandExecute)
		r.With(operator).Post("/commands/{cid}/cancel", a.CommandCancel)
		r.Get("/history/{id}", a.APIHistory)
	})
	return r
}

// healthz answers 200 "ok" while the server runs; no session needed.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// writeMethodNotAllowed answers 405 in the form of the request: JSON for the API, text otherwise.
func writeMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Path) >= 5 && r.URL.Path[:5] == "/api/" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(`{"error":"method not allowed"}` + "\n"))
		return
	}
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}
