package points

import (
	"errors"
	"fmt"
)

// Kind is the type of a point's value, after the IEC 60870-5-101/104 monitor information objects. The zero Kind is
// not a valid kind: a Def that leaves it unset is rejected by New.
type Kind uint8

// The point kinds. Value.Value holds, per kind: Single 0 or 1; Double 0 (intermediate), 1 (off), 2 (on) or 3
// (indeterminate); Step the position -64..63; Bitstring the 32 bits as an unsigned integer; Normalized -1..1;
// Scaled -32768..32767; Float the value; Counter the binary counter reading.
const (
	Single     Kind = iota + 1 // single-point information (M_SP_*)
	Double                     // double-point information (M_DP_*)
	Step                       // step position (M_ST_*)
	Bitstring                  // bitstring of 32 bits (M_BO_*)
	Normalized                 // measured value, normalized (M_ME_NA, M_ME_TD, M_ME_ND)
	Scaled                     // measured value, scaled (M_ME_NB, M_ME_TE)
	Float                      // measured value, short floating point (M_ME_NC, M_ME_TF)
	Counter                    // integrated totals (M_IT_*)
)

// kindNames are the names of the valid kinds, indexed by Kind.
var kindNames = [...]string{
	Single:     "single",
	Double:     "double",
	Step:       "step",
	Bitstring:  "bitstring",
	Normalized: "normalized",
	Scaled:     "scaled",
	Float:      "float",
	Counter:    "counter",
}

// ErrKind is wrapped by the errors of ParseKind and by the DefError of a Def whose Kind is not valid.
var ErrKind = errors.New("invalid kind")

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool { return k >= Single && k <= Counter }

// String returns the kind's configuration name ("single", "double", ...), or "kind(N)" for an invalid kind.
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind returns the kind named s, as String spells it.
func ParseKind(s string) (Kind, error) {
	for k := Single; k <= Counter; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("points: %w %q (want one of single, double, step, bitstring, normalized, scaled, float, counter)",
		ErrKind, s)
}

// MarshalText implements encoding.TextMarshaler with the kind's name; an invalid kind is an error.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("points: %w %d", ErrKind, uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseKind.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
