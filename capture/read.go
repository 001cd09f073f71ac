package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"hmi/frontstation/iec104"
)

// DefaultPort is the TCP port of IEC 60870-5-104.
const DefaultPort = 2404

// Options control how a capture is decoded.
type Options struct {
	// Port is the TCP port of the IEC 104 traffic, on either side of a
	// connection. Zero means DefaultPort.
	Port uint16
}

// Errors that records carry besides the codec's, for octets that never made
// a frame. Branch with errors.Is.
var (
	// ErrGap: octets of the stream are missing from the capture (a segment
	// never captured, or cut short by the snap length).
	ErrGap = errors.New("octets missing from the capture")
	// ErrIncomplete: the capture ends inside a frame.
	ErrIncomplete = errors.New("capture ends inside a frame")
)

// pcapng section header block type, the first four octets of a pcapng file.
var pcapngMagic = []byte{0x0A, 0x0D, 0x0D, 0x0A}

// ReadFile decodes the IEC 104 traffic of the pcap or pcapng file at path and
// calls fn with every record, in capture order. Frames that cannot be decoded
// become records with Err set, and decoding goes on. The error is about the
// file itself (it cannot be opened, is not a capture, or is cut short), or
// is the first error fn returns; records decoded before a read error have
// been passed to fn.
func ReadFile(path string, opts Options, fn func(*Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	return Read(f, path, opts, fn)
}

// Read is ReadFile for a capture that is already open; name is used in
// records and error messages.
func Read(r io.Reader, name string, opts Options, fn func(*Record) error) error {
	src, err := openSource(r)
	if err != nil {
		return fmt.Errorf("capture: %s: %w", name, err)
	}
	d := newDecoder(name, opts, fn)
	for n := 1; ; n++ {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ferr := d.finish(); ferr != nil {
				return ferr
			}
			if err == io.ErrUnexpectedEOF {
				err = errors.New("file ends inside the packet")
			}
			return fmt.Errorf("capture: %s: packet %d: %w", name, n, err)
		}
		lt := src.linkType(ci)
		if err := d.packet(n, ci.Timestamp, lt, data); err != nil {
			return err
		}
	}
	return d.finish()
}

// source reads packets and tells the link type of each.
type source interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	linkType(gopacket.CaptureInfo) layers.LinkType
}

type pcapSource struct{ *pcapgo.Reader }

func (s pcapSource) linkType(gopacket.CaptureInfo) layers.LinkType { return s.LinkType() }

type pcapngSource struct{ *pcapgo.NgReader }

func (s pcapngSource) linkType(ci gopacket.CaptureInfo) layers.LinkType {
	if len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			return lt
		}
	}
	return s.LinkType()
}

func openSource(r io.Reader) (source, error) {
	br := bufio.NewReader(r)
	if m, err := br.Peek(2); err == nil && m[0] == 0x1F && m[1] == 0x8B {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		br = bufio.NewReader(gz)
	}
	magic, err := br.Peek(4)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("not a pcap or pcapng file: only %d octets", len(magic))
		}
		return nil, err
	}
	if bytes.Equal(magic, pcapngMagic) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, fmt.Errorf("not a readable pcapng file: %w", err)
		}
		return pcapngSource{ng}, nil
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("not a pcap or pcapng file (first octets % X): %w", magic, err)
	}
	if !supportedLink(pr.LinkType()) {
		return nil, fmt.Errorf("unsupported link type %d (%v)", int(pr.LinkType()), pr.LinkType())
	}
	return pcapSource{pr}, nil
}

// supportedLink reports the link types whose packets are searched for TCP.
func supportedLink(lt layers.LinkType) bool {
	switch lt {
	case layers.LinkTypeEthernet, layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeRaw,
		layers.LinkTypeIPv4, layers.LinkTypeIPv6, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
		linkTypeRawBSD, linkTypeRawOpenBSD:
		return true
	}
	return false
}

// DLT_RAW has the value 12 or 14 on some systems; both are raw IP.
const (
	linkTypeRawBSD     layers.LinkType = 12
	linkTypeRawOpenBSD layers.LinkType = 14
)

// tcpSegment is what the decoder needs of one captured TCP segment.
type tcpSegment struct {
	src, dst netip.AddrPort
	seq      uint32
	syn, ack bool
	fin, rst bool
	payload  []byte
	missing  int // payload octets the capture does not hold (snap length)
}

// parsePacket finds the IP and TCP headers of a packet. ok is false for
// packets that are not TCP over IP, or are IP fragments.
func parsePacket(lt layers.LinkType, data []byte) (seg tcpSegment, ok bool) {
	if !supportedLink(lt) {
		return seg, false
	}
	var dec gopacket.Decoder = lt
	switch lt {
	case linkTypeRawBSD, linkTypeRawOpenBSD:
		dec = layers.LinkTypeRaw
	case layers.LinkTypeIPv4:
		dec = layers.LayerTypeIPv4
	case layers.LinkTypeIPv6:
		dec = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(data, dec, gopacket.DecodeOptions{NoCopy: true})
	var srcIP, dstIP netip.Addr
	var ipPayload int = -1 // octets of TCP header + payload the IP header announces
	var tcp *layers.TCP
	for _, l := range p.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			if l.Flags&layers.IPv4MoreFragments != 0 || l.FragOffset != 0 {
				return seg, false
			}
			srcIP, _ = netip.AddrFromSlice(l.SrcIP.To4())
			dstIP, _ = netip.AddrFromSlice(l.DstIP.To4())
			ipPayload = int(l.Length) - int(l.IHL)*4
		case *layers.IPv6:
			srcIP, _ = netip.AddrFromSlice(l.SrcIP.To16())
			dstIP, _ = netip.AddrFromSlice(l.DstIP.To16())
			ipPayload = -1
			if l.NextHeader == layers.IPProtocolTCP && l.Length != 0 {
				ipPayload = int(l.Length)
			}
		case *layers.IPv6Fragment:
			return seg, false
		case *layers.TCP:
			tcp = l
		}
		if tcp != nil {
			break
		}
	}
	if tcp == nil || !srcIP.IsValid() || !dstIP.IsValid() {
		return seg, false
	}
	seg = tcpSegment{
		src:     netip.AddrPortFrom(srcIP, uint16(tcp.SrcPort)),
		dst:     netip.AddrPortFrom(dstIP, uint16(tcp.DstPort)),
		seq:     tcp.Seq,
		syn:     tcp.SYN,
		ack:     tcp.ACK,
		fin:     tcp.FIN,
		rst:     tcp.RST,
		payload: tcp.Payload,
	}
	if ipPayload >= 0 {
		if want := ipPayload - int(tcp.DataOffset)*4; want > len(seg.payload) {
			seg.missing = want - len(seg.payload)
		}
	}
	return seg, true
}

// decoder follows the TCP connections of one capture file.
type decoder struct {
	name   string
	port   uint16
	fn     func(*Record) error
	conns  map[connKey]*conn
	order  []*conn // every connection, in order of first appearance
	nextID int
	chunks []chunk // scratch
}

// connKey names a connection independent of direction.
type connKey struct{ a, b netip.AddrPort }

func keyOf(src, dst netip.AddrPort) connKey {
	if src.Addr().Less(dst.Addr()) || (src.Addr() == dst.Addr() && src.Port() < dst.Port()) {
		return connKey{src, dst}
	}
	return connKey{dst, src}
}

// conn is the decoding state of one TCP connection.
type conn struct {
	info    *Conn
	dirs    [2]direction // 0: client to server, 1: server to client
	used    bool         // a payload octet or a FIN/RST has been seen
	flushed bool         // flushConn has run: the connection is over
}

// newSYN reports whether a SYN (without ACK) starts a new connection on
// the same addresses and ports: its sequence number differs from the SYN
// that started this one, or there was no such SYN and the connection has
// carried something. Otherwise it is a retransmission.
func (c *conn) newSYN(seg tcpSegment) bool {
	dr := &c.dirs[0]
	if seg.src != c.info.Client {
		dr = &c.dirs[1]
	}
	if dr.syn {
		return dr.synSeq != seg.seq
	}
	return c.used || dr.asm.started
}

// direction is one direction of a connection.
type direction struct {
	asm      reassembler
	framer   iec104.Framer
	window   []byte // the octets fed to framer that it has not returned yet
	base     int64  // stream offset of the framer's offset 0
	syn      bool   // the direction started with a SYN ...
	synSeq   uint32 // ... with this sequence number
	lastTime time.Time
	lastPkt  int
}

func newDecoder(name string, opts Options, fn func(*Record) error) *decoder {
	port := opts.Port
	if port == 0 {
		port = DefaultPort
	}
	return &decoder{name: name, port: port, fn: fn, conns: make(map[connKey]*conn)}
}

func (d *decoder) packet(n int, ts time.Time, lt layers.LinkType, data []byte) error {
	seg, ok := parsePacket(lt, data)
	if !ok || (seg.src.Port() != d.port && seg.dst.Port() != d.port) {
		return nil
	}
	k := keyOf(seg.src, seg.dst)
	c := d.conns[k]
	if c != nil && seg.syn && !seg.ack && c.newSYN(seg) {
		// A new connection on the same addresses and ports.
		if err := d.flushConn(c); err != nil {
			return err
		}
		c = nil
	}
	if c == nil {
		c = d.newConn(seg, ts, n)
		d.conns[k] = c
	}
	c.info.Last = ts
	dir := 0
	if seg.src != c.info.Client {
		dir = 1
	}
	dr := &c.dirs[dir]
	if seg.syn && dr.asm.syn(seg.seq) {
		dr.syn, dr.synSeq = true, seg.seq
		if dir == 0 {
			c.info.Handshake = true
		}
	}
	if seg.fin || seg.rst {
		c.used = true
	}
	if len(seg.payload) == 0 && seg.missing == 0 {
		return nil
	}
	c.used = true
	d.chunks = dr.asm.add(d.chunks[:0], seg.seq, seg.payload, ts, n)
	if seg.missing > 0 {
		d.chunks = dr.asm.lost(d.chunks, seg.seq+uint32(len(seg.payload)), seg.missing, ts, n)
	}
	return d.feed(c, dir, d.chunks)
}

func (d *decoder) newConn(seg tcpSegment, ts time.Time, n int) *conn {
	d.nextID++
	client, server := seg.src, seg.dst
	switch {
	case seg.syn && seg.ack: // SYN-ACK first: its sender is the server
		client, server = seg.dst, seg.src
	case seg.syn:
	case seg.src.Port() == d.port && seg.dst.Port() != d.port:
		client, server = seg.dst, seg.src
	}
	c := &conn{info: &Conn{File: d.name, ID: d.nextID, Client: client, Server: server, First: ts, Last: ts, FirstPacket: n}}
	d.order = append(d.order, c)
	return c
}

// feed runs the framer of one direction over newly contiguous chunks.
func (d *decoder) feed(c *conn, dir int, chunks []chunk) error {
	dr := &c.dirs[dir]
	for _, ch := range chunks {
		dr.lastTime, dr.lastPkt = ch.Time, ch.Packet
		if ch.Gap > 0 {
			if err := d.gap(c, dir, ch); err != nil {
				return err
			}
		}
		dr.framer.Feed(ch.Data)
		dr.window = append(dr.window, ch.Data...)
		for {
			before := dr.framer.Offset()
			frame, off, err := dr.framer.Next()
			if frame == nil && err == nil {
				break
			}
			n := int(dr.framer.Offset() - before)
			raw := append([]byte(nil), dr.window[:n]...)
			dr.window = dr.window[n:]
			rec := d.record(c, dir, ch.Time, ch.Packet, dr.base+off)
			rec.Raw = raw
			if err != nil {
				rec.APDU = apciOf(raw)
				rec.Err = d.wrap(ch.Packet, rec.Offset, err)
			} else {
				decodeFrame(rec)
				if rec.Err != nil {
					rec.Err = d.wrap(ch.Packet, rec.Offset, rec.Err)
				}
			}
			if err := d.fn(rec); err != nil {
				return err
			}
		}
		if len(dr.window) == 0 {
			dr.window = nil
		}
	}
	return nil
}

// gap reports missing octets and restarts the framer after them.
func (d *decoder) gap(c *conn, dir int, ch chunk) error {
	dr := &c.dirs[dir]
	if p := dr.framer.Pending(); len(p) > 0 {
		rec := d.record(c, dir, ch.Time, ch.Packet, ch.Off-ch.Gap-int64(len(p)))
		rec.Raw = append([]byte(nil), p...)
		rec.APDU = apciOf(rec.Raw)
		rec.Err = d.wrap(ch.Packet, rec.Offset, fmt.Errorf("%d octets of a frame before a gap: %w", len(p), ErrIncomplete))
		if err := d.fn(rec); err != nil {
			return err
		}
	}
	rec := d.record(c, dir, ch.Time, ch.Packet, ch.Off-ch.Gap)
	rec.Err = d.wrap(ch.Packet, rec.Offset, fmt.Errorf("%d octets: %w", ch.Gap, ErrGap))
	if err := d.fn(rec); err != nil {
		return err
	}
	dr.framer = iec104.Framer{}
	dr.window = nil
	dr.base = ch.Off
	return nil
}

func (d *decoder) wrap(pkt int, off int64, err error) error {
	return fmt.Errorf("capture: %s: packet %d: stream offset %d: %w", d.name, pkt, off, err)
}

func (d *decoder) record(c *conn, dir int, ts time.Time, pkt int, off int64) *Record {
	r := &Record{Conn: c.info, Packet: pkt, Time: ts, Offset: off, FromClient: dir == 0}
	if dir == 0 {
		r.Src, r.Dst = c.info.Client, c.info.Server
	} else {
		r.Src, r.Dst = c.info.Server, c.info.Client
	}
	return r
}

// flushConn delivers what a connection still buffers: segments after a gap
// and an unfinished frame at the end of each direction.
func (d *decoder) flushConn(c *conn) error {
	if c.flushed {
		return nil
	}
	c.flushed = true
	for dir := range c.dirs {
		dr := &c.dirs[dir]
		d.chunks = dr.asm.flush(d.chunks[:0])
		if err := d.feed(c, dir, d.chunks); err != nil {
			return err
		}
		if p := dr.framer.Pending(); len(p) > 0 {
			rec := d.record(c, dir, dr.lastTime, dr.lastPkt, dr.base+dr.framer.Offset()-int64(len(p)))
			rec.Raw = append([]byte(nil), p...)
			rec.APDU = apciOf(rec.Raw)
			rec.Err = d.wrap(dr.lastPkt, rec.Offset, fmt.Errorf("%d octets left: %w", len(p), ErrIncomplete))
			if err := d.fn(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish flushes every connection, in order of first appearance.
func (d *decoder) finish() error {
	for _, c := range d.order {
		if err := d.flushConn(c); err != nil {
			return err
		}
	}
	d.order = nil
	return nil
}
