package web

import "net/http"

// CommandGet returns a command's record (GET /api/v1/commands/{cid}): to its own session, and to engineers.
func (a *App) CommandGet(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	cid := param(r, "cid")
	if a.deps.Commander == nil {
		a.Fail(w, r, errorf(CodeNotFound, "no command "+cid))
		return
	}
	rec, ok := a.deps.Commander.Get(cid)
	if !ok {
		a.Fail(w, r, errorf(CodeNotFound, "no command "+cid))
		return
	}
	own := rec.Origin.User == id.User.Name && rec.Origin.Session == id.Ref
	h, known := a.cache.Lookup(rec.Point)
	if !own && (!id.Role().AtLeast(RoleEngineer) || !known || !id.Sees(a.defs[h].Area)) {
		a.Fail(w, r, errorf(CodeNotFound, "no command "+cid))
		return
	}
	writeJSON(w, http.StatusOK, toCommandJSON(&rec))
}
