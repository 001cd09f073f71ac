package web

import (
	"net/http"
	"time"
)

// linkJSON is a link as the API gives it (ARCHITECTURE.md, HTTP contract).
type linkJSON struct {
	Name              string     `json:"name"`
	State             string     `json:"state"`
	Address           string     `json:"address"`
	Since             *time.Time `json:"since"`
	Stats             statsJSON  `json:"stats"`
	LastInterrogation *time.Time `json:"last_interrogation"`
}

type statsJSON struct {
	RxFrames   uint64            `json:"rx_frames"`
	TxFrames   uint64            `json:"tx_frames"`
	RxObjects  uint64            `json:"rx_objects"`
	TxObjects  uint64            `json:"tx_objects"`
	Errors     uint64            `json:"errors"`
	Reconnects uint64            `json:"reconnects"`
	Replays    uint64            `json:"replays"` // time-tagged events received again (after a reconnect), not applied
	ByKind     map[string]uint64 `json:"errors_by_kind,omitempty"`
}

func linkObject(l LinkInfo) linkJSON {
	return linkJSON{
		Name: l.Name, State: l.State, Address: l.Address, Since: timePtr(l.Since),
		Stats: statsJSON{RxFrames: l.Stats.RxFrames, TxFrames: l.Stats.TxFrames, RxObjects: l.Stats.RxObjects,
			TxObjects: l.Stats.TxObjects, Errors: l.Stats.Errors, Reconnects: l.Stats.Reconnects, Replays: l.Stats.Replays, ByKind: l.Stats.ErrorsByKind},
		LastInterrogation: timePtr(l.Stats.LastInterrogation),
	}
}

// visibleLinks returns the links the user sees: all of them, or for a user restricted to areas, those that feed
// a point of those areas.
func (a *App) visibleLinks(id *Identity) []LinkInfo {
	all := a.deps.Links.Links()
	if !id.restricted() {
		return all
	}
	feeds := map[string]bool{}
	for i := range a.defs {
		if id.Sees(a.defs[i].Area) {
			feeds[a.defs[i].Link] = true
		}
	}
	out := all[:0:0]
	for _, l := range all {
		if feeds[l.Name] {
			out = append(out, l)
		}
	}
	return out
}

// visibleLink returns the link name if the user sees it.
func (a *App) visibleLink(id *Identity, name string) (LinkInfo, error) {
	for _, l := range a.visibleLinks(id) {
		if l.Name == name {
			if fresh, ok := a.deps.Links.Link(name); ok {
				return fresh, nil
			}
			return l, nil
		}
	}
	return LinkInfo{}, errorf(CodeNotFound, "no link "+name)
}

// APILinks lists the links (GET /api/v1/links).
func (a *App) APILinks(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	out := []linkJSON{}
	for _, l := range a.visibleLinks(id) {
		out = append(out, linkObject(l))
	}
	writeJSON(w, http.StatusOK, out)
}

// APILink returns one link (GET /api/v1/links/{name}).
func (a *App) APILink(w http.ResponseWriter, r *http.Request) {
	l, err := a.visibleLink(IdentityFrom(r.Context()), param(r, "name"))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, linkObject(l))
}
