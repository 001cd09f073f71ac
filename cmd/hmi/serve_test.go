package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"hmi/config"
	"hmi/store"
	"hmi/web"
)

// TestServeEndToEnd runs hmi serve on the example configuration (its
// simulators on free ports, the web server on port 0), logs in over HTTP,
// reads live points through the API and runs an SBO command to its end,
// then stops it and checks the audit trail.
func TestServeEndToEnd(t *testing.T) {
	text := strings.Replace(exampleText(t), "listen: 127.0.0.1:8080", "listen: 127.0.0.1:0", 1)
	text = strings.Replace(text, "listen: 127.0.0.1:9108", "listen: \"\"", 1)
	cfg, err := config.Parse("../../config.example.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, cfg.DataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := web.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{Name: "op", Role: "operator", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	runCtx, cancel := context.WithCancel(ctx)
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- serve(runCtx, cfg, slog.New(slog.DiscardHandler), &out, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	defer stop()

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	if code, _ := get("/api/v1/points"); code != http.StatusUnauthorized {
		t.Fatalf("points before login: %d, want 401", code)
	}
	_, page := get("/login")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf_token in the login page:\n%s", page)
	}
	resp, err := hc.PostForm(base+"/login", url.Values{"csrf_token": {string(m[1])}, "username": {"op"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sess struct {
		User, Role string
		CSRF       string `json:"csrf_token"`
	}
	code, body := get("/api/v1/session")
	if code != http.StatusOK || json.Unmarshal(body, &sess) != nil || sess.User != "op" || sess.CSRF == "" {
		t.Fatalf("session after login: %d %s", code, body)
	}

	var points []struct {
		ID      string
		Kind    string
		Value   float64
		Quality map[string]bool
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body = get("/api/v1/points")
		if code != http.StatusOK || json.Unmarshal(body, &points) != nil {
			t.Fatalf("points: %d %s", code, body)
		}
		bad := ""
		for _, p := range points {
			if p.Quality["initial"] || p.Quality["commfail"] || p.Quality["iv"] {
				if p.Kind != "counter" {
					bad = p.ID
				}
			}
		}
		if bad == "" && len(points) == len(cfg.Points) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("point %s never good (%d points)", bad, len(points))
		}
		time.Sleep(50 * time.Millisecond)
	}

	var id string
	for _, p := range cfg.Points {
		if c := p.Control; c != nil && c.SBO && c.Type == config.ControlDouble {
			id = p.ID
		}
	}
	post := func(path string, v any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(v)
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", sess.CSRF)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, rec := post("/api/v1/points/"+id+"/select", map[string]any{"value": 2})
	if code != http.StatusOK || rec["state"] != "selected" {
		t.Fatalf("select %s: %d %v", id, code, rec)
	}
	code, rec = post("/api/v1/commands/"+rec["id"].(string)+"/execute", map[string]any{})
	if code != http.StatusOK || (rec["state"] != "terminated" && rec["state"] != "confirmed") {
		t.Fatalf("execute: %d %v", code, rec)
	}
	stop()
	if !strings.Contains(out.String(), "serving http://") {
		t.Errorf("serve printed %q", out.String())
	}
	st, err = store.Open(ctx, cfg.DataDir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chk, err := st.CheckAudit(ctx)
	if err != nil || chk.Break != nil || chk.Rows < 5 {
		t.Fatalf("audit: %v %+v", err, chk)
	}
}
