package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"hmi/config"
	"hmi/store"
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
	addUsers(t, cfg, "op", "operator", "correct horse battery")
	running := runHMI(t, cfg)
	base := running.base
	anon := &apiClient{t: t, base: base, hc: &http.Client{Timeout: 10 * time.Second}}
	if code, _ := anon.get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d", code)
	}
	if code, _ := anon.get("/api/v1/points"); code != http.StatusUnauthorized {
		t.Fatalf("points before login: %d, want 401", code)
	}
	op := login(t, base, "op", "correct horse battery")

	var points []struct {
		ID      string
		Kind    string
		Value   float64
		Quality map[string]bool
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := op.get("/api/v1/points")
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
	code, rec := op.post("/api/v1/points/"+id+"/select", map[string]any{"value": 2})
	if code != http.StatusOK || rec["state"] != "selected" {
		t.Fatalf("select %s: %d %v", id, code, rec)
	}
	code, rec = op.post("/api/v1/commands/"+rec["id"].(string)+"/execute", map[string]any{})
	if code != http.StatusOK || (rec["state"] != "terminated" && rec["state"] != "confirmed") {
		t.Fatalf("execute: %d %v", code, rec)
	}
	running.stop()
	if !strings.Contains(running.out.String(), "serving http://") {
		t.Errorf("serve printed %q", running.out.String())
	}
	ctx := context.Background()
	st, err := store.Open(ctx, cfg.DataDir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chk, err := st.CheckAudit(ctx)
	if err != nil || chk.Break != nil || chk.Rows < 5 {
		t.Fatalf("audit: %v %+v", err, chk)
	}
}
