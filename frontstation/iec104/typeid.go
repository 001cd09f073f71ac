package iec104

import "strconv"

// TypeID identifies the type of the information objects of an ASDU (octet 0).
// The IEC mnemonics appear only here, as constant names.
type TypeID uint8

// Type IDs of IEC 60870-5-104 that this stack encodes and decodes
// (IEC104.md section 6), plus C_RD_NA_1 (read, no element).
const (
	M_SP_NA_1 TypeID = 1   // single-point information
	M_DP_NA_1 TypeID = 3   // double-point information
	M_ST_NA_1 TypeID = 5   // step position information
	M_BO_NA_1 TypeID = 7   // bitstring of 32 bit
	M_ME_NA_1 TypeID = 9   // measured value, normalized
	M_ME_NB_1 TypeID = 11  // measured value, scaled
	M_ME_NC_1 TypeID = 13  // measured value, short floating point
	M_IT_NA_1 TypeID = 15  // integrated totals
	M_SP_TB_1 TypeID = 30  // single-point with CP56Time2a
	M_DP_TB_1 TypeID = 31  // double-point with CP56Time2a
	M_ST_TB_1 TypeID = 32  // step position with CP56Time2a
	M_BO_TB_1 TypeID = 33  // bitstring of 32 bit with CP56Time2a
	M_ME_TD_1 TypeID = 34  // normalized with CP56Time2a
	M_ME_TE_1 TypeID = 35  // scaled with CP56Time2a
	M_ME_TF_1 TypeID = 36  // short float with CP56Time2a
	M_IT_TB_1 TypeID = 37  // integrated totals with CP56Time2a
	C_SC_NA_1 TypeID = 45  // single command
	C_DC_NA_1 TypeID = 46  // double command
	C_RC_NA_1 TypeID = 47  // regulating step command
	C_SE_NA_1 TypeID = 48  // set-point, normalized
	C_SE_NB_1 TypeID = 49  // set-point, scaled
	C_SE_NC_1 TypeID = 50  // set-point, short float
	C_SC_TA_1 TypeID = 58  // single command with CP56Time2a
	C_DC_TA_1 TypeID = 59  // double command with CP56Time2a
	C_RC_TA_1 TypeID = 60  // regulating step command with CP56Time2a
	C_SE_TA_1 TypeID = 61  // set-point normalized with CP56Time2a
	C_SE_TB_1 TypeID = 62  // set-point scaled with CP56Time2a
	C_SE_TC_1 TypeID = 63  // set-point short float with CP56Time2a
	M_EI_NA_1 TypeID = 70  // end of initialization
	C_IC_NA_1 TypeID = 100 // interrogation command
	C_CI_NA_1 TypeID = 101 // counter interrogation command
	C_RD_NA_1 TypeID = 102 // read command
	C_CS_NA_1 TypeID = 103 // clock synchronization command
	C_TS_TA_1 TypeID = 107 // test command with CP56Time2a
)

// layout describes how one information element of a type is encoded.
type layout struct {
	name string
	size int  // element size in octets, without the IOA
	kind elem // which element codec applies
	time bool // a CP56Time2a follows the element
}

// elem is the shape of an information element.
type elem uint8

const (
	elemSIQ    elem = iota + 1 // single-point with quality
	elemDIQ                    // double-point with quality
	elemVTI                    // step position + QDS
	elemBSI                    // bitstring + QDS
	elemNVA                    // normalized + QDS
	elemSVA                    // scaled + QDS
	elemFloat                  // short float + QDS
	elemBCR                    // binary counter reading
	elemSCO                    // single command
	elemDCO                    // double command
	elemRCO                    // regulating step command
	elemSetNVA                 // normalized set-point + QOS
	elemSetSVA                 // scaled set-point + QOS
	elemSetFlt                 // float set-point + QOS
	elemCOI                    // cause of initialization
	elemQOI                    // qualifier of interrogation
	elemQCC                    // qualifier of counter interrogation
	elemNone                   // no element (read command)
	elemTime                   // only a CP56Time2a (clock sync)
	elemTSC                    // test sequence counter + CP56Time2a
)

// layouts is the per-type table of element encodings, indexed by TypeID.
var layouts = [256]layout{
	M_SP_NA_1: {"M_SP_NA_1", 1, elemSIQ, false},
	M_DP_NA_1: {"M_DP_NA_1", 1, elemDIQ, false},
	M_ST_NA_1: {"M_ST_NA_1", 2, elemVTI, false},
	M_BO_NA_1: {"M_BO_NA_1", 5, elemBSI, false},
	M_ME_NA_1: {"M_ME_NA_1", 3, elemNVA, false},
	M_ME_NB_1: {"M_ME_NB_1", 3, elemSVA, false},
	M_ME_NC_1: {"M_ME_NC_1", 5, elemFloat, false},
	M_IT_NA_1: {"M_IT_NA_1", 5, elemBCR, false},
	M_SP_TB_1: {"M_SP_TB_1", 8, elemSIQ, true},
	M_DP_TB_1: {"M_DP_TB_1", 8, elemDIQ, true},
	M_ST_TB_1: {"M_ST_TB_1", 9, elemVTI, true},
	M_BO_TB_1: {"M_BO_TB_1", 12, elemBSI, true},
	M_ME_TD_1: {"M_ME_TD_1", 10, elemNVA, true},
	M_ME_TE_1: {"M_ME_TE_1", 10, elemSVA, true},
	M_ME_TF_1: {"M_ME_TF_1", 12, elemFloat, true},
	M_IT_TB_1: {"M_IT_TB_1", 12, elemBCR, true},
	C_SC_NA_1: {"C_SC_NA_1", 1, elemSCO, false},
	C_DC_NA_1: {"C_DC_NA_1", 1, elemDCO, false},
	C_RC_NA_1: {"C_RC_NA_1", 1, elemRCO, false},
	C_SE_NA_1: {"C_SE_NA_1", 3, elemSetNVA, false},
	C_SE_NB_1: {"C_SE_NB_1", 3, elemSetSVA, false},
	C_SE_NC_1: {"C_SE_NC_1", 5, elemSetFlt, false},
	C_SC_TA_1: {"C_SC_TA_1", 8, elemSCO, true},
	C_DC_TA_1: {"C_DC_TA_1", 8, elemDCO, true},
	C_RC_TA_1: {"C_RC_TA_1", 8, elemRCO, true},
	C_SE_TA_1: {"C_SE_TA_1", 10, elemSetNVA, true},
	C_SE_TB_1: {"C_SE_TB_1", 10, elemSetSVA, true},
	C_SE_TC_1: {"C_SE_TC_1", 12, elemSetFlt, true},
	M_EI_NA_1: {"M_EI_NA_1", 1, elemCOI, false},
	C_IC_NA_1: {"C_IC_NA_1", 1, elemQOI, false},
	C_CI_NA_1: {"C_CI_NA_1", 1, elemQCC, false},
	C_RD_NA_1: {"C_RD_NA_1", 0, elemNone, false},
	C_CS_NA_1: {"C_CS_NA_1", 7, elemTime, true},
	C_TS_TA_1: {"C_TS_TA_1", 9, elemTSC, true},
}

// Known reports whether this stack can decode the type's information objects.
func (t TypeID) Known() bool { return layouts[t].kind != 0 }

// ElementSize is the size in octets of one information element of the type,
// without the IOA, or -1 for an unknown type.
func (t TypeID) ElementSize() int {
	if !t.Known() {
		return -1
	}
	return layouts[t].size
}

// HasTime reports whether the type's elements carry a CP56Time2a.
func (t TypeID) HasTime() bool { return layouts[t].time }

// IsCommand reports whether the type is a process command (45..64).
func (t TypeID) IsCommand() bool { return t >= 45 && t <= 64 }

// IsSystem reports whether the type is a system command in control direction (100..107).
func (t TypeID) IsSystem() bool { return t >= 100 && t <= 107 }

// IsMonitor reports whether the type carries process information in monitor direction (1..44).
func (t TypeID) IsMonitor() bool { return t >= 1 && t <= 44 }

// SingleObject reports whether an ASDU of this type must hold exactly one
// information object (commands and system types).
func (t TypeID) SingleObject() bool {
	return (t >= 45 && t <= 64) || t == M_EI_NA_1 || (t >= 100 && t <= 107)
}

// String returns the IEC mnemonic, or "TYPE_n" for a type this stack does not know.
func (t TypeID) String() string {
	if n := layouts[t].name; n != "" {
		return n
	}
	return "TYPE_" + strconv.Itoa(int(t))
}
