package capture

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapngOf rewrites a pcap file as pcapng.
func pcapngOf(t testing.TB, pcap []byte) []byte {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(pcap))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := pcapgo.NewNgWriter(&out, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		ci.InterfaceIndex = 0
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// FuzzReadCapture feeds arbitrary files to the reader: it must never panic,
// every record must format as text and JSON, and the summary of the records
// (hmi decode --summary) must write as text and as JSON.
func FuzzReadCapture(f *testing.F) {
	pcap := writeConversation(f, "192.0.2.10:50123", "192.0.2.20:2404", conversation(f))
	f.Add(pcap)
	f.Add(pcapngOf(f, pcap))
	f.Add(pcap[:len(pcap)/2])
	junk := pcapOf(f, []seg{
		{src: "10.0.0.1:40000", dst: "10.0.0.2:2404", seq: 1, data: []byte{0, 1, 0x68, 2, 2, 0x68, 0, 0x12, 0x68, 4, 0x17, 0, 0, 0}},
		{src: "10.0.0.2:2404", dst: "10.0.0.1:40000", seq: 9, data: []byte{0x68, 0x0E, 0, 0, 0, 0, 0x2D, 1, 6, 0, 1, 0, 1, 0}},
	})
	f.Add(junk)
	f.Add([]byte{0xD4, 0xC3, 0xB2, 0xA1})
	// The stress capture with junk, bogus lengths and split frames, when the
	// shared captures are there.
	if b, err := os.ReadFile(filepath.Join(sharedPcaps, "iti_TestDissectIec104.pcap")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sum := NewSummary()
		_ = Read(bytes.NewReader(data), "fuzz", Options{}, func(r *Record) error {
			_ = r.String()
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("JSON of %v: %v", r, err)
			}
			sum.Add(r)
			return nil
		})
		var out bytes.Buffer
		if err := sum.WriteText(&out); err != nil {
			t.Fatalf("summary as text: %v", err)
		}
		out.Reset()
		if err := sum.WriteJSON(&out); err != nil {
			t.Fatalf("summary as JSON: %v", err)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n")) {
			if len(out.Bytes()) > 0 && !json.Valid(line) {
				t.Fatalf("a line of the summary as JSON (one object per connection) is not JSON: %s", line)
			}
		}
	})
}
