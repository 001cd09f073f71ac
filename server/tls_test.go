package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"hmi/internal/testpki"
	"hmi/web"
)

func TestTLS(t *testing.T) {
	leaf := testpki.SelfSigned(t, t.TempDir(), "hmi test", func(c *x509.Certificate) {
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	})
	cert, key := leaf.CertFile, leaf.KeyFile
	e := newEnv(t, func(c *Config, _ *web.Deps) { c.TLSCert, c.TLSKey = cert, key })
	e.serve()
	if !strings.HasPrefix(e.base, "https://") {
		t.Fatal(e.base)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer tr.CloseIdleConnections()

	resp, err := client.Get(e.base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS under TLS")
	}
	var login *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-hmi_login" {
			login = c
		}
	}
	if login == nil || !login.Secure || !login.HttpOnly {
		t.Fatalf("login cookie %+v: want __Host-, Secure, HttpOnly", resp.Cookies())
	}
	// Log in over TLS: the session cookie is __Host- and Secure.
	body := strings.NewReader(url.Values{"csrf_token": {login.Value}, "username": {"operator"}, "password": {testPassword}}.Encode())
	req, _ := http.NewRequest("POST", e.base+"/login", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(login)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var sess *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-hmi_session" {
			sess = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || sess == nil || !sess.Secure || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login over TLS: %d, cookie %+v", resp.StatusCode, sess)
	}
	// The socket over TLS wants an https origin.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	wsURL := "wss" + strings.TrimPrefix(e.base, "https") + "/ws"
	for origin, ok := range map[string]bool{e.base: true, "http" + strings.TrimPrefix(e.base, "https"): false} {
		h := http.Header{"Origin": {origin}, "Cookie": {"__Host-hmi_session=" + sess.Value}}
		c, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h, HTTPClient: client})
		if (err == nil) != ok {
			t.Errorf("origin %s: err %v, want accepted %v", origin, err, ok)
		}
		if c != nil {
			c.CloseNow()
		}
	}
	// Plain HTTP to the TLS port is not served.
	if resp, err := http.Get("http" + strings.TrimPrefix(e.base, "https") + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP served on the TLS port")
	}
}

func TestNewRefusesBadTLS(t *testing.T) {
	cert := testpki.SelfSigned(t, t.TempDir(), "hmi test", nil).CertFile
	if _, err := New(Config{TLSCert: cert}, web.Deps{}, nil); err == nil {
		t.Error("a certificate without a key was accepted")
	}
	if _, err := New(Config{TLSCert: cert, TLSKey: cert}, web.Deps{}, nil); err == nil || !strings.HasPrefix(err.Error(), "server: ") {
		t.Errorf("a bad key: %v", err)
	}
}

// TestRun listens on the configured address and returns nil once its context ends.
func TestRun(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	bad := newEnv(t, func(c *Config, _ *web.Deps) { c.Addr = "256.0.0.1:99999" })
	if err := bad.srv.Run(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "server: ") {
		t.Fatalf("Run on a bad address: %v", err)
	}
}
