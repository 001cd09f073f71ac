package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

const backupUsage = `Usage: hmi backup --to FILE [--config FILE | --data-dir DIR]

Copies the database DIR/hmi.db (DIR is the configuration's data_dir with
--config) to the new file FILE, while the HMI runs: the copy is one
consistent snapshot of what 'hmi serve' had committed when the copy began
(SQLite VACUUM INTO, which does not stop the server's writes). The copy is
a single file (no -wal or -shm beside it), with mode 0600, synced to disk,
and checked (PRAGMA integrity_check) before the command succeeds; on any
error it is removed. An existing FILE is never overwritten.

It opens the database read-only: it changes nothing in it, and the schema
must be the one this program writes (run it with the same hmi version as
the server). Run it as the user the server runs as. To restore: stop the
server, put the copy in place as DIR/hmi.db, remove DIR/hmi.db-wal and
DIR/hmi.db-shm, run 'hmi audit verify', start the server.

Examples:
  hmi backup --config /etc/hmi/config.yaml --to /var/backups/hmi/hmi-$(date +%F).db
  hmi backup --data-dir ./hmi-data --to copy.db

Exit status: 0 the copy is made and checked; 1 it could not be made (FILE
exists, no database, a database error); 2 wrong flags or arguments.
`

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup", backupUsage, stdout, stderr)
	var (
		to         = fs.String("to", "", "the `FILE` to write the copy to; it must not exist")
		configFile = fs.String("config", "", "the configuration `FILE` whose data_dir holds hmi.db")
		dataDir    = fs.String("data-dir", "", "the data directory `DIR` that holds hmi.db")
	)
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return fs.usageError("unexpected argument %q: give the copy's name with --to", pos[0])
	case *to == "":
		return fs.usageError("no destination: give --to FILE")
	case (*dataDir == "") == (*configFile == ""):
		return fs.usageError("give one of --data-dir and --config")
	}
	s, ok := openReadOnly(ctx, "hmi backup", *configFile, *dataDir, stderr)
	if !ok {
		return exitFailure
	}
	defer s.Close()
	dst, err := filepath.Abs(*to)
	if err != nil {
		fmt.Fprintf(stderr, "hmi backup: %v\n", err)
		return exitFailure
	}
	if err := s.Backup(ctx, dst); err != nil {
		fmt.Fprintf(stderr, "hmi backup: %s: %v\n", s.Path(), err)
		return exitFailure
	}
	fi, err := os.Stat(dst)
	if err != nil {
		fmt.Fprintf(stderr, "hmi backup: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s: copied to %s (%d bytes), integrity ok\n", s.Path(), dst, fi.Size())
	return exitOK
}
