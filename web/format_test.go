package web

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"hmi/points"
)

func TestValueText(t *testing.T) {
	cases := []struct {
		def  points.Def
		v    float64
		q    points.Quality
		want string
	}{
		{points.Def{Kind: points.Single}, 1, 0, "on"},
		{points.Def{Kind: points.Single}, 0, 0, "off"},
		{points.Def{Kind: points.Double}, 1, 0, "off"},
		{points.Def{Kind: points.Double}, 2, 0, "on"},
		{points.Def{Kind: points.Single, Labels: []string{"normal", "tripped"}}, 1, 0, "tripped"},
		{points.Def{Kind: points.Double}, 0, 0, "intermediate"},
		{points.Def{Kind: points.Double, Labels: []string{"OPEN", "CLOSED"}}, 2, 0, "CLOSED"},
		{points.Def{Kind: points.Double, Labels: []string{"OPEN", "CLOSED"}}, 3, 0, "faulty"},
		{points.Def{Kind: points.Double, Labels: []string{"mid", "off", "on", "bad"}}, 0, 0, "mid"},
		{points.Def{Kind: points.Float, Unit: "kV"}, 230.123456, 0, "230.1 kV"},
		{points.Def{Kind: points.Float, Unit: "Hz"}, 49.98, 0, "49.98 Hz"},
		{points.Def{Kind: points.Float}, 0.0012346, 0, "0.001"},
		{points.Def{Kind: points.Float}, 1e20, 0, "1e+20"},
		{points.Def{Kind: points.Float}, -0.0000001, 0, "-1e-7"},
		{points.Def{Kind: points.Scaled, Unit: "A"}, -1200, 0, "-1200 A"},
		{points.Def{Kind: points.Counter}, 123456789, 0, "123456789"},
		{points.Def{Kind: points.Step}, -3, 0, "-3"},
		{points.Def{Kind: points.Bitstring, Labels: []string{"a", "b", "c"}}, 5, 0, "0x00000005 (a, c)"},
		{points.Def{Kind: points.Float}, 12, points.Initial, "—"},
		{points.Def{Kind: points.Float}, math.NaN(), 0, "NaN"},
	}
	for _, c := range cases {
		if got := valueText(&c.def, points.Value{Value: c.v, Quality: c.q}); got != c.want {
			t.Errorf("%v %v: %q, want %q", c.def.Kind, c.v, got, c.want)
		}
	}
}

// numberCase is a case of web/testdata/numbers.json, which static/browser_test.go holds live.js's formatNumber to
// as well.
type numberCase struct {
	Value json.RawMessage `json:"value"`
	Kind  string          `json:"kind"`
	Text  string          `json:"text"`
}

func loadNumberCases(t *testing.T) []numberCase {
	t.Helper()
	b, err := os.ReadFile("testdata/numbers.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []numberCase }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 20 {
		t.Fatalf("%d cases", len(f.Cases))
	}
	return f.Cases
}

// TestFormatNumber holds formatNumber to the cases that live.js's formatNumber follows too.
func TestFormatNumber(t *testing.T) {
	for _, c := range loadNumberCases(t) {
		var x float64
		var special string
		if json.Unmarshal(c.Value, &special) == nil {
			var err error
			if x, err = strconv.ParseFloat(special, 64); err != nil {
				t.Fatalf("%s: %v", c.Value, err)
			}
		} else if err := json.Unmarshal(c.Value, &x); err != nil {
			t.Fatalf("%s: %v", c.Value, err)
		}
		k, err := points.ParseKind(c.Kind)
		if err != nil {
			t.Fatal(err)
		}
		if got := formatNumber(x, k); got != c.Text {
			t.Errorf("formatNumber(%s, %s) = %q, want %q", c.Value, c.Kind, got, c.Text)
		}
	}
}

// TestFormatNumberRoundsHalvesUp checks the exact halves, where strconv alone would round to even, against
// math/big on random values with few decimals.
func TestFormatNumberRoundsHalvesUp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := r.Int64N(2_000_000_000) - 1_000_000_000
		x := float64(n) / float64(int64(1)<<r.IntN(12)) // exact binary fractions: many exact halves
		got := formatNumber(x, points.Float)
		a := math.Abs(x)
		if a < 1e-3 || a >= 1e9 {
			continue
		}
		d := 3
		switch {
		case a >= 1000:
			d = 0
		case a >= 100:
			d = 1
		case a >= 10:
			d = 2
		}
		want := trimZeros(new(big.Rat).SetFloat64(a).FloatString(d))
		if x < 0 && want != "0" {
			want = "-" + want
		}
		if got != want {
			t.Fatalf("formatNumber(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestQualityWords(t *testing.T) {
	if got := qualityText(0); got != "good" {
		t.Error(got)
	}
	if got := qualityText(points.IV | points.CommFail); got != "invalid, comm fail" {
		t.Error(got)
	}
	d := points.Def{Kind: points.Double}
	if got := pointClasses(&d, points.Value{Value: 2, Quality: points.NT | points.Stale}); got != "q-nt q-stale q-bad state-2" {
		t.Error(got)
	}
}

// TestAppendString checks the hand-written JSON string encoder against encoding/json on awkward strings.
func TestAppendString(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []rune("ab\"\\<>&\n\r\t\x00\x1f\u2028\u2029é€😀")
	inputs := []string{"", "plain", `<script>alert("x")</script>`, "bad utf8 \xff\xfe", "\u2028"}
	for range 2000 {
		var b strings.Builder
		for range r.IntN(20) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	for _, s := range inputs {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	}
}

func TestAppendLivePoint(t *testing.T) {
	d := points.Def{ID: `p"<1>`, Kind: points.Double, Labels: []string{"OPEN", "CLOSED"}}
	at := time.Date(2025, 3, 1, 12, 0, 0, 5e6, time.UTC)
	b := appendLivePoint(nil, &d, points.Value{Value: 2, Quality: points.SB, SourceTime: at, RecvTime: at})
	var got struct {
		ID         string
		Kind       string
		Value      *float64
		Text       string
		Quality    points.Quality
		SourceTime time.Time  `json:"source_time"`
		RecvTime   *time.Time `json:"recv_time"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.ID != d.ID || got.Kind != "double" || *got.Value != 2 || got.Text != "CLOSED" || got.Quality != points.SB || !got.SourceTime.Equal(at) {
		t.Fatalf("%s -> %+v", b, got)
	}
	b = appendLivePoint(nil, &d, points.Value{Quality: points.Initial})
	if !strings.Contains(string(b), `"value":null`) || !strings.Contains(string(b), `"source_time":null`) {
		t.Fatalf("initial point: %s", b)
	}
}

func TestTrend(t *testing.T) {
	from := time.Unix(0, 0)
	to := from.Add(time.Hour)
	b := []Bucket{
		{Start: from, End: from.Add(30 * time.Minute), Min: -7, Max: 20, Avg: 3, Count: 4},
		{Start: from.Add(30 * time.Minute), End: to, Min: 90, Max: 126, Avg: 110, Count: 4},
	}
	tr := buildTrend("p", b, from, to, "A")
	if tr.Min != -20 || tr.Max != 140 {
		t.Errorf("range %v..%v, want -20..140", tr.Min, tr.Max)
	}
	var labels []string
	for _, l := range tr.Labels {
		labels = append(labels, l.Text)
	}
	if got := strings.Join(labels[:3], ","); got != "-20,0,20" || labels[8] != "140 A" {
		t.Errorf("labels %v", labels)
	}
	if strings.Count(tr.Line, ",") != 2 || strings.Count(tr.Band, ",") != 4 {
		t.Errorf("line %q band %q", tr.Line, tr.Band)
	}
	if e := buildTrend("p", nil, from, to, ""); !e.Empty || e.Line != "" {
		t.Errorf("empty trend %+v", e)
	}
}
