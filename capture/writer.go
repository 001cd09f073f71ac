package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"hmi/frontstation/iec104"
)

// Initial sequence numbers of the synthesized connection.
const (
	clientISN  uint32 = 0x10000000
	serverISN  uint32 = 0x20000000
	window            = 65535
	snapLength        = 65535
)

// Synthesized MAC addresses (locally administered).
var (
	localMAC  = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	remoteMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
)

// Writer records the APDUs of one connection as a pcap file (Ethernet,
// IPv4 or IPv6, TCP) that Wireshark dissects as a clean IEC 104
// conversation: a synthesized three-way handshake, one TCP segment per APDU
// with consistent sequence and acknowledgement numbers, correct checksums,
// and optionally a closing FIN exchange. It is safe for concurrent use.
type Writer struct {
	local, remote netip.AddrPort
	localClient   bool // local opened the connection (sent the SYN)

	mu      sync.Mutex // guards the fields below and writes to pw
	pw      *pcapgo.Writer
	buf     gopacket.SerializeBuffer
	started bool      // the handshake has been written
	closed  bool      // Close has written the FIN exchange
	next    [2]uint32 // next sequence number: [0] local to remote, [1] remote to local
	ipID    [2]uint16
	hookErr error // first error of a write through Hook
}

// NewWriter starts a pcap file on w for a connection that local opened to
// remote (the master's view). It writes the file header at once.
func NewWriter(w io.Writer, local, remote netip.AddrPort) (*Writer, error) {
	return newWriter(w, local, remote, true)
}

// NewAcceptedWriter is NewWriter for a connection that remote opened to
// local (the outstation's view).
func NewAcceptedWriter(w io.Writer, local, remote netip.AddrPort) (*Writer, error) {
	return newWriter(w, local, remote, false)
}

func newWriter(w io.Writer, local, remote netip.AddrPort, localClient bool) (*Writer, error) {
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if !local.IsValid() || !remote.IsValid() {
		return nil, fmt.Errorf("capture: writer for %v and %v: invalid address", local, remote)
	}
	if local.Addr().Is4() != remote.Addr().Is4() {
		return nil, fmt.Errorf("capture: writer for %v and %v: one address is IPv4, the other IPv6", local, remote)
	}
	pw := pcapgo.NewWriterNanos(w)
	if err := pw.WriteFileHeader(snapLength, layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("capture: write pcap header: %w", err)
	}
	wr := &Writer{local: local, remote: remote, localClient: localClient, pw: pw, buf: gopacket.NewSerializeBuffer()}
	if localClient {
		wr.next = [2]uint32{clientISN, serverISN}
	} else {
		wr.next = [2]uint32{serverISN, clientISN}
	}
	return wr, nil
}

// segment flags.
type tcpFlags struct{ syn, ack, psh, fin bool }

// WriteAPDU writes one APDU, sent (local to remote) or received, with
// capture time ts. The first call also writes the handshake.
func (w *Writer) WriteAPDU(ts time.Time, sent bool, apdu []byte) error {
	if len(apdu) == 0 || len(apdu) > iec104.MaxAPDU {
		return fmt.Errorf("capture: write APDU: %d octets, want 1..%d", len(apdu), iec104.MaxAPDU)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("capture: write APDU: the connection is closed")
	}
	if err := w.handshake(ts); err != nil {
		return err
	}
	d := 1
	if sent {
		d = 0
	}
	if err := w.segment(ts, d, tcpFlags{ack: true, psh: true}, apdu); err != nil {
		return err
	}
	w.next[d] += uint32(len(apdu))
	return nil
}

// Close writes the closing FIN exchange, local side first, at time ts.
// It does not close the underlying writer.
func (w *Writer) Close(ts time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	if err := w.handshake(ts); err != nil {
		return err
	}
	w.closed = true
	if err := w.segment(ts, 0, tcpFlags{fin: true, ack: true}, nil); err != nil {
		return err
	}
	w.next[0]++
	if err := w.segment(ts, 1, tcpFlags{fin: true, ack: true}, nil); err != nil {
		return err
	}
	w.next[1]++
	return w.segment(ts, 0, tcpFlags{ack: true}, nil)
}

// Hook returns a function for a connection's traffic hook that writes each
// APDU with the time now returns (time.Now when nil). The first write
// error is kept for Err; later APDUs are still attempted.
func (w *Writer) Hook(now func() time.Time) func(sent bool, apdu []byte) {
	if now == nil {
		now = time.Now
	}
	return func(sent bool, apdu []byte) {
		if err := w.WriteAPDU(now(), sent, apdu); err != nil {
			w.mu.Lock()
			if w.hookErr == nil {
				w.hookErr = err
			}
			w.mu.Unlock()
		}
	}
}

// Err returns the first error of a write through Hook.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hookErr
}

// handshake writes SYN, SYN-ACK and ACK once. w.mu is held.
func (w *Writer) handshake(ts time.Time) error {
	if w.started {
		return nil
	}
	w.started = true
	c, s := 0, 1 // directions of client and server
	if !w.localClient {
		c, s = 1, 0
	}
	if err := w.segment(ts, c, tcpFlags{syn: true}, nil); err != nil {
		return err
	}
	w.next[c]++
	if err := w.segment(ts, s, tcpFlags{syn: true, ack: true}, nil); err != nil {
		return err
	}
	w.next[s]++
	return w.segment(ts, c, tcpFlags{ack: true}, nil)
}

// segment writes one TCP segment in direction d (0 local to remote) with
// the current sequence numbers. w.mu is held.
func (w *Writer) segment(ts time.Time, d int, f tcpFlags, payload []byte) error {
	src, dst := w.local, w.remote
	srcMAC, dstMAC := localMAC, remoteMAC
	if d == 1 {
		src, dst = dst, src
		srcMAC, dstMAC = dstMAC, srcMAC
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()),
		DstPort: layers.TCPPort(dst.Port()),
		Seq:     w.next[d],
		SYN:     f.syn,
		ACK:     f.ack,
		PSH:     f.psh,
		FIN:     f.fin,
		Window:  window,
	}
	if f.ack {
		tcp.Ack = w.next[1-d]
	}
	if f.syn {
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xB4}}}
	}
	eth := &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC}
	var ip gopacket.SerializableLayer
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		w.ipID[d]++
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: w.ipID[d], Flags: layers.IPv4DontFragment,
			Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		if err := tcp.SetNetworkLayerForChecksum(ip4); err != nil {
			return fmt.Errorf("capture: write segment: %w", err)
		}
		ip = ip4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		if err := tcp.SetNetworkLayerForChecksum(ip6); err != nil {
			return fmt.Errorf("capture: write segment: %w", err)
		}
		ip = ip6
	}
	opts := gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}
	if err := gopacket.SerializeLayers(w.buf, opts, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		return fmt.Errorf("capture: write segment: %w", err)
	}
	data := w.buf.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
	if err := w.pw.WritePacket(ci, data); err != nil {
		return fmt.Errorf("capture: write packet: %w", err)
	}
	return nil
}
