package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"hmi/config"
	"hmi/store"
)

// Every subcommand parses its flags with a cmdFlags, so that all of them
// behave alike:
//
//   - --help (or -h) prints the command's help to stdout and exits 0: the
//     usage text (synopsis, what it does, examples, exit statuses), then
//     the flags, written with two dashes;
//   - a wrong flag or argument prints one line to stderr, "hmi NAME: the
//     problem (run 'hmi NAME --help')", and exits 2 (exitUsage);
//   - flags and positional arguments may come in any order; "--" ends the
//     flags.

// cmdFlags is the flag set of one command, with its help text and where
// its help and errors go.
type cmdFlags struct {
	*flag.FlagSet
	name   string // the command after "hmi ": "sim", "user add"
	usage  string // the help text before the flags
	stdout io.Writer
	stderr io.Writer
}

// newFlagSet returns the flag set of the command "hmi name". usage is its
// help text up to the flags: a "Usage: hmi name ..." line, what the
// command does, an Examples section and, where they mean more than
// success and failure, the exit statuses.
func newFlagSet(name, usage string, stdout, stderr io.Writer) *cmdFlags {
	fs := flag.NewFlagSet("hmi "+name, flag.ContinueOnError)
	// The flag package prints errors and the usage itself, to one writer;
	// parse prints them instead, each where it belongs.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cmdFlags{FlagSet: fs, name: name, usage: usage, stdout: stdout, stderr: stderr}
}

// parse parses args. It returns the positional arguments and ok; or, when
// the command is done (--help: exitOK; a wrong flag: exitUsage, after
// saying why), the exit status and !ok.
func (f *cmdFlags) parse(args []string) (pos []string, code int, ok bool) {
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.printHelp(f.stdout)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, f.usageError("%v", err), false
		}
		rest := f.Args()
		if len(rest) == 0 {
			return pos, exitOK, true
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), exitOK, true
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// usageError prints a wrong use of the command as one line on stderr and
// returns exitUsage.
func (f *cmdFlags) usageError(format string, a ...any) int {
	return usageError(f.stderr, f.name, format, a...)
}

// usageError prints "hmi NAME: message (run 'hmi NAME --help')" to w and
// returns exitUsage; for commands that have no flag set of their own (hmi
// user and hmi audit before their subcommand).
func usageError(w io.Writer, name, format string, a ...any) int {
	fmt.Fprintf(w, "hmi %s: %s (run 'hmi %s --help')\n", name, fmt.Sprintf(format, a...), name)
	return exitUsage
}

// set returns the names of the flags given on the command line.
func (f *cmdFlags) set() map[string]bool {
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return set
}

// printHelp prints the usage text and the flags to w.
func (f *cmdFlags) printHelp(w io.Writer) {
	fmt.Fprint(w, strings.TrimRight(f.usage, "\n")+"\n\nFlags:\n")
	f.printFlags(w)
}

// printFlags lists the flags as "--name VALUE" and their usage, indented,
// with the default where it is not the zero value.
func (f *cmdFlags) printFlags(w io.Writer) {
	f.VisitAll(func(fl *flag.Flag) {
		value, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if value != "" {
			line += " " + strings.ToUpper(value)
		}
		switch fl.DefValue {
		case "", "0", "0s", "false", "[]":
		default:
			usage += fmt.Sprintf(" (default %s)", fl.DefValue)
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, strings.ReplaceAll(usage, "\n", "\n        "))
	})
	fmt.Fprint(w, "  -h, --help\n        print this help\n")
}

// Log levels and formats of --log-level and --log-format.
const (
	logLevels  = "debug, info, warn or error"
	logFormats = "text or json"
)

// logFlags are --log-level and --log-format.
type logFlags struct {
	level, format *string
}

// logFlags adds --log-level (default level) and --log-format to f.
func (f *cmdFlags) logFlags(level string) logFlags {
	return logFlags{
		level:  f.String("log-level", level, "log `LEVEL`: "+logLevels+"; logs go to stderr"),
		format: f.String("log-format", "text", "log `FORMAT`: text (key=value) or json (one object per line)"),
	}
}

// logger returns the logger the flags ask for, writing to w, or prints
// what is wrong with them and returns exitUsage.
func (f *cmdFlags) logger(l logFlags, w io.Writer) (*slog.Logger, int, bool) {
	log, err := newLogger(*l.level, *l.format, w)
	if err != nil {
		return nil, f.usageError("%v", err), false
	}
	return log, exitOK, true
}

// newLogger returns a logger that writes records of level and above to w,
// as text (key=value) or json lines.
func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "info":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level %q: want %s", level, logLevels)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want %s", format, logFormats)
}

// dataDirOf returns the data directory that --config FILE names (its data_dir), or dataDir when no file is given.
// A configuration with errors is reported on stderr, each error as FILE:LINE:COL: message, and ok is false.
func dataDirOf(configFile, dataDir string, stderr io.Writer) (dir string, ok bool) {
	if configFile == "" {
		return dataDir, true
	}
	c, err := config.Load(configFile)
	if err != nil {
		fmt.Fprintln(stderr, err) // config.Errors: one FILE:LINE:COL: message per line
		return "", false
	}
	return c.DataDir, true
}

// openReadOnly opens, for reading only, the existing database of --config FILE or --data-dir DIR (one of them is
// given): no migration, no writer, so it may read a database another hmi serves. Errors are printed on stderr,
// prefixed with the command's name.
func openReadOnly(ctx context.Context, name, configFile, dataDir string, stderr io.Writer) (*store.Store, bool) {
	dir, ok := dataDirOf(configFile, dataDir, stderr)
	if !ok {
		return nil, false
	}
	s, err := store.Open(ctx, dir, store.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return nil, false
	}
	return s, true
}
