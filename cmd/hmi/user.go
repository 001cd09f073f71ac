package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"hmi/config"
	"hmi/store"
	"hmi/web"
)

const userUsage = `Usage: hmi user add|passwd|list|delete [NAME] [--config FILE | --data-dir DIR] [flags]

Administers the HMI's accounts: adds users with a role, changes passwords,
lists and deletes users. The accounts live in the database DIR/hmi.db,
where DIR is the configuration's data_dir with --config FILE, else
--data-dir (default ./hmi-data). It may run while the HMI runs.

Examples:
  hmi user add admin --role admin --config hmi.yaml
  echo 'correct horse battery' | hmi user add alice --role operator --areas north
  hmi user list --config hmi.yaml

Subcommands ('hmi user SUBCOMMAND --help' for each one's flags):
  add NAME --role ROLE [--areas AREA,...]
           adds a user. ROLE is viewer, operator, engineer or admin; --areas
           limits what the user sees and operates to these area paths and
           the areas below them (north/feeder1 takes in north/feeder1/x);
           without --areas the user has every area.
  passwd NAME
           sets a user's password and ends the user's sessions (every
           browser of that user must log in again).
  list     lists the users: name, role, areas, creation time (UTC).
  delete NAME
           removes a user and the user's sessions.

` + userPasswords + `
Exit status: 0 on success; 1 on failure (the user exists or does not, a
bad password, a database error); 2 wrong flags or arguments.

Flags of every subcommand:
  --config FILE
        the configuration whose data_dir holds hmi.db
  --data-dir DIR
        the data directory that holds hmi.db (default ./hmi-data)
`

// userPasswords is the part of the help texts on passwords and names.
const userPasswords = `Passwords: at least 8 characters (at most 1024 bytes). add and passwd
ask for the password twice on the terminal, without echo.
When standard input is not a terminal they read one line from it instead
(the line's end is not part of the password).

NAME is 1 to 64 letters, digits, '.', '_', '@' or '-'.
`

// userExit is the exit status paragraph of the subcommands' help texts.
const userExit = `Exit status: 0 on success; 1 on failure (the user exists or does not, a
bad password, a database error); 2 wrong flags or arguments.
`

const userAddUsage = `Usage: hmi user add NAME --role ROLE [--areas AREA,...] [--config FILE | --data-dir DIR]

Adds the user NAME to the HMI's accounts, with a role: viewer (sees the
plant), operator (also acknowledges and shelves alarms, operates points),
engineer (also tags points, reads the audit trail) or admin (also
administers users). --areas limits what the user sees and operates to these
area paths and the areas below them; without it the user has every area.
The password is read from the terminal (twice), or one line from standard
input.

Examples:
  hmi user add admin --role admin --config hmi.yaml
  hmi user add bob --role operator --areas north/feeder1,south --data-dir /var/lib/hmi
  echo 'correct horse battery' | hmi user add alice --role viewer

` + userPasswords + `
` + userExit

const userPasswdUsage = `Usage: hmi user passwd NAME [--config FILE | --data-dir DIR]

Sets the password of the user NAME and ends the user's sessions: every
browser of that user must log in again. The password is read from the
terminal (twice), or one line from standard input.

Examples:
  hmi user passwd alice --config hmi.yaml
  hmi user passwd alice --data-dir /var/lib/hmi < password.txt

` + userPasswords + `
` + userExit

const userListUsage = `Usage: hmi user list [--config FILE | --data-dir DIR]

Lists the HMI's users, one per line: name, role, areas and creation time
(UTC). It opens the database read-only.

Examples:
  hmi user list --config hmi.yaml
  hmi user list --data-dir /var/lib/hmi

Exit status: 0 on success; 1 when there is no database or it cannot be
read; 2 wrong flags or arguments.
`

const userDeleteUsage = `Usage: hmi user delete NAME [--config FILE | --data-dir DIR]

Deletes the user NAME and the user's sessions: every browser of that user
is logged out. The audit trail keeps what the user did.

Examples:
  hmi user delete bob --config hmi.yaml
  hmi user delete bob --data-dir /var/lib/hmi

` + userExit

// userInput is where "hmi user" reads passwords: standard input, a
// terminal or not. Tests replace it with a reader of their own (which is
// never a terminal).
var userInput io.Reader = os.Stdin

// userName is what a user name may hold: the rule of the web's user
// administration (web/admin_users.go).
var userName = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

func runUser(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return usageError(stderr, "user", "no subcommand given: want add, passwd, list or delete")
	}
	switch args[0] {
	case "add":
		return runUserAdd(ctx, args[1:], stdout, stderr)
	case "passwd", "password":
		return runUserPasswd(ctx, args[1:], stdout, stderr)
	case "list", "ls":
		return runUserList(ctx, args[1:], stdout, stderr)
	case "delete", "del", "rm":
		return runUserDelete(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, userUsage)
		return exitOK
	}
	if strings.HasPrefix(args[0], "-") {
		return usageError(stderr, "user", "flag %s before the subcommand: want add, passwd, list or delete first", args[0])
	}
	return usageError(stderr, "user", "unknown subcommand %q: want add, passwd, list or delete", args[0])
}

// userFlags are the flags every subcommand takes: where the database is.
type userFlags struct {
	fs         *cmdFlags
	name       string // "hmi user add"
	configFile *string
	dataDir    *string
}

func newUserFlags(sub, usage string, stdout, stderr io.Writer) *userFlags {
	f := &userFlags{fs: newFlagSet("user "+sub, usage, stdout, stderr), name: "hmi user " + sub}
	f.configFile = f.fs.String("config", "", "the configuration `FILE` whose data_dir holds hmi.db")
	f.dataDir = f.fs.String("data-dir", "", "the data `DIR` that holds hmi.db (default "+config.DefaultDataDir+")")
	return f
}

// parse parses args, flags and nArgs positional arguments in any order
// ("add alice --role operator" as well as "add --role operator alice"). It
// returns the positional arguments, or an exit status when it is done.
func (f *userFlags) parse(args []string, nArgs int) ([]string, int, bool) {
	pos, code, ok := f.fs.parse(args)
	if !ok {
		return nil, code, false
	}
	switch {
	case len(pos) != nArgs:
		what := "no arguments"
		if nArgs == 1 {
			what = "one user NAME"
		}
		return nil, f.fs.usageError("want %s, got %d: %s", what, len(pos), strings.Join(pos, " ")), false
	case *f.configFile != "" && *f.dataDir != "":
		return nil, f.fs.usageError("give --config or --data-dir, not both"), false
	}
	if nArgs == 1 && !userName.MatchString(pos[0]) {
		return nil, f.fs.usageError("user name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-'", pos[0]), false
	}
	return pos, 0, true
}

// dir returns the data directory, or prints why there is none.
func (f *userFlags) dir(stderr io.Writer) (string, bool) {
	if *f.configFile == "" {
		if *f.dataDir == "" {
			return config.DefaultDataDir, true
		}
		return *f.dataDir, true
	}
	dir, ok := dataDirOf(*f.configFile, "", stderr)
	if !ok {
		fmt.Fprintf(stderr, "%s: the configuration has errors\n", f.name)
	}
	return dir, ok
}

// open opens the database; an existing one only unless create is set (a
// mistyped --data-dir must not create an empty database to list or change).
func (f *userFlags) open(ctx context.Context, create, readOnly bool, stderr io.Writer) (*store.Store, bool) {
	dir, ok := f.dir(stderr)
	if !ok {
		return nil, false
	}
	if !create {
		db := filepath.Join(dir, store.FileName)
		if _, err := os.Stat(db); err != nil {
			fmt.Fprintf(stderr, "%s: no database %s (give the HMI's --config or --data-dir)\n", f.name, db)
			return nil, false
		}
	}
	s, err := store.Open(ctx, dir, store.Options{ReadOnly: readOnly})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
		return nil, false
	}
	return s, true
}

func runUserAdd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newUserFlags("add", userAddUsage, stdout, stderr)
	roleName := f.fs.String("role", "", "the user's `ROLE`: viewer, operator, engineer or admin (required)")
	areaList := f.fs.String("areas", "", "the areas the user may see and operate: `AREA,...` paths, comma-separated (default: all)")
	pos, code, ok := f.parse(args, 1)
	if !ok {
		return code
	}
	name := pos[0]
	if *roleName == "" {
		return f.fs.usageError("--role is required (viewer, operator, engineer or admin)")
	}
	role, err := web.ParseRole(*roleName)
	if err != nil {
		return f.fs.usageError("unknown role %q (want viewer, operator, engineer or admin)", *roleName)
	}
	areas, err := parseUserAreas(*areaList)
	if err != nil {
		return f.fs.usageError("--areas: %v", err)
	}

	s, ok := f.open(ctx, true, false, stderr)
	if !ok {
		return exitFailure
	}
	defer s.Close()
	if _, err := s.GetUser(ctx, name); err == nil {
		fmt.Fprintf(stderr, "%s: the user %s exists already (change the password with hmi user passwd)\n", f.name, name)
		return exitFailure
	}
	hash, ok := newPassword(ctx, f.name, name, stderr)
	if !ok {
		return exitFailure
	}
	err = s.CreateUser(ctx, store.User{Name: name, Role: role.String(), PasswordHash: hash, Areas: areas})
	switch {
	case errors.Is(err, store.ErrExists):
		fmt.Fprintf(stderr, "%s: the user %s exists already\n", f.name, name)
		return exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "user %s added: role %s, areas %s (%s)\n", name, role, areasText(areas), s.Path())
	return exitOK
}

func runUserPasswd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newUserFlags("passwd", userPasswdUsage, stdout, stderr)
	pos, code, ok := f.parse(args, 1)
	if !ok {
		return code
	}
	name := pos[0]
	s, ok := f.open(ctx, false, false, stderr)
	if !ok {
		return exitFailure
	}
	defer s.Close()
	if !userExists(ctx, s, f.name, name, stderr) {
		return exitFailure
	}
	hash, ok := newPassword(ctx, f.name, name, stderr)
	if !ok {
		return exitFailure
	}
	if err := s.UpdatePassword(ctx, name, hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(stderr, "%s: no user %s\n", f.name, name)
		} else {
			fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
		}
		return exitFailure
	}
	n, err := s.DeleteUserSessions(ctx, name)
	if err != nil {
		fmt.Fprintf(stderr, "%s: the password of %s is changed, but its sessions could not be ended: %v\n", f.name, name, err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "password of %s changed; %s ended\n", name, plural(int(n), "session"))
	return exitOK
}

func runUserDelete(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newUserFlags("delete", userDeleteUsage, stdout, stderr)
	pos, code, ok := f.parse(args, 1)
	if !ok {
		return code
	}
	name := pos[0]
	s, ok := f.open(ctx, false, false, stderr)
	if !ok {
		return exitFailure
	}
	defer s.Close()
	if !userExists(ctx, s, f.name, name, stderr) {
		return exitFailure
	}
	n, err := s.DeleteUserSessions(ctx, name)
	if err == nil {
		err = s.DeleteUser(ctx, name)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		fmt.Fprintf(stderr, "%s: no user %s\n", f.name, name)
		return exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "user %s deleted; %s ended\n", name, plural(int(n), "session"))
	return exitOK
}

func runUserList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newUserFlags("list", userListUsage, stdout, stderr)
	if _, code, ok := f.parse(args, 0); !ok {
		return code
	}
	s, ok := f.open(ctx, false, true, stderr)
	if !ok {
		return exitFailure
	}
	defer s.Close()
	us, err := s.ListUsers(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
		return exitFailure
	}
	if len(us) == 0 {
		fmt.Fprintf(stdout, "no users in %s\n", s.Path())
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tAREAS\tCREATED")
	for _, u := range us {
		role := u.Role
		if u.Disabled {
			role += " (disabled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, role, areasText(u.Areas), u.Created.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", f.name, err)
		return exitFailure
	}
	return exitOK
}

// userExists reports whether the user is there, printing why not.
func userExists(ctx context.Context, s *store.Store, cmd, name string, stderr io.Writer) bool {
	_, err := s.GetUser(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		fmt.Fprintf(stderr, "%s: no user %s (hmi user list shows the users)\n", cmd, name)
		return false
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return false
	}
	return true
}

// parseUserAreas reads --areas as the web's user form does: comma-separated
// area paths, surrounding spaces and slashes dropped, empty items skipped.
func parseUserAreas(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.Trim(strings.TrimSpace(a), "/")
		if a == "" {
			continue
		}
		if len(a) > 200 || strings.ContainsAny(a, "\x00\r\n") {
			return nil, fmt.Errorf("%q is not an area path", a)
		}
		out = append(out, a)
	}
	return out, nil
}

func areasText(areas []string) string {
	if len(areas) == 0 {
		return "all"
	}
	return strings.Join(areas, ",")
}

// newPassword reads a password (twice on a terminal) and returns its
// argon2id hash, or prints why there is none.
func newPassword(ctx context.Context, cmd, user string, stderr io.Writer) (string, bool) {
	var pw string
	if f, ok := userInput.(*os.File); ok && isTerminal(f) {
		first, err := readTerminalLine(ctx, f, stderr, fmt.Sprintf("New password for %s (at least %d characters): ", user, web.MinPasswordLen))
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return "", false
		}
		if len(first) < web.MinPasswordLen {
			fmt.Fprintf(stderr, "%s: the password is shorter than %d characters\n", cmd, web.MinPasswordLen)
			return "", false
		}
		again, err := readTerminalLine(ctx, f, stderr, "Again: ")
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return "", false
		}
		if again != first {
			fmt.Fprintf(stderr, "%s: the passwords differ; nothing changed\n", cmd)
			return "", false
		}
		pw = first
	} else {
		line, err := readLine(ctx, userInput)
		if err != nil {
			fmt.Fprintf(stderr, "%s: reading the password from standard input: %v\n", cmd, err)
			return "", false
		}
		pw = line
	}
	hash, err := web.HashPassword(pw)
	switch {
	case errors.Is(err, web.ErrPassword) && len(pw) < web.MinPasswordLen:
		fmt.Fprintf(stderr, "%s: the password is shorter than %d characters\n", cmd, web.MinPasswordLen)
		return "", false
	case errors.Is(err, web.ErrPassword):
		fmt.Fprintf(stderr, "%s: the password is longer than %d bytes\n", cmd, web.MaxPasswordLen)
		return "", false
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return "", false
	}
	return hash, true
}

// isTerminal reports whether f is a character device: a terminal (or
// /dev/null, which then gives no password).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// readTerminalLine prompts on stderr and reads a line from the terminal f
// with its echo turned off (by stty, where there is one: golang.org/x/term
// is not a dependency of this module).
func readTerminalLine(ctx context.Context, f *os.File, stderr io.Writer, prompt string) (string, error) {
	fmt.Fprint(stderr, prompt)
	if stty(f, "-echo") == nil {
		defer func() {
			_ = stty(f, "echo")
			fmt.Fprintln(stderr) // the Enter typed was not echoed
		}()
	} else {
		fmt.Fprint(stderr, "(cannot turn the echo off: the password shows) ")
	}
	return readLine(ctx, f)
}

func stty(f *os.File, arg string) error {
	c := exec.Command("stty", arg)
	c.Stdin = f
	return c.Run()
}

// maxLine bounds a password line: longer than web.MaxPasswordLen, so that a
// too long password is reported as such.
const maxLine = web.MaxPasswordLen + 2

// readLine reads one line from r, a byte at a time (nothing past the line
// is consumed), without its "\n" or "\r\n". An empty input is an error; a
// last line without "\n" is a line. It returns early when ctx ends.
func readLine(ctx context.Context, r io.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var (
			b   []byte
			one [1]byte
		)
		for len(b) <= maxLine {
			n, err := r.Read(one[:])
			if n == 1 {
				if one[0] == '\n' {
					done <- result{strings.TrimSuffix(string(b), "\r"), nil}
					return
				}
				b = append(b, one[0])
				continue
			}
			if errors.Is(err, io.EOF) {
				if len(b) == 0 {
					err = errors.New("no password (the input is empty)")
				} else {
					err = nil
				}
				done <- result{strings.TrimSuffix(string(b), "\r"), err}
				return
			}
			if err != nil {
				done <- result{"", err}
				return
			}
		}
		done <- result{string(b), nil} // too long: HashPassword says so
	}()
	select {
	case res := <-done:
		return res.line, res.err
	case <-ctx.Done():
		return "", fmt.Errorf("interrupted: %w", ctx.Err())
	}
}
