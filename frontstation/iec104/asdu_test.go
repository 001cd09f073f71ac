package iec104

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The time tag of IEC104.md 5.3: 6.000 s, minute 25, hour 03, DOW 6 (Saturday)
// day 21, month 11, year 26, i.e. Sat 2026-11-21 03:25:06.000.
const cpEx = "70 17 | 19 | 03 | D5 | 0B | 1A"

var tEx = CP56Time2a{Millisecond: 6000, Minute: 25, Hour: 3, Day: 21, Weekday: 6, Month: 11, Year: 26}

// withTime returns tEx changed by f.
func withTime(f func(*CP56Time2a)) CP56Time2a {
	t := tEx
	f(&t)
	return t
}

var negZero = float32(math.Copysign(0, -1))

// asduVector is an ASDU that decodes to h and objs; encoding h and objs gives
// the same octets.
type asduVector struct {
	name string
	hex  string
	h    Header
	objs []Object
}

// asduGolden holds at least one vector for every type of typeid.go's table.
// The worked examples of IEC104.md 6 and 8.6 are marked; the rest are built
// from the layouts of IEC104.md 5.
var asduGolden = []asduVector{
	{
		name: "M_SP_NA_1 SQ=0 every SIQ bit",
		hex: "01" + // type 1 M_SP_NA_1
			"06" + // VSQ: SQ=0, 6 objects
			"03" + // COT 3 spontaneous
			"00" + // OA 0
			"01 00" + // CA 1
			"01 00 00 | 01" + // IOA 1: SPI ON, good
			"02 00 00 | 10" + // IOA 2: SPI OFF, BL
			"03 00 00 | 21" + // IOA 3: SPI ON, SB
			"04 00 00 | 40" + // IOA 4: SPI OFF, NT
			"05 00 00 | 81" + // IOA 5: SPI ON, IV
			"FF FF FF | F1", // IOA 16777215: SPI ON, BL SB NT IV
		h: Header{Type: M_SP_NA_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{
			{IOA: 1, State: 1},
			{IOA: 2, Quality: QualityBL},
			{IOA: 3, State: 1, Quality: QualitySB},
			{IOA: 4, Quality: QualityNT},
			{IOA: 5, State: 1, Quality: QualityIV},
			{IOA: 0xFFFFFF, State: 1, Quality: QualityBL | QualitySB | QualityNT | QualityIV},
		},
	},
	{
		name: "M_SP_NA_1 SQ=1 8 objects (IEC104.md 6)",
		hex: "01" + // type 1 M_SP_NA_1
			"88" + // VSQ: SQ=1, 8 elements
			"14" + // COT 20 interrogated by station
			"03" + // OA 3
			"01 00" + // CA 1
			"2C 01 00" + // IOA 300, the first of 300..307
			"01 00 01 00 01 00 01 00", // SIQ: ON, OFF, ...
		h: Header{Type: M_SP_NA_1, SQ: true, Cause: CauseInterrogated, OA: 3, CA: 1},
		objs: []Object{
			{IOA: 300, State: 1}, {IOA: 301}, {IOA: 302, State: 1}, {IOA: 303},
			{IOA: 304, State: 1}, {IOA: 305}, {IOA: 306, State: 1}, {IOA: 307},
		},
	},
	{
		name: "M_DP_NA_1 SQ=0 every DPI and DIQ bit",
		hex: "03" + // type 3 M_DP_NA_1
			"05" + // VSQ: SQ=0, 5 objects
			"03 00 01 00" + // COT 3, OA 0, CA 1
			"0A 00 00 | 00" + // IOA 10: DPI 0 indeterminate, good
			"0B 00 00 | 11" + // IOA 11: DPI 1 OFF, BL
			"0C 00 00 | 22" + // IOA 12: DPI 2 ON, SB
			"0D 00 00 | 43" + // IOA 13: DPI 3 indeterminate, NT
			"0E 00 00 | 82", // IOA 14: DPI 2 ON, IV
		h: Header{Type: M_DP_NA_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{
			{IOA: 10},
			{IOA: 11, State: 1, Quality: QualityBL},
			{IOA: 12, State: 2, Quality: QualitySB},
			{IOA: 13, State: 3, Quality: QualityNT},
			{IOA: 14, State: 2, Quality: QualityIV},
		},
	},
	{
		name: "M_DP_NA_1 SQ=1 3 elements",
		hex: "03" + // type 3 M_DP_NA_1
			"83" + // VSQ: SQ=1, 3 elements
			"14 00 01 00" + // COT 20, OA 0, CA 1
			"E8 03 00" + // IOA 1000 (1000..1002)
			"01 | 02 | F3", // DPI 1; DPI 2; DPI 3 with BL SB NT IV
		h: Header{Type: M_DP_NA_1, SQ: true, Cause: CauseInterrogated, CA: 1},
		objs: []Object{
			{IOA: 1000, State: 1},
			{IOA: 1001, State: 2},
			{IOA: 1002, State: 3, Quality: QualityBL | QualitySB | QualityNT | QualityIV},
		},
	},
	{
		name: "M_ST_NA_1 VTI extremes, negative, transient, QDS",
		hex: "05" + // type 5 M_ST_NA_1
			"05" + // VSQ: SQ=0, 5 objects
			"03 00 01 00" + // COT 3, OA 0, CA 1
			"01 00 00 | 3F | 00" + // IOA 1: VTI +63, QDS good
			"02 00 00 | 40 | 01" + // IOA 2: VTI -64 (7-bit 0x40), QDS OV
			"03 00 00 | FF | 00" + // IOA 3: T=1, VTI -1 (0x7F)
			"04 00 00 | D5 | C0" + // IOA 4: T=1, VTI -43 (0x55), QDS NT IV
			"05 00 00 | 00 | F1", // IOA 5: VTI 0, QDS OV BL SB NT IV
		h: Header{Type: M_ST_NA_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{
			{IOA: 1, Step: 63},
			{IOA: 2, Step: -64, Quality: QualityOV},
			{IOA: 3, Step: -1, Transient: true},
			{IOA: 4, Step: -43, Transient: true, Quality: QualityNT | QualityIV},
			{IOA: 5, Quality: QualityOV | QualityBL | QualitySB | QualityNT | QualityIV},
		},
	},
	{
		name: "M_BO_NA_1 IOA 500 0xAAAA (IEC104.md 6)",
		hex: "07" + // type 7 M_BO_NA_1
			"01" + // VSQ: SQ=0, 1 object
			"14" + // COT 20
			"03" + // OA 3
			"01 00" + // CA 1
			"F4 01 00" + // IOA 500
			"AA AA 00 00" + // BSI 0x0000AAAA
			"00", // QDS good
		h:    Header{Type: M_BO_NA_1, Cause: CauseInterrogated, OA: 3, CA: 1},
		objs: []Object{{IOA: 500, Bits: 0xAAAA}},
	},
	{
		name: "M_BO_NA_1 SQ=1 2 elements",
		hex: "07" + // type 7 M_BO_NA_1
			"82" + // VSQ: SQ=1, 2 elements
			"03 00 01 00" + // COT 3, OA 0, CA 1
			"10 27 00" + // IOA 10000
			"78 56 34 12 | 10" + // BSI 0x12345678, BL
			"FF FF FF FF | 81", // BSI 0xFFFFFFFF, OV IV
		h: Header{Type: M_BO_NA_1, SQ: true, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{
			{IOA: 10000, Bits: 0x12345678, Quality: QualityBL},
			{IOA: 10001, Bits: 0xFFFFFFFF, Quality: QualityOV | QualityIV},
		},
	},
	{
		name: "M_ME_NA_1 NVA",
		hex: "09" + // type 9 M_ME_NA_1
			"04" + // VSQ: SQ=0, 4 objects
			"01 00 01 00" + // COT 1 periodic, OA 0, CA 1
			"64 00 00 | 00 40 | 00" + // IOA 100: NVA 0x4000 = 0.5
			"65 00 00 | 00 80 | 20" + // IOA 101: NVA 0x8000 = -1.0, SB
			"66 00 00 | FF 7F | 01" + // IOA 102: NVA 0x7FFF = 1-2^-15, OV
			"67 00 00 | 00 C0 | 90", // IOA 103: NVA 0xC000 = -0.5, BL IV
		h: Header{Type: M_ME_NA_1, Cause: CausePeriodic, CA: 1},
		objs: []Object{
			{IOA: 100, Int: 16384},
			{IOA: 101, Int: -32768, Quality: QualitySB},
			{IOA: 102, Int: 32767, Quality: QualityOV},
			{IOA: 103, Int: -16384, Quality: QualityBL | QualityIV},
		},
	},
	{
		name: "M_ME_NB_1 periodic IOA 110 (IEC104.md 6)",
		hex: "0B" + // type 11 M_ME_NB_1
			"01" + // VSQ: SQ=0, 1 object
			"01" + // COT 1 periodic
			"00" + // OA 0
			"01 00" + // CA 1
			"6E 00 00" + // IOA 110
			"05 00" + // SVA 5
			"00", // QDS good
		h:    Header{Type: M_ME_NB_1, Cause: CausePeriodic, CA: 1},
		objs: []Object{{IOA: 110, Int: 5}},
	},
	{
		name: "M_ME_NB_1 GI 3 objects (IEC104.md 6)",
		hex: "0B" + // type 11 M_ME_NB_1
			"03" + // VSQ: SQ=0, 3 objects
			"14" + // COT 20
			"03" + // OA 3
			"01 00" + // CA 1
			"64 00 00 | FF FF | 00" + // IOA 100: SVA -1
			"65 00 00 | 17 00 | 00" + // IOA 101: SVA 23
			"66 00 00 | FC 08 | 00", // IOA 102: SVA 2300
		h:    Header{Type: M_ME_NB_1, Cause: CauseInterrogated, OA: 3, CA: 1},
		objs: []Object{{IOA: 100, Int: -1}, {IOA: 101, Int: 23}, {IOA: 102, Int: 2300}},
	},
	{
		name: "M_ME_NC_1 floats and QDS",
		hex: "0D" + // type 13 M_ME_NC_1
			"03" + // VSQ: SQ=0, 3 objects
			"03 00 01 00" + // COT 3, OA 0, CA 1
			"C8 00 00 | 00 00 80 3F | 00" + // IOA 200: 1.0
			"C9 00 00 | 00 00 2E C2 | 40" + // IOA 201: -43.5, NT
			"CA 00 00 | 00 00 80 7F | 81", // IOA 202: +Inf, OV IV
		h: Header{Type: M_ME_NC_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{
			{IOA: 200, Float: 1},
			{IOA: 201, Float: -43.5, Quality: QualityNT},
			{IOA: 202, Float: float32(math.Inf(1)), Quality: QualityOV | QualityIV},
		},
	},
	{
		name: "M_ME_NC_1 SQ=1 zero and negative zero",
		hex: "0D" + // type 13 M_ME_NC_1
			"82" + // VSQ: SQ=1, 2 elements
			"14 00 01 00" + // COT 20, OA 0, CA 1
			"2C 01 00" + // IOA 300
			"00 00 00 00 | 00" + // 0.0
			"00 00 00 80 | 10", // -0.0, BL
		h:    Header{Type: M_ME_NC_1, SQ: true, Cause: CauseInterrogated, CA: 1},
		objs: []Object{{IOA: 300}, {IOA: 301, Float: negZero, Quality: QualityBL}},
	},
	{
		name: "M_IT_NA_1 BCR sequence, CY, CA, IV",
		hex: "0F" + // type 15 M_IT_NA_1
			"04" + // VSQ: SQ=0, 4 objects
			"25" + // COT 37 requested by general counter request
			"00 01 00" + // OA 0, CA 1
			"01 00 00 | E8 03 00 00 | 05" + // IOA 1: 1000, SQ 5
			"02 00 00 | FF FF FF FF | 3F" + // IOA 2: -1, SQ 31, CY
			"03 00 00 | 00 00 00 80 | 40" + // IOA 3: -2^31, CA
			"04 00 00 | FF FF FF 7F | FF", // IOA 4: 2^31-1, SQ 31, CY, CA, IV
		h: Header{Type: M_IT_NA_1, Cause: CauseCounterGeneral, CA: 1},
		objs: []Object{
			{IOA: 1, Int: 1000, CounterSeq: 5},
			{IOA: 2, Int: -1, CounterSeq: 31, Carry: true},
			{IOA: 3, Int: math.MinInt32, Adjusted: true},
			{IOA: 4, Int: math.MaxInt32, CounterSeq: 31, Carry: true, Adjusted: true, Quality: QualityIV},
		},
	},
	{
		name: "M_IT_NA_1 SQ=1 counter group 1",
		hex: "0F" + // type 15 M_IT_NA_1
			"82" + // VSQ: SQ=1, 2 elements
			"26" + // COT 38 counter group 1
			"00 01 00" + // OA 0, CA 1
			"10 00 00" + // IOA 16
			"0A 00 00 00 | 80" + // 10, SQ 0, IV
			"0B 00 00 00 | 01", // 11, SQ 1
		h: Header{Type: M_IT_NA_1, SQ: true, Cause: CauseCounterGroup1, CA: 1},
		objs: []Object{
			{IOA: 16, Int: 10, Quality: QualityIV},
			{IOA: 17, Int: 11, CounterSeq: 1},
		},
	},
	{
		name: "M_SP_TB_1 ON at Sat 2026-11-21 03:25:06",
		hex: "1E" + // type 30 M_SP_TB_1
			"01 03 00 01 00" + // SQ=0 1 object, COT 3, OA 0, CA 1
			"05 00 00" + // IOA 5
			"01" + // SIQ ON
			cpEx, // CP56Time2a
		h:    Header{Type: M_SP_TB_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{{IOA: 5, State: 1, Time: tEx}},
	},
	{
		name: "M_DP_TB_1 time invalid",
		hex: "1F" + // type 31 M_DP_TB_1
			"01 03 00 01 00" + // SQ=0 1 object, COT 3, OA 0, CA 1
			"0A 00 00" + // IOA 10
			"82" + // DIQ: DPI 2 ON, IV
			"70 17 | 99 | 03 D5 0B 1A", // minute octet 0x99: IV + minute 25
		h:    Header{Type: M_DP_TB_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{{IOA: 10, State: 2, Quality: QualityIV, Time: withTime(func(t *CP56Time2a) { t.Invalid = true })}},
	},
	{
		name: "M_ST_TB_1 summer time, in a GI",
		hex: "20" + // type 32 M_ST_TB_1
			"01 14 00 01 00" + // SQ=0 1 object, COT 20, OA 0, CA 1
			"14 00 00" + // IOA 20
			"85 | 10" + // VTI: T=1, +5; QDS BL
			"70 17 19 | 83 | D5 0B 1A", // hour octet 0x83: SU + hour 3
		h:    Header{Type: M_ST_TB_1, Cause: CauseInterrogated, CA: 1},
		objs: []Object{{IOA: 20, Step: 5, Transient: true, Quality: QualityBL, Time: withTime(func(t *CP56Time2a) { t.Summer = true })}},
	},
	{
		name: "M_BO_TB_1 substituted time",
		hex: "21" + // type 33 M_BO_TB_1
			"01 03 00 01 00" + // SQ=0 1 object, COT 3, OA 0, CA 1
			"F5 01 00" + // IOA 501
			"01 00 00 80 | 00" + // BSI 0x80000001, QDS good
			"70 17 | 59 | 03 D5 0B 1A", // minute octet 0x59: RES1/substituted + minute 25
		h:    Header{Type: M_BO_TB_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{{IOA: 501, Bits: 0x80000001, Time: withTime(func(t *CP56Time2a) { t.Substituted = true })}},
	},
	{
		name: "M_ME_TD_1 day of week 0",
		hex: "22" + // type 34 M_ME_TD_1
			"01 03 00 01 00" + // SQ=0 1 object, COT 3, OA 0, CA 1
			"6F 00 00" + // IOA 111
			"00 20 | 00" + // NVA 0x2000 = 0.25, QDS good
			"94 19 19 03 | 15 | 0B 1A", // 6.548 s; day octet 0x15: DOW 0, day 21
		h: Header{Type: M_ME_TD_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{{IOA: 111, Int: 8192, Time: withTime(func(t *CP56Time2a) {
			t.Millisecond = 6548
			t.Weekday = 0
		})}},
	},
	{
		name: "M_ME_TE_1 year octet 0x6D tolerated",
		hex: "23" + // type 35 M_ME_TE_1
			"01 03 00 01 00" + // SQ=0 1 object, COT 3, OA 0, CA 1
			"70 00 00" + // IOA 112
			"18 FC | 40" + // SVA -1000, NT
			"08 00 | 17 | 13 | 0D | 08 | 6D", // 0.008 s, min 23, hour 19, day 13, month 8, year 109
		h: Header{Type: M_ME_TE_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{{IOA: 112, Int: -1000, Quality: QualityNT,
			Time: CP56Time2a{Millisecond: 8, Minute: 23, Hour: 19, Day: 13, Month: 8, Year: 109}}},
	},
	{
		name: "M_ME_TF_1 float with time, DOW 7",
		hex: "24" + // type 36 M_ME_TF_1
			"02 03 00 01 00" + // SQ=0 2 objects, COT 3, OA 0, CA 1
			"C8 00 00 | 00 00 2E C2 | 00" + // IOA 200: -43.5
			cpEx + // Sat 2026-11-21 03:25:06.000
			"C9 00 00 | 00 00 C8 42 | 80" + // IOA 201: 100.0, IV
			"E0 2E | 3B | 17 | FF | 0C | 63", // 12.000 s, min 59, hour 23, DOW 7 day 31, month 12, year 99
		h: Header{Type: M_ME_TF_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{
			{IOA: 200, Float: -43.5, Time: tEx},
			{IOA: 201, Float: 100, Quality: QualityIV,
				Time: CP56Time2a{Millisecond: 12000, Minute: 59, Hour: 23, Day: 31, Weekday: 7, Month: 12, Year: 99}},
		},
	},
	{
		name: "M_IT_TB_1 counter with time",
		hex: "25" + // type 37 M_IT_TB_1
			"01 03 00 01 00" + // SQ=0 1 object, COT 3, OA 0, CA 1
			"01 00 00" + // IOA 1
			"39 30 00 00 | 61" + // 12345; SQ 1, CY, CA
			cpEx,
		h:    Header{Type: M_IT_TB_1, Cause: CauseSpontaneous, CA: 1},
		objs: []Object{{IOA: 1, Int: 12345, CounterSeq: 1, Carry: true, Adjusted: true, Time: tEx}},
	},
	{
		name: "C_SC_NA_1 select ON (IEC104.md 8.6 step 1)",
		hex: "2D" + // type 45 C_SC_NA_1
			"01" + // VSQ: SQ=0, 1 object
			"06" + // COT 6 activation
			"00" + // OA 0
			"03 00" + // CA 3
			"94 11 00" + // IOA 4500
			"81", // SCO: S/E select, QU 0, SCS ON
		h:    Header{Type: C_SC_NA_1, Cause: CauseActivation, CA: 3},
		objs: []Object{{IOA: 4500, State: 1, Select: true}},
	},
	{
		name: "C_SC_NA_1 execute OFF persistent, test bit",
		hex: "2D" + // type 45 C_SC_NA_1
			"01" + // VSQ: SQ=0, 1 object
			"86" + // COT 6 activation + T
			"00 03 00" + // OA 0, CA 3
			"94 11 00" + // IOA 4500
			"0C", // SCO: execute, QU 3 persistent, SCS OFF
		h:    Header{Type: C_SC_NA_1, Cause: CauseActivation, Test: true, CA: 3},
		objs: []Object{{IOA: 4500, QU: 3}},
	},
	{
		name: "C_SC_NA_1 negative actcon QU 31",
		hex: "2D" + // type 45 C_SC_NA_1
			"01" + // VSQ: SQ=0, 1 object
			"47" + // COT 7 actcon + P/N
			"00 03 00" + // OA 0, CA 3
			"94 11 00" + // IOA 4500
			"FD", // SCO: select, QU 31, SCS ON
		h:    Header{Type: C_SC_NA_1, Cause: CauseActivationCon, Negative: true, CA: 3},
		objs: []Object{{IOA: 4500, State: 1, QU: 31, Select: true}},
	},
	{
		name: "C_DC_NA_1 select ON",
		hex: "2E" + // type 46 C_DC_NA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"0A 00 00" + // IOA 10
			"82", // DCO: select, QU 0, DCS 2 ON
		h:    Header{Type: C_DC_NA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{IOA: 10, State: 2, Select: true}},
	},
	{
		name: "C_DC_NA_1 negative execute with test bit",
		hex: "2E" + // type 46 C_DC_NA_1
			"01" + // VSQ: SQ=0, 1 object
			"C7" + // COT 7 actcon + P/N + T
			"00 01 00" + // OA 0, CA 1
			"0A 00 00" + // IOA 10
			"06", // DCO: execute, QU 1 short pulse, DCS 2 ON
		h:    Header{Type: C_DC_NA_1, Cause: CauseActivationCon, Negative: true, Test: true, CA: 1},
		objs: []Object{{IOA: 10, State: 2, QU: 1}},
	},
	{
		name: "C_RC_NA_1 select lower",
		hex: "2F" + // type 47 C_RC_NA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"0B 00 00" + // IOA 11
			"81", // RCO: select, QU 0, RCS 1 lower
		h:    Header{Type: C_RC_NA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{IOA: 11, State: 1, Select: true}},
	},
	{
		name: "C_RC_NA_1 execute higher long pulse",
		hex: "2F" + // type 47 C_RC_NA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"0B 00 00" + // IOA 11
			"0A", // RCO: execute, QU 2 long pulse, RCS 2 higher
		h:    Header{Type: C_RC_NA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{IOA: 11, State: 2, QU: 2}},
	},
	{
		name: "C_SE_NA_1 select 0.5",
		hex: "30" + // type 48 C_SE_NA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"0C 00 00" + // IOA 12
			"00 40" + // NVA 0x4000 = 0.5
			"80", // QOS: select, QL 0
		h:    Header{Type: C_SE_NA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{IOA: 12, Int: 16384, Select: true}},
	},
	{
		name: "C_SE_NB_1 execute -2300 QL 127",
		hex: "31" + // type 49 C_SE_NB_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"0D 00 00" + // IOA 13
			"04 F7" + // SVA -2300
			"7F", // QOS: execute, QL 127
		h:    Header{Type: C_SE_NB_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{IOA: 13, Int: -2300, QU: 127}},
	},
	{
		name: "C_SE_NC_1 select -43.5 (IEC104.md 6)",
		hex: "32" + // type 50 C_SE_NC_1
			"01" + // VSQ: SQ=0, 1 object
			"06" + // COT 6 activation
			"00" + // OA 0
			"03 00" + // CA 3
			"9C 13 00" + // IOA 5020
			"00 00 2E C2" + // float -43.5
			"80", // QOS: select, QL 0
		h:    Header{Type: C_SE_NC_1, Cause: CauseActivation, CA: 3},
		objs: []Object{{IOA: 5020, Float: -43.5, Select: true}},
	},
	{
		name: "C_SC_TA_1 execute ON with time",
		hex: "3A" + // type 58 C_SC_TA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"0E 00 00" + // IOA 14
			"01" + // SCO: execute, QU 0, ON
			cpEx,
		h:    Header{Type: C_SC_TA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{IOA: 14, State: 1, Time: tEx}},
	},
	{
		name: "C_DC_TA_1 cancel select OFF",
		hex: "3B" + // type 59 C_DC_TA_1
			"01 08 00 01 00" + // SQ=0 1 object, COT 8 deactivation, OA 0, CA 1
			"0F 00 00" + // IOA 15
			"81" + // DCO: select, QU 0, DCS 1 OFF
			cpEx,
		h:    Header{Type: C_DC_TA_1, Cause: CauseDeactivation, CA: 1},
		objs: []Object{{IOA: 15, State: 1, Select: true, Time: tEx}},
	},
	{
		name: "C_RC_TA_1 higher short pulse",
		hex: "3C" + // type 60 C_RC_TA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"10 00 00" + // IOA 16
			"06" + // RCO: execute, QU 1 short pulse, RCS 2 higher
			cpEx,
		h:    Header{Type: C_RC_TA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{IOA: 16, State: 2, QU: 1, Time: tEx}},
	},
	{
		name: "C_SE_TA_1 select -1.0 QL 5",
		hex: "3D" + // type 61 C_SE_TA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"11 00 00" + // IOA 17
			"00 80" + // NVA -1.0
			"85" + // QOS: select, QL 5
			cpEx,
		h:    Header{Type: C_SE_TA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{IOA: 17, Int: -32768, QU: 5, Select: true, Time: tEx}},
	},
	{
		name: "C_SE_TB_1 actcon 32767",
		hex: "3E" + // type 62 C_SE_TB_1
			"01 07 00 01 00" + // SQ=0 1 object, COT 7 actcon, OA 0, CA 1
			"12 00 00" + // IOA 18
			"FF 7F" + // SVA 32767
			"00" + // QOS: execute, QL 0
			cpEx,
		h:    Header{Type: C_SE_TB_1, Cause: CauseActivationCon, CA: 1},
		objs: []Object{{IOA: 18, Int: 32767, Time: tEx}},
	},
	{
		name: "C_SE_TC_1 actterm 100.0",
		hex: "3F" + // type 63 C_SE_TC_1
			"01 0A 00 01 00" + // SQ=0 1 object, COT 10 actterm, OA 0, CA 1
			"13 00 00" + // IOA 19
			"00 00 C8 42" + // float 100.0
			"00" + // QOS: execute, QL 0
			cpEx,
		h:    Header{Type: C_SE_TC_1, Cause: CauseActivationTerm, CA: 1},
		objs: []Object{{IOA: 19, Float: 100, Time: tEx}},
	},
	{
		name: "M_EI_NA_1 COI 0 CA 37133 (IEC104.md 6)",
		hex: "46" + // type 70 M_EI_NA_1
			"01" + // VSQ: SQ=0, 1 object
			"04" + // COT 4 initialized
			"00" + // OA 0
			"0D 91" + // CA 0x910D = 37133
			"00 00 00" + // IOA 0
			"00", // COI 0 local power on
		h:    Header{Type: M_EI_NA_1, Cause: CauseInitialized, CA: 37133},
		objs: []Object{{IOA: 0}},
	},
	{
		name: "M_EI_NA_1 COI remote reset after parameter change",
		hex: "46" + // type 70 M_EI_NA_1
			"01 04 00 01 00" + // SQ=0 1 object, COT 4, OA 0, CA 1
			"00 00 00" + // IOA 0
			"82", // COI: bit7 parameters changed, cause 2 remote reset
		h:    Header{Type: M_EI_NA_1, Cause: CauseInitialized, CA: 1},
		objs: []Object{{Qualifier: 0x82}},
	},
	{
		name: "C_IC_NA_1 station interrogation",
		hex: "64" + // type 100 C_IC_NA_1
			"01" + // VSQ: SQ=0, 1 object
			"06" + // COT 6 activation
			"03" + // OA 3
			"01 00" + // CA 1
			"00 00 00" + // IOA 0
			"14", // QOI 20 station
		h:    Header{Type: C_IC_NA_1, Cause: CauseActivation, OA: 3, CA: 1},
		objs: []Object{{Qualifier: 20}},
	},
	{
		name: "C_IC_NA_1 group 16 to the global address",
		hex: "64" + // type 100 C_IC_NA_1
			"01 06 00" + // SQ=0 1 object, COT 6, OA 0
			"FF FF" + // CA 65535 global
			"00 00 00" + // IOA 0
			"24", // QOI 36 group 16
		h:    Header{Type: C_IC_NA_1, Cause: CauseActivation, CA: GlobalCA},
		objs: []Object{{Qualifier: 36}},
	},
	{
		name: "C_CI_NA_1 general counter read",
		hex: "65" + // type 101 C_CI_NA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"00 00 00" + // IOA 0
			"05", // QCC: FRZ 0 read, RQT 5 general
		h:    Header{Type: C_CI_NA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{Qualifier: 0x05}},
	},
	{
		name: "C_CI_NA_1 freeze without reset group 1",
		hex: "65" + // type 101 C_CI_NA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"00 00 00" + // IOA 0
			"41", // QCC: FRZ 1 freeze without reset, RQT 1
		h:    Header{Type: C_CI_NA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{Qualifier: 0x41}},
	},
	{
		name: "C_RD_NA_1 read IOA 110",
		hex: "66" + // type 102 C_RD_NA_1
			"01" + // VSQ: SQ=0, 1 object
			"05" + // COT 5 request
			"00 01 00" + // OA 0, CA 1
			"6E 00 00", // IOA 110, no element
		h:    Header{Type: C_RD_NA_1, Cause: CauseRequest, CA: 1},
		objs: []Object{{IOA: 110}},
	},
	{
		name: "C_RD_NA_1 SQ=1 two addresses",
		hex: "66" + // type 102 C_RD_NA_1
			"82" + // VSQ: SQ=1, 2 elements of size 0
			"05 00 01 00" + // COT 5, OA 0, CA 1
			"6E 00 00", // IOA 110 (110..111)
		h:    Header{Type: C_RD_NA_1, SQ: true, Cause: CauseRequest, CA: 1},
		objs: []Object{{IOA: 110}, {IOA: 111}},
	},
	{
		name: "C_CS_NA_1 clock sync act",
		hex: "67" + // type 103 C_CS_NA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"00 00 00" + // IOA 0
			cpEx, // Sat 2026-11-21 03:25:06.000
		h:    Header{Type: C_CS_NA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{Time: tEx}},
	},
	{
		name: "C_CS_NA_1 actcon with the server's time (IEC104.md 8.4)",
		hex: "67" + // type 103 C_CS_NA_1
			"01 07 00 01 00" + // SQ=0 1 object, COT 7, OA 0, CA 1
			"00 00 00" + // IOA 0
			"94 19 19 03 15 0B 1A", // 6.548 s, DOW 0
		h: Header{Type: C_CS_NA_1, Cause: CauseActivationCon, CA: 1},
		objs: []Object{{Time: withTime(func(t *CP56Time2a) {
			t.Millisecond = 6548
			t.Weekday = 0
		})}},
	},
	{
		name: "C_TS_TA_1 TSC 0x1234 (IEC104.md 8.5)",
		hex: "6B" + // type 107 C_TS_TA_1
			"01 06 00 01 00" + // SQ=0 1 object, COT 6, OA 0, CA 1
			"00 00 00" + // IOA 0
			"34 12" + // TSC 0x1234
			cpEx,
		h:    Header{Type: C_TS_TA_1, Cause: CauseActivation, CA: 1},
		objs: []Object{{TSC: 0x1234, Time: tEx}},
	},
	{
		name: "M_ME_NC_1 no objects",
		hex:  "0D 00 14 00 01 00", // type 13, SQ=0 0 objects, COT 20, OA 0, CA 1
		h:    Header{Type: M_ME_NC_1, Cause: CauseInterrogated, CA: 1},
	},
	{
		name: "M_SP_NA_1 SQ=1 no objects",
		hex:  "01 80 03 00 01 00", // type 1, SQ=1 0 elements, COT 3, OA 0, CA 1
		h:    Header{Type: M_SP_NA_1, SQ: true, Cause: CauseSpontaneous, CA: 1},
	},
}

// objectEqual compares objects, floats by their bits (NaN payloads included).
func objectEqual(a, b Object) bool {
	if math.Float32bits(a.Float) != math.Float32bits(b.Float) {
		return false
	}
	a.Float, b.Float = 0, 0
	return a == b
}

func checkObjects(t *testing.T, got, want []Object) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d objects %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range got {
		if !objectEqual(got[i], want[i]) {
			t.Errorf("object %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// decodeASDU parses b and decodes its objects, failing the test on an error.
func decodeASDU(t *testing.T, b []byte) (ASDU, []Object) {
	t.Helper()
	a, err := ParseASDU(b)
	if err != nil {
		t.Fatalf("ParseASDU(% X): %v", b, err)
	}
	objs, err := a.Objects(nil)
	if err != nil {
		t.Fatalf("Objects(% X): %v", b, err)
	}
	return a, objs
}

func TestASDUGolden(t *testing.T) {
	for _, tc := range asduGolden {
		t.Run(tc.name, func(t *testing.T) {
			b := hx(tc.hex)
			a, objs := decodeASDU(t, b)
			if a.Header != tc.h {
				t.Errorf("header: got %+v, want %+v", a.Header, tc.h)
			}
			if a.Count != len(tc.objs) {
				t.Errorf("count: got %d, want %d", a.Count, len(tc.objs))
			}
			if !bytes.Equal(a.Payload, b[6:]) {
				t.Errorf("payload: got % X, want % X", a.Payload, b[6:])
			}
			checkObjects(t, objs, tc.objs)

			prefix := []byte{0xEE, 0xFF}
			enc, err := AppendASDU(prefix, tc.h, tc.objs)
			if err != nil {
				t.Fatalf("AppendASDU: %v", err)
			}
			if !bytes.Equal(enc[:2], prefix) || !bytes.Equal(enc[2:], b) {
				t.Errorf("encode: got % X, want EE FF % X", enc, b)
			}
		})
	}
}

// TestGoldenCoversEveryType checks that asduGolden has a vector for every
// type of the layout table, and that the table holds the 29 types of
// IEC104.md 6 with their element sizes.
func TestGoldenCoversEveryType(t *testing.T) {
	covered := map[TypeID]bool{}
	for _, v := range asduGolden {
		covered[v.h.Type] = true
	}
	for i := range 256 {
		if typ := TypeID(i); typ.Known() && !covered[typ] {
			t.Errorf("no golden vector for %v", typ)
		}
	}
	// IEC104.md 6: type, element size without the IOA, CP56Time2a present.
	section6 := []struct {
		typ  TypeID
		size int
		time bool
	}{
		{M_SP_NA_1, 1, false}, {M_DP_NA_1, 1, false}, {M_ST_NA_1, 2, false}, {M_BO_NA_1, 5, false},
		{M_ME_NA_1, 3, false}, {M_ME_NB_1, 3, false}, {M_ME_NC_1, 5, false}, {M_IT_NA_1, 5, false},
		{M_SP_TB_1, 8, true}, {M_DP_TB_1, 8, true}, {M_ST_TB_1, 9, true}, {M_ME_TD_1, 10, true},
		{M_ME_TE_1, 10, true}, {M_ME_TF_1, 12, true}, {M_IT_TB_1, 12, true}, {M_EI_NA_1, 1, false},
		{C_SC_NA_1, 1, false}, {C_DC_NA_1, 1, false}, {C_RC_NA_1, 1, false}, {C_SE_NA_1, 3, false},
		{C_SE_NB_1, 3, false}, {C_SE_NC_1, 5, false}, {C_SC_TA_1, 8, true}, {C_DC_TA_1, 8, true},
		{C_SE_TC_1, 12, true}, {C_IC_NA_1, 1, false}, {C_CI_NA_1, 1, false}, {C_CS_NA_1, 7, true},
		{C_TS_TA_1, 9, true},
		// The extras of typeid.go.
		{M_BO_TB_1, 12, true}, {C_RC_TA_1, 8, true}, {C_SE_TA_1, 10, true}, {C_SE_TB_1, 10, true},
		{C_RD_NA_1, 0, false},
	}
	known := 0
	for i := range 256 {
		if TypeID(i).Known() {
			known++
		}
	}
	if known != len(section6) {
		t.Errorf("known types: got %d, want %d", known, len(section6))
	}
	for _, tc := range section6 {
		if got := tc.typ.ElementSize(); got != tc.size {
			t.Errorf("%v.ElementSize(): got %d, want %d", tc.typ, got, tc.size)
		}
		if got := tc.typ.HasTime(); got != tc.time {
			t.Errorf("%v.HasTime(): got %v, want %v", tc.typ, got, tc.time)
		}
		if got := tc.typ.String(); got != layouts[tc.typ].name || !strings.Contains(got, "_") {
			t.Errorf("String(%d): got %q", uint8(tc.typ), got)
		}
		single := tc.typ.IsCommand() || tc.typ.IsSystem() || tc.typ == M_EI_NA_1
		if got := tc.typ.SingleObject(); got != single {
			t.Errorf("%v.SingleObject(): got %v, want %v", tc.typ, got, single)
		}
		if tc.typ.IsMonitor() == tc.typ.IsCommand() && tc.typ != M_EI_NA_1 && !tc.typ.IsSystem() {
			t.Errorf("%v: IsMonitor %v, IsCommand %v", tc.typ, tc.typ.IsMonitor(), tc.typ.IsCommand())
		}
	}
	if got, want := TypeID(104).String(), "TYPE_104"; got != want {
		t.Errorf("TypeID(104).String(): got %q, want %q", got, want)
	}
	if got := TypeID(0).ElementSize(); got != -1 {
		t.Errorf("TypeID(0).ElementSize(): got %d, want -1", got)
	}
}

// TestASDUDecodeTolerant covers octets with reserved bits set: they decode,
// and the encoder writes the canonical form (reserved bits 0).
func TestASDUDecodeTolerant(t *testing.T) {
	tests := []struct {
		name  string
		hex   string
		canon string
		h     Header
		objs  []Object
	}{
		{
			name:  "SIQ reserved bits 1-3",
			hex:   "01 02 03 00 01 00 | 01 00 00 | 0E | 02 00 00 | 8F",
			canon: "01 02 03 00 01 00 | 01 00 00 | 00 | 02 00 00 | 81",
			h:     Header{Type: M_SP_NA_1, Cause: CauseSpontaneous, CA: 1},
			objs:  []Object{{IOA: 1}, {IOA: 2, State: 1, Quality: QualityIV}},
		},
		{
			name:  "DIQ reserved bits 2-3",
			hex:   "03 01 03 00 01 00 | 01 00 00 | 1E",
			canon: "03 01 03 00 01 00 | 01 00 00 | 12",
			h:     Header{Type: M_DP_NA_1, Cause: CauseSpontaneous, CA: 1},
			objs:  []Object{{IOA: 1, State: 2, Quality: QualityBL}},
		},
		{
			name:  "QDS reserved bits 1-3",
			hex:   "0B 01 03 00 01 00 | 01 00 00 | 05 00 | 0F",
			canon: "0B 01 03 00 01 00 | 01 00 00 | 05 00 | 01",
			h:     Header{Type: M_ME_NB_1, Cause: CauseSpontaneous, CA: 1},
			objs:  []Object{{IOA: 1, Int: 5, Quality: QualityOV}},
		},
		{
			name:  "SCO reserved bit 1",
			hex:   "2D 01 06 00 01 00 | 01 00 00 | 83",
			canon: "2D 01 06 00 01 00 | 01 00 00 | 81",
			h:     Header{Type: C_SC_NA_1, Cause: CauseActivation, CA: 1},
			objs:  []Object{{IOA: 1, State: 1, Select: true}},
		},
		{
			name:  "CP56 RES2, RES3, RES4",
			hex:   "1E 01 03 00 01 00 | 01 00 00 | 01 | 70 17 19 | 63 | D5 | FB | 9A",
			canon: "1E 01 03 00 01 00 | 01 00 00 | 01 | " + cpEx,
			h:     Header{Type: M_SP_TB_1, Cause: CauseSpontaneous, CA: 1},
			objs:  []Object{{IOA: 1, State: 1, Time: tEx}},
		},
		{
			// SQ=1 addresses wrap at 2^24, the same way on both sides.
			name:  "SQ=1 IOA wraps",
			hex:   "01 83 14 00 01 00 | FE FF FF | 01 01 01",
			canon: "01 83 14 00 01 00 | FE FF FF | 01 01 01",
			h:     Header{Type: M_SP_NA_1, SQ: true, Cause: CauseInterrogated, CA: 1},
			objs:  []Object{{IOA: 0xFFFFFE, State: 1}, {IOA: 0xFFFFFF, State: 1}, {IOA: 0, State: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, objs := decodeASDU(t, hx(tc.hex))
			if a.Header != tc.h {
				t.Errorf("header: got %+v, want %+v", a.Header, tc.h)
			}
			checkObjects(t, objs, tc.objs)
			enc, err := AppendASDU(nil, a.Header, objs)
			if err != nil {
				t.Fatalf("AppendASDU: %v", err)
			}
			if want := hx(tc.canon); !bytes.Equal(enc, want) {
				t.Errorf("encode: got % X, want % X", enc, want)
			}
		})
	}
}

// TestCOT checks octet 2 of the ASDU: cause, P/N and T, and IsNegative.
func TestCOT(t *testing.T) {
	tests := []struct {
		cot      byte
		cause    Cause
		negative bool // P/N bit
		test     bool // T bit
		isNeg    bool // Header.IsNegative
	}{
		{0x06, CauseActivation, false, false, false},
		{0x07, CauseActivationCon, false, false, false},
		{0x47, CauseActivationCon, true, false, true}, // negative ACTCON
		{0x6F, CauseUnknownIOA, true, false, true},    // 47 + P/N
		{0x86, CauseActivation, false, true, false},   // ACT with test bit
		{0xC7, CauseActivationCon, true, true, true},  // negative ACTCON with test bit
		{0x2C, CauseUnknownType, false, false, true},  // 44 without P/N
		{0x2D, CauseUnknownCause, false, false, true}, // 45 without P/N (lib60870 example server)
		{0x2E, CauseUnknownCA, false, false, true},    // 46 without P/N
		{0x2F, CauseUnknownIOA, false, false, true},   // 47 without P/N (lib60870 example server)
		{0x6C, CauseUnknownType, true, false, true},   // 44 + P/N
		{0xAD, CauseUnknownCause, false, true, true},  // 45 + T
		{0x2B, 43, false, false, false},               // 43 is no error cause
		{0x30, 48, false, false, false},               // 48 neither
		{0x3F, 63, false, false, false},               // the largest cause
		{0x0A, CauseActivationTerm, false, false, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("0x%02X", tc.cot), func(t *testing.T) {
			b := hx(fmt.Sprintf("64 01 %02X 00 01 00 00 00 00 14", tc.cot))
			a, objs := decodeASDU(t, b)
			want := Header{Type: C_IC_NA_1, Cause: tc.cause, Negative: tc.negative, Test: tc.test, CA: 1}
			if a.Header != want {
				t.Errorf("header: got %+v, want %+v", a.Header, want)
			}
			if got := a.IsNegative(); got != tc.isNeg {
				t.Errorf("IsNegative: got %v, want %v", got, tc.isNeg)
			}
			enc, err := AppendASDU(nil, a.Header, objs)
			if err != nil || !bytes.Equal(enc, b) {
				t.Errorf("encode: got % X, %v, want % X", enc, err, b)
			}
		})
	}
}

func TestCauseString(t *testing.T) {
	tests := map[Cause]string{
		CauseSpontaneous: "spont", CauseActivationCon: "actcon", CauseInterrogated: "inrogen",
		21: "inro1", 36: "inro16", CauseCounterGeneral: "reqcogen", 38: "reqco1", 41: "reqco4",
		42: "cot42", 63: "cot63",
	}
	for c, want := range tests {
		if got := c.String(); got != want {
			t.Errorf("Cause(%d).String(): got %q, want %q", uint8(c), got, want)
		}
	}
	for c := Cause(0); c <= 63; c++ {
		if got, want := c.IsInterrogation(), c >= 20 && c <= 36; got != want {
			t.Errorf("Cause(%d).IsInterrogation(): got %v, want %v", uint8(c), got, want)
		}
		if got, want := c.IsError(), c >= 44 && c <= 47; got != want {
			t.Errorf("Cause(%d).IsError(): got %v, want %v", uint8(c), got, want)
		}
	}
}

// apduGolden are whole frames from IEC104.md 6 and 8.6: APCI and ASDU.
var apduGolden = []struct {
	name   string
	hex    string
	ns, nr uint16
	h      Header
	obj    Object // the first object
	count  int
}{
	{"M_ME_NB_1 periodic", "68 10 | 00 00 00 00 | 0B 01 01 00 01 00 | 6E 00 00 | 05 00 | 00",
		0, 0, Header{Type: M_ME_NB_1, Cause: CausePeriodic, CA: 1}, Object{IOA: 110, Int: 5}, 1},
	{"M_SP_NA_1 SQ=1 8 objects", "68 15 | 34 00 1C 00 | 01 88 14 03 01 00 | 2C 01 00 | 01 00 01 00 01 00 01 00",
		26, 14, Header{Type: M_SP_NA_1, SQ: true, Cause: CauseInterrogated, OA: 3, CA: 1}, Object{IOA: 300, State: 1}, 8},
	{"C_SE_NC_1 select -43.5", "68 12 | 38 00 B6 00 | 32 01 06 00 03 00 | 9C 13 00 | 00 00 2E C2 | 80",
		28, 91, Header{Type: C_SE_NC_1, Cause: CauseActivation, CA: 3}, Object{IOA: 5020, Float: -43.5, Select: true}, 1},
	{"M_EI_NA_1", "68 0E | 00 00 00 00 | 46 01 04 00 0D 91 | 00 00 00 | 00",
		0, 0, Header{Type: M_EI_NA_1, Cause: CauseInitialized, CA: 37133}, Object{}, 1},
	// IEC104.md 8.6, select-before-operate on C_SC_NA_1 IOA 4500, CA 3.
	{"SBO 1 select", "68 0E | 2C 00 A2 00 | 2D 01 06 00 03 00 | 94 11 00 | 81",
		22, 81, Header{Type: C_SC_NA_1, Cause: CauseActivation, CA: 3}, Object{IOA: 4500, State: 1, Select: true}, 1},
	{"SBO 2 select confirmed", "68 0E | A2 00 2E 00 | 2D 01 07 00 03 00 | 94 11 00 | 81",
		81, 23, Header{Type: C_SC_NA_1, Cause: CauseActivationCon, CA: 3}, Object{IOA: 4500, State: 1, Select: true}, 1},
	{"SBO 3 execute", "68 0E | 2E 00 A4 00 | 2D 01 06 00 03 00 | 94 11 00 | 01",
		23, 82, Header{Type: C_SC_NA_1, Cause: CauseActivation, CA: 3}, Object{IOA: 4500, State: 1}, 1},
	{"SBO 4 execute confirmed", "68 0E | A4 00 30 00 | 2D 01 07 00 03 00 | 94 11 00 | 01",
		82, 24, Header{Type: C_SC_NA_1, Cause: CauseActivationCon, CA: 3}, Object{IOA: 4500, State: 1}, 1},
	{"SBO 5 termination", "68 0E | A6 00 30 00 | 2D 01 0A 00 03 00 | 94 11 00 | 01",
		83, 24, Header{Type: C_SC_NA_1, Cause: CauseActivationTerm, CA: 3}, Object{IOA: 4500, State: 1}, 1},
	// lib60870 TLS server's GI ACTTERM: type 0, no objects, COT 10 (IEC104.md 4).
	{"type 0 ACTTERM", "68 0A | 02 00 02 00 | 00 00 0A 00 01 00",
		1, 1, Header{Type: 0, Cause: CauseActivationTerm, CA: 1}, Object{}, 0},
}

func TestAPDUWithASDUGolden(t *testing.T) {
	for _, tc := range apduGolden {
		t.Run(tc.name, func(t *testing.T) {
			b := hx(tc.hex)
			p, err := ParseAPDU(b)
			if err != nil {
				t.Fatalf("ParseAPDU: %v", err)
			}
			if p.Format != FormatI || p.SendSeq != tc.ns || p.RecvSeq != tc.nr {
				t.Errorf("APCI: got %v ns=%d nr=%d, want I ns=%d nr=%d", p.Format, p.SendSeq, p.RecvSeq, tc.ns, tc.nr)
			}
			a, objs := decodeASDU(t, p.ASDU)
			if a.Header != tc.h || a.Count != tc.count {
				t.Errorf("ASDU: got %+v count %d, want %+v count %d", a.Header, a.Count, tc.h, tc.count)
			}
			if tc.count == 0 {
				if len(objs) != 0 {
					t.Errorf("objects: got %+v, want none", objs)
				}
				return
			}
			if !objectEqual(objs[0], tc.obj) {
				t.Errorf("object 0: got %+v, want %+v", objs[0], tc.obj)
			}
			asdu, err := AppendASDU(nil, a.Header, objs)
			if err != nil {
				t.Fatalf("AppendASDU: %v", err)
			}
			enc, err := AppendI(nil, tc.ns, tc.nr, asdu)
			if err != nil || !bytes.Equal(enc, b) {
				t.Errorf("encode: got % X, %v, want % X", enc, err, b)
			}
		})
	}
}

func TestUnknownTypes(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		h       Header
		count   int
		payload string
		objErr  bool // Objects reports ErrUnknownType
	}{
		{
			// C_TS_NA_1 (104) is not allowed in 104: kept raw.
			name:  "C_TS_NA_1",
			hex:   "68 01 06 00 01 00 | 00 00 00 | AA 55",
			h:     Header{Type: 104, Cause: CauseActivation, CA: 1},
			count: 1, payload: "00 00 00 AA 55", objErr: true,
		},
		{
			// lib60870 TLS server: type 0, no objects, COT 10.
			name:  "type 0 no objects",
			hex:   "00 00 0A 00 01 00",
			h:     Header{Type: 0, Cause: CauseActivationTerm, CA: 1},
			count: 0, payload: "",
		},
		{
			name:  "type 0 with objects",
			hex:   "00 02 03 00 01 00 | 01",
			h:     Header{Type: 0, Cause: CauseSpontaneous, CA: 1},
			count: 2, payload: "01", objErr: true,
		},
		{
			// The count of an unknown type cannot be checked against the payload.
			name:  "type 255 SQ=1",
			hex:   "FF 85 43 07 34 12 | 01 02 03",
			h:     Header{Type: 255, SQ: true, Cause: 3, Negative: true, OA: 7, CA: 0x1234},
			count: 5, payload: "01 02 03", objErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseASDU(hx(tc.hex))
			if err != nil {
				t.Fatalf("ParseASDU: %v", err)
			}
			if a.Header != tc.h || a.Count != tc.count {
				t.Errorf("got %+v count %d, want %+v count %d", a.Header, a.Count, tc.h, tc.count)
			}
			if !bytes.Equal(a.Payload, hx(tc.payload)) {
				t.Errorf("payload: got % X, want % X", a.Payload, hx(tc.payload))
			}
			objs, err := a.Objects(nil)
			if tc.objErr {
				checkDecodeErr(t, err, ErrUnknownType, 0)
			} else if err != nil {
				t.Errorf("Objects: %v", err)
			}
			if len(objs) != 0 {
				t.Errorf("Objects: got %+v, want none", objs)
			}
		})
	}
}

func TestMalformedASDU(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		err  error
		off  int
	}{
		{"empty", nil, ErrShortASDU, 0},
		{"3 octets", hx("01 01 03"), ErrShortASDU, 3},
		{"5 octets", hx("01 01 03 00 01"), ErrShortASDU, 5},
		{"2 objects, octets for 1", hx("01 02 03 00 01 00 | 01 00 00 | 01"), ErrObjectCount, 6},
		{"1 object, octets for 2", hx("01 01 03 00 01 00 | 01 00 00 | 01 | 02 00 00 | 01"), ErrObjectCount, 6},
		{"1 object, 1 octet missing", hx("0D 01 03 00 01 00 | 01 00 00 | 00 00 80"), ErrObjectCount, 6},
		{"0 objects with a payload", hx("0D 00 03 00 01 00 | 01 00 00"), ErrObjectCount, 6},
		{"1 object, no payload", hx("64 01 06 00 01 00"), ErrObjectCount, 6},
		{"SQ=1 8 elements, 7 present", hx("01 88 14 03 01 00 | 2C 01 00 | 01 00 01 00 01 00 01"), ErrObjectCount, 6},
		{"SQ=1 IOA cut", hx("01 81 14 03 01 00 | 2C 01"), ErrObjectCount, 6},
		{"SQ=1 1 element as SQ=0", hx("0B 81 03 00 01 00 | 01 00 00 | 05 00 00 | 02 00 00 | 06 00 00"), ErrObjectCount, 6},
		{"M_ME_TF_1 time cut", hx("24 01 03 00 01 00 | C8 00 00 | 00 00 2E C2 | 00 | 70 17 19 03 D5 0B"), ErrObjectCount, 6},
		{"C_RD_NA_1 with an element", hx("66 01 05 00 01 00 | 6E 00 00 | 00"), ErrObjectCount, 6},
		{"127 objects, header only", hx("01 7F 03 00 01 00"), ErrObjectCount, 6},
		{"longer than 249", append(hx("01 00 03 00 01 00"), make([]byte, 244)...), ErrTooLong, MaxASDU},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseASDU(tc.b)
			checkDecodeErr(t, err, tc.err, tc.off)
			// Objects on the returned ASDU must not panic either.
			if _, err := a.Objects(nil); err == nil && a.Count > 0 {
				t.Errorf("Objects after a parse error: got nil error")
			}
		})
	}
	// An ASDU assembled by hand is checked again by Objects.
	a := ASDU{Header: Header{Type: M_ME_NC_1}, Count: 3, Payload: make([]byte, 8)}
	_, err := a.Objects(nil)
	checkDecodeErr(t, err, ErrObjectCount, 6)
}

// TestObjectsAppends checks that Objects appends and keeps dst's contents.
func TestObjectsAppends(t *testing.T) {
	a, err := ParseASDU(hx("0B 03 14 03 01 00 | 64 00 00 FF FF 00 | 65 00 00 17 00 00 | 66 00 00 FC 08 00"))
	if err != nil {
		t.Fatal(err)
	}
	dst := []Object{{IOA: 9}}
	got, err := a.Objects(dst)
	if err != nil {
		t.Fatal(err)
	}
	checkObjects(t, got, []Object{{IOA: 9}, {IOA: 100, Int: -1}, {IOA: 101, Int: 23}, {IOA: 102, Int: 2300}})
}

func TestEncodeErrors(t *testing.T) {
	good := Header{Type: M_ME_NC_1, Cause: CauseSpontaneous, CA: 1}
	floats := func(n int, sq bool) []Object {
		objs := make([]Object, n)
		for i := range objs {
			objs[i].IOA = uint32(100 + i)
			if !sq {
				objs[i].IOA = uint32(100 + 2*i)
			}
		}
		return objs
	}
	sp := func(n int) []Object {
		objs := make([]Object, n)
		for i := range objs {
			objs[i].IOA = uint32(1 + i)
		}
		return objs
	}
	one := func(typ TypeID, o Object) (Header, []Object) {
		return Header{Type: typ, Cause: CauseActivation, CA: 1}, []Object{o}
	}
	type encCase struct {
		name  string
		h     Header
		objs  []Object
		index int // EncodeError.Index, -1 for the header
	}
	tests := []encCase{
		{"unknown type", Header{Type: 104}, []Object{{}}, -1},
		{"type 0", Header{Type: 0}, nil, -1},
		{"128 objects", Header{Type: M_SP_NA_1, SQ: true}, sp(128), -1},
		{"cause 64", Header{Type: M_SP_NA_1, Cause: 64}, sp(1), -1},
		{"31 floats SQ=0 = 254 octets", good, floats(31, false), -1},
		{"17 M_ME_TF_1 = 261 octets", Header{Type: M_ME_TF_1}, floats(17, false), -1},
		{"SQ=1 49 floats = 254 octets", Header{Type: M_ME_NC_1, SQ: true}, floats(49, true), -1},
		{"IOA 2^24", good, []Object{{IOA: 1}, {IOA: 0x1000000}}, 1},
		{"IOA 2^32-1 first", good, []Object{{IOA: math.MaxUint32}}, 0},
		{"SQ=1 gap", Header{Type: M_SP_NA_1, SQ: true}, []Object{{IOA: 5}, {IOA: 7}}, 1},
		{"SQ=1 descending", Header{Type: M_SP_NA_1, SQ: true}, []Object{{IOA: 5}, {IOA: 6}, {IOA: 5}}, 2},
	}
	fields := []struct {
		name string
		typ  TypeID
		o    Object
	}{
		{"SIQ state 2", M_SP_NA_1, Object{State: 2}},
		{"DIQ state 4", M_DP_TB_1, Object{State: 4}},
		{"VTI +64", M_ST_NA_1, Object{Step: 64}},
		{"VTI -65", M_ST_TB_1, Object{Step: -65}},
		{"NVA 32768", M_ME_NA_1, Object{Int: 32768}},
		{"SVA -32769", M_ME_TE_1, Object{Int: -32769}},
		{"BCR sequence 32", M_IT_NA_1, Object{CounterSeq: 32}},
		{"SCO state 2", C_SC_NA_1, Object{State: 2}},
		{"SCO QU 32", C_SC_TA_1, Object{State: 1, QU: 32}},
		{"DCO state 4", C_DC_NA_1, Object{State: 4}},
		{"RCO QU 40", C_RC_TA_1, Object{State: 1, QU: 40}},
		{"set-point NVA 40000", C_SE_NA_1, Object{Int: 40000}},
		{"set-point SVA QL 128", C_SE_TB_1, Object{QU: 128}},
		{"set-point float QL 200", C_SE_NC_1, Object{QU: 200}},
		{"CP56 minute 64", M_SP_TB_1, Object{Time: CP56Time2a{Minute: 64}}},
		{"CP56 hour 32", C_CS_NA_1, Object{Time: CP56Time2a{Hour: 32}}},
		{"CP56 day 32", M_ME_TF_1, Object{Time: CP56Time2a{Day: 32}}},
		{"CP56 weekday 8", C_TS_TA_1, Object{Time: CP56Time2a{Weekday: 8}}},
		{"CP56 month 16", C_SE_TC_1, Object{Time: CP56Time2a{Month: 16}}},
		{"CP56 year 128", M_IT_TB_1, Object{Time: CP56Time2a{Year: 128}}},
	}
	for _, f := range fields {
		h, objs := one(f.typ, f.o)
		tests = append(tests, encCase{f.name, h, objs, 0})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{0xAB, 0xCD}
			got, err := AppendASDU(prefix, tc.h, tc.objs)
			var ee *EncodeError
			if !errors.As(err, &ee) {
				t.Fatalf("got error %v (% X), want *EncodeError", err, got)
			}
			if ee.Index != tc.index || ee.Type != tc.h.Type {
				t.Errorf("got index %d type %v, want index %d type %v (%v)", ee.Index, ee.Type, tc.index, tc.h.Type, err)
			}
			if !strings.HasPrefix(err.Error(), "iec104: ") {
				t.Errorf("error %q: want the package prefix", err)
			}
			if !bytes.Equal(got, prefix) {
				t.Errorf("on error: got % X, want dst unchanged % X", got, prefix)
			}
		})
	}
	// The limits themselves encode.
	limits := []struct {
		name string
		h    Header
		objs []Object
		n    int
	}{
		{"30 floats SQ=0 = 246 octets", good, floats(30, false), 246},
		{"48 floats SQ=1 = 249 octets", Header{Type: M_ME_NC_1, SQ: true}, floats(48, true), 249},
		{"127 single points SQ=1", Header{Type: M_SP_NA_1, SQ: true}, sp(127), 136},
		{"16 M_ME_TF_1 = 246 octets", Header{Type: M_ME_TF_1}, floats(16, false), 246},
		{"IOA 2^24-1", good, []Object{{IOA: 0xFFFFFF}}, 14},
		{"cause 63", Header{Type: M_SP_NA_1, Cause: 63}, sp(1), 10},
	}
	for _, tc := range limits {
		b, err := AppendASDU(nil, tc.h, tc.objs)
		if err != nil || len(b) != tc.n {
			t.Errorf("%s: got %d octets, %v, want %d octets", tc.name, len(b), err, tc.n)
		}
	}
}

func TestObjectValue(t *testing.T) {
	tests := []struct {
		typ  TypeID
		o    Object
		want float64
	}{
		{M_SP_NA_1, Object{State: 1}, 1},
		{C_DC_NA_1, Object{State: 2}, 2},
		{M_ST_TB_1, Object{Step: -43}, -43},
		{M_ME_NA_1, Object{Int: 16384}, 0.5},
		{C_SE_TA_1, Object{Int: -32768}, -1},
		{M_ME_NB_1, Object{Int: 2300}, 2300},
		{M_IT_NA_1, Object{Int: -5}, -5},
		{M_ME_TF_1, Object{Float: -43.5}, -43.5},
		{M_BO_NA_1, Object{Bits: 0xAAAA}, 0xAAAA},
		{C_IC_NA_1, Object{Qualifier: 20}, 20},
		{C_TS_TA_1, Object{TSC: 0x1234}, 0x1234},
		{C_RD_NA_1, Object{IOA: 5}, 0},
		{104, Object{Int: 5}, 0},
	}
	for _, tc := range tests {
		if got := tc.o.Value(tc.typ); got != tc.want {
			t.Errorf("%v Value: got %v, want %v", tc.typ, got, tc.want)
		}
	}
	raw := []struct {
		f    float64
		want int32
	}{{0.5, 16384}, {-1, -32768}, {1, 32767}, {-2, -32768}, {0.25, 8192}, {1.0 / 65536, 1}}
	for _, tc := range raw {
		if got := NormalizedRaw(tc.f); got != tc.want {
			t.Errorf("NormalizedRaw(%v): got %d, want %d", tc.f, got, tc.want)
		}
	}
}

func TestQualityString(t *testing.T) {
	tests := map[Quality]string{
		0: "good", QualityIV: "IV", QualityOV | QualityBL: "BL,OV",
		QualityOV | QualityBL | QualitySB | QualityNT | QualityIV: "IV,NT,SB,BL,OV",
	}
	for q, want := range tests {
		if got := q.String(); got != want {
			t.Errorf("Quality(0x%02X).String(): got %q, want %q", uint8(q), got, want)
		}
		if got := q.Good(); got != (q == 0) {
			t.Errorf("Quality(0x%02X).Good(): got %v", uint8(q), got)
		}
	}
}

// randomCP56 returns a time tag with every field inside its bits.
func randomCP56(r *rand.Rand) CP56Time2a {
	return CP56Time2a{
		Millisecond: uint16(r.UintN(1 << 16)),
		Minute:      uint8(r.UintN(64)),
		Hour:        uint8(r.UintN(32)),
		Day:         uint8(r.UintN(32)),
		Weekday:     uint8(r.UintN(8)),
		Month:       uint8(r.UintN(16)),
		Year:        uint8(r.UintN(128)),
		Invalid:     r.UintN(2) == 1,
		Substituted: r.UintN(2) == 1,
		Summer:      r.UintN(2) == 1,
	}
}

// randomElement fills the fields of o that type typ carries, with random
// values in their ranges.
func randomElement(r *rand.Rand, typ TypeID, o *Object) {
	l := &layouts[typ]
	q := func(mask Quality) Quality { return Quality(r.UintN(256)) & mask }
	bit := func() bool { return r.UintN(2) == 1 }
	switch l.kind {
	case elemSIQ:
		o.State, o.Quality = uint8(r.UintN(2)), q(qualityStatus)
	case elemDIQ:
		o.State, o.Quality = uint8(r.UintN(4)), q(qualityStatus)
	case elemVTI:
		o.Step, o.Transient, o.Quality = int8(r.IntN(128)-64), bit(), q(qualityFlags)
	case elemBSI:
		o.Bits, o.Quality = r.Uint32(), q(qualityFlags)
	case elemNVA, elemSVA:
		o.Int, o.Quality = int32(int16(r.Uint32())), q(qualityFlags)
	case elemFloat:
		o.Float, o.Quality = math.Float32frombits(r.Uint32()), q(qualityFlags)
	case elemBCR:
		o.Int, o.CounterSeq, o.Carry, o.Adjusted, o.Quality = int32(r.Uint32()), uint8(r.UintN(32)), bit(), bit(), q(QualityIV)
	case elemSCO:
		o.State, o.QU, o.Select = uint8(r.UintN(2)), uint8(r.UintN(32)), bit()
	case elemDCO, elemRCO:
		o.State, o.QU, o.Select = uint8(r.UintN(4)), uint8(r.UintN(32)), bit()
	case elemSetNVA, elemSetSVA:
		o.Int, o.QU, o.Select = int32(int16(r.Uint32())), uint8(r.UintN(128)), bit()
	case elemSetFlt:
		o.Float, o.QU, o.Select = math.Float32frombits(r.Uint32()), uint8(r.UintN(128)), bit()
	case elemCOI, elemQOI, elemQCC:
		o.Qualifier = uint8(r.UintN(256))
	case elemTSC:
		o.TSC = uint16(r.UintN(1 << 16))
	}
	if l.time {
		o.Time = randomCP56(r)
	}
}

// maxObjects is the most objects of type typ that fit in one ASDU.
func maxObjects(typ TypeID, sq bool) int {
	size := typ.ElementSize()
	n := (MaxASDU - asduHeaderLen) / (3 + size)
	if sq {
		if size == 0 {
			n = 127
		} else {
			n = (MaxASDU - asduHeaderLen - 3) / size
		}
	}
	return min(n, 127)
}

func randomASDU(r *rand.Rand, typ TypeID) (Header, []Object) {
	h := Header{
		Type:     typ,
		SQ:       r.UintN(2) == 1,
		Cause:    Cause(r.UintN(64)),
		Negative: r.UintN(2) == 1,
		Test:     r.UintN(2) == 1,
		OA:       uint8(r.UintN(256)),
		CA:       uint16(r.UintN(1 << 16)),
	}
	objs := make([]Object, r.IntN(maxObjects(typ, h.SQ)+1))
	base := uint32(r.UintN(1 << 24))
	if r.UintN(4) == 0 {
		base = 0xFFFFFF - uint32(r.UintN(8)) // let SQ=1 addresses wrap
	}
	for i := range objs {
		if h.SQ {
			objs[i].IOA = (base + uint32(i)) & 0xFFFFFF
		} else {
			objs[i].IOA = uint32(r.UintN(1 << 24))
		}
		randomElement(r, typ, &objs[i])
	}
	return h, objs
}

// TestRoundTrip encodes random ASDUs of every known type and decodes them again.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(104, 60870))
	const perType = 300
	var buf []byte
	var objs []Object
	for i := range 256 {
		typ := TypeID(i)
		if !typ.Known() {
			continue
		}
		for n := range perType {
			h, want := randomASDU(r, typ)
			var err error
			buf, err = AppendASDU(buf[:0], h, want)
			if err != nil {
				t.Fatalf("%v #%d: AppendASDU(%+v, %d objects): %v", typ, n, h, len(want), err)
			}
			a, err := ParseASDU(buf)
			if err != nil {
				t.Fatalf("%v #%d: ParseASDU(% X): %v", typ, n, buf, err)
			}
			if a.Header != h || a.Count != len(want) {
				t.Fatalf("%v #%d: got %+v count %d, want %+v count %d", typ, n, a.Header, a.Count, h, len(want))
			}
			objs, err = a.Objects(objs[:0])
			if err != nil {
				t.Fatalf("%v #%d: Objects: %v", typ, n, err)
			}
			for j := range want {
				if !objectEqual(objs[j], want[j]) {
					t.Fatalf("%v #%d object %d: got %+v, want %+v", typ, n, j, objs[j], want[j])
				}
			}
		}
	}
}

// floatASDU is an M_ME_NC_1 ASDU of n objects, SQ=0.
func floatASDU(tb testing.TB, n int) []byte {
	tb.Helper()
	objs := make([]Object, n)
	for i := range objs {
		objs[i] = Object{IOA: uint32(1000 + i), Float: float32(i) * 1.5, Quality: Quality(i) & qualityFlags}
	}
	b, err := AppendASDU(nil, Header{Type: M_ME_NC_1, Cause: CauseSpontaneous, CA: 1}, objs)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeAllocs(t *testing.T) {
	b := floatASDU(t, 30)
	dst := make([]Object, 0, 30)
	var decodeErr error
	allocs := testing.AllocsPerRun(100, func() {
		a, err := ParseASDU(b)
		if err != nil {
			decodeErr = err
			return
		}
		dst, err = a.Objects(dst[:0])
		if err != nil {
			decodeErr = err
		}
	})
	if decodeErr != nil {
		t.Fatal(decodeErr)
	}
	if len(dst) != 30 {
		t.Fatalf("decoded %d objects, want 30", len(dst))
	}
	if allocs != 0 {
		t.Errorf("decoding 30 M_ME_NC_1 objects into a reused slice: got %v allocations, want 0", allocs)
	}

	// Encoding into a buffer of enough capacity, and parsing the APCI, allocate nothing either.
	hdr := Header{Type: M_ME_NC_1, Cause: CauseSpontaneous, CA: 1}
	out := make([]byte, 0, MaxAPDU)
	frame := append(hx("68 FA 00 00 00 00"), b...)
	allocs = testing.AllocsPerRun(100, func() {
		out, _ = AppendASDU(out[:0], hdr, dst)
		_, _ = ParseAPDU(frame)
	})
	if allocs != 0 {
		t.Errorf("encoding 30 objects and parsing an APDU: got %v allocations, want 0", allocs)
	}
}
