package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"hmi/frontstation/iec104"
)

func TestReadPcapng(t *testing.T) {
	conv := conversation(t)
	pcap := writeConversation(t, "192.0.2.10:50123", "192.0.2.20:2404", conv)
	got := decodeBytes(t, pcapngOf(t, pcap), Options{})
	if len(got) != len(conv) {
		t.Fatalf("got %d records from pcapng, want %d", len(got), len(conv))
	}
	for i, r := range got {
		if !bytes.Equal(r.Raw, conv[i].raw) {
			t.Errorf("APDU %d: got % X, want % X", i, r.Raw, conv[i].raw)
		}
	}
}

func TestReadGzip(t *testing.T) {
	conv := conversation(t)
	pcap := writeConversation(t, "192.0.2.10:50123", "192.0.2.20:2404", conv)
	for name, data := range map[string][]byte{"pcap": pcap, "pcapng": pcapngOf(t, pcap)} {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if got := decodeBytes(t, b.Bytes(), Options{}); len(got) != len(conv) {
			t.Errorf("gzip %s: got %d records, want %d", name, len(got), len(conv))
		}
	}
}

func TestReadErrors(t *testing.T) {
	pcap := writeConversation(t, "192.0.2.10:50123", "192.0.2.20:2404", conversation(t))
	tests := []struct {
		name string
		data []byte
		want string // in the error; records before it are delivered
	}{
		{"empty", nil, "capture: x.pcap: not a pcap or pcapng file"},
		{"text", []byte("hello, world\n"), "capture: x.pcap: not a pcap or pcapng file"},
		{"cut inside a packet", pcap[:len(pcap)-30], "capture: x.pcap: packet 30: file ends inside the packet"},
		{"unsupported link type", func() []byte {
			var b bytes.Buffer
			w := pcapgo.NewWriter(&b)
			w.WriteFileHeader(65535, layers.LinkTypeIEEE802_11)
			return b.Bytes()
		}(), "capture: x.pcap: unsupported link type 105"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			err := Read(bytes.NewReader(tt.data), "x.pcap", Options{}, func(*Record) error { n++; return nil })
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got error %v, want %q", err, tt.want)
			}
		})
	}
	stop := errors.New("stop")
	if err := Read(bytes.NewReader(pcap), "x.pcap", Options{}, func(*Record) error { return stop }); err != stop {
		t.Errorf("got %v, want the callback's error", err)
	}
	if err := ReadFile("does-not-exist.pcap", Options{}, func(*Record) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "does-not-exist.pcap") || !strings.HasPrefix(err.Error(), "capture: ") {
		t.Errorf("got %v, want a capture: error naming the file", err)
	}
}

// ipPacket serializes an IPv4 or IPv6 packet carrying a TCP segment.
func ipPacket(t *testing.T, src, dst string, seq uint32, payload []byte) []byte {
	t.Helper()
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.Port()), DstPort: layers.TCPPort(d.Port()), Seq: seq, ACK: true, PSH: true, Window: 100}
	var ip gopacket.SerializableLayer
	if s.Addr().Is4() {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: s.Addr().AsSlice(), DstIP: d.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	} else {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: s.Addr().AsSlice(), DstIP: d.Addr().AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, ip, tcp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func TestLinkTypes(t *testing.T) {
	v4 := ipPacket(t, "10.0.0.1:40000", "10.0.0.2:2404", 1, startAct)
	v6 := ipPacket(t, "[2001:db8::1]:40000", "[2001:db8::2]:2404", 1, startAct)
	sll := func(proto uint16, ip []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[0:], 4) // sent by us
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6) // address length
		binary.BigEndian.PutUint16(h[14:], proto)
		return append(h, ip...)
	}
	sll2 := func(proto uint16, ip []byte) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], proto)
		binary.BigEndian.PutUint32(h[4:], 1) // interface index
		binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
		h[10], h[11] = 4, 6
		return append(h, ip...)
	}
	null := func(family uint32, ip []byte) []byte {
		h := make([]byte, 4)
		binary.LittleEndian.PutUint32(h, family)
		return append(h, ip...)
	}
	loop := func(family uint32, ip []byte) []byte {
		h := make([]byte, 4)
		binary.BigEndian.PutUint32(h, family)
		return append(h, ip...)
	}
	vlan := func(ip []byte) []byte {
		h := append(append([]byte(nil), remoteMAC...), localMAC...)
		h = append(h, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00)
		return append(h, ip...)
	}
	tests := []struct {
		name string
		lt   layers.LinkType
		data []byte
	}{
		{"raw IPv4", layers.LinkTypeRaw, v4},
		{"raw IPv6", layers.LinkTypeRaw, v6},
		{"DLT_RAW 12", 12, v4},
		{"IPv4", layers.LinkTypeIPv4, v4},
		{"IPv6", layers.LinkTypeIPv6, v6},
		{"Linux SLL", layers.LinkTypeLinuxSLL, sll(0x0800, v4)},
		{"Linux SLL IPv6", layers.LinkTypeLinuxSLL, sll(0x86DD, v6)},
		{"Linux SLL2", layers.LinkTypeLinuxSLL2, sll2(0x0800, v4)},
		{"null", layers.LinkTypeNull, null(2, v4)},
		{"null IPv6", layers.LinkTypeNull, null(30, v6)},
		{"loop", layers.LinkTypeLoop, loop(2, v4)},
		{"Ethernet with a VLAN tag", layers.LinkTypeEthernet, vlan(v4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			w := pcapgo.NewWriter(&b)
			if err := w.WriteFileHeader(65535, tt.lt); err != nil {
				t.Fatal(err)
			}
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(tt.data), Length: len(tt.data)}, tt.data); err != nil {
				t.Fatal(err)
			}
			recs := decodeBytes(t, b.Bytes(), Options{})
			if len(recs) != 1 || recs[0].Err != nil || recs[0].APDU.U != iec104.StartDTAct {
				t.Fatalf("got %d records %v, want one STARTDT_ACT", len(recs), recs)
			}
		})
	}
}

// TestSnapLength checks that a segment cut short by the snap length is a
// gap, and that decoding resumes after it.
func TestSnapLength(t *testing.T) {
	i0 := iFrame(t, 0, 100)
	full := pcapOf(t, []seg{
		{src: "10.0.0.2:2404", dst: "10.0.0.1:40000", seq: 1, data: cat(startCon, i0)},
		{src: "10.0.0.2:2404", dst: "10.0.0.1:40000", seq: 1 + uint32(len(startCon)+len(i0)), data: testAct},
	})
	// Rewrite the first packet with a capture length that drops the last 5
	// octets of its I-frame.
	r, err := pcapgo.NewReader(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for n := 0; ; n++ {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if n == 0 {
			data = data[:len(data)-5]
			ci.CaptureLength = len(data)
		}
		w.WritePacket(ci, data)
	}
	var got []string
	for _, rec := range decodeBytes(t, b.Bytes(), Options{}) {
		got = append(got, brief(rec))
	}
	want := []string{"<1 STARTDT_CON", "<1 incomplete", "<1 gap", "<2 TESTFR_ACT"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("got %q, want %q", got, want)
	}
}
