package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hmi/store"
)

// backupWriterEnv names the data directory of TestBackupWriterProcess.
const backupWriterEnv = "HMI_BACKUP_WRITER_DIR"

// TestBackupWriterProcess is the other process of TestBackupLive, in the place of hmi serve: it opens the store
// read-write and writes events (point "bk", values 0, 1, 2, ...) and, every 20th, an audit row, each committed
// before it prints "committed EVENTS AUDITS", until it has written 20000 or its standard input ends.
func TestBackupWriterProcess(t *testing.T) {
	dir := os.Getenv(backupWriterEnv)
	if dir == "" {
		t.Skip("the writer process of TestBackupLive")
	}
	ctx := context.Background()
	s, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	audits := 0
	for seq := 0; seq < 20000; seq++ {
		select {
		case <-stop:
			seq = 20000
			continue
		default:
		}
		v := float64(seq)
		if err := s.AddEvent(ctx, store.Event{Kind: store.KindPoint, Point: "bk", Value: &v, Message: strconv.Itoa(seq)}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		if seq%20 == 0 {
			if _, err := s.AppendAudit(ctx, store.AuditRecord{CommandID: strconv.Itoa(seq), Point: "bk", Step: "select", User: "alice"}); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			audits++
		}
		fmt.Printf("committed %d %d\n", seq+1, audits)
	}
	if err := s.Close(); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
}

// runBackupCmd runs "hmi backup ARGS...".
func runBackupCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runBackup(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestBackupLive backs up the database while another process writes to it, as hmi serve does: every event and
// audit row committed before the backup started is in the copy, and its audit chain is whole.
func TestBackupLive(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "hmi.yaml")
	if err := os.WriteFile(conf, []byte(`data_dir: data
links:
  - {name: a, addresses: ["127.0.0.1:2404"], ca: 1}
points:
  - {id: p, link: a, ioa: 1, kind: single}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestBackupWriterProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), backupWriterEnv+"="+data)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var events, audits int
	timeout := time.After(60 * time.Second)
	for events < 100 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the writer process ended")
			}
			if strings.HasPrefix(line, "error") {
				t.Fatalf("writer process: %s", line)
			}
			if _, err := fmt.Sscanf(line, "committed %d %d", &events, &audits); err != nil {
				t.Fatalf("writer process said %q", line)
			}
		case <-timeout:
			t.Fatal("timed out waiting for the writer process")
		}
	}

	copyDir := filepath.Join(dir, "copy")
	if err := os.Mkdir(copyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(copyDir, store.FileName)
	code, out, errs := runBackupCmd("--config", conf, "--to", dst)

	// The writer goes on until told to stop: it was writing during the backup.
	after := events
	for line := range lines {
		if after >= events+50 {
			break
		}
		if _, err := fmt.Sscanf(line, "committed %d", &after); err != nil {
			t.Fatalf("writer process said %q", line)
		}
	}
	stdin.Close()
	go func() {
		for range lines { // drain, so that the process can end
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Errorf("writer process: %v", err)
	}
	if code != exitOK {
		t.Fatalf("hmi backup: exit status %d, stdout %q, stderr %q", code, out, errs)
	}
	want := filepath.Join(data, store.FileName) + ": copied to " + dst + " ("
	if !strings.HasPrefix(out, want) || !strings.HasSuffix(out, " bytes), integrity ok\n") {
		t.Errorf("stdout %q, want %q...", out, want)
	}
	t.Logf("%d events committed when the backup started; the writer went on to %d", events, after)

	ctx := context.Background()
	c, err := store.Open(ctx, copyDir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chk, err := c.CheckAudit(ctx)
	if err != nil || chk.Break != nil {
		t.Errorf("audit of the copy: %+v, %v", chk.Break, err)
	}
	if chk.Rows < int64(audits) {
		t.Errorf("the copy has %d audit rows, want at least %d", chk.Rows, audits)
	}
	raw, err := sql.Open("sqlite", "file:"+dst+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(DISTINCT value) FROM events WHERE point = 'bk' AND value < ?`, events).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != events {
		t.Errorf("the copy holds %d of the %d events committed before the backup", n, events)
	}

	// Again to the same file: refused, the copy kept.
	before, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs = runBackupCmd("--data-dir", data, "--to", dst)
	if code != exitFailure || !strings.Contains(errs, "already exists") || !strings.Contains(errs, dst) {
		t.Errorf("backup to an existing file: exit status %d, stderr %q", code, errs)
	}
	if now, err := os.ReadFile(dst); err != nil || !bytes.Equal(now, before) {
		t.Errorf("the existing copy changed (%v)", err)
	}
}

func TestBackupUsage(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := openStore(t, data)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"ok", []string{"--data-dir", data, "--to", filepath.Join(dir, "b.db")}, exitOK, "integrity ok", ""},
		{"no database", []string{"--data-dir", filepath.Join(dir, "none"), "--to", filepath.Join(dir, "c.db")}, exitFailure, "", "hmi backup: store: no database"},
		{"no directory", []string{"--data-dir", data, "--to", filepath.Join(dir, "none", "c.db")}, exitFailure, "", "no such file or directory"},
		{"bad config", []string{"--config", filepath.Join(dir, "none.yaml"), "--to", filepath.Join(dir, "c.db")}, exitFailure, "", "cannot read"},
		{"no to", []string{"--data-dir", data}, exitUsage, "", "hmi backup: no destination: give --to FILE (run 'hmi backup --help')"},
		{"no source", []string{"--to", filepath.Join(dir, "c.db")}, exitUsage, "", "give one of --data-dir and --config"},
		{"both sources", []string{"--data-dir", data, "--config", "x.yaml", "--to", "c.db"}, exitUsage, "", "give one of"},
		{"argument", []string{"--data-dir", data, "--to", "c.db", "d.db"}, exitUsage, "", `unexpected argument "d.db"`},
		{"bad flag", []string{"--dir", data}, exitUsage, "", "flag provided but not defined"},
		{"help", []string{"--help"}, exitOK, "Usage: hmi backup --to FILE", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runBackupCmd(tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d (stdout %q, stderr %q)", code, tt.code, out, errs)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout %q, want it to contain %q", out, tt.stdout)
			}
			if !strings.Contains(errs, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", errs, tt.stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "c.db")); !os.IsNotExist(err) {
		t.Errorf("c.db: %v, want none", err)
	}
}
