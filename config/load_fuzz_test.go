package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad is FuzzParse through Load, the path the server takes: the configuration is a file, and its displays
// are SVG files beside it that the checks read and parse. Both the YAML and the SVG of the display file d.svg are
// fuzzed. Load never panics; it returns a configuration or a non-empty Errors, every error placed in the
// configuration file; an accepted configuration's displays hold the file's content, parse, and bind to configured
// points only.
func FuzzLoad(f *testing.F) {
	const oneDisplay = displayBase + "displays:\n  - {id: one, name: Station one, file: d.svg}\n"
	f.Add([]byte(oneDisplay), []byte(goodSVG))
	f.Add([]byte(displayBase+"displays:\n  - {id: one, file: d.svg}\n  - {id: two, file: ./d.svg}\n"), []byte(`<svg/>`))
	// Displays the checks must refuse.
	for _, svg := range []string{
		``, `<svg`, `<html/>`, `<svg/><svg/>`, `<x:svg xmlns:x="urn:x"/>`, `<svg xmlns="urn:not-svg"/>`,
		`<svg><g data-point="nope"/></svg>`, `<svg><g data-point="a.cb" data-point="a.i"/></svg>`,
		`<!DOCTYPE svg [<!ENTITY x "y">]><svg>&x;</svg>`, `<svg>&amp;&lt;&#x41;&bogus;</svg>`,
		"\xef\xbb\xbf<svg/>", `<?xml version="1.0" encoding="ISO-8859-1"?><svg/>`, "<svg>\x00</svg>",
		"<svg>\n<g\n data-point = 'a.i'\n/></svg>", `<svg><g data-point="&#97;.cb"/></svg>`,
	} {
		f.Add([]byte(oneDisplay), []byte(svg))
	}
	// Display entries the checks must refuse.
	for _, d := range []string{
		"{id: one}", "{id: '', file: d.svg}", "{id: ../x, file: d.svg}", "{id: one, file: .}", "{id: one, file: nope.svg}",
		"{id: one, file: hmi.yaml}", "{id: one, name: '', file: d.svg}", "{id: one, file: d.svg, extra: 1}",
		"[one, d.svg]", "{id: one, file: d.svg}\n  - {id: one, file: d.svg}",
	} {
		f.Add([]byte(displayBase+"displays:\n  - "+d+"\n"), []byte(goodSVG))
	}

	dir := f.TempDir()
	path := filepath.Join(dir, "hmi.yaml")
	svgPath := filepath.Join(dir, "d.svg")
	load := func(t testing.TB, data, svg []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(svgPath, svg, 0o600); err != nil {
			t.Fatal(err)
		}
		checkLoad(t, path, svgPath, svg)
	}

	// The project's displays, each with the points it binds to, once: as seeds, inputs of their size have the
	// engine spend its time minimising them.
	for _, name := range []string{"north.svg", "south.svg"} {
		svg, err := os.ReadFile(filepath.Join("../displays", name))
		if err != nil {
			f.Fatal(err)
		}
		refs, err := svgPoints(svg)
		if err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		var b strings.Builder
		b.WriteString("links:\n  - {name: a, addresses: [\"h:1\"], ca: 1}\npoints:\n")
		for i, r := range refs {
			fmt.Fprintf(&b, "  - {id: %s, link: a, ioa: %d, kind: single}\n", r.id, i+1)
		}
		b.WriteString("displays:\n  - {id: " + strings.TrimSuffix(name, ".svg") + ", file: d.svg}\n")
		load(f, []byte(b.String()), svg)
		if _, err := Load(path); err != nil {
			f.Fatalf("%s: %v", name, err)
		}
	}

	f.Fuzz(func(t *testing.T, data, svg []byte) {
		// Device and kernel files may block or never end (/dev/stdin, /dev/zero); the configuration is the
		// operator's, and the fuzzer is kept to ordinary files.
		for _, special := range []string{"/dev", "/proc", "/sys"} {
			if bytes.Contains(data, []byte(special)) {
				t.Skip("names a special file")
			}
		}
		load(t, data, svg)
	})
}

// checkLoad loads the configuration at path and checks the outcome; svg is the content of the display file svgPath.
func checkLoad(t testing.TB, path, svgPath string, svg []byte) {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %v (%T), want non-empty Errors", err, err)
		}
		for _, e := range errs {
			if e.File != path || e.Line < 0 || e.Col < 0 || e.Msg == "" {
				t.Fatalf("bad error %#v", e)
			}
		}
		if c != nil {
			t.Fatal("a configuration and an error")
		}
		return
	}
	for _, l := range c.Links {
		if err := l.APCI().Validate(); err != nil {
			t.Fatalf("accepted link %q: %v", l.Name, err)
		}
	}
	for _, p := range c.Points {
		if c.Link(p.Link) == nil || !p.Kind.Valid() || p.IOA < 1 || p.IOA > maxIOA || p.CA < 1 || p.CA > maxCA {
			t.Fatalf("accepted point %+v", p)
		}
	}
	ids := map[string]bool{}
	for _, d := range c.Displays {
		switch {
		case !nameRE.MatchString(d.ID) || ids[d.ID]:
			t.Fatalf("accepted display id %q (twice: %v)", d.ID, ids[d.ID])
		case strings.TrimSpace(d.Name) == "":
			t.Fatalf("display %q: accepted the name %q", d.ID, d.Name)
		case !filepath.IsAbs(d.File):
			t.Fatalf("display %q: the file %q is not joined to the configuration's directory", d.ID, d.File)
		case d.SVG() == nil || len(d.SVG()) > maxDisplayBytes:
			t.Fatalf("display %q: %d bytes of SVG", d.ID, len(d.SVG()))
		case filepath.Clean(d.File) == svgPath && !bytes.Equal(d.SVG(), svg):
			t.Fatalf("display %q: SVG() is not the file's content", d.ID)
		}
		ids[d.ID] = true
		refs, err := svgPoints(d.SVG())
		if err != nil {
			t.Fatalf("display %q accepted, but its SVG does not parse: %v", d.ID, err)
		}
		for _, r := range refs {
			if c.Point(r.id) == nil {
				t.Fatalf("display %q: data-point %q names no point", d.ID, r.id)
			}
		}
	}
}
