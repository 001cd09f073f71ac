// Package static holds the HMI's stylesheets, JavaScript modules and SVG symbols, embedded in the binary, and serves
// them under /static/ with content-hashed URLs.
//
// URL("js/app.js") gives "/static/js/app.js?v=HASH", HASH being the first 12 hex digits of the SHA-256 of the bytes
// served. A request whose v matches is cached for a year as immutable; any other request for an asset (no v, or an
// old one) gets "Cache-Control: no-cache" and an ETag, so the browser revalidates and never keeps a stale copy.
//
// ES modules import each other with relative specifiers ("./ws.js"). The browser would request those without a
// version, so at start the package rewrites every static import and re-export specifier of a module to its hashed
// form ("./ws.js?v=HASH"), in dependency order, and hashes each module after the rewrite: a change in ws.js changes
// the URL of ws.js and therefore the bytes and URL of every module that imports it, up to app.js.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Prefix is the URL path under which Handler serves the assets.
const Prefix = "/static/"

//go:embed css js svg
var embedded embed.FS

// asset is one served file. Immutable after init.
type asset struct {
	body  []byte
	hash  string // first 12 hex digits of the SHA-256 of body
	ctype string
}

// assets maps a name relative to Prefix ("js/app.js") to its asset. Built once by init, read-only afterwards.
var assets = mustLoad(embedded)

// URL returns the versioned URL of the asset name, given relative to Prefix ("css/hmi.css", "js/app.js",
// "svg/symbols.svg"). An SVG fragment stays after the query: URL("svg/symbols.svg#sym-breaker") is
// "/static/svg/symbols.svg?v=HASH#sym-breaker". An unknown name gives its unversioned URL, which Handler answers
// with 404, so that a misspelt asset shows in the browser's network log rather than crashing a page.
func URL(name string) string {
	name, frag, _ := strings.Cut(strings.TrimPrefix(name, Prefix), "#")
	u := Prefix + name
	if a, ok := assets[name]; ok {
		u += "?v=" + a.hash
	}
	if frag != "" {
		u += "#" + frag
	}
	return u
}

// Names lists the served assets, relative to Prefix, sorted.
func Names() []string {
	names := make([]string, 0, len(assets))
	for n := range assets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Handler serves the assets for request paths under Prefix (mount it at "/static/" without stripping the prefix).
// Only GET and HEAD; only embedded files (no directory listings); anything else is 404. Every response carries
// X-Content-Type-Options: nosniff.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	// The map holds only the embedded files, so this lookup is the only gate needed: a path with "..", a
	// directory or anything outside the embed is simply not a key. fs.ValidPath is a second, explicit refusal.
	a, found := assets[name]
	if !ok || !found || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", `"`+a.hash+`"`)
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	// ServeContent answers If-None-Match with 304, ranges, and HEAD.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// contentTypes maps the extensions the package serves to their media types. A fixed table rather than
// mime.TypeByExtension, whose answers depend on the host's /etc/mime.types; with nosniff, a wrong type for a module
// script would stop the page.
var contentTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
	".wav":   "audio/wav",
	".mp3":   "audio/mpeg",
	".ogg":   "audio/ogg",
}

func contentType(name string) string {
	if t, ok := contentTypes[path.Ext(name)]; ok {
		return t
	}
	return "application/octet-stream"
}

// importSpec matches the relative module specifier of a static import or re-export:
//
//	import { a } from "./ws.js";   import "./x.js";   export { b } from './y.js';
//
// Group 1 is everything before the quoted specifier, group 2 the quote, group 3 the specifier.
var importSpec = regexp.MustCompile(`(\b(?:from|import)\s*)(["'])(\.{1,2}/[A-Za-z0-9_./-]+\.m?js)(["'])`)

// mustLoad reads every embedded file, stamps module imports, and hashes each result. It panics on an
// inconsistency (an import of a missing module, an import cycle): the package's tests run it, so that cannot ship.
func mustLoad(fsys fs.FS) map[string]asset {
	m, err := load(fsys)
	if err != nil {
		panic(err)
	}
	return m
}

func load(fsys fs.FS) (map[string]asset, error) {
	raw := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		raw[p] = b
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	out := make(map[string]asset, len(raw))
	state := map[string]int{} // 1: being stamped (on the stack), 2: done
	var stamp func(name string, stack []string) error
	stamp = func(name string, stack []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("static: import cycle: %s -> %s", strings.Join(stack, " -> "), name)
		case 2:
			return nil
		}
		state[name] = 1
		body := raw[name]
		if isModule(name) {
			var ferr error
			body = importSpec.ReplaceAllFunc(body, func(m []byte) []byte {
				sub := importSpec.FindSubmatch(m)
				dep := path.Join(path.Dir(name), string(sub[3]))
				if _, ok := raw[dep]; !ok {
					ferr = fmt.Errorf("static: %s imports %s, which does not exist", name, dep)
					return m
				}
				if err := stamp(dep, append(stack, name)); err != nil {
					ferr = err
					return m
				}
				return fmt.Appendf(nil, "%s%s%s?v=%s%s", sub[1], sub[2], sub[3], out[dep].hash, sub[4])
			})
			if ferr != nil {
				return ferr
			}
		}
		sum := sha256.Sum256(body)
		out[name] = asset{body: body, hash: hex.EncodeToString(sum[:])[:12], ctype: contentType(name)}
		state[name] = 2
		return nil
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := stamp(n, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isModule(name string) bool {
	ext := path.Ext(name)
	return ext == ".js" || ext == ".mjs"
}
