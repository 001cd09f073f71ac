package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"hmi/capture"
)

func runDecode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hmi decode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per line for each APDU (with --summary: one per connection)")
	summary := fs.Bool("summary", false, "print a summary per connection instead of the APDUs: counts, control operations with latencies, anomalies")
	port := fs.Uint("port", capture.DefaultPort, "TCP `port` of the IEC 104 traffic, on either side of a connection")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: hmi decode [--json] [--summary] [--port P] FILE...

Decodes the IEC 60870-5-104 traffic in pcap and pcapng captures. TCP streams
are reassembled (out-of-order, retransmitted and overlapping segments,
captures that start mid-stream), split into APDUs and decoded. By default it
prints one line per APDU: capture time, source -> destination, format,
N(S)/N(R) or the U function, and for I-frames the type, cause of
transmission with its flags, common address and the first objects. Octets
that do not decode are printed as errors, and decoding goes on.

Exit status: 0 when every file was read, 1 when a file could not be read
(the message names it and says why), 2 for wrong flags or arguments.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "hmi decode: no capture file given")
		fs.Usage()
		return exitUsage
	}
	if *port == 0 || *port > 65535 {
		fmt.Fprintf(stderr, "hmi decode: --port %d: want 1..65535\n", *port)
		return exitUsage
	}
	opts := capture.Options{Port: uint16(*port)}
	out := bufio.NewWriter(stdout)
	code := exitOK
	for _, name := range fs.Args() {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "hmi decode: %v\n", ctx.Err())
			code = exitFailure
			break
		}
		var sum *capture.Summary
		if *summary {
			sum = capture.NewSummary()
		}
		err := capture.ReadFile(name, opts, func(r *capture.Record) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			switch {
			case sum != nil:
				sum.Add(r)
				return nil
			case *asJSON:
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				_, err = out.Write(append(b, '\n'))
				return err
			default:
				_, err := out.WriteString(r.String() + "\n")
				return err
			}
		})
		if sum != nil {
			var werr error
			if *asJSON {
				werr = sum.WriteJSON(out)
			} else {
				werr = sum.WriteText(out)
			}
			if err == nil {
				err = werr
			}
		}
		if err != nil {
			if ferr := out.Flush(); ferr != nil {
				fmt.Fprintf(stderr, "hmi decode: %v\n", ferr)
			}
			fmt.Fprintf(stderr, "hmi decode: %v\n", err)
			code = exitFailure
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "hmi decode: %v\n", err)
		return exitFailure
	}
	return code
}
