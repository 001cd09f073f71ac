// Command hmi is a web-based SCADA HMI server with an IEC 60870-5-104
// front-end processor, and the engineering tools that go with it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand. run gets the arguments after the subcommand's
// name and returns the process exit status.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// Exit statuses shared by all subcommands.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (bad input, a check that did not pass)
	exitUsage   = 2 // wrong flags or arguments
)

func commands() map[string]command {
	return map[string]command{
		"audit":   {"verify the command audit trail", runAudit},
		"backup":  {"copy the database while the HMI runs", runBackup},
		"check":   {"validate a configuration file", runCheck},
		"decode":  {"decode IEC 104 traffic in pcap/pcapng captures", runDecode},
		"demo":    {"run the embedded demo plant (what 'hmi' alone does)", runDemo},
		"probe":   {"test an RTU: interrogate, sync its clock, send a command", runProbe},
		"serve":   {"run the HMI from a configuration file", runServe},
		"sim":     {"run an IEC 104 outstation simulator", runSim},
		"user":    {"add users, change passwords, list users", runUser},
		"version": {"print version and build information", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		return runDemo(ctx, nil, stdout, stderr)
	}
	switch args[0] {
	case "-h", "--help", "-help":
		usage(stdout, cmds)
		return exitOK
	case "help": // hmi help CMD is hmi CMD --help
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				return c.run(ctx, []string{"--help"}, stdout, stderr)
			}
		}
		usage(stdout, cmds)
		return exitOK
	}
	if strings.HasPrefix(args[0], "-") {
		return runDemo(ctx, args, stdout, stderr) // hmi --listen ADDR: the demo's flags
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hmi: unknown command %q (run 'hmi --help')\n", args[0])
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "hmi: a web-based SCADA HMI server for IEC 60870-5-104.\n\nUsage: hmi [COMMAND] [flags]\n\nWithout a command, hmi runs the embedded demo (hmi demo).\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'hmi COMMAND --help' (or 'hmi help COMMAND') for what a command does and its flags.")
	fmt.Fprintln(w, "Exit status: 0 success, 1 the command failed (its help says how), 2 wrong command, flags or arguments.")
}
