package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hmi/store"
	"hmi/web"
)

// runUserCmd runs "hmi user ARGS..." with stdin as the password input
// (userInput is replaced for the call; these tests do not run in parallel).
func runUserCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	old := userInput
	userInput = strings.NewReader(stdin)
	defer func() { userInput = old }()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"user"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	conf := filepath.Join(dir, "hmi.yaml")
	if err := os.WriteFile(conf, []byte("data_dir: data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nowhere")

	steps := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string // contained in stdout
		stderr string // contained in stderr
	}{
		{"list before any database", "", []string{"list", "--data-dir", missing}, exitFailure,
			"", "no database " + filepath.Join(missing, store.FileName)},
		{"add", "correct horse\n", []string{"add", "alice", "--role", "operator", "--areas", " north/feeder1/ ,south", "--data-dir", data},
			exitOK, "user alice added: role operator, areas north/feeder1,south", ""},
		{"add, flags first, through the configuration, no final newline", "admin-pass-1",
			[]string{"add", "--config", conf, "--role=admin", "root"}, exitOK, "user root added: role admin, areas all", ""},
		{"add, CRLF line", "viewer pass\r\n", []string{"add", "vic", "--role", "viewer", "--data-dir", data}, exitOK, "user vic added", ""},
		{"add an existing user", "whatever12\n", []string{"add", "alice", "--role", "viewer", "--data-dir", data},
			exitFailure, "", "the user alice exists already"},
		{"add, password too short", "short\n", []string{"add", "bob", "--role", "viewer", "--data-dir", data},
			exitFailure, "", "the password is shorter than 8 characters"},
		{"add, password too long", strings.Repeat("x", 2000) + "\n", []string{"add", "bob", "--role", "viewer", "--data-dir", data},
			exitFailure, "", "the password is longer than 1024 bytes"},
		{"add, no password", "", []string{"add", "bob", "--role", "viewer", "--data-dir", data},
			exitFailure, "", "no password (the input is empty)"},
		{"add, empty line", "\n", []string{"add", "bob", "--role", "viewer", "--data-dir", data},
			exitFailure, "", "shorter than 8 characters"},
		{"add, unknown role", "", []string{"add", "bob", "--role", "superuser", "--data-dir", data},
			exitUsage, "", `unknown role "superuser" (want viewer, operator, engineer or admin)`},
		{"add, no role", "", []string{"add", "bob", "--data-dir", data}, exitUsage, "", "--role is required"},
		{"add, no name", "", []string{"add", "--role", "viewer", "--data-dir", data}, exitUsage, "", "want one user NAME, got 0"},
		{"add, two names", "", []string{"add", "a", "b", "--role", "viewer"}, exitUsage, "", "want one user NAME, got 2: a b"},
		{"add, bad name", "", []string{"add", "a b", "--role", "viewer"}, exitUsage, "", `user name "a b": use 1 to 64 letters`},
		{"add, both --config and --data-dir", "", []string{"add", "bob", "--role", "viewer", "--config", conf, "--data-dir", data},
			exitUsage, "", "give --config or --data-dir, not both"},
		{"add, bad configuration", "", []string{"add", "bob", "--role", "viewer", "--config", filepath.Join(dir, "nope.yaml")},
			exitFailure, "", "nope.yaml: cannot read"},
		{"add, unknown flag", "", []string{"add", "bob", "--rol", "viewer"}, exitUsage, "", "flag provided but not defined: -rol"},
		{"list", "", []string{"list", "--data-dir", data}, exitOK, "NAME", ""},
		{"passwd", "new password 2\n", []string{"passwd", "alice", "--data-dir", data}, exitOK,
			"password of alice changed; 1 session ended", ""},
		{"passwd, unknown user", "new password 2\n", []string{"passwd", "nobody", "--data-dir", data}, exitFailure,
			"", "no user nobody"},
		{"passwd, too short", "1234567\n", []string{"passwd", "vic", "--config", conf}, exitFailure,
			"", "shorter than 8 characters"},
		{"delete", "", []string{"delete", "vic", "--data-dir", data}, exitOK, "user vic deleted; 0 sessions ended", ""},
		{"delete, unknown user", "", []string{"delete", "vic", "--data-dir", data}, exitFailure, "", "no user vic"},
		{"list, extra argument", "", []string{"list", "x", "--data-dir", data}, exitUsage, "", "want no arguments, got 1: x"},
		{"no subcommand", "", nil, exitUsage, "", "hmi user: no subcommand given: want add, passwd, list or delete (run 'hmi user --help')"},
		{"flag first", "", []string{"--data-dir", data, "list"}, exitUsage, "", "hmi user: flag --data-dir before the subcommand"},
		{"unknown subcommand", "", []string{"frob"}, exitUsage, "", `unknown subcommand "frob"`},
		{"help", "", []string{"--help"}, exitOK, "standard input is not", ""},
		{"add --help", "", []string{"add", "--help"}, exitOK, "--role ROLE", ""},
	}
	for i, st := range steps {
		if st.name == "passwd" {
			// alice has a session, which the new password must end.
			s := openStore(t, data)
			if err := s.CreateSession(context.Background(), store.Session{IDHash: "h1", User: "alice", CSRF: "c", Client: "127.0.0.1"}); err != nil {
				t.Fatal(err)
			}
			s.Close()
		}
		code, stdout, stderr := runUserCmd(t, st.stdin, st.args...)
		if code != st.code || !strings.Contains(stdout, st.stdout) || !strings.Contains(stderr, st.stderr) {
			t.Errorf("step %d, %s: hmi user %q: exit status %d, stdout %q, stderr %q; want %d, stdout with %q, stderr with %q",
				i, st.name, st.args, code, stdout, stderr, st.code, st.stdout, st.stderr)
		}
	}

	// What the store holds now.
	s := openStore(t, data)
	defer s.Close()
	ctx := context.Background()
	us, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	if got := strings.Join(names, " "); got != "alice root" {
		t.Fatalf("users %q, want alice root", got)
	}
	for _, tt := range []struct {
		name, role, pw, areas string
	}{
		{"alice", "operator", "new password 2", "north/feeder1 south"},
		{"root", "admin", "admin-pass-1", ""},
	} {
		u, err := s.GetUser(ctx, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != tt.role || strings.Join(u.Areas, " ") != tt.areas || u.Disabled {
			t.Errorf("user %+v, want role %s, areas %q", u, tt.role, tt.areas)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") || !web.CheckPassword(u.PasswordHash, tt.pw) {
			t.Errorf("user %s: hash %q does not match %q", tt.name, u.PasswordHash, tt.pw)
		}
		if time.Since(u.Created) > time.Hour || time.Since(u.Created) < 0 {
			t.Errorf("user %s created %v", tt.name, u.Created)
		}
	}
	if _, err := s.GetSession(ctx, "h1"); err == nil {
		t.Error("alice's session survived the password change")
	}
}

func TestUserList(t *testing.T) {
	data := t.TempDir()
	s := openStore(t, data)
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	for _, u := range []store.User{
		{Name: "zed", Role: "viewer", PasswordHash: "x", Created: at},
		{Name: "amy", Role: "engineer", PasswordHash: "x", Areas: []string{"north", "south/tank"}, Created: at.Add(time.Hour)},
		{Name: "old", Role: "operator", PasswordHash: "x", Created: at, Disabled: true},
	} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	code, stdout, stderr := runUserCmd(t, "", "list", "--data-dir", data)
	want := `NAME  ROLE                 AREAS             CREATED
amy   engineer             north,south/tank  2026-03-01T13:30:00Z
old   operator (disabled)  all               2026-03-01T12:30:00Z
zed   viewer               all               2026-03-01T12:30:00Z
`
	if code != exitOK || stderr != "" || stdout != want {
		t.Errorf("exit status %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}

	empty := t.TempDir()
	openStore(t, empty).Close()
	code, stdout, _ = runUserCmd(t, "", "list", "--data-dir", empty)
	if code != exitOK || !strings.HasPrefix(stdout, "no users in ") {
		t.Errorf("empty database: exit status %d, stdout %q", code, stdout)
	}
}

// readLine takes one line and leaves the rest of the input.
func TestReadLine(t *testing.T) {
	for _, tt := range []struct {
		in, want, rest string
		err            bool
	}{
		{"pw one\nsecond\n", "pw one", "second\n", false},
		{"crlf\r\nx", "crlf", "x", false},
		{"last", "last", "", false},
		{"", "", "", true},
		{"\n", "", "", false},
	} {
		r := strings.NewReader(tt.in)
		got, err := readLine(context.Background(), r)
		rest, _ := io.ReadAll(r)
		if got != tt.want || (err != nil) != tt.err || string(rest) != tt.rest {
			t.Errorf("readLine(%q) = %q, %v, rest %q; want %q, error %v, rest %q", tt.in, got, err, rest, tt.want, tt.err, tt.rest)
		}
	}
	// A blocked read gives up when the context ends.
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := readLine(ctx, pr); err == nil {
		t.Error("readLine returned no error after the context ended")
	}
}
