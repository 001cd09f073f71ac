package points

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestQuality(t *testing.T) {
	tests := []struct {
		q     Quality
		good  bool
		str   string
		flags []string
		json  string
	}{
		{0, true, "good", nil,
			`{"iv":false,"nt":false,"sb":false,"bl":false,"ov":false,"commfail":false,"stale":false,"initial":false}`},
		{IV | CommFail, false, "IV,commfail", []string{"iv", "commfail"},
			`{"iv":true,"nt":false,"sb":false,"bl":false,"ov":false,"commfail":true,"stale":false,"initial":false}`},
		{Initial, false, "initial", []string{"initial"},
			`{"iv":false,"nt":false,"sb":false,"bl":false,"ov":false,"commfail":false,"stale":false,"initial":true}`},
		{OV | BL | SB | NT | IV | Stale, false, "IV,NT,SB,BL,OV,stale", []string{"iv", "nt", "sb", "bl", "ov", "stale"},
			`{"iv":true,"nt":true,"sb":true,"bl":true,"ov":true,"commfail":false,"stale":true,"initial":false}`},
		{NT | 0x2, false, "NT,0x2", []string{"nt"}, ""},
	}
	for _, tt := range tests {
		if got := tt.q.Good(); got != tt.good {
			t.Errorf("%#x.Good() = %v, want %v", uint16(tt.q), got, tt.good)
		}
		if got := tt.q.String(); got != tt.str {
			t.Errorf("%#x.String() = %q, want %q", uint16(tt.q), got, tt.str)
		}
		if got := tt.q.Flags(); !slices.Equal(got, tt.flags) {
			t.Errorf("%#x.Flags() = %q, want %q", uint16(tt.q), got, tt.flags)
		}
		if tt.json == "" {
			continue
		}
		b, err := json.Marshal(tt.q)
		if err != nil || string(b) != tt.json {
			t.Errorf("json.Marshal(%v) = %s, %v, want %s", tt.q, b, err, tt.json)
		}
		var back Quality
		if err := json.Unmarshal(b, &back); err != nil || back != tt.q {
			t.Errorf("json.Unmarshal(%s) = %v, %v, want %v", b, back, err, tt.q)
		}
	}
}

func TestQualityHas(t *testing.T) {
	q := IV | Stale
	tests := []struct {
		f    Quality
		want bool
	}{
		{IV, true}, {Stale, true}, {IV | Stale, true}, {IV | NT, false}, {CommFail, false}, {0, true},
	}
	for _, tt := range tests {
		if got := q.Has(tt.f); got != tt.want {
			t.Errorf("(%v).Has(%v) = %v, want %v", q, tt.f, got, tt.want)
		}
	}
}

func TestQualityUnmarshalError(t *testing.T) {
	var q Quality
	if err := json.Unmarshal([]byte(`{"iv":1}`), &q); err == nil {
		t.Errorf("json.Unmarshal of a number flag: no error, want one")
	}
}
