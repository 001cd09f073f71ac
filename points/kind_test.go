package points

import (
	"errors"
	"testing"
)

func TestKindNames(t *testing.T) {
	tests := []struct {
		k    Kind
		name string
	}{
		{Single, "single"}, {Double, "double"}, {Step, "step"}, {Bitstring, "bitstring"},
		{Normalized, "normalized"}, {Scaled, "scaled"}, {Float, "float"}, {Counter, "counter"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.name {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(tt.k), got, tt.name)
		}
		got, err := ParseKind(tt.name)
		if err != nil || got != tt.k {
			t.Errorf("ParseKind(%q) = %v, %v, want %v, nil", tt.name, got, err, tt.k)
		}
		var u Kind
		if err := u.UnmarshalText([]byte(tt.name)); err != nil || u != tt.k {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v, nil", tt.name, u, err, tt.k)
		}
		b, err := tt.k.MarshalText()
		if err != nil || string(b) != tt.name {
			t.Errorf("%v.MarshalText() = %q, %v, want %q, nil", tt.k, b, err, tt.name)
		}
	}
}

func TestKindInvalid(t *testing.T) {
	for _, s := range []string{"", "Single", "analog", "kind(0)"} {
		k, err := ParseKind(s)
		if !errors.Is(err, ErrKind) {
			t.Errorf("ParseKind(%q) = %v, %v, want an error wrapping ErrKind", s, k, err)
		}
	}
	for _, k := range []Kind{0, Counter + 1, 255} {
		if k.Valid() {
			t.Errorf("Kind(%d).Valid() = true, want false", uint8(k))
		}
		if _, err := k.MarshalText(); !errors.Is(err, ErrKind) {
			t.Errorf("Kind(%d).MarshalText() error = %v, want ErrKind", uint8(k), err)
		}
	}
	if got, want := Kind(0).String(), "kind(0)"; got != want {
		t.Errorf("Kind(0).String() = %q, want %q", got, want)
	}
}
