package config

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Display is an SVG mimic diagram (a single-line diagram, a process
// picture), shown at /displays/ID. Its elements bind to points by their
// data-point attribute (docs/ui-contract.md).
type Display struct {
	// ID is used in the display's URL: letters, digits, '.', '_' and '-'.
	// Required, unique.
	ID string `yaml:"id"`
	// Name is the title shown in the menu and on the page. Default: the ID.
	Name string `yaml:"name"`
	// File is the SVG file, relative to the configuration's directory.
	// Required; it must be well-formed XML with an <svg> root, and every
	// data-point attribute in it must name a configured point. Load and
	// Parse return it joined to the configuration's directory.
	File string `yaml:"file"`

	svg []byte
}

// SVG returns the file's content as it was read when the configuration
// was loaded (the file is not read again). Do not modify it.
func (d *Display) SVG() []byte { return d.svg }

// Display returns the display with the ID id, or nil.
func (c *Config) Display(id string) *Display {
	for _, d := range c.Displays {
		if d.ID == id {
			return d
		}
	}
	return nil
}

// maxDisplayBytes bounds a display file (the web server refuses larger ones).
const maxDisplayBytes = 4 << 20

const svgNamespace = "http://www.w3.org/2000/svg"

func (k *checker) checkDisplays() {
	ids := make(map[string]pos)
	for i, d := range k.c.Displays {
		p := index("displays", i)
		if k.isBad(p) {
			continue
		}
		k.name(join(p, "id"), d.ID, "display id", ids)
		setDefault(k, join(p, "name"), &d.Name, d.ID)
		if k.given(join(p, "name")) {
			k.required(join(p, "name"), d.Name)
		}
		fp := join(p, "file")
		shown := strconv.Quote(d.File)
		if !k.file(fp, &d.File) {
			continue
		}
		svg, err := readDisplay(d.File)
		if err != nil {
			k.fail(fp, "%s: %v", shown, err)
			continue
		}
		refs, err := svgPoints(svg)
		if err != nil {
			k.fail(fp, "%s: %v", shown, err)
			continue
		}
		d.svg = svg
		if k.isBad("points") {
			continue // the points did not decode: their IDs are not known
		}
		for _, r := range refs {
			if k.c.Point(r.id) == nil {
				k.fail(fp, "%s line %d: data-point %q names no configured point", shown, r.line, r.id)
			}
		}
	}
}

// readDisplay reads a display file, at most maxDisplayBytes.
func readDisplay(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxDisplayBytes+1))
	if err != nil {
		return nil, unwrapPath(err)
	}
	if len(b) > maxDisplayBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxDisplayBytes)
	}
	return b, nil
}

// pointRef is a data-point attribute of a display and its line in the file.
type pointRef struct {
	id   string
	line int
}

// svgPoints parses an SVG document as the web server does (strict XML, no
// entities but the predefined ones), checks that its root is an svg
// element, and returns its data-point attributes in document order, each ID
// once.
func svgPoints(data []byte) ([]pointRef, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.Entity = nil
	var (
		refs  []pointRef
		seen  = make(map[string]bool)
		depth = 0
		root  = false
	)
	for {
		line, _ := dec.InputPos()
		off := dec.InputOffset()
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if !root {
				return nil, errors.New("not SVG: no <svg> element")
			}
			return refs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if root {
					return nil, errors.New("not SVG: more than one root element")
				}
				switch {
				case t.Name.Local != "svg":
					return nil, fmt.Errorf("not SVG: the root element is <%s>, want <svg>", t.Name.Local)
				case t.Name.Space != "" && t.Name.Space != svgNamespace:
					return nil, fmt.Errorf("not SVG: the root element is in the namespace %q, want %q", t.Name.Space, svgNamespace)
				}
				root = true
			}
			depth++
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "data-point" && !seen[a.Value] {
					seen[a.Value] = true
					refs = append(refs, pointRef{a.Value, attrLine(data[off:dec.InputOffset()], line, a.Value)})
				}
			}
		case xml.EndElement:
			depth--
		}
	}
}

// attrLine returns the line of data-point="id" in tag, the text of a start
// tag that begins on line; line itself when it cannot be found (entities in
// the value, spaces around '=').
func attrLine(tag []byte, line int, id string) int {
	for _, q := range []string{`"`, `'`} {
		if i := bytes.Index(tag, []byte("data-point="+q+id+q)); i >= 0 {
			return line + bytes.Count(tag[:i], []byte("\n"))
		}
	}
	return line
}
