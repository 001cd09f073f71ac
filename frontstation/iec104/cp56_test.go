package iec104

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// cp56Golden tags decode to tag, encode back to the same octets, and stand
// for the time want (UTC).
var cp56Golden = []struct {
	name string
	hex  string
	tag  CP56Time2a
	want time.Time
	str  string
}{
	{
		name: "IEC104.md 5.3 example",
		hex: "70 17" + // milliseconds 0x1770 = 6000: 6.000 s
			"19" + // minute 25, RES1 0, IV 0
			"03" + // hour 3, SU 0
			"D5" + // DOW 6 (Saturday) << 5 | day 21
			"0B" + // month 11
			"1A", // year 26
		tag:  tEx,
		want: time.Date(2026, 11, 21, 3, 25, 6, 0, time.UTC),
		str:  "2026-11-21 03:25:06.000",
	},
	{
		name: "IV",
		hex:  "70 17 | 99 | 03 D5 0B 1A", // minute octet: IV 0x80 | 25
		tag:  withTime(func(t *CP56Time2a) { t.Invalid = true }),
		want: time.Date(2026, 11, 21, 3, 25, 6, 0, time.UTC),
		str:  "2026-11-21 03:25:06.000 IV",
	},
	{
		name: "substituted (RES1/GEN)",
		hex:  "70 17 | 59 | 03 D5 0B 1A", // minute octet: 0x40 | 25
		tag:  withTime(func(t *CP56Time2a) { t.Substituted = true }),
		want: time.Date(2026, 11, 21, 3, 25, 6, 0, time.UTC),
		str:  "2026-11-21 03:25:06.000 SB",
	},
	{
		name: "SU",
		hex:  "70 17 19 | 83 | D5 0B 1A", // hour octet: SU 0x80 | 3
		tag:  withTime(func(t *CP56Time2a) { t.Summer = true }),
		want: time.Date(2026, 11, 21, 3, 25, 6, 0, time.UTC),
		str:  "2026-11-21 03:25:06.000 SU",
	},
	{
		name: "IV SU SB together",
		hex:  "70 17 | D9 | 83 | D5 0B 1A",
		tag: withTime(func(t *CP56Time2a) {
			t.Invalid, t.Substituted, t.Summer = true, true, true
		}),
		want: time.Date(2026, 11, 21, 3, 25, 6, 0, time.UTC),
		str:  "2026-11-21 03:25:06.000 IV SU SB",
	},
	{
		name: "lib60870 actcon, DOW 0",
		hex: "94 19" + // 6548 ms
			"19 03" + // minute 25, hour 3
			"15" + // DOW 0 (not used), day 21
			"0B 1A", // month 11, year 26
		tag:  CP56Time2a{Millisecond: 6548, Minute: 25, Hour: 3, Day: 21, Month: 11, Year: 26},
		want: time.Date(2026, 11, 21, 3, 25, 6, 548e6, time.UTC),
		str:  "2026-11-21 03:25:06.548",
	},
	{
		name: "year octet 0x6D = 109 tolerated",
		hex: "08 00" + // 8 ms
			"17" + // minute 23
			"13" + // hour 19
			"0D" + // DOW 0, day 13
			"08" + // month 8
			"6D", // year 109: read modulo 100
		tag:  CP56Time2a{Millisecond: 8, Minute: 23, Hour: 19, Day: 13, Month: 8, Year: 109},
		want: time.Date(2009, 8, 13, 19, 23, 0, 8e6, time.UTC),
		str:  "2009-08-13 19:23:00.008",
	},
	{
		name: "Thursday, last instant of 2099",
		hex:  "5F EA | 3B | 17 | 9F | 0C | 63", // 59999 ms, min 59, hour 23, DOW 4 day 31, month 12, year 99
		tag:  CP56Time2a{Millisecond: 59999, Minute: 59, Hour: 23, Day: 31, Weekday: 4, Month: 12, Year: 99},
		want: time.Date(2099, 12, 31, 23, 59, 59, 999e6, time.UTC),
		str:  "2099-12-31 23:59:59.999",
	},
	{
		name: "Monday, year 0",
		hex:  "00 00 | 00 | 00 | 23 | 01 | 00", // DOW 1 day 3, month 1, year 0
		tag:  CP56Time2a{Day: 3, Weekday: 1, Month: 1},
		want: time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC),
		str:  "2000-01-03 00:00:00.000",
	},
}

func TestCP56Golden(t *testing.T) {
	for _, tc := range cp56Golden {
		t.Run(tc.name, func(t *testing.T) {
			b := hx(tc.hex)
			got := DecodeCP56(b)
			if got != tc.tag {
				t.Errorf("decode: got %+v, want %+v", got, tc.tag)
			}
			if enc := tc.tag.Append([]byte{0xAA}); !bytes.Equal(enc, append([]byte{0xAA}, b...)) {
				t.Errorf("encode: got % X, want AA % X", enc, b)
			}
			if tm := got.Time(nil); !tm.Equal(tc.want) {
				t.Errorf("Time: got %v, want %v", tm, tc.want)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String: got %q, want %q", s, tc.str)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if tc.tag.Weekday != 0 {
				wd := int(tc.want.Weekday())
				if wd == 0 {
					wd = 7
				}
				if int(tc.tag.Weekday) != wd {
					t.Errorf("day of week: got %d, want %d (%v)", tc.tag.Weekday, wd, tc.want.Weekday())
				}
			}
		})
	}
}

func TestCP56Saturday(t *testing.T) {
	tag := DecodeCP56(hx(cpEx))
	if got := tag.Time(nil).Weekday(); got != time.Saturday {
		t.Errorf("weekday: got %v, want Saturday", got)
	}
	if tag.Weekday != 6 {
		t.Errorf("DOW field: got %d, want 6", tag.Weekday)
	}
}

// TestCP56Reserved checks that the reserved bits are ignored on decode and
// written as 0.
func TestCP56Reserved(t *testing.T) {
	b := hx("FF FF FF FF FF FF FF")
	got := DecodeCP56(b)
	want := CP56Time2a{Millisecond: 0xFFFF, Minute: 63, Hour: 31, Day: 31, Weekday: 7, Month: 15, Year: 127,
		Invalid: true, Substituted: true, Summer: true}
	if got != want {
		t.Errorf("decode: got %+v, want %+v", got, want)
	}
	if enc, want := got.Append(nil), hx("FF FF FF 9F FF 0F 7F"); !bytes.Equal(enc, want) {
		t.Errorf("encode: got % X, want % X", enc, want)
	}
	if err := got.Validate(); err == nil {
		t.Error("Validate: got nil, want an error")
	}
}

func TestCP56Validate(t *testing.T) {
	tests := []struct {
		name string
		tag  CP56Time2a
		bad  string // a word of the error, "" for valid
	}{
		{"example", tEx, ""},
		{"year 109", CP56Time2a{Day: 1, Month: 1, Year: 109}, ""},
		{"DOW 0", CP56Time2a{Day: 1, Month: 1}, ""},
		{"ms 60000", CP56Time2a{Millisecond: 60000, Day: 1, Month: 1}, "milliseconds"},
		{"minute 60", CP56Time2a{Minute: 60, Day: 1, Month: 1}, "minute"},
		{"hour 24", CP56Time2a{Hour: 24, Day: 1, Month: 1}, "hour"},
		{"day 0", CP56Time2a{Month: 1}, "day"},
		{"day 32", CP56Time2a{Day: 32, Month: 1}, "day"},
		{"month 0", CP56Time2a{Day: 1}, "month"},
		{"month 13", CP56Time2a{Day: 1, Month: 13}, "month"},
	}
	for _, tc := range tests {
		err := tc.tag.Validate()
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("%s: got %v, want nil", tc.name, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
			t.Errorf("%s: got %v, want an error about %s", tc.name, err, tc.bad)
		}
	}
}

func TestNewCP56(t *testing.T) {
	tests := []struct {
		name string
		tm   time.Time
		want CP56Time2a
	}{
		{"example", time.Date(2026, 11, 21, 3, 25, 6, 0, time.UTC), tEx},
		{"Sunday 7", time.Date(2026, 11, 22, 23, 59, 59, 999_999_999, time.UTC),
			CP56Time2a{Millisecond: 59999, Minute: 59, Hour: 23, Day: 22, Weekday: 7, Month: 11, Year: 26}},
		{"other zone is converted", time.Date(2026, 11, 21, 5, 25, 6, 0, time.FixedZone("UTC+2", 7200)), tEx},
	}
	for _, tc := range tests {
		if got := NewCP56(tc.tm, nil); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}

	// SU follows the location's daylight saving time.
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	summer := NewCP56(time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC), loc)
	if !summer.Summer || summer.Hour != 12 {
		t.Errorf("Berlin in July: got %+v, want SU and hour 12", summer)
	}
	winter := NewCP56(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC), loc)
	if winter.Summer || winter.Hour != 11 {
		t.Errorf("Berlin in January: got %+v, want no SU and hour 11", winter)
	}
	if got, want := summer.Time(loc), time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Time(Berlin): got %v, want %v", got, want)
	}
}

// TestCP56RoundTripTime checks NewCP56 then Time over a range of instants at
// millisecond resolution.
func TestCP56RoundTripTime(t *testing.T) {
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 50*365*24*time.Hour/2000 + 7919*time.Millisecond // about 9 days, not a whole number of seconds
	for i := range 2000 {
		tm := start.Add(time.Duration(i) * step)
		tag := NewCP56(tm, nil)
		if err := tag.Validate(); err != nil {
			t.Fatalf("%v: Validate: %v", tm, err)
		}
		if got := tag.Time(nil); !got.Equal(tm) {
			t.Fatalf("%v: got %v back", tm, got)
		}
		if got := DecodeCP56(tag.Append(nil)); got != tag {
			t.Fatalf("%v: encode/decode: got %+v, want %+v", tm, got, tag)
		}
	}
}
