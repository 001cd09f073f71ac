package web

import (
	"net/http"
	"net/url"
	"slices"

	"hmi/templates"
)

// DisplayPage shows a mimic diagram (GET /displays/{id}). Elements bound to points the user may not see lose their
// binding; those bound to points the user may operate are marked data-controllable and get a control dialog.
func (a *App) DisplayPage(w http.ResponseWriter, r *http.Request) {
	id := IdentityFrom(r.Context())
	want := param(r, "id")
	i := slices.IndexFunc(a.displays, func(d *display) bool { return d.id == want })
	if i < 0 {
		a.Fail(w, r, errorf(CodeNotFound, "no display "+want))
		return
	}
	d := a.displays[i]
	visible := map[string]bool{}
	operable := map[string]bool{}
	p := templates.DisplayPage{Page: a.page(w, r, "display", d.name), ID: d.id, DisplayName: d.name}
	for _, pid := range d.points {
		h, _ := a.cache.Lookup(pid)
		def := &a.defs[h]
		if !id.Sees(def.Area) {
			continue
		}
		visible[pid] = true
		if c := a.controls[pid]; a.mayOperate(id, c, def) {
			operable[pid] = true
			dialogID := ""
			if len(p.Controls) == 0 {
				dialogID = "control-dialog"
			}
			p.Controls = append(p.Controls, a.controlView(c, def, dialogID))
		}
	}
	p.SVG = bindSVG(d.root, visible, operable)
	for _, o := range a.displays {
		p.Displays = append(p.Displays, templates.NavItem{Href: "/displays/" + url.PathEscape(o.id), Label: o.name, Current: o == d})
	}
	a.render(w, r, http.StatusOK, templates.Display(p))
}

// bindSVG copies n for one user: data-point stays only on points the user sees, and data-controllable="true" is
// added on those the user may operate.
func bindSVG(n templates.SVGNode, visible, operable map[string]bool) templates.SVGNode {
	out := templates.SVGNode{Tag: n.Tag, Text: n.Text}
	if len(n.Attrs) > 0 {
		out.Attrs = make([]templates.SVGAttr, 0, len(n.Attrs)+1)
		for _, at := range n.Attrs {
			if at.Name == "data-point" {
				if !visible[at.Value] {
					continue
				}
				if operable[at.Value] {
					out.Attrs = append(out.Attrs, at, templates.SVGAttr{Name: "data-controllable", Value: "true"})
					continue
				}
			}
			out.Attrs = append(out.Attrs, at)
		}
	}
	if len(n.Children) > 0 {
		out.Children = make([]templates.SVGNode, len(n.Children))
		for i, c := range n.Children {
			out.Children[i] = bindSVG(c, visible, operable)
		}
	}
	return out
}
