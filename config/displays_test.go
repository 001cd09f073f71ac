package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// displayBase is a configuration with two points for the displays to bind to.
const displayBase = `links:
  - {name: a, addresses: ["h:1"], ca: 1}
points:
  - {id: a.cb, link: a, ioa: 1, kind: double}
  - {id: a.i, link: a, ioa: 2, kind: float, unit: A}
`

const goodSVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 50">
  <g data-point="a.cb"><use href="/static/svg/symbols.svg#sym-breaker" width="20" height="20"/></g>
  <g data-point="a.i"><text data-field="value">-</text></g>
  <g data-point="a.cb"/>
</svg>
`

// writeFiles writes name -> content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDisplays(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"displays/one.svg": goodSVG, "two.svg": `<svg/>`})
	cfg := displayBase + `displays:
  - id: one
    name: Station one
    file: displays/one.svg
  - {id: two_2.b-c, file: two.svg}
`
	path := filepath.Join(dir, "hmi.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // the working directory plays no part
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Displays) != 2 {
		t.Fatalf("%d displays, want 2", len(c.Displays))
	}
	for _, tt := range []struct {
		d              *Display
		id, name, file string
		svg            string
	}{
		{c.Displays[0], "one", "Station one", filepath.Join(dir, "displays", "one.svg"), goodSVG},
		{c.Displays[1], "two_2.b-c", "two_2.b-c", filepath.Join(dir, "two.svg"), `<svg/>`},
	} {
		if tt.d.ID != tt.id || tt.d.Name != tt.name || tt.d.File != tt.file || string(tt.d.SVG()) != tt.svg {
			t.Errorf("display = {%q %q %q %q}, want {%q %q %q %q}", tt.d.ID, tt.d.Name, tt.d.File, tt.d.SVG(),
				tt.id, tt.name, tt.file, tt.svg)
		}
	}
	if c.Display("one") != c.Displays[0] || c.Display("nope") != nil {
		t.Error("Display(id) does not find the displays by ID")
	}
	// Read once, at load: the file may go away.
	if err := os.Remove(filepath.Join(dir, "two.svg")); err != nil {
		t.Fatal(err)
	}
	if string(c.Displays[1].SVG()) != `<svg/>` {
		t.Error("SVG() changed after the file was removed")
	}
}

func TestDisplayErrors(t *testing.T) {
	files := map[string]string{
		"good.svg":   goodSVG,
		"bad.svg":    "<svg xmlns=\"http://www.w3.org/2000/svg\">\n  <g data-point=\"a.cb\"/>\n  <g\n    data-point=\"a.nope\"/>\n  <text data-point='b.x'/>\n</svg>\n",
		"html.svg":   "<html><body/></html>",
		"text.svg":   "hello\n",
		"empty.svg":  "",
		"broken.svg": "<svg>\n<g>\n</svg>\n",
		"other.svg":  `<svg xmlns="http://example.com/not-svg"/>`,
		"entity.svg": `<!DOCTYPE svg [<!ENTITY x "a.cb">]><svg><g data-point="&x;"/></svg>`,
		"two.svg":    `<svg/><svg/>`,
		"sub/x.svg":  `<svg/>`,
	}
	cases := []struct {
		name string
		yaml string
		want []string // after "DIR/t.yaml:"; FILE stands for the file's full name
	}{
		{
			name: "unknown points in the SVG",
			yaml: "displays:\n  - {id: d, file: bad.svg}\n",
			want: []string{
				`7:19: file: "bad.svg" line 4: data-point "a.nope" names no configured point`,
				`7:19: file: "bad.svg" line 5: data-point "b.x" names no configured point`,
			},
		},
		{
			name: "missing file",
			yaml: "displays:\n  - id: d\n    file: nope.svg\n",
			want: []string{`8:11: file: file "nope.svg" (DIR/nope.svg) does not exist`},
		},
		{
			name: "file is a directory",
			yaml: "displays:\n  - {id: d, file: sub}\n",
			want: []string{`7:19: file: "sub" (DIR/sub) is a directory, want a file`},
		},
		{
			name: "file and id required",
			yaml: "displays:\n  - {name: x}\n  - {id: \"\", file: \"\"}\n",
			want: []string{
				`7:5: id: required`,
				`7:5: file: required`,
				`8:10: id: must not be empty`,
				`8:20: file: must not be empty`,
			},
		},
		{
			name: "duplicate id",
			yaml: "displays:\n  - {id: d, file: good.svg}\n  - {id: e, file: good.svg}\n  - {id: d, file: good.svg}\n",
			want: []string{`9:10: id: duplicate display id "d" (first at line 7)`},
		},
		{
			name: "id not URL-safe",
			yaml: "displays:\n  - {id: \"a/b\", file: good.svg}\n  - {id: a b, file: good.svg}\n  - {id: .x, file: good.svg}\n",
			want: []string{
				`7:10: id: "a/b": use letters, digits, '.', '_' and '-', starting with a letter or digit`,
				`8:10: id: "a b": use letters, digits, '.', '_' and '-', starting with a letter or digit`,
				`9:10: id: ".x": use letters, digits, '.', '_' and '-', starting with a letter or digit`,
			},
		},
		{
			name: "not SVG",
			yaml: "displays:\n" +
				"  - {id: a, file: html.svg}\n" +
				"  - {id: b, file: text.svg}\n" +
				"  - {id: c, file: empty.svg}\n" +
				"  - {id: d, file: broken.svg}\n" +
				"  - {id: e, file: other.svg}\n" +
				"  - {id: f, file: entity.svg}\n" +
				"  - {id: g, file: two.svg}\n",
			want: []string{
				`7:19: file: "html.svg": not SVG: the root element is <html>, want <svg>`,
				`8:19: file: "text.svg": not SVG: no <svg> element`,
				`9:19: file: "empty.svg": not SVG: no <svg> element`,
				`10:19: file: "broken.svg": not well-formed XML: XML syntax error on line 3: element <g> closed by </svg>`,
				`11:19: file: "other.svg": not SVG: the root element is in the namespace "http://example.com/not-svg", want "http://www.w3.org/2000/svg"`,
				`12:19: file: "entity.svg": not well-formed XML: XML syntax error on line 1: invalid character entity &x;`,
				`13:19: file: "two.svg": not SVG: more than one root element`,
			},
		},
		{
			name: "empty name, wrong types",
			yaml: "displays:\n  - {id: d, name: \"\", file: good.svg}\n  - {id: e, file: [x]}\n  - 3\n",
			want: []string{
				`7:19: name: must not be empty`,
				`8:19: file: want a string, got a list`,
				`9:5: displays[2]: want a mapping, got integer 3`,
			},
		},
	}
	dir := t.TempDir()
	writeFiles(t, dir, files)
	path := filepath.Join(dir, "t.yaml")
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(path, []byte(displayBase+tt.yaml))
			if c != nil {
				t.Errorf("Parse returned a configuration with errors")
			}
			got := messages(t, err)
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ":" + strings.ReplaceAll(w, "DIR", dir)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// Points that did not decode make no "names no configured point" noise.
func TestDisplayWithBadPoints(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"d.svg": goodSVG})
	path := filepath.Join(dir, "t.yaml")
	_, err := Parse(path, []byte("points: 3\ndisplays:\n  - {id: d, file: d.svg}\n"))
	got := messages(t, err)
	want := []string{path + ":1:9: points: want a list, got integer 3"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The example's displays load, bind only to its points, and hold nothing the
// pages' CSP (style-src 'self') would block.
func TestExampleDisplays(t *testing.T) {
	c, err := Load("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Displays) != 2 {
		t.Fatalf("%d displays, want 2", len(c.Displays))
	}
	bound := make(map[string]bool)
	for _, d := range c.Displays {
		refs, err := svgPoints(d.SVG())
		if err != nil {
			t.Fatalf("display %s: %v", d.ID, err)
		}
		for _, r := range refs {
			bound[r.id] = true
		}
		s := string(d.SVG())
		for _, bad := range []string{"<style", "style=", "<script", "<foreignObject"} {
			if strings.Contains(s, bad) {
				t.Errorf("display %s holds %q", d.ID, bad)
			}
		}
		if !strings.Contains(s, "viewBox=") {
			t.Errorf("display %s has no viewBox", d.ID)
		}
	}
	for _, p := range c.Points {
		if !bound[p.ID] {
			t.Errorf("point %s is on no display", p.ID)
		}
	}
}
