package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

const auditUsage = `Usage: hmi audit verify [--config FILE | --data-dir DIR]

Verifies the command audit trail in the database DIR/hmi.db (DIR is the
configuration's data_dir with --config). Every row of the trail carries the
SHA-256 hash of its content and of the previous row's hash; verify walks the
chain from the first row and names the first row that was edited, deleted or
moved. It opens the database read-only, and may run while the HMI runs.
On success it prints the number of rows and the hash of the last one: note
that hash down, and a later verify that prints a chain that no longer
contains it shows rows cut off at the end.

Examples:
  hmi audit verify --config hmi.yaml
  hmi audit verify --data-dir /var/lib/hmi

Exit status: 0 the trail is whole; 1 the chain is broken (the first bad row
is named) or the database cannot be read; 2 wrong flags or arguments.
`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return usageError(stderr, "audit", "no subcommand given: want verify")
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "-help", "help":
		return runAuditVerify(ctx, []string{"--help"}, stdout, stderr)
	}
	if strings.HasPrefix(args[0], "-") {
		return usageError(stderr, "audit", "flag %s before the subcommand: want verify first", args[0])
	}
	return usageError(stderr, "audit", "unknown subcommand %q: want verify", args[0])
}

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("audit verify", auditUsage, stdout, stderr)
	var (
		dataDir    = fs.String("data-dir", "", "the data `DIR` that holds hmi.db")
		configFile = fs.String("config", "", "the configuration `FILE` whose data_dir holds hmi.db")
	)
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	switch {
	case len(pos) != 0:
		return fs.usageError("unexpected argument %q", pos[0])
	case (*dataDir == "") == (*configFile == ""):
		return fs.usageError("give one of --data-dir and --config")
	}
	s, ok := openReadOnly(ctx, "hmi audit verify", *configFile, *dataDir, stderr)
	if !ok {
		return exitFailure
	}
	defer s.Close()
	c, err := s.CheckAudit(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "hmi audit verify: %s: %v\n", s.Path(), err)
		return exitFailure
	}
	if b := c.Break; b != nil {
		fmt.Fprintf(stderr, "%s: audit trail broken at row %d: %v: %s (%s before it are whole)\n",
			s.Path(), b.ID, b.Reason, b.Detail, plural(int(c.Rows), "row"))
		return exitFailure
	}
	if c.Rows == 0 {
		fmt.Fprintf(stdout, "%s: audit trail ok: 0 rows\n", s.Path())
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: audit trail ok: %s, last row %d, hash %s\n", s.Path(), plural(int(c.Rows), "row"), c.LastID, c.Head)
	return exitOK
}
