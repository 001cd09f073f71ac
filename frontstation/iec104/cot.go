package iec104

import "strconv"

// Cause is the cause of transmission (bits 0..5 of ASDU octet 2).
type Cause uint8

// Causes of transmission (IEC104.md section 7).
const (
	CausePeriodic          Cause = 1
	CauseBackground        Cause = 2
	CauseSpontaneous       Cause = 3
	CauseInitialized       Cause = 4
	CauseRequest           Cause = 5
	CauseActivation        Cause = 6
	CauseActivationCon     Cause = 7
	CauseDeactivation      Cause = 8
	CauseDeactivationCon   Cause = 9
	CauseActivationTerm    Cause = 10
	CauseReturnRemote      Cause = 11
	CauseReturnLocal       Cause = 12
	CauseFileTransfer      Cause = 13
	CauseInterrogated      Cause = 20 // interrogated by station interrogation
	CauseGroup1            Cause = 21 // interrogated by group 1; groups 1..16 are 21..36
	CauseCounterGeneral    Cause = 37 // requested by general counter request
	CauseCounterGroup1     Cause = 38 // counter groups 1..4 are 38..41
	CauseUnknownType       Cause = 44
	CauseUnknownCause      Cause = 45
	CauseUnknownCA         Cause = 46
	CauseUnknownIOA        Cause = 47
	causeMask              uint8 = 0x3F
	cotNegative            uint8 = 0x40
	cotTest                uint8 = 0x80
	maxCause               Cause = 63
	interrogationGroupLast Cause = 36
)

var causeNames = [64]string{
	1: "per/cyc", 2: "back", 3: "spont", 4: "init", 5: "req", 6: "act", 7: "actcon",
	8: "deact", 9: "deactcon", 10: "actterm", 11: "retrem", 12: "retloc", 13: "file",
	20: "inrogen", 37: "reqcogen",
	44: "uknown_type", 45: "uknown_cause", 46: "uknown_asdu_address", 47: "uknown_object_address",
}

// String returns a short name of the cause, as Wireshark prints it.
func (c Cause) String() string {
	if c < 64 && causeNames[c] != "" {
		return causeNames[c]
	}
	switch {
	case c >= 21 && c <= 36:
		return "inro" + strconv.Itoa(int(c-20))
	case c >= 38 && c <= 41:
		return "reqco" + strconv.Itoa(int(c-37))
	}
	return "cot" + strconv.Itoa(int(c))
}

// IsError reports whether the cause is one of the error causes 44..47, which
// mean a negative answer whether or not the P/N bit is set.
func (c Cause) IsError() bool { return c >= CauseUnknownType && c <= CauseUnknownIOA }

// IsInterrogation reports whether the cause answers a station or group interrogation (20..36).
func (c Cause) IsInterrogation() bool { return c >= CauseInterrogated && c <= interrogationGroupLast }
