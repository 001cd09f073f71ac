package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"hmi/config"
	"hmi/store"
)

const auditUsage = `Usage: hmi audit verify [--data-dir DIR | --config FILE]

Verifies the command audit trail in the database DIR/hmi.db (DIR is the
configuration's data_dir with --config). Every row of the trail carries the
SHA-256 hash of its content and of the previous row's hash; verify walks the
chain from the first row and names the first row that was edited, deleted or
moved. It opens the database read-only, and may run while the HMI runs.

On success it prints the number of rows and the hash of the last one: note
that hash down, and a later verify that prints a chain that no longer
contains it shows rows cut off at the end.

Exit status 0 if the trail is whole, 1 if it is broken or cannot be read,
2 for wrong usage.

Flags:
`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return exitUsage
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, auditUsage)
		return exitOK
	}
	fmt.Fprintf(stderr, "hmi audit: unknown subcommand %q\n\n%s", args[0], auditUsage)
	return exitUsage
}

func runAuditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hmi audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		dataDir    = fs.String("data-dir", "", "the data `DIR`ectory that holds hmi.db")
		configFile = fs.String("config", "", "the configuration `FILE` whose data_dir holds hmi.db")
	)
	fs.Usage = func() {
		fmt.Fprint(stderr, auditUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, auditUsage)
			fs.PrintDefaults()
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 0 || (*dataDir == "") == (*configFile == "") {
		fmt.Fprintln(stderr, "hmi audit verify: give one of --data-dir and --config")
		fs.Usage()
		return exitUsage
	}
	dir := *dataDir
	if *configFile != "" {
		c, err := config.Load(*configFile)
		if err != nil {
			var errs config.Errors
			if errors.As(err, &errs) {
				for _, e := range errs {
					fmt.Fprintln(stderr, e)
				}
			} else {
				fmt.Fprintln(stderr, err)
			}
			return exitFailure
		}
		dir = c.DataDir
	}

	s, err := store.Open(ctx, dir, store.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "hmi audit verify: %v\n", err)
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
