// Package capture reads and writes IEC 60870-5-104 traffic in packet
// captures.
//
// Reading: ReadFile and Read take pcap and pcapng files, gzip-compressed or
// not (Ethernet, Linux SLL and SLL2, BSD loopback, raw IP), follow every TCP
// connection on the IEC 104 port (2404, or Options.Port, on either side), put
// each direction back in order (out-of-order segments, retransmissions,
// overlaps, captures that start mid-stream, several connections per file),
// split the streams into frames with iec104.Framer and decode them. Each
// frame becomes a Record with the capture time of the packet that completed
// it; octets that do not decode become records with Err set, and decoding
// goes on. The splitting agrees with Wireshark's (see TestDecodeMatchesTshark
// for the rule on malformed frames).
//
// Summary collects, per connection, counts by format, type and cause, the
// control operations with their steps and latencies, and anomalies.
//
// Writing: Writer records the APDUs of one connection as a pcap file with
// synthesized Ethernet, IP and TCP headers that Wireshark dissects as a
// clean IEC 104 conversation.
package capture
