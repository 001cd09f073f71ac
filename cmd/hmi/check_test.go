package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", `links:
  - {name: a, addresses: ["127.0.0.1:2404"], ca: 1}
points:
  - {id: p, link: a, ioa: 1, kind: single}
`)
	bad := write("bad.yaml", `links:
  - {name: a, addresses: ["127.0.0.1:2404"], ca: 1, t2: 20s}
points:
  - {id: p, link: b, ioa: 1, kind: single, colour: red}
`)
	missing := filepath.Join(dir, "missing.yaml")

	for _, tt := range []struct {
		name       string
		args       []string
		code       int
		stdout     string // exact, or a prefix when it ends in "..."
		stderr     string // exact, or a prefix when it ends in "..."
		wantStderr bool
	}{
		{"example", []string{"--config", "../../config.example.yaml"}, exitOK,
			"../../config.example.yaml: ok: 2 links, 17 points, 2 simulators\n", "", false},
		{"good", []string{"--config", good}, exitOK, good + ": ok: 1 link, 1 point, 0 simulators\n", "", false},
		{"good, one dash", []string{"-config=" + good}, exitOK, good + ": ok: 1 link, 1 point, 0 simulators\n", "", false},
		{"bad", []string{"--config", bad}, exitFailure, "",
			bad + ":2:57: t2: 20s must be less than t1 (15s)\n" +
				bad + ":4:19: link: no link named \"b\" (links: a)\n" +
				bad + ":4:44: unknown key \"colour\" (known keys: id, name, area, link, ca, ioa, kind, unit, labels, scale, max_age, control, alarm, history)\n", true},
		{"missing", []string{"--config", missing}, exitFailure, "", missing + ": cannot read: no such file or directory\n", true},
		{"argument", []string{good}, exitOK, good + ": ok: 1 link, 1 point, 0 simulators\n", "", false},
		{"argument before the flag", []string{bad, "--config", good}, exitUsage, "",
			"hmi check: unexpected argument \"" + bad + "\": check one configuration at a time (run 'hmi check --help')\n", true},
		{"no config", nil, exitUsage, "", "hmi check: no configuration given: hmi check --config FILE (run 'hmi check --help')\n", true},
		{"extra argument", []string{"--config", good, "x"}, exitUsage, "", "hmi check: unexpected argument \"x\"...", true},
		{"two arguments", []string{good, good}, exitUsage, "", "hmi check: unexpected argument...", true},
		{"bad flag", []string{"--conf", good}, exitUsage, "", "hmi check: flag provided but not defined: -conf (run 'hmi check --help')\n", true},
		{"help", []string{"--help"}, exitOK, "Usage: hmi check [--config] FILE...", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"check"}, tt.args...), &out, &errb)
			if code != tt.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
			if prefix, ok := strings.CutSuffix(tt.stdout, "..."); ok {
				if !strings.HasPrefix(out.String(), prefix) {
					t.Errorf("stdout %q, want it to start with %q", out.String(), prefix)
				}
			} else if out.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", out.String(), tt.stdout)
			}
			if prefix, ok := strings.CutSuffix(tt.stderr, "..."); ok {
				if !strings.HasPrefix(errb.String(), prefix) {
					t.Errorf("stderr %q, want it to start with %q", errb.String(), prefix)
				}
			} else if errb.String() != tt.stderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", errb.String(), tt.stderr)
			}
		})
	}
}
