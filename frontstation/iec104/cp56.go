package iec104

import (
	"fmt"
	"time"
)

// CP56Time2a is the seven-octet time tag (IEC104.md section 5.3), kept field
// by field as it travels so that odd device values (a year over 99, day of
// week 0) survive a decode and encode unchanged.
type CP56Time2a struct {
	Millisecond uint16 // milliseconds within the minute, 0..59999
	Minute      uint8  // 0..59
	Hour        uint8  // 0..23
	Day         uint8  // day of month 1..31
	Weekday     uint8  // 1 = Monday .. 7 = Sunday, 0 = not used
	Month       uint8  // 1..12
	Year        uint8  // 0..99; devices have been seen sending up to 127
	Invalid     bool   // IV: the time is not valid
	Substituted bool   // RES1/GEN bit of the minute octet
	Summer      bool   // SU: summer (daylight saving) time
}

// DecodeCP56 decodes seven octets. It checks nothing but the length: range
// checks belong to Validate, so a capture shows what the device sent.
func DecodeCP56(b []byte) CP56Time2a {
	_ = b[6]
	return CP56Time2a{
		Millisecond: le16(b),
		Minute:      b[2] & 0x3F,
		Substituted: b[2]&0x40 != 0,
		Invalid:     b[2]&0x80 != 0,
		Hour:        b[3] & 0x1F,
		Summer:      b[3]&0x80 != 0,
		Day:         b[4] & 0x1F,
		Weekday:     b[4] >> 5,
		Month:       b[5] & 0x0F,
		Year:        b[6] & 0x7F,
	}
}

// Append appends the seven octets of t. A field wider than its bits is cut
// (AppendASDU rejects such a tag instead).
func (t CP56Time2a) Append(dst []byte) []byte {
	m := t.Minute & 0x3F
	if t.Substituted {
		m |= 0x40
	}
	if t.Invalid {
		m |= 0x80
	}
	h := t.Hour & 0x1F
	if t.Summer {
		h |= 0x80
	}
	return append(dst, byte(t.Millisecond), byte(t.Millisecond>>8), m, h,
		t.Day&0x1F|t.Weekday<<5, t.Month&0x0F, t.Year&0x7F)
}

// overflow names a field too large for its bits on the wire, which Append
// would cut silently, or returns "". Decoded tags always fit.
func (t CP56Time2a) overflow() string {
	switch {
	case t.Minute > 0x3F:
		return fmt.Sprintf("CP56Time2a minute %d > 63", t.Minute)
	case t.Hour > 0x1F:
		return fmt.Sprintf("CP56Time2a hour %d > 31", t.Hour)
	case t.Day > 0x1F:
		return fmt.Sprintf("CP56Time2a day %d > 31", t.Day)
	case t.Weekday > 7:
		return fmt.Sprintf("CP56Time2a day of week %d > 7", t.Weekday)
	case t.Month > 0x0F:
		return fmt.Sprintf("CP56Time2a month %d > 15", t.Month)
	case t.Year > 0x7F:
		return fmt.Sprintf("CP56Time2a year %d > 127", t.Year)
	}
	return ""
}

// Validate reports a field outside its range. A year over 99 is tolerated
// (it is read modulo 100), as is day of week 0.
func (t CP56Time2a) Validate() error {
	switch {
	case t.Millisecond > 59999:
		return fmt.Errorf("iec104: CP56Time2a milliseconds %d > 59999", t.Millisecond)
	case t.Minute > 59:
		return fmt.Errorf("iec104: CP56Time2a minute %d > 59", t.Minute)
	case t.Hour > 23:
		return fmt.Errorf("iec104: CP56Time2a hour %d > 23", t.Hour)
	case t.Day < 1 || t.Day > 31:
		return fmt.Errorf("iec104: CP56Time2a day %d not in 1..31", t.Day)
	case t.Month < 1 || t.Month > 12:
		return fmt.Errorf("iec104: CP56Time2a month %d not in 1..12", t.Month)
	}
	return nil
}

// Time converts the tag to a time in loc (the device's zone; UTC when nil).
// The year is 2000 + Year modulo 100. Fields out of range are normalised by
// time.Date; check Validate first where that matters.
func (t CP56Time2a) Time(loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(2000+int(t.Year%100), time.Month(t.Month), int(t.Day), int(t.Hour), int(t.Minute),
		int(t.Millisecond/1000), int(t.Millisecond%1000)*int(time.Millisecond), loc)
}

// NewCP56 builds a tag for tm in loc (UTC when nil), with the day of week set
// and SU set when loc observes daylight saving time at tm.
func NewCP56(tm time.Time, loc *time.Location) CP56Time2a {
	if loc == nil {
		loc = time.UTC
	}
	tm = tm.In(loc)
	wd := uint8(tm.Weekday())
	if wd == 0 {
		wd = 7
	}
	return CP56Time2a{
		Millisecond: uint16(tm.Second()*1000 + tm.Nanosecond()/int(time.Millisecond)),
		Minute:      uint8(tm.Minute()),
		Hour:        uint8(tm.Hour()),
		Day:         uint8(tm.Day()),
		Weekday:     wd,
		Month:       uint8(tm.Month()),
		Year:        uint8(tm.Year() % 100),
		Summer:      tm.IsDST(),
	}
}

// String formats the tag as the device sent it, with its flags.
func (t CP56Time2a) String() string {
	s := fmt.Sprintf("20%02d-%02d-%02d %02d:%02d:%02d.%03d", t.Year%100, t.Month, t.Day, t.Hour, t.Minute,
		t.Millisecond/1000, t.Millisecond%1000)
	if t.Invalid {
		s += " IV"
	}
	if t.Summer {
		s += " SU"
	}
	if t.Substituted {
		s += " SB"
	}
	return s
}
