package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hmi/store"
)

func TestAuditVerify(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s, err := store.Open(ctx, data, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []string{"select", "select_con", "execute", "execute_con", "execute_term"} {
		if _, err := s.AppendAudit(ctx, store.AuditRecord{At: time.Unix(1700000000+int64(i), 0), CommandID: "c1",
			Point: "north.f1.brk", Step: step, Value: 2, User: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "hmi.yaml")
	if err := os.WriteFile(conf, []byte(`data_dir: data
links:
  - {name: a, addresses: ["127.0.0.1:2404"], ca: 1}
points:
  - {id: p, link: a, ioa: 1, kind: single}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(data, store.FileName)
	empty := filepath.Join(dir, "empty")
	es, err := store.Open(ctx, empty, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	es.Close()

	verify := func(t *testing.T, args []string, code int, stdout, stderr string) {
		t.Helper()
		var out, errb bytes.Buffer
		got := run(ctx, append([]string{"audit"}, args...), &out, &errb)
		if got != code {
			t.Errorf("exit status %d, want %d (stdout %q, stderr %q)", got, code, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), stdout) {
			t.Errorf("stdout %q, want it to contain %q", out.String(), stdout)
		}
		if !strings.Contains(errb.String(), stderr) {
			t.Errorf("stderr %q, want it to contain %q", errb.String(), stderr)
		}
	}
	for _, tt := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"data dir", []string{"verify", "--data-dir", data}, exitOK, db + ": audit trail ok: 5 rows, last row 5, hash ", ""},
		{"config", []string{"verify", "--config", conf}, exitOK, db + ": audit trail ok: 5 rows", ""},
		{"empty", []string{"verify", "--data-dir", empty}, exitOK, ": audit trail ok: 0 rows", ""},
		{"no database", []string{"verify", "--data-dir", filepath.Join(dir, "none")}, exitFailure, "", "hmi audit verify: store: no database"},
		{"bad config", []string{"verify", "--config", filepath.Join(dir, "none.yaml")}, exitFailure, "", "cannot read"},
		{"no flag", []string{"verify"}, exitUsage, "", "give one of --data-dir and --config"},
		{"both flags", []string{"verify", "--data-dir", data, "--config", conf}, exitUsage, "", "give one of"},
		{"extra argument", []string{"verify", "--data-dir", data, "x"}, exitUsage, "", `hmi audit verify: unexpected argument "x" (run 'hmi audit verify --help')`},
		{"bad flag", []string{"verify", "--dir", data}, exitUsage, "", "flag provided but not defined"},
		{"no subcommand", nil, exitUsage, "", "hmi audit: no subcommand given: want verify (run 'hmi audit --help')"},
		{"flag first", []string{"--data-dir", data}, exitUsage, "", "hmi audit: flag --data-dir before the subcommand"},
		{"unknown subcommand", []string{"check"}, exitUsage, "", `unknown subcommand "check"`},
		{"help", []string{"--help"}, exitOK, "Usage: hmi audit verify", ""},
		{"verify help", []string{"verify", "--help"}, exitOK, "-data-dir", ""},
	} {
		t.Run(tt.name, func(t *testing.T) { verify(t, tt.args, tt.code, tt.stdout, tt.stderr) })
	}

	// An edited row is named, with the exit status 1.
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`UPDATE audit SET value = 0 WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	verify(t, []string{"verify", "--data-dir", data}, exitFailure, "",
		db+": audit trail broken at row 3: hash mismatch: its content does not give its hash")
	if _, err := raw.Exec(`DELETE FROM audit WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	verify(t, []string{"verify", "--data-dir", data}, exitFailure, "", "audit trail broken at row 4: id gap: follows row 2: row 3 is missing (deleted) (2 rows before it are whole)")
}
