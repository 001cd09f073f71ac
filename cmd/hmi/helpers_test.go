package main

// Helpers shared by the tests that run the whole HMI in-process: serve until the test ends, users in the store
// before it starts, and a logged-in API client.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"hmi/config"
	"hmi/store"
	"hmi/web"
)

// hmiBinary is the hmi binary built for the tests that run it as a process (signals, SIGKILL), built once per test
// process into hmiBinaryDir, which TestMain removes.
var (
	hmiBinaryOnce sync.Once
	hmiBinaryDir  string
	hmiBinary     string
	hmiBinaryErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if hmiBinaryDir != "" {
		os.RemoveAll(hmiBinaryDir)
	}
	os.Exit(code)
}

// buildHMI returns the hmi binary, building it at the first call; it skips the test where there is no go command.
func buildHMI(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build hmi with")
	}
	hmiBinaryOnce.Do(func() {
		if hmiBinaryDir, hmiBinaryErr = os.MkdirTemp("", "hmi-test-bin-"); hmiBinaryErr != nil {
			return
		}
		hmiBinary = filepath.Join(hmiBinaryDir, "hmi")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, goTool, "build", "-o", hmiBinary, ".").CombinedOutput(); err != nil {
			hmiBinaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if hmiBinaryErr != nil {
		t.Fatal(hmiBinaryErr)
	}
	return hmiBinary
}

// runningHMI is serve running in-process on cfg.
type runningHMI struct {
	base string        // http://127.0.0.1:PORT
	out  *lockedBuffer // serve's stdout
	stop func()        // stops serve and waits for it (a serve error fails the test); idempotent, also at the test's end
}

// runHMI runs serve on cfg (with http.listen on port 0) until the test ends or stop is called.
func runHMI(t *testing.T, cfg *config.Config) *runningHMI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	h := &runningHMI{out: &lockedBuffer{}}
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), h.out, func(a string) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		h.base = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not listen within 30 s")
	}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("serve did not stop within 30 s")
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

// addUsers creates users (name, role, password, in threes) in the database of cfg before serve runs.
func addUsers(t *testing.T, cfg *config.Config, users ...string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, cfg.DataDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i+2 < len(users); i += 3 {
		hash, err := web.HashPassword(users[i+2])
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, store.User{Name: users[i], Role: users[i+1], PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// apiClient is a logged-in HTTP client of a running HMI.
type apiClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

// login logs in through the login form (its double-submit CSRF token included) and reads the session's CSRF token.
func login(t *testing.T, base, user, password string) *apiClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &apiClient{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	_, page := c.get("/login")
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf_token in the login page:\n%s", page)
	}
	resp, err := c.hc.PostForm(base+"/login", url.Values{"csrf_token": {string(m[1])}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sess struct {
		User string
		CSRF string `json:"csrf_token"`
	}
	code, body := c.get("/api/v1/session")
	if code != http.StatusOK || json.Unmarshal(body, &sess) != nil || sess.User != user || sess.CSRF == "" {
		t.Fatalf("login as %s: session %d %s", user, code, body)
	}
	c.csrf = sess.CSRF
	return c
}

func (c *apiClient) get(path string) (int, []byte) {
	c.t.Helper()
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// post sends v as JSON with the CSRF token and decodes the answer.
func (c *apiClient) post(path string, v any) (int, map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", c.csrf)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}
