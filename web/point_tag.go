package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// tagRequest is the body of POST /api/v1/points/{id}/tag.
type tagRequest struct {
	On     bool   `json:"on"`
	Reason string `json:"reason"`
}

// maxReason bounds a tag's reason.
const maxReason = 200

// setTag sets or clears the do-not-operate tag of a point, for an engineer who sees it; audited.
func (a *App) setTag(ctx context.Context, id *Identity, pid string, on bool, reason string) error {
	_, d, err := a.visiblePoint(id, pid)
	if err != nil {
		return err
	}
	if a.controls[pid] == nil {
		return errorf(CodeUnprocessable, "no control: "+pid+" cannot be operated, so it cannot be tagged")
	}
	reason = strings.TrimSpace(reason)
	if on && reason == "" {
		return errorf(CodeUnprocessable, "reason: a do-not-operate tag needs a reason")
	}
	if len(reason) > maxReason {
		return errorf(CodeUnprocessable, "reason: longer than 200 bytes")
	}
	t := Tag{On: on, Reason: reason, By: id.User.Name, At: a.cfg.Now()}
	if !on {
		t = Tag{}
	}
	step := "untag"
	if on {
		step = "tag"
	}
	if a.deps.Audit != nil {
		if err := a.audit(ctx, id, AuditEntry{Point: pid, Link: d.Link, Step: step, Detail: reason}); err != nil {
			return err
		}
	}
	if err := a.tags.SetTag(ctx, pid, t); err != nil {
		return wrapf(CodeInternal, err, "cannot store the tag")
	}
	a.log.Info("web: tag", "point", pid, "on", on, "reason", reason, "user", id.User.Name)
	return nil
}

// PointTag sets or clears the do-not-operate tag (POST /api/v1/points/{id}/tag {on, reason}); engineers.
func (a *App) PointTag(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	var req tagRequest
	if err := decodeJSON(r, &req); err != nil {
		a.Fail(w, r, err)
		return
	}
	pid := param(r, "id")
	if err := a.setTag(r.Context(), id, pid, req.On, req.Reason); err != nil {
		a.Fail(w, r, err)
		return
	}
	t := a.tags.Tag(pid)
	writeJSON(w, http.StatusOK, map[string]any{"point": pid, "on": t.On, "reason": t.Reason, "by": t.By})
}

// PointTagForm is PointTag for the point page's form (POST /points/{id}/tag, fields on and reason).
func (a *App) PointTagForm(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		a.Fail(w, r, formError(err))
		return
	}
	pid := param(r, "id")
	on := r.PostForm.Get("on") == "true"
	back := "/points/" + url.PathEscape(pid)
	if err := a.setTag(r.Context(), id, pid, on, r.PostForm.Get("reason")); err != nil {
		if Status(err) >= 500 || Status(err) == http.StatusNotFound {
			a.Fail(w, r, err)
			return
		}
		a.redirectBack(w, r, back, "", Message(err))
		return
	}
	notice := "Tag cleared."
	if on {
		notice = "Tagged: do not operate."
	}
	a.redirectBack(w, r, back, notice, "")
}
