package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"hmi/capture"
)

const decodeUsage = `Usage: hmi decode [--json] [--summary] [--port P] FILE...

Decodes the IEC 60870-5-104 traffic in pcap and pcapng captures (from
tcpdump, Wireshark or the HMI's own link captures). TCP streams are
reassembled (out-of-order, retransmitted and overlapping segments, captures
that start mid-stream), split into APDUs and decoded. It prints one line per
APDU: capture time, source -> destination, format, N(S)/N(R) or the U
function, and for I-frames the type, cause of transmission with its flags,
common address and the first objects. Octets that do not decode are printed
as errors, and decoding goes on.

Examples:
  hmi decode rtu.pcap
  hmi decode --summary substation-*.pcapng
  hmi decode --json --port 19998 capture.pcapng > apdus.jsonl

Exit status: 0 when every file was read; 1 when a file could not be read
(the message names it and says why); 2 wrong flags or arguments.
`

func runDecode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("decode", decodeUsage, stdout, stderr)
	asJSON := fs.Bool("json", false, "print one JSON object per line for each APDU (with --summary: one per connection)")
	summary := fs.Bool("summary", false, "print a summary per connection instead of the APDUs: counts, control operations with latencies, anomalies")
	port := fs.Uint("port", capture.DefaultPort, "TCP `PORT` of the IEC 104 traffic, on either side of a connection")
	files, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	if len(files) == 0 {
		return fs.usageError("no capture file given: hmi decode FILE...")
	}
	if *port == 0 || *port > 65535 {
		return fs.usageError("--port %d: want 1..65535", *port)
	}
	opts := capture.Options{Port: uint16(*port)}
	out := bufio.NewWriter(stdout)
	code = exitOK
	for _, name := range files {
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
