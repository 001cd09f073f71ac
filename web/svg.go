package web

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"hmi/points"
	"hmi/templates"
)

// The SVG sanitiser: a display's file is parsed once, at start, and only a whitelist of elements and attributes
// reaches the pages. What it drops: scripts, styles, foreign objects, images, links, animation, event handlers,
// anything from another namespace, references outside the document (except the HMI's own symbol sheet), and ids
// that the page itself uses. Text is kept as text and rendered escaped by the templates.

// Bounds of a display file.
const (
	maxSVGBytes = 4 << 20
	maxSVGNodes = 100_000
	maxSVGDepth = 64
)

const (
	svgNS   = "http://www.w3.org/2000/svg"
	xlinkNS = "http://www.w3.org/1999/xlink"
)

// svgElements are the elements a display may hold.
var svgElements = map[string]bool{
	"svg": true, "g": true, "defs": true, "symbol": true, "use": true,
	"rect": true, "circle": true, "ellipse": true, "line": true, "polyline": true, "polygon": true, "path": true,
	"text": true, "tspan": true, "title": true, "desc": true,
	"linearGradient": true, "radialGradient": true, "stop": true, "clipPath": true, "marker": true,
}

// svgTextElements keep their character data.
var svgTextElements = map[string]bool{"text": true, "tspan": true, "title": true, "desc": true}

// svgAttributes are the attributes a display's elements may carry (besides href, checked on its own).
var svgAttributes = map[string]bool{
	"id": true, "class": true, "x": true, "y": true, "x1": true, "y1": true, "x2": true, "y2": true,
	"cx": true, "cy": true, "r": true, "rx": true, "ry": true, "width": true, "height": true, "d": true,
	"points": true, "transform": true, "viewBox": true, "preserveAspectRatio": true,
	"fill": true, "fill-opacity": true, "fill-rule": true, "stroke": true, "stroke-width": true,
	"stroke-opacity": true, "stroke-dasharray": true, "stroke-dashoffset": true, "stroke-linecap": true,
	"stroke-linejoin": true, "stroke-miterlimit": true, "opacity": true, "visibility": true, "display": true,
	"font-family": true, "font-size": true, "font-weight": true, "font-style": true, "text-anchor": true,
	"dominant-baseline": true, "alignment-baseline": true, "letter-spacing": true, "dx": true, "dy": true,
	"rotate": true, "textLength": true, "lengthAdjust": true,
	"offset": true, "stop-color": true, "stop-opacity": true, "gradientUnits": true, "gradientTransform": true,
	"fx": true, "fy": true, "fr": true, "spreadMethod": true,
	"clip-path": true, "clipPathUnits": true, "clip-rule": true,
	"marker-start": true, "marker-mid": true, "marker-end": true, "markerWidth": true, "markerHeight": true,
	"markerUnits": true, "refX": true, "refY": true, "orient": true,
	"vector-effect": true, "shape-rendering": true, "pathLength": true,
	"role": true, "aria-label": true,
	"data-point": true, "data-field": true, "data-kind": true,
}

// reservedIDs are ids of the page's own elements, which a display must not shadow.
var reservedIDs = map[string]bool{
	"conn-banner": true, "alarm-banner": true, "silence": true, "control-dialog": true, "notices": true,
	"alarms": true, "points": true, "events": true, "stations": true, "links": true, "users": true,
	"username": true, "password": true, "point-events": true,
}

// urlRef matches the only url() a display may use: a reference to an element of the same document.
var urlRef = regexp.MustCompile(`^url\(\s*#[A-Za-z_][-A-Za-z0-9_.:]*\s*\)$`)

// display is a sanitised display.
type display struct {
	id, name string
	root     templates.SVGNode
	points   []string // the data-point IDs, in document order, each once
}

// parseDisplay sanitises d's SVG. assetURL versions references to the HMI's symbol sheet.
func parseDisplay(d Display, cache *points.Cache, assetURL func(string) string) (*display, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("web: display %q: %s", d.ID, fmt.Sprintf(format, args...))
	}
	if d.ID == "" {
		return nil, fmt.Errorf("web: display %q without an ID", d.Name)
	}
	if len(d.SVG) > maxSVGBytes {
		return nil, fail("%d bytes, more than %d", len(d.SVG), maxSVGBytes)
	}
	p := &svgParser{cache: cache, assetURL: assetURL, seen: map[string]bool{}}
	dec := xml.NewDecoder(bytes.NewReader(d.SVG))
	dec.Strict = true
	dec.Entity = nil // only the five predefined entities; no DTD-declared ones
	root, err := p.parse(dec)
	if err != nil {
		return nil, fail("%v", err)
	}
	name := d.Name
	if name == "" {
		name = d.ID
	}
	return &display{id: d.ID, name: name, root: *root, points: p.points}, nil
}

type svgParser struct {
	cache    *points.Cache
	assetURL func(string) string
	nodes    int
	seen     map[string]bool
	points   []string
	problems []error
}

// parse reads the document and returns its sanitised root, which must be an svg element.
func (p *svgParser) parse(dec *xml.Decoder) (*templates.SVGNode, error) {
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil, errors.New("no svg element")
		}
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local != "svg" || (se.Name.Space != "" && se.Name.Space != svgNS) {
				return nil, fmt.Errorf("the root element is %s, not svg", se.Name.Local)
			}
			n, err := p.element(dec, se, 1)
			if err != nil {
				return nil, err
			}
			if err := errors.Join(p.problems...); err != nil {
				return nil, err
			}
			return n, nil
		}
	}
}

// element reads the content of se up to its end and returns the sanitised node, or nil when the element is not
// allowed (its whole subtree is skipped).
func (p *svgParser) element(dec *xml.Decoder, se xml.StartElement, depth int) (*templates.SVGNode, error) {
	if depth > maxSVGDepth {
		return nil, fmt.Errorf("elements nested deeper than %d", maxSVGDepth)
	}
	if p.nodes++; p.nodes > maxSVGNodes {
		return nil, fmt.Errorf("more than %d nodes", maxSVGNodes)
	}
	allowed := svgElements[se.Name.Local] && (se.Name.Space == "" || se.Name.Space == svgNS)
	if !allowed {
		return nil, dec.Skip()
	}
	n := &templates.SVGNode{Tag: se.Name.Local, Attrs: p.attributes(se)}
	for {
		tok, err := dec.Token()
		if err != nil {
			if err == io.EOF {
				return nil, fmt.Errorf("unexpected end inside %s", se.Name.Local)
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			c, err := p.element(dec, t, depth+1)
			if err != nil {
				return nil, err
			}
			if c != nil {
				n.Children = append(n.Children, *c)
			}
		case xml.CharData:
			if svgTextElements[n.Tag] && len(t) > 0 {
				if p.nodes++; p.nodes > maxSVGNodes {
					return nil, fmt.Errorf("more than %d nodes", maxSVGNodes)
				}
				n.Children = append(n.Children, templates.SVGNode{Text: string(t)})
			}
		case xml.EndElement:
			return n, nil
		}
	}
}

// attributes returns the allowed attributes of se, with their values checked.
func (p *svgParser) attributes(se xml.StartElement) []templates.SVGAttr {
	var out []templates.SVGAttr
	for _, a := range se.Attr {
		name, val := a.Name.Local, a.Value
		switch {
		case name == "href" && (a.Name.Space == "" || a.Name.Space == xlinkNS || a.Name.Space == "xlink"):
			if h, ok := p.href(val); ok {
				out = append(out, templates.SVGAttr{Name: "href", Value: h})
			}
			continue
		case a.Name.Space != "" || !svgAttributes[name]:
			continue
		case len(val) > 1<<16 || unsafeValue(val):
			continue
		}
		switch name {
		case "id":
			if reservedIDs[val] {
				continue
			}
		case "data-field":
			if val != "value" && val != "quality" && val != "time" {
				continue
			}
		case "data-point":
			if _, ok := p.cache.Lookup(val); !ok {
				p.problems = append(p.problems, fmt.Errorf("data-point %q: no such point", val))
				continue
			}
			if !p.seen[val] {
				p.seen[val] = true
				p.points = append(p.points, val)
			}
		}
		out = append(out, templates.SVGAttr{Name: name, Value: val})
	}
	return out
}

// href checks a reference: a fragment of this document, or the HMI's symbol sheet under /static/svg/ (versioned).
func (p *svgParser) href(v string) (string, bool) {
	v = strings.TrimSpace(v)
	switch {
	case strings.HasPrefix(v, "#") && len(v) > 1 && !unsafeValue(v):
		return v, true
	case strings.HasPrefix(v, "/static/svg/") && !strings.Contains(v, "..") && !unsafeValue(v):
		return p.assetURL(strings.TrimPrefix(v, "/static/")), true
	}
	return "", false
}

// unsafeValue reports whether an attribute value could run script or load something from elsewhere.
func unsafeValue(v string) bool {
	l := strings.ToLower(strings.Join(strings.Fields(v), ""))
	if strings.Contains(l, "javascript:") || strings.Contains(l, "data:") || strings.Contains(l, "expression(") ||
		strings.ContainsAny(v, "<>") {
		return true
	}
	if strings.Contains(l, "url(") {
		return !urlRef.MatchString(strings.TrimSpace(v))
	}
	return false
}
