package main

import (
	"strings"
	"testing"
	"time"

	"hmi/frontstation"
	"hmi/frontstation/iec104"
)

func TestFrameText(t *testing.T) {
	asdu, err := iec104.AppendASDU(nil, iec104.Header{Type: iec104.M_BO_NA_1, Cause: iec104.CauseSpontaneous, CA: 1},
		[]iec104.Object{{IOA: 500, Bits: 0xAAAA}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := iec104.AppendI(nil, 3, 7, asdu)
	var objs []iec104.Object
	got := frameText(frontstation.Frame{Time: time.Now(), Raw: raw}, &objs)
	if want := "I ns=3 nr=7 M_BO_NA_1 spont CA=1 500=0x0000AAAA"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	got = frameText(frontstation.Frame{Raw: []byte{0x68, 0x04, 0x17, 0, 0, 0}}, &objs)
	if !strings.Contains(got, "MALFORMED") {
		t.Fatalf("a bad U frame reads %q, want MALFORMED", got)
	}
}
