package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"hmi/alarms"
	"hmi/templates"
)

// page returns the layout's view model for the page name, for the user of r, with the flash message of the last
// form's action (which it clears).
func (a *App) page(w http.ResponseWriter, r *http.Request, name, title string) templates.Page {
	id := IdentityFrom(r.Context())
	p := templates.Page{
		Name: name, Title: title,
		CSS: a.cfg.AssetURL("css/hmi.css"), JS: a.cfg.AssetURL("js/app.js"),
	}
	if id == nil {
		return p
	}
	p.User, p.Role, p.CSRF = id.User.Name, id.Role().String(), id.Session.CSRF
	p.Nav = a.nav(id, r.URL.Path)
	counts := a.alarmCounts(id)
	p.Alarms.Counts = counts[:]
	for _, c := range counts {
		p.Alarms.Unacked += c.Unacked
	}
	if w != nil {
		p.Notice, p.Error = a.takeFlash(w, r)
	}
	return p
}

// flash is the outcome of a form's action, carried to the page the form redirects to in a short-lived cookie
// (not in the URL, where anyone could write a message that the page would show as the server's).
type flash struct {
	Notice string `json:"n,omitempty"`
	Error  string `json:"e,omitempty"`
}

const flashCookie = "hmi_flash"

// setFlash sets the flash message for the next page.
func (a *App) setFlash(w http.ResponseWriter, notice, errText string) {
	b, _ := json.Marshal(flash{Notice: limitText(notice, 300), Error: limitText(errText, 300)})
	a.setCookie(w, flashCookie, base64.RawURLEncoding.EncodeToString(b), 60)
}

// takeFlash returns and clears the flash message of r.
func (a *App) takeFlash(w http.ResponseWriter, r *http.Request) (notice, errText string) {
	c, err := r.Cookie(a.cookieName(flashCookie))
	if err != nil {
		return "", ""
	}
	a.setCookie(w, flashCookie, "", -1)
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	var f flash
	if err != nil || json.Unmarshal(b, &f) != nil {
		return "", ""
	}
	return limitText(f.Notice, 300), limitText(f.Error, 300)
}

// limitText cuts s to at most n bytes.
func limitText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// nav returns the main navigation for the user, marking the entry of path.
func (a *App) nav(id *Identity, path string) []templates.NavItem {
	items := []templates.NavItem{{Href: "/", Label: "Overview"}}
	if len(a.displays) > 0 {
		// The displays in a menu: their names are long, and a plant may have many.
		menu := templates.NavItem{Label: "Displays"}
		for i, d := range a.displays {
			if i == maxNavDisplays {
				menu.Children = append(menu.Children, templates.NavItem{Href: "/", Label: "All displays…"})
				break
			}
			c := templates.NavItem{Href: "/displays/" + url.PathEscape(d.id), Label: d.name}
			c.Current = path == c.Href
			menu.Current = menu.Current || c.Current
			menu.Children = append(menu.Children, c)
		}
		items = append(items, menu)
	}
	items = append(items,
		templates.NavItem{Href: "/points", Label: "Points"},
		templates.NavItem{Href: "/alarms", Label: "Alarms"},
		templates.NavItem{Href: "/events", Label: "Events"},
		templates.NavItem{Href: "/links", Label: "Links"},
	)
	if id.Role().AtLeast(RoleEngineer) {
		items = append(items, templates.NavItem{Href: "/audit", Label: "Audit"})
	}
	if id.Role().AtLeast(RoleAdmin) {
		items = append(items, templates.NavItem{Href: "/admin/users", Label: "Users"})
	}
	for i := range items {
		if h := items[i].Href; h != "" {
			items[i].Current = path == h || (h != "/" && strings.HasPrefix(path, h+"/"))
		}
	}
	return items
}

// maxNavDisplays is how many displays the navigation's menu lists; the overview lists them all.
const maxNavDisplays = 20

// alarmCounts returns the unacknowledged and active alarms per priority that the user sees.
func (a *App) alarmCounts(id *Identity) [4]templates.PriorityCount {
	var out [4]templates.PriorityCount
	for i := range out {
		out[i].Priority = i + 1
	}
	if !id.restricted() {
		for p, c := range a.deps.Alarms.Summary() {
			if p.Valid() {
				out[p-1].Unacked = c.Unacked()
				out[p-1].Active = c.ActiveUnacked + c.ActiveAcked
			}
		}
		return out
	}
	for _, al := range a.visibleAlarms(id, alarms.Filter{}) {
		if !al.Priority.Valid() {
			continue
		}
		c := &out[al.Priority-1]
		switch al.State {
		case alarms.ActiveUnacked:
			c.Unacked++
			c.Active++
		case alarms.ActiveAcked:
			c.Active++
		case alarms.ReturnedUnacked:
			c.Unacked++
		}
	}
	return out
}

// visibleAlarms returns the alarms of List(f) that the user may see, in List's order.
func (a *App) visibleAlarms(id *Identity, f alarms.Filter) []alarms.Alarm {
	all := a.deps.Alarms.List(f)
	if !id.restricted() {
		return all
	}
	out := all[:0]
	for _, al := range all {
		if id.Sees(al.Area) && al.Area != "" {
			out = append(out, al)
		}
	}
	return out
}

// render writes a component as the page's HTML.
func (a *App) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil && !errors.Is(err, context.Canceled) {
		a.log.Warn("web: render", "path", r.URL.Path, "err", err)
	}
}

// isAPI reports whether r is a request of the JSON API (or of the WebSocket), which gets JSON errors.
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/ws"
}

// Fail answers r with err: {"error": "..."} for the API, a page that says why for the others. Internal errors are
// logged, and their detail is not shown. A page request without a session is sent to the login page.
func (a *App) Fail(w http.ResponseWriter, r *http.Request, err error) {
	st := Status(err)
	msg := Message(err)
	if st >= 500 {
		a.log.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "status", st, "err", err)
	}
	if e, ok := errors.AsType[*Error](err); ok && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(e.RetryAfter.Seconds()+0.999)))
	}
	if isAPI(r) {
		writeJSON(w, st, map[string]string{"error": msg})
		return
	}
	if st == http.StatusUnauthorized && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	p := templates.ErrorPage{Page: a.page(nil, r, "error", http.StatusText(st)), Status: st,
		Heading: http.StatusText(st), Message: msg}
	if p.User == "" {
		p.JS = "" // nothing live without a session: no socket to fail
	}
	a.render(w, r, st, templates.Error(p))
}

// writeJSON writes v as the JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeJSON decodes the request's JSON body into v: 413 beyond the server's body limit, 400 for anything that
// is not one JSON object of the right shape.
func decodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errorf(CodeInvalid, "the body must be JSON (Content-Type: application/json)")
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return wrapf(CodeTooLarge, err, "request body too large")
		}
		return wrapf(CodeInvalid, err, "invalid JSON: "+jsonProblem(err))
	}
	// Only white space may follow the value (dec.More alone let a stray '}' or ']' through, and a value padded past
	// the limit).
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return wrapf(CodeTooLarge, err, "request body too large")
		}
		if err != nil {
			return wrapf(CodeInvalid, err, "invalid JSON: "+jsonProblem(err))
		}
		return errorf(CodeInvalid, "invalid JSON: more than one value in the body")
	}
	return nil
}

// jsonProblem says what is wrong with a body, without echoing it.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s must be %s", te.Field, te.Type)
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	return "cannot decode the body"
}

// param returns the URL parameter name, path-unescaped (chi gives the raw segment when the path had escapes).
func param(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// redirectBack sends a form's user to path (303) with a notice or an error to show there.
func (a *App) redirectBack(w http.ResponseWriter, r *http.Request, path, notice, errText string) {
	if notice != "" || errText != "" {
		a.setFlash(w, notice, errText)
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
}

// decodeOptionalJSON is decodeJSON that takes an empty body as {}.
func decodeOptionalJSON(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	err := decodeJSON(r, v)
	if e, ok := errors.AsType[*Error](err); ok && errors.Is(e.Err, io.EOF) {
		return nil
	}
	return err
}
