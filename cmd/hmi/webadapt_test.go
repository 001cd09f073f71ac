package main

import (
	"strings"
	"testing"

	"hmi/capture"
	"hmi/frontstation/iec104"
)

// TestTrafficText: the links page shows frames as hmi decode prints them,
// bitstrings in hex and malformed frames with their octets.
func TestTrafficText(t *testing.T) {
	asdu, err := iec104.AppendASDU(nil, iec104.Header{Type: iec104.M_BO_NA_1, Cause: iec104.CauseSpontaneous, CA: 1},
		[]iec104.Object{{IOA: 500, Bits: 0xAAAA}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := iec104.AppendI(nil, 3, 7, asdu)
	if got, want := capture.Describe(raw), "I ns=3 nr=7 M_BO_NA_1 spont CA=1 | IOA 500: 0x0000AAAA"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := capture.Describe([]byte{0x68, 0x04, 0x17, 0, 0, 0}); !strings.Contains(got, "ERROR") || !strings.Contains(got, "68 04 17") {
		t.Fatalf("a bad U frame reads %q, want ERROR with its octets", got)
	}
}
