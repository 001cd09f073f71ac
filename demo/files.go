package demo

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"text/template"
)

//go:embed config.yaml.tmpl displays/*.svg
var files embed.FS

// ConfigFile is the name of the configuration Write writes.
const ConfigFile = "config.yaml"

// Addresses are the host:port addresses of the demo: the web server, the
// metrics endpoint, and the two simulated RTUs (North plain TCP, South
// TLS).
type Addresses struct {
	HTTP, Metrics, North, South string
}

// Write writes the demo configuration (with addrs) and its displays into
// dir, replacing earlier copies, and returns the configuration's path. The
// configuration keeps its data in dir and reads the certificates that
// EnsurePKI creates there.
func Write(dir string, addrs Addresses) (string, error) {
	tmpl, err := template.ParseFS(files, "config.yaml.tmpl")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, addrs); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "displays"), 0o755); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	svgs, err := fs.Glob(files, "displays/*.svg")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	for _, name := range svgs {
		data, err := files.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", fmt.Errorf("demo: %w", err)
		}
	}
	path := filepath.Join(dir, ConfigFile)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return path, nil
}

// Pick returns preferred when it can be listened on now, else a free port
// on the same host (port 0 always takes a free one). The port is free when
// Pick returns; another process may still take it before the caller does.
func Pick(preferred string) (addr string, moved bool, err error) {
	ln, err := net.Listen("tcp", preferred)
	if err != nil {
		host, _, serr := net.SplitHostPort(preferred)
		if serr != nil {
			return "", false, fmt.Errorf("demo: address %q: %w", preferred, serr)
		}
		if ln, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return "", false, fmt.Errorf("demo: no free port on %s: %w", host, err)
		}
		moved = true
	}
	addr = ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(preferred)
	return addr, moved && port != "0", nil
}
