package points

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Quality is a point value's quality: the IEC 60870-5-101/104 quality bits, at their positions in the quality
// descriptor (QDS) octet so that the front-end processor converts with Quality(qds)&IECMask, and the flags the cache
// derives itself above them.
type Quality uint16

// Quality flags.
const (
	OV Quality = 0x01 // IEC overflow: the value is beyond its range
	BL Quality = 0x10 // IEC blocked: the value is frozen at the source
	SB Quality = 0x20 // IEC substituted: the value was entered by an operator or an automatic source
	NT Quality = 0x40 // IEC not topical: the source did not refresh the value within its interval
	IV Quality = 0x80 // IEC invalid: the source says the value is wrong

	CommFail Quality = 0x100 // derived: the point's link is not active
	Stale    Quality = 0x200 // derived: no update within the point's MaxAge
	Initial  Quality = 0x400 // derived: no value since the cache started

	// IECMask holds the IEC bits: the only bits of Update.Quality that Apply uses.
	IECMask = OV | BL | SB | NT | IV
	// DerivedMask holds the flags that the cache maintains.
	DerivedMask = CommFail | Stale | Initial
)

// qualityNames lists every flag in the order of String and Flags, with its name in both forms.
var qualityNames = [...]struct {
	f     Quality
	upper string // String: IEC bits in capitals, as IEC 60870-5-101 writes them
	lower string // Flags and JSON
}{
	{IV, "IV", "iv"},
	{NT, "NT", "nt"},
	{SB, "SB", "sb"},
	{BL, "BL", "bl"},
	{OV, "OV", "ov"},
	{CommFail, "commfail", "commfail"},
	{Stale, "stale", "stale"},
	{Initial, "initial", "initial"},
}

// Good reports whether no flag is set: the value is valid, topical, from the process, fresh, and its link is up.
func (q Quality) Good() bool { return q == 0 }

// Has reports whether every flag of f is set in q.
func (q Quality) Has(f Quality) bool { return q&f == f }

// String returns the set flags separated by commas, IEC bits first in capitals ("IV,NT,commfail"), or "good" when
// none is set. Bits that are not defined flags follow as a hexadecimal number.
func (q Quality) String() string {
	if q == 0 {
		return "good"
	}
	var b strings.Builder
	rest := q
	for _, n := range qualityNames {
		if q&n.f != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.upper)
			rest &^= n.f
		}
	}
	if rest != 0 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%#x", uint16(rest))
	}
	return b.String()
}

// Flags returns the lower-case names of the set flags, in the order of String ("iv", "nt", "sb", "bl", "ov",
// "commfail", "stale", "initial"); nil when q is good. Undefined bits are left out.
func (q Quality) Flags() []string {
	var names []string
	for _, n := range qualityNames {
		if q&n.f != 0 {
			names = append(names, n.lower)
		}
	}
	return names
}

// qualityJSON is the JSON form of a Quality, as the HTTP API's point objects carry it.
type qualityJSON struct {
	IV       bool `json:"iv"`
	NT       bool `json:"nt"`
	SB       bool `json:"sb"`
	BL       bool `json:"bl"`
	OV       bool `json:"ov"`
	CommFail bool `json:"commfail"`
	Stale    bool `json:"stale"`
	Initial  bool `json:"initial"`
}

// MarshalJSON encodes q as the HTTP API does: an object with one boolean per flag,
// {"iv":false,"nt":false,"sb":false,"bl":false,"ov":false,"commfail":false,"stale":false,"initial":true}.
func (q Quality) MarshalJSON() ([]byte, error) {
	return json.Marshal(qualityJSON{
		IV: q&IV != 0, NT: q&NT != 0, SB: q&SB != 0, BL: q&BL != 0, OV: q&OV != 0,
		CommFail: q&CommFail != 0, Stale: q&Stale != 0, Initial: q&Initial != 0,
	})
}

// UnmarshalJSON decodes the object that MarshalJSON writes; missing members are false.
func (q *Quality) UnmarshalJSON(b []byte) error {
	var j qualityJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("points: quality: %w", err)
	}
	var v Quality
	for _, f := range [...]struct {
		set bool
		f   Quality
	}{
		{j.IV, IV}, {j.NT, NT}, {j.SB, SB}, {j.BL, BL}, {j.OV, OV},
		{j.CommFail, CommFail}, {j.Stale, Stale}, {j.Initial, Initial},
	} {
		if f.set {
			v |= f.f
		}
	}
	*q = v
	return nil
}
