package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"hmi/config"
	"hmi/demo"
	"hmi/store"
	"hmi/web"
)

const demoUsage = `Usage: hmi demo [--dir DIR] [--listen ADDR] [--reset] [--log-level LEVEL]
       hmi (the same, with the defaults)

Runs the embedded demo: a small utility with two 110/20 kV substations,
Northgate and Southfield, about 60 points, served by two simulated RTUs
that hmi starts itself on loopback (Southfield's over IEC 104 TLS, with
certificates generated at first start). The plant behaves: open a feeder
breaker and its current and power drop, change a tap (regulator in manual)
and the voltage moves, a protection trip now and then opens a breaker and
raises an alarm.

Everything is kept in DIR: the database, the certificates (pki/), the
generated demo accounts (accounts.txt) and the configuration hmi writes
at every start (config.yaml, the same as 'hmi serve --config DIR/config.yaml'
would run). It prints the URL and the accounts admin, engineer, operator
and viewer with their passwords. Stop it with Ctrl-C.

Examples:
  hmi                               the demo on http://127.0.0.1:8080
  hmi demo --listen 127.0.0.1:8081  on another port
  hmi demo --reset                  start over with a fresh plant and database

Exit status: 0 after a clean stop, 1 when it cannot start, 2 for wrong flags.
`

// demoAccounts are the demo's users, one per role, in the order printed.
var demoAccounts = []struct{ name, role, can string }{
	{"admin", "admin", "everything, including users"},
	{"engineer", "engineer", "also set-points, do-not-operate tags, alarms out of service, audit"},
	{"operator", "operator", "operate switches, taps and regulators; acknowledge, shelve alarms"},
	{"viewer", "viewer", "look only"},
}

// runDemo is hmi demo, and hmi without arguments.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", demoUsage, stdout, stderr)
	dir := fs.String("dir", "hmi-demo", "the `DIR`ectory of the demo's data, created when missing")
	listen := fs.String("listen", "127.0.0.1:8080", "`host:port` of the web server; when it is taken, a free port")
	reset := fs.Bool("reset", false, "delete the demo directory's database, accounts and certificates first")
	logs := fs.logFlags("warn")
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	log, code, ok := fs.logger(logs, stderr)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return fs.usageError("unexpected argument %q", pos[0])
	}
	cfg, err := prepareDemo(ctx, *dir, demoAddresses(*listen), *reset, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "hmi demo: %v\n", err)
		return exitFailure
	}
	if err := serve(ctx, cfg, log, stdout, nil); err != nil {
		fmt.Fprintf(stderr, "hmi demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// demoAddresses are the addresses the demo prefers: the web server on
// listen, the metrics on 9108, the RTUs on IEC 104's ports 2404 and 19998
// (TLS), all on loopback.
func demoAddresses(listen string) demo.Addresses {
	return demo.Addresses{HTTP: listen, Metrics: "127.0.0.1:9108", North: "127.0.0.1:2404", South: "127.0.0.1:19998"}
}

// prepareDemo makes the demo directory ready (certificates, configuration,
// accounts), prints the accounts, and returns the loaded configuration.
// Each address of want that is taken is replaced by a free port.
func prepareDemo(ctx context.Context, dir string, want demo.Addresses, reset bool, stdout io.Writer) (*config.Config, error) {
	if reset {
		if err := resetDemo(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	var addrs demo.Addresses
	for _, a := range []struct {
		dst             *string
		preferred, what string
	}{
		{&addrs.HTTP, want.HTTP, "the web server"},
		{&addrs.Metrics, want.Metrics, "the metrics"},
		{&addrs.North, want.North, "Northgate's RTU"},
		{&addrs.South, want.South, "Southfield's RTU (TLS)"},
	} {
		addr, moved, err := demo.Pick(a.preferred)
		if err != nil {
			return nil, err
		}
		if moved {
			fmt.Fprintf(stdout, "hmi: %s is in use; %s takes %s instead\n", a.preferred, a.what, addr)
		}
		*a.dst = addr
	}
	if created, err := demo.EnsurePKI(dir); err != nil {
		return nil, err
	} else if created {
		fmt.Fprintf(stdout, "hmi: created the demo's CA and the certificates of Southfield's RTU and of the HMI in %s\n", filepath.Join(dir, "pki"))
	}
	path, err := demo.Write(dir, addrs)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	accounts, err := demoAccountsReady(ctx, cfg, filepath.Join(dir, "accounts.txt"))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "\nhmi demo: open http://%s and log in as one of\n\n", addrs.HTTP)
	for _, a := range demoAccounts {
		fmt.Fprintf(stdout, "  %-9s %-22s %s\n", a.name, accounts[a.name], a.can)
	}
	fmt.Fprintf(stdout, "\n(the passwords are kept in %s)\n", filepath.Join(dir, "accounts.txt"))
	fmt.Fprintf(stdout, "RTUs: Northgate on %s (IEC 104), Southfield on %s (IEC 104 over TLS)\n", addrs.North, addrs.South)
	fmt.Fprintf(stdout, "Try: open a feeder breaker on the Northgate display; switch T1's regulator to manual and move its tap.\n\n")
	return cfg, nil
}

// resetDemo deletes what the demo keeps in dir, and only that.
func resetDemo(dir string) error {
	for _, name := range []string{store.FileName, store.FileName + "-wal", store.FileName + "-shm", "accounts.txt", "pki", "capture", demo.ConfigFile, "displays"} {
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// demoAccount is a line of accounts.txt: a demo user's generated password, and the password hash the store got
// with it (a hash that differs now means that someone changed the password since).
type demoAccount struct{ password, hash string }

// demoAccountsReady makes sure the demo users exist with the passwords in
// file, creating users and passwords as needed, and returns the passwords
// by user. A password someone changed since is reported as such.
func demoAccountsReady(ctx context.Context, cfg *config.Config, file string) (map[string]string, error) {
	accounts, err := readAccounts(file)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.DataDir, store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	out := map[string]string{}
	for _, a := range demoAccounts {
		u, err := st.GetUser(ctx, a.name)
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if acc, known := accounts[a.name]; exists && known {
			// Comparing the hashes costs nothing; verifying the passwords would cost an argon2id each start.
			out[a.name] = acc.password
			if u.PasswordHash != acc.hash {
				out[a.name] = "(changed by you)"
			}
			continue
		}
		p := newDemoPassword()
		hash, err := web.HashPassword(p)
		if err != nil {
			return nil, err
		}
		if exists {
			err = st.UpdatePassword(ctx, a.name, hash)
		} else {
			err = st.CreateUser(ctx, store.User{Name: a.name, Role: a.role, PasswordHash: hash})
		}
		if err != nil {
			return nil, err
		}
		accounts[a.name], out[a.name] = demoAccount{p, hash}, p
	}
	var b strings.Builder
	b.WriteString("# hmi demo accounts, generated at first start: user password hash-given-to-the-store\n")
	for _, a := range demoAccounts {
		if acc, ok := accounts[a.name]; ok {
			fmt.Fprintf(&b, "%s %s %s\n", a.name, acc.password, acc.hash)
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return out, nil
}

// readAccounts reads "user password hash" lines; a missing file is empty.
func readAccounts(file string) (map[string]demoAccount, error) {
	out := map[string]demoAccount{}
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); len(f) == 3 {
			out[f[0]] = demoAccount{password: f[1], hash: f[2]}
		}
	}
	return out, sc.Err()
}

// newDemoPassword returns 16 random letters and digits in groups of four,
// without look-alikes (0 O 1 l I).
func newDemoPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 16)
	rand.Read(b)
	var s strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			s.WriteByte('-')
		}
		s.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return s.String()
}
