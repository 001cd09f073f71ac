package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"hmi/config"
)

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hmi check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "the configuration `FILE` to check")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: hmi check --config FILE\n\n"+
			"Checks a configuration file and lists every error as FILE:LINE:COLUMN: message.\n"+
			"Exit status 0 if the file is valid, 1 if not.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != 0 || *file == "" {
		fs.Usage()
		return exitUsage
	}
	c, err := config.Load(*file)
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
	fmt.Fprintf(stdout, "%s: ok: %s, %s, %s\n", *file,
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
