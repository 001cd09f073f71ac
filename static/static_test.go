package static

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestURL(t *testing.T) {
	hashed := regexp.MustCompile(`^/static/js/app\.js\?v=[0-9a-f]{12}$`)
	if got := URL("js/app.js"); !hashed.MatchString(got) {
		t.Errorf("URL(js/app.js) = %q, want /static/js/app.js?v=<12 hex>", got)
	}
	if got, want := URL("/static/js/app.js"), URL("js/app.js"); got != want {
		t.Errorf("URL with the prefix = %q, want %q", got, want)
	}
	sym := URL("svg/symbols.svg#sym-breaker")
	if !regexp.MustCompile(`^/static/svg/symbols\.svg\?v=[0-9a-f]{12}#sym-breaker$`).MatchString(sym) {
		t.Errorf("URL with a fragment = %q", sym)
	}
	if got, want := URL("js/nope.js"), "/static/js/nope.js"; got != want {
		t.Errorf("URL of an unknown asset = %q, want %q", got, want)
	}
	// The hash is that of the bytes served.
	for _, name := range Names() {
		rec := get(t, URL(name))
		sum := sha256.Sum256(rec.Body.Bytes())
		if v := strings.TrimPrefix(URL(name)[strings.Index(URL(name), "?v="):], "?v="); v != hex.EncodeToString(sum[:])[:12] {
			t.Errorf("%s: v=%s is not the hash of the body served", name, v)
		}
	}
}

func TestNamesIncludeTheAssets(t *testing.T) {
	want := []string{"css/hmi.css", "js/app.js", "js/ws.js", "js/live.js", "js/alarms.js", "js/control.js",
		"js/table.js", "js/links.js", "js/api.js", "svg/symbols.svg"}
	have := map[string]bool{}
	for _, n := range Names() {
		have[n] = true
	}
	for _, n := range want {
		if !have[n] {
			t.Errorf("asset %s is missing; have %v", n, Names())
		}
	}
}

func get(t *testing.T, target string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	req.RequestURI = target
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec
}

func TestHandlerServes(t *testing.T) {
	tests := []struct {
		name, ctype string
	}{
		{"css/hmi.css", "text/css; charset=utf-8"},
		{"js/app.js", "text/javascript; charset=utf-8"},
		{"js/control.js", "text/javascript; charset=utf-8"},
		{"svg/symbols.svg", "image/svg+xml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(t, URL(tc.name))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", URL(tc.name), rec.Code)
			}
			h := rec.Header()
			if got := h.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tc.ctype)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got, want := h.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
				t.Errorf("Cache-Control with the current v = %q, want %q", got, want)
			}
			if rec.Body.Len() == 0 {
				t.Error("empty body")
			}
			// Without v, or with an old v: revalidate every time.
			for _, u := range []string{"/static/" + tc.name, "/static/" + tc.name + "?v=000000000000"} {
				rec := get(t, u)
				if rec.Code != http.StatusOK {
					t.Fatalf("GET %s: status %d, want 200", u, rec.Code)
				}
				if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
					t.Errorf("GET %s: Cache-Control = %q, want no-cache", u, got)
				}
			}
		})
	}
}

func TestHandlerConditionalAndHead(t *testing.T) {
	u := URL("js/app.js")
	rec := get(t, u)
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("If-None-Match", etag)
	rec2 := httptest.NewRecorder()
	Handler().ServeHTTP(rec2, req)
	if rec2.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the ETag: status %d, want 304", rec2.Code)
	}

	head := httptest.NewRequest(http.MethodHead, u, nil)
	rec3 := httptest.NewRecorder()
	Handler().ServeHTTP(rec3, head)
	if rec3.Code != http.StatusOK || rec3.Body.Len() != 0 {
		t.Errorf("HEAD: status %d, body %d bytes, want 200 and none", rec3.Code, rec3.Body.Len())
	}

	post := httptest.NewRequest(http.MethodPost, u, strings.NewReader("x"))
	rec4 := httptest.NewRecorder()
	Handler().ServeHTTP(rec4, post)
	if rec4.Code != http.StatusMethodNotAllowed || rec4.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q, want 405 and GET, HEAD", rec4.Code, rec4.Header().Get("Allow"))
	}
}

// TestHandlerRefuses sends raw request lines through a real server, so that the paths reach the handler as a
// client could send them (httptest.NewRequest would clean some of them).
func TestHandlerRefuses(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	paths := []string{
		"/static/",
		"/static",
		"/static/js",
		"/static/js/",
		"/static/css",
		"/static/../go.mod",
		"/static/../static/static.go",
		"/static/static.go",
		"/static/%2e%2e/go.mod",
		"/static/%2e%2e%2fgo.mod",
		"/static/js/..%2f..%2fgo.mod",
		"/static/js/%2e%2e/%2e%2e/go.mod",
		"/static/..%5cgo.mod",
		"/static//etc/passwd",
		"/static/./js/app.js",
		"/static/js//app.js",
		"/static/js/app.js/",
		"/static/JS/APP.JS",
		"/static/js/nope.js",
		"/go.mod",
		"/js/app.js",
	}
	for _, p := range paths {
		status, body := rawGet(t, srv.URL, p)
		if status != http.StatusNotFound && status != http.StatusBadRequest {
			t.Errorf("GET %s: status %d, want 404 or 400", p, status)
		}
		if strings.Contains(body, "module hmi") || strings.Contains(body, "package static") {
			t.Errorf("GET %s: served a file outside the embed", p)
		}
	}
}

func rawGet(t *testing.T, base, p string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Opaque keeps the path exactly as written: the client neither cleans nor re-escapes it.
	req.URL.Opaque = p
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", p, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestModuleImportsAreStamped checks that every relative import of a served module carries the current hash of
// the module it names, so that a changed module is never served stale from a cache.
func TestModuleImportsAreStamped(t *testing.T) {
	spec := regexp.MustCompile(`\b(?:from|import)\s*["'](\.{1,2}/[^"'?]+)(\?v=([0-9a-f]+))?["']`)
	n := 0
	for _, name := range Names() {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		body := get(t, URL(name)).Body.String()
		for _, m := range spec.FindAllStringSubmatch(body, -1) {
			n++
			dep := strings.TrimPrefix(m[1], "./")
			want := URL("js/" + dep)
			if m[3] == "" {
				t.Errorf("%s imports %s without a version", name, m[1])
				continue
			}
			if got := "/static/js/" + dep + "?v=" + m[3]; got != want {
				t.Errorf("%s imports %s, want %s", name, got, want)
			}
		}
	}
	if n == 0 {
		t.Error("no imports found: the test no longer sees the modules' imports")
	}
}

func TestLoadStampsInDependencyOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"js/a.js": {Data: []byte(`import { b } from "./b.js";` + "\n" + `export * from './c.js';`)},
		"js/b.js": {Data: []byte(`import "./c.js"; export const b = 1;`)},
		"js/c.js": {Data: []byte(`export const c = 1;`)},
	}
	m, err := load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := `import { b } from "./b.js?v=` + m["js/b.js"].hash + `";` + "\n" + `export * from './c.js?v=` + m["js/c.js"].hash + `';`
	if got := string(m["js/a.js"].body); got != want {
		t.Errorf("a.js = %q, want %q", got, want)
	}
	// A change in c changes b's and a's hashes too.
	fsys["js/c.js"] = &fstest.MapFile{Data: []byte(`export const c = 2;`)}
	m2, err := load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"js/a.js", "js/b.js", "js/c.js"} {
		if m[n].hash == m2[n].hash {
			t.Errorf("%s: hash unchanged after c.js changed", n)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := map[string]fstest.MapFS{
		"missing import": {"js/a.js": {Data: []byte(`import "./nope.js";`)}},
		"cycle": {
			"js/a.js": {Data: []byte(`import "./b.js";`)},
			"js/b.js": {Data: []byte(`import "./a.js";`)},
		},
	}
	for name, fsys := range tests {
		if _, err := load(fsys); err == nil {
			t.Errorf("%s: load succeeded, want an error", name)
		}
	}
}
