package main

import (
	"context"
	"fmt"
	"io"

	"hmi/config"
)

const checkUsage = `Usage: hmi check [--config] FILE

Checks a configuration file without starting anything: its YAML, every
key and value, and how the parts fit together (links, points, controls,
alarms, displays, simulators). Every error is listed, one per line, as
FILE:LINE:COLUMN: message, so that an editor can jump to it. A valid file
gets one line with what it holds. 'hmi serve' runs the same check first and
starts nothing when it fails.

Examples:
  hmi check --config hmi.yaml
  hmi check config.example.yaml
  hmi check hmi.yaml && hmi serve --config hmi.yaml

Exit status: 0 the configuration is valid; 1 it has errors (listed on
stderr) or cannot be read; 2 wrong flags or arguments.
`

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", checkUsage, stdout, stderr)
	configFlag := fs.String("config", "", "the configuration `FILE` to check (or give it as the argument)")
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	file := *configFlag
	switch {
	case len(pos) > 1 || (len(pos) == 1 && file != ""):
		return fs.usageError("unexpected argument %q: check one configuration at a time", pos[len(pos)-1])
	case len(pos) == 1:
		file = pos[0]
	case file == "":
		return fs.usageError("no configuration given: hmi check --config FILE")
	}
	c, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(stderr, err) // config.Errors: one FILE:LINE:COL: message per line
		return exitFailure
	}
	fmt.Fprintf(stdout, "%s: ok: %s, %s, %s\n", file,
		plural(len(c.Links), "link"), plural(len(c.Points), "point"), plural(len(c.Simulators), "simulator"))
	return exitOK
}

// plural writes n and a noun that takes an s for n != 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
