package capture

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"hmi/frontstation/iec104"
)

// sharedPcaps is the folder of shared captures, from this package's folder.
var sharedPcaps = filepath.Join("..", "..", "shared", "pcaps")

// requireTools returns the path of tshark when tshark is set, and checks
// that the shared captures are there when pcaps is set. Outside CI a
// missing one skips the test; with CI=true it fails it.
func requireTools(t *testing.T, tshark, pcaps bool) string {
	t.Helper()
	var missing []string
	var path string
	if tshark {
		var err error
		if path, err = exec.LookPath("tshark"); err != nil {
			missing = append(missing, "tshark (Debian package tshark)")
		}
	}
	if pcaps {
		if _, err := os.Stat(filepath.Join(sharedPcaps, "PROVENANCE.md")); err != nil {
			missing = append(missing, "the shared captures in "+sharedPcaps)
		}
	}
	if len(missing) > 0 {
		msg := "needs " + strings.Join(missing, " and ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + " (with CI=true this is a failure)")
	}
	return path
}

// PDML, the XML tree of tshark -T pdml, as far as the tests read it.
type pdml struct {
	Packets []pdmlPacket `xml:"packet"`
}

type pdmlPacket struct {
	Protos []pdmlProto `xml:"proto"`
}

type pdmlProto struct {
	Name   string      `xml:"name,attr"`
	Fields []pdmlField `xml:"field"`
	Protos []pdmlProto `xml:"proto"`
}

type pdmlField struct {
	Name   string      `xml:"name,attr"`
	Show   string      `xml:"show,attr"`
	Fields []pdmlField `xml:"field"`
	Protos []pdmlProto `xml:"proto"`
}

// walk calls fn for every field below p, depth first, and flags a nested
// malformed-packet proto.
func (p pdmlProto) walk(fn func(pdmlField), malformed *bool) {
	for _, pp := range p.Protos {
		if pp.Name == "_ws.malformed" {
			*malformed = true
		}
		pp.walk(fn, malformed)
	}
	for _, f := range p.Fields {
		f.walk(fn, malformed)
	}
}

func (f pdmlField) walk(fn func(pdmlField), malformed *bool) {
	fn(f)
	for _, c := range f.Fields {
		c.walk(fn, malformed)
	}
	for _, p := range f.Protos {
		if p.Name == "_ws.malformed" {
			*malformed = true
		}
		p.walk(fn, malformed)
	}
}

// sharkAPDU is one APDU as tshark dissected it: one iec60870_104 proto and
// the iec60870_asdu proto that follows it.
type sharkAPDU struct {
	frame   int
	apdulen int
	format  string // "I", "S", "U" or "" when the APCI has no control field
	utype   int
	tx, rx  int
	asdu    bool
	typeID  int
	cot     int
	ca      int
	ioas    []int
	flagged bool // tshark reported it malformed or added expert info
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		t.Fatalf("tshark field value %q: %v", s, err)
	}
	return int(v)
}

// runTshark dissects file and returns its APDUs in order.
func runTshark(t *testing.T, tshark, file string, extra ...string) []sharkAPDU {
	t.Helper()
	args := append([]string{"-n", "-r", file, "-o", "tcp.desegment_tcp_streams:TRUE", "-T", "pdml"}, extra...)
	cmd := exec.Command(tshark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var doc pdml
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("tshark PDML of %s: %v", file, err)
	}
	var apdus []sharkAPDU
	for _, p := range doc.Packets {
		frame := 0
		var last *sharkAPDU
		for _, pr := range p.Protos {
			malformed := false
			switch pr.Name {
			case "geninfo":
				pr.walk(func(f pdmlField) {
					if f.Name == "num" {
						frame = atoi(t, f.Show)
					}
				}, &malformed)
			case "iec60870_104":
				apdus = append(apdus, sharkAPDU{frame: frame})
				last = &apdus[len(apdus)-1]
				pr.walk(func(f pdmlField) {
					switch f.Name {
					case "iec60870_104.apdulen":
						last.apdulen = atoi(t, f.Show)
					case "iec60870_104.type":
						last.format = [4]string{"I", "S", "I", "U"}[atoi(t, f.Show)&3]
					case "iec60870_104.utype":
						last.utype = atoi(t, f.Show)
					case "iec60870_104.tx":
						last.tx = atoi(t, f.Show)
					case "iec60870_104.rx":
						last.rx = atoi(t, f.Show)
					case "_ws.expert":
						last.flagged = true
					}
				}, &malformed)
			case "iec60870_asdu":
				if last == nil {
					t.Fatalf("%s frame %d: an ASDU without an APCI before it", file, frame)
				}
				last.asdu = true
				pr.walk(func(f pdmlField) {
					switch f.Name {
					case "iec60870_asdu.typeid":
						last.typeID = atoi(t, f.Show)
					case "iec60870_asdu.causetx":
						last.cot = atoi(t, f.Show)
					case "iec60870_asdu.addr":
						last.ca = atoi(t, f.Show)
					case "iec60870_asdu.ioa":
						last.ioas = append(last.ioas, atoi(t, f.Show))
					case "_ws.expert":
						last.flagged = true
					}
				}, &malformed)
			case "_ws.malformed":
				malformed = true
			}
			if malformed && last != nil {
				last.flagged = true
			}
		}
	}
	return apdus
}

// invalid reports whether tshark flagged the APDU, or the APDU breaks the
// framing rules of IEC104.md section 2, which tshark does not check: a
// length outside 4..253, a U-frame that is not one of the six functions or
// not 4 octets long, an S-frame with a payload, an I-frame whose ASDU is
// shorter than the 6-octet data unit identifier.
func (e sharkAPDU) invalid() bool {
	switch {
	case e.flagged, e.apdulen < 4, e.apdulen > 253:
		return true
	case e.format == "U":
		switch e.utype {
		case 0x01, 0x02, 0x04, 0x08, 0x10, 0x20:
			return e.apdulen != 4
		}
		return true
	case e.format == "S":
		return e.apdulen != 4
	case e.format == "I":
		return e.apdulen < 4+6
	}
	return false
}

// readAll decodes a capture with this package.
func readAll(t *testing.T, file string, opts Options) []*Record {
	t.Helper()
	var recs []*Record
	if err := ReadFile(file, opts, func(r *Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

var uFuncOfUType = map[int]iec104.UFunc{
	0x01: iec104.StartDTAct, 0x02: iec104.StartDTCon, 0x04: iec104.StopDTAct,
	0x08: iec104.StopDTCon, 0x10: iec104.TestFRAct, 0x20: iec104.TestFRCon,
}

// TestDecodeMatchesTshark decodes every shared capture with this package and
// with tshark and compares them APDU by APDU.
//
// The rule for the odd frames (iti_TestDissectIec104.pcap). Wireshark splits
// a stream like this: it waits for at least 6 octets, looks for a 0x68 start
// octet, and takes the octets before it, the start and length octets and
// "length" more octets as one PDU, whatever the length says. The octets
// before the start octet become the "ERR prefix" of that PDU; a length below
// 4 makes it "APDU less than 4 bytes" (malformed); otherwise it dissects the
// control field and, for an I-frame, length-4 octets of ASDU, raising
// "Malformed Packet" when the ASDU is short. It accepts an S-frame with a
// payload and the U code 0x17 (utype 0x05) without complaint.
// iec104.Framer splits the stream at the same places: it reports the octets
// before a start octet separately (as ErrStartByte, "junk"), and skips the
// 2+length octets of a frame with a length outside 4..253 as one ErrLength
// error. So:
//
//   - Records that are not frames (Record.Frame false: junk octets before a
//     start octet, gaps, an unfinished frame at the end of a stream) are left
//     out: tshark folds junk into the next PDU's prefix and never shows
//     octets that make no PDU.
//   - Every other record pairs with one tshark APDU, in order; the counts
//     must be equal.
//   - Both must agree on the format read from the control field ("" when the
//     length is below 4) and, when present, the sequence numbers.
//   - Where our record carries an error, tshark's APDU must be invalid (see
//     sharkAPDU.invalid): flagged malformed or expert by tshark, or against
//     the framing rules that tshark does not check (the bogus S-frames of
//     length 6 and the U code 0x17).
//   - Where our record decoded, tshark's must not be invalid, and type ID,
//     cause, common address and the IOA sequence must be equal.
//
// Two differences remain that these captures do not exercise: tshark waits
// for 6 octets before it looks for a start octet and shows nothing for fewer
// at the end of a stream (we report them, as junk or ErrIncomplete, which
// the rule leaves out), and tshark takes a 0x68 that is the last octet of
// what it has as junk where the Framer waits for its length octet.
func TestDecodeMatchesTshark(t *testing.T) {
	tshark := requireTools(t, true, true)
	tests := []struct {
		file string
		port uint16
		// APDUs tshark 4.0.17 shows (iec60870_104.apdulen), and of those the
		// frames with a control field, by format.
		want       int
		wantFormat map[string]int
	}{
		{"iti_090813_diverse.pcap", 0, 86, map[string]int{"I": 72, "S": 10, "U": 4}},
		{"iti_TestDissectIec104.pcap", 0, 69, map[string]int{"I": 24, "S": 14, "U": 27}},
		{"iti_JavaRMI_and_IEC_Misc.pcap", 0, 235, map[string]int{"I": 128, "S": 45, "U": 62}},
		{"generated/lib60870_simple_server_client.pcapng", 0, 18, map[string]int{"I": 14, "S": 2, "U": 2}},
		{"generated/lib60870_simple_server_idle_t3.pcapng", 0, 4, map[string]int{"U": 4}},
		{"generated/lib60870_simple_server_noack_t1.pcapng", 0, 14, map[string]int{"I": 12, "U": 2}},
		{"generated/lib60870_simple_server_probe.pcapng", 0, 51, map[string]int{"I": 44, "S": 1, "U": 6}},
		{"generated/lib60870_tls_server_client_19998.pcapng", 0, 0, map[string]int{}},
		{"generated/lib60870_via_port_12404.pcapng", 12404, 19, map[string]int{"I": 15, "S": 2, "U": 2}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(sharedPcaps, tt.file)
			var extra []string
			if tt.port != 0 {
				extra = []string{"-d", "tcp.port==" + strconv.Itoa(int(tt.port)) + ",iec60870_104"}
			}
			shark := runTshark(t, tshark, file, extra...)
			var ours []*Record
			errs := 0
			for _, r := range readAll(t, file, Options{Port: tt.port}) {
				if r.Frame() {
					ours = append(ours, r)
					if r.Err != nil {
						errs++
					}
				}
			}
			gotFormat, sharkFormat := map[string]int{}, map[string]int{}
			for _, r := range ours {
				if r.APDU.Format != 0 {
					gotFormat[r.APDU.Format.String()]++
				}
			}
			for _, e := range shark {
				if e.format != "" {
					sharkFormat[e.format]++
				}
			}
			t.Logf("%s: tshark %d APDUs %v; ours %d frames %v, %d of them errors", tt.file, len(shark), sharkFormat, len(ours), gotFormat, errs)
			if len(ours) != len(shark) {
				t.Errorf("got %d frames, tshark has %d", len(ours), len(shark))
			}
			if len(shark) != tt.want {
				t.Errorf("tshark has %d APDUs, want %d (another tshark version?)", len(shark), tt.want)
			}
			for f, n := range tt.wantFormat {
				if gotFormat[f] != n || sharkFormat[f] != n {
					t.Errorf("format %s: got %d, tshark %d, want %d", f, gotFormat[f], sharkFormat[f], n)
				}
			}
			for i := range min(len(ours), len(shark)) {
				compareAPDU(t, ours[i], shark[i])
			}
			if tt.want == 0 {
				for _, r := range ours {
					t.Errorf("got %v, want no APDU", r)
				}
			}
			if strings.Contains(tt.file, "tls") {
				// Forced onto the TLS port, the ciphertext must still give
				// no APDU that decodes.
				for _, r := range readAll(t, file, Options{Port: 19998}) {
					if r.Err == nil {
						t.Errorf("got %v from TLS records, want only errors", r)
					}
				}
			}
		})
	}
}

func compareAPDU(t *testing.T, r *Record, e sharkAPDU) {
	t.Helper()
	where := "packet " + strconv.Itoa(r.Packet) + " (tshark frame " + strconv.Itoa(e.frame) + ")"
	format := ""
	if r.APDU.Format != 0 {
		format = r.APDU.Format.String()
	}
	if format != e.format {
		t.Errorf("%s: got format %q, tshark %q", where, format, e.format)
		return
	}
	if r.Packet != e.frame {
		t.Errorf("%s: got the frame completed by packet %d, tshark by frame %d", where, r.Packet, e.frame)
	}
	switch format {
	case "I":
		if int(r.APDU.SendSeq) != e.tx || int(r.APDU.RecvSeq) != e.rx {
			t.Errorf("%s: got N(S)=%d N(R)=%d, tshark %d %d", where, r.APDU.SendSeq, r.APDU.RecvSeq, e.tx, e.rx)
		}
	case "S":
		if int(r.APDU.RecvSeq) != e.rx {
			t.Errorf("%s: got N(R)=%d, tshark %d", where, r.APDU.RecvSeq, e.rx)
		}
	}
	if r.Err != nil {
		if !e.invalid() {
			t.Errorf("%s: got error %v, tshark decodes it cleanly: %+v", where, r.Err, e)
		}
		if r.ASDU != nil && e.asdu && int(r.ASDU.Type) != e.typeID {
			t.Errorf("%s: got type %d, tshark %d", where, r.ASDU.Type, e.typeID)
		}
		return
	}
	if e.invalid() {
		t.Errorf("%s: got %v, tshark reports it malformed: %+v", where, r, e)
		return
	}
	switch format {
	case "U":
		if uFuncOfUType[e.utype] != r.APDU.U {
			t.Errorf("%s: got %v, tshark utype 0x%02X", where, r.APDU.U, e.utype)
		}
	case "I":
		h := r.ASDU
		if int(h.Type) != e.typeID || int(h.Cause) != e.cot || int(h.CA) != e.ca {
			t.Errorf("%s: got type %d cause %d CA %d, tshark %d %d %d", where, h.Type, h.Cause, h.CA, e.typeID, e.cot, e.ca)
		}
		ioas := make([]int, len(r.Objects))
		for i, o := range r.Objects {
			ioas[i] = int(o.IOA)
		}
		if !equalInts(ioas, e.ioas) {
			t.Errorf("%s: got IOAs %v, tshark %v", where, ioas, e.ioas)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
