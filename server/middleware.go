package server

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"hmi/web"
)

// csp is the Content-Security-Policy of every response: scripts and styles only from this origin, no inline
// script, no framing, no plugins.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders sets the security headers of every response.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.tls != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status and size of a response for the log. Unwrap lets http.ResponseController
// and the WebSocket's hijack reach the connection.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs every request once it is answered: method, path, status, size, time, client and user. Static
// assets and health checks are logged at debug level.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		// The identity is set further in; the holder lets this outer middleware see it.
		holder := &identityHolder{}
		r = r.WithContext(withHolder(r.Context(), holder))
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		level := slogInfo
		if strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/healthz" {
			level = slogDebug
		}
		user := ""
		if holder.id != nil {
			user = holder.id.User.Name
		}
		s.log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "status", status,
			"bytes", rec.bytes, "ms", float64(time.Since(start).Microseconds())/1000, "client", web.ClientAddr(r),
			"user", user)
	})
}

// recoverPanics turns a panic in a handler into a 500 and a log line with the stack: the server goes on.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel net/http uses, compared as it does
				panic(v)
			}
			s.log.Error("server: panic in a handler", "method", r.Method, "path", r.URL.Path, "panic", v,
				"stack", string(debug.Stack()))
			if rec, ok := w.(*statusRecorder); ok && rec.status != 0 {
				return // the answer is under way: nothing better to do than end it
			}
			s.app.Fail(w, r, &web.Error{Code: web.CodeInternal, Message: "internal error"})
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBody {
			s.app.Fail(w, r, &web.Error{Code: web.CodeTooLarge, Message: "request body too large"})
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate requires a valid session: the identity goes into the request's context. Without one, a page
// request is sent to the login page, an API request gets 401.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.app.Authenticate(r)
		if err != nil {
			s.app.Fail(w, r, err)
			return
		}
		if h := holderFrom(r.Context()); h != nil {
			h.id = id
		}
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r.WithContext(web.WithIdentity(r.Context(), id)))
	})
}

// checkCSRF requires the session's CSRF token on every unsafe request: the X-CSRF-Token header, or the csrf_token
// field of a form. Compared in constant time.
func (s *Server) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		id := web.IdentityFrom(r.Context())
		token := r.Header.Get("X-CSRF-Token")
		if token == "" && isForm(r) {
			if err := r.ParseForm(); err != nil {
				code, msg := web.CodeInvalid, "cannot read the form"
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					code, msg = web.CodeTooLarge, "request body too large"
				}
				s.app.Fail(w, r, &web.Error{Code: code, Message: msg, Err: err})
				return
			}
			token = r.PostForm.Get("csrf_token")
		}
		if id == nil || token == "" || id.Session.CSRF == "" ||
			subtle.ConstantTimeCompare([]byte(token), []byte(id.Session.CSRF)) != 1 {
			s.log.Warn("server: csrf token missing or wrong", "method", r.Method, "path", r.URL.Path,
				"client", web.ClientAddr(r))
			s.app.Fail(w, r, &web.Error{Code: web.CodeForbidden, Message: "missing or wrong CSRF token: reload the page"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
}

// requireRole lets only users with at least role min through.
func (s *Server) requireRole(min web.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := web.IdentityFrom(r.Context())
			if !id.Role().AtLeast(min) {
				s.app.Fail(w, r, &web.Error{Code: web.CodeForbidden,
					Message: "role: this needs the " + min.String() + " role; you are " + id.Role().String()})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
