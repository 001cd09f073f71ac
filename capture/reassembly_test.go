package capture

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"hmi/frontstation/iec104"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// seg is one synthetic TCP segment of a test capture.
type seg struct {
	src, dst string // ip:port
	seq      uint32
	syn, fin bool
	data     []byte
}

// pcapOf builds a pcap file (Ethernet, IPv4 or IPv6, TCP) from segments,
// one packet per segment, 1 ms apart.
func pcapOf(t testing.TB, segs []seg) []byte {
	t.Helper()
	var out bytes.Buffer
	w := pcapgo.NewWriterNanos(&out)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	for i, s := range segs {
		src, dst := netip.MustParseAddrPort(s.src), netip.MustParseAddrPort(s.dst)
		tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: s.seq,
			SYN: s.syn, FIN: s.fin, ACK: !s.syn, PSH: len(s.data) > 0, Window: 1000}
		eth := &layers.Ethernet{SrcMAC: localMAC, DstMAC: remoteMAC, EthernetType: layers.EthernetTypeIPv4}
		var ip gopacket.SerializableLayer
		if src.Addr().Is4() {
			ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
			tcp.SetNetworkLayerForChecksum(ip4)
			ip = ip4
		} else {
			eth.EthernetType = layers.EthernetTypeIPv6
			ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
			tcp.SetNetworkLayerForChecksum(ip6)
			ip = ip6
		}
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, eth, ip, tcp, gopacket.Payload(s.data)); err != nil {
			t.Fatal(err)
		}
		ts := t0.Add(time.Duration(i) * time.Millisecond)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// decodeBytes reads a capture from memory.
func decodeBytes(t testing.TB, b []byte, opts Options) []*Record {
	t.Helper()
	var recs []*Record
	if err := Read(bytes.NewReader(b), "test.pcap", opts, func(r *Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// Frames used by the tests.
var (
	startAct = iec104.AppendU(nil, iec104.StartDTAct)
	startCon = iec104.AppendU(nil, iec104.StartDTCon)
	testAct  = iec104.AppendU(nil, iec104.TestFRAct)
	ack5     = iec104.AppendS(nil, 5)
)

func iFrame(t testing.TB, ns uint16, ioa uint32) []byte {
	t.Helper()
	asdu, err := iec104.AppendASDU(nil, iec104.Header{Type: iec104.M_SP_NA_1, Cause: iec104.CauseSpontaneous, CA: 1},
		[]iec104.Object{{IOA: ioa, State: 1}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := iec104.AppendI(nil, ns, 0, asdu)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// brief describes a record for comparisons: packet, direction, format and
// N(S) or U function, or the error's sentinel.
func brief(r *Record) string {
	dir := ">"
	if !r.FromClient {
		dir = "<"
	}
	s := dir + itoa(r.Packet) + " "
	switch {
	case r.Err != nil && errors.Is(r.Err, ErrGap):
		s += "gap"
	case r.Err != nil && errors.Is(r.Err, iec104.ErrStartByte):
		s += "junk"
	case r.Err != nil && errors.Is(r.Err, ErrIncomplete):
		s += "incomplete"
	case r.Err != nil:
		s += "error"
	case r.APDU.Format == iec104.FormatI:
		s += "I" + itoa(int(r.APDU.SendSeq))
	case r.APDU.Format == iec104.FormatS:
		s += "S" + itoa(int(r.APDU.RecvSeq))
	default:
		s += r.APDU.U.String()
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestReassembly(t *testing.T) {
	const c, s = "10.0.0.1:40000", "10.0.0.2:2404"
	const isn = 1000
	i0, i1, i2 := iFrame(t, 0, 100), iFrame(t, 1, 101), iFrame(t, 2, 102)
	tests := []struct {
		name string
		segs []seg
		want []string
	}{
		{"in order, two APDUs in one segment", []seg{
			{src: c, dst: s, seq: isn, syn: true},
			{src: c, dst: s, seq: isn + 1, data: cat(startAct, testAct)},
			{src: s, dst: c, seq: 7000, data: startCon},
		}, []string{">2 STARTDT_ACT", ">2 TESTFR_ACT", "<3 STARTDT_CON"}},
		{"out of order: later segment first", []seg{
			{src: s, dst: c, seq: 500 + uint32(len(i0)), data: i1},
			{src: s, dst: c, seq: 500, data: i0},
		}, []string{
			// Without a SYN the stream starts at the first segment seen, so
			// the earlier segment arriving after it is taken as old data.
			"<1 I1",
		}},
		{"out of order after the start", []seg{
			{src: s, dst: c, seq: 500, data: i0},
			{src: s, dst: c, seq: 500 + uint32(len(i0)+len(i1)), data: i2},
			{src: s, dst: c, seq: 500 + uint32(len(i0)), data: i1},
		}, []string{"<1 I0", "<3 I1", "<3 I2"}},
		{"retransmission", []seg{
			{src: s, dst: c, seq: 500, data: i0},
			{src: s, dst: c, seq: 500, data: i0},
			{src: s, dst: c, seq: 500 + uint32(len(i0)), data: i1},
		}, []string{"<1 I0", "<3 I1"}},
		{"overlap: a segment repeats the tail of the previous one", []seg{
			{src: s, dst: c, seq: 500, data: cat(i0, i1[:5])},
			{src: s, dst: c, seq: 500 + uint32(len(i0)), data: cat(i1, i2)},
		}, []string{"<1 I0", "<2 I1", "<2 I2"}},
		{"overlap between buffered segments", []seg{
			{src: s, dst: c, seq: 500, data: i0[:3]},
			{src: s, dst: c, seq: 500 + uint32(len(i0)), data: cat(i1, i2)},
			{src: s, dst: c, seq: 500 + uint32(len(i0)-2), data: cat(i0[len(i0)-2:], i1[:4])},
			{src: s, dst: c, seq: 503, data: i0[3:]},
		}, []string{"<4 I0", "<4 I1", "<4 I2"}},
		{"APDU split over three segments", []seg{
			{src: s, dst: c, seq: 500, data: i0[:1]},
			{src: s, dst: c, seq: 501, data: i0[1:7]},
			{src: s, dst: c, seq: 507, data: cat(i0[7:], ack5[:2])},
			{src: s, dst: c, seq: 500 + uint32(len(i0)) + 2, data: ack5[2:]},
		}, []string{"<3 I0", "<4 S5"}},
		{"sequence numbers wrap", []seg{
			{src: c, dst: s, seq: 0xFFFFFFF0, syn: true},
			{src: c, dst: s, seq: 0xFFFFFFF1, data: i0},
			{src: c, dst: s, seq: 0xFFFFFFF1 + uint32(len(i0)), data: i1},
		}, []string{">2 I0", ">3 I1"}},
		{"a segment never captured", []seg{
			{src: s, dst: c, seq: 500, data: i0},
			{src: s, dst: c, seq: 500 + uint32(len(i0)+len(i1)), data: i2},
		}, []string{"<1 I0", "<2 gap", "<2 I2"}},
		{"the capture ends inside a frame", []seg{
			{src: s, dst: c, seq: 500, data: cat(i0, i1[:4])},
		}, []string{"<1 I0", "<1 incomplete"}},
		{"junk before a frame", []seg{
			{src: c, dst: s, seq: 1, data: cat([]byte{1, 2, 3}, startAct)},
		}, []string{">1 junk", ">1 STARTDT_ACT"}},
		{"other ports are ignored", []seg{
			{src: "10.0.0.1:1099", dst: "10.0.0.2:1100", seq: 1, data: startAct},
		}, nil},
		{"IPv6", []seg{
			{src: "[2001:db8::1]:40000", dst: "[2001:db8::2]:2404", seq: 1, data: startAct},
		}, []string{">1 STARTDT_ACT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range decodeBytes(t, pcapOf(t, tt.segs), Options{}) {
				got = append(got, brief(r))
			}
			if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConnections(t *testing.T) {
	const c1, c2, s = "10.0.0.1:40000", "10.0.0.1:40001", "10.0.0.2:2404"
	segs := []seg{
		{src: c1, dst: s, seq: 100, syn: true},
		{src: c2, dst: s, seq: 200, data: startAct}, // mid-stream, no SYN
		{src: c1, dst: s, seq: 101, data: startAct},
		{src: s, dst: c1, seq: 900, data: startCon},
		{src: c1, dst: s, seq: 107, fin: true},
		{src: c1, dst: s, seq: 5000, syn: true}, // the same ports again: a new connection
		{src: c1, dst: s, seq: 5001, data: testAct},
		{src: s, dst: c2, seq: 300, data: startCon},
		{src: c1, dst: s, seq: 5000, syn: true}, // a retransmitted SYN: the same connection
		{src: "10.0.0.1:40002", dst: s, seq: 10, syn: true},
		{src: "10.0.0.1:40002", dst: s, seq: 77, syn: true}, // another ISN, no data yet: a new connection
		{src: "10.0.0.1:40002", dst: s, seq: 78, data: testAct},
	}
	type conn struct {
		id             int
		client, server string
		handshake      bool
	}
	var got []string
	conns := map[int]conn{}
	for _, r := range decodeBytes(t, pcapOf(t, segs), Options{}) {
		got = append(got, itoa(r.Conn.ID)+brief(r))
		conns[r.Conn.ID] = conn{r.Conn.ID, r.Conn.Client.String(), r.Conn.Server.String(), r.Conn.Handshake}
	}
	want := []string{"2>2 STARTDT_ACT", "1>3 STARTDT_ACT", "1<4 STARTDT_CON", "3>7 TESTFR_ACT", "2<8 STARTDT_CON", "5>12 TESTFR_ACT"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("got %q, want %q", got, want)
	}
	wantConns := map[int]conn{
		1: {1, c1, s, true},
		2: {2, c2, s, false},
		3: {3, c1, s, true},
	}
	for id, w := range wantConns {
		if conns[id] != w {
			t.Errorf("connection %d: got %+v, want %+v", id, conns[id], w)
		}
	}
}

func TestPortOption(t *testing.T) {
	b := pcapOf(t, []seg{{src: "10.0.0.1:40000", dst: "10.0.0.2:12404", seq: 1, data: startAct}})
	tests := []struct {
		port uint16
		want int
	}{{0, 0}, {2404, 0}, {12404, 1}, {40000, 1}}
	for _, tt := range tests {
		if got := len(decodeBytes(t, b, Options{Port: tt.port})); got != tt.want {
			t.Errorf("port %d: got %d records, want %d", tt.port, got, tt.want)
		}
	}
}

func TestReassemblerChunks(t *testing.T) {
	type add struct {
		seq  uint32
		data string
	}
	tests := []struct {
		name string
		adds []add
		want string // delivered octets, "|" between chunks, "#n" for a gap
	}{
		{"in order", []add{{10, "ab"}, {12, "cd"}}, "ab|cd"},
		{"early segment waits", []add{{10, "ab"}, {14, "ef"}, {12, "cd"}}, "ab|cd|ef"},
		{"retransmitted", []add{{10, "ab"}, {10, "ab"}, {12, "c"}}, "ab|c"},
		{"overlapping front trimmed", []add{{10, "abc"}, {11, "bcde"}}, "abc|de"},
		{"first delivered octets win", []add{{10, "abc"}, {11, "XYde"}}, "abc|de"},
		{"two early segments at the same offset, longer kept", []add{{10, "a"}, {12, "c"}, {12, "cde"}, {11, "b"}}, "a|b|cde"},
		{"gap flushed at the end", []add{{10, "a"}, {15, "f"}}, "a|#4f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r reassembler
			var out []chunk
			for i, a := range tt.adds {
				out = r.add(out, a.seq, []byte(a.data), t0, i+1)
			}
			out = r.flush(out)
			var parts []string
			var off int64
			for _, c := range out {
				p := string(c.Data)
				if c.Gap > 0 {
					p = "#" + itoa(int(c.Gap)) + p
				}
				if c.Off != off+c.Gap {
					t.Errorf("chunk %q at offset %d, want %d", c.Data, c.Off, off+c.Gap)
				}
				off = c.Off + int64(len(c.Data))
				parts = append(parts, p)
			}
			if got := strings.Join(parts, "|"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReassemblerBounded(t *testing.T) {
	var r reassembler
	var out []chunk
	out = r.add(out, 0, []byte("a"), t0, 1)
	// Segments that never become contiguous: one missing octet before each.
	for i := range maxPendingSegments + 10 {
		out = r.add(out, uint32(2+2*i), []byte("x"), t0, i+2)
	}
	if len(r.pending) > maxPendingSegments {
		t.Errorf("got %d buffered segments, want at most %d", len(r.pending), maxPendingSegments)
	}
	gaps := 0
	for _, c := range out {
		if c.Gap > 0 {
			gaps++
		}
	}
	if gaps == 0 {
		t.Errorf("got no gap chunk, want the oldest missing octets given up")
	}
}
