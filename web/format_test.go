package web

import (
	"encoding/json"
	"math"
	"math/rand/v2"
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
		{points.Def{Kind: points.Single}, 1, 0, "ON"},
		{points.Def{Kind: points.Single, Labels: []string{"normal", "tripped"}}, 1, 0, "tripped"},
		{points.Def{Kind: points.Double}, 0, 0, "intermediate"},
		{points.Def{Kind: points.Double, Labels: []string{"OPEN", "CLOSED"}}, 2, 0, "CLOSED"},
		{points.Def{Kind: points.Double, Labels: []string{"OPEN", "CLOSED"}}, 3, 0, "faulty"},
		{points.Def{Kind: points.Double, Labels: []string{"mid", "off", "on", "bad"}}, 0, 0, "mid"},
		{points.Def{Kind: points.Float, Unit: "kV"}, 230.123456, 0, "230.123 kV"},
		{points.Def{Kind: points.Float}, 0.0012346, 0, "0.001235"},
		{points.Def{Kind: points.Float}, 1e20, 0, "1e+20"},
		{points.Def{Kind: points.Float}, -0.0000001, 0, "-1e-07"},
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
