package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"hmi/alarms"
	"hmi/points"
)

// fuzzBodyLimit is the server's default body limit (server.Config.MaxBody), which its middleware applies with
// http.MaxBytesReader before the handlers decode.
const fuzzBodyLimit = 64 << 10

// FuzzDecodeJSON feeds arbitrary bodies, with the Content-Types a client may send, to the shared decoder of the
// API's JSON bodies (decodeJSON and decodeOptionalJSON) for every request type, and the decoded values to the
// parsers behind them (parseShelve, parseCommandValue and checkValue). Nothing panics; a refusal is an *Error with a
// 4xx status and a short message in words; an accepted body is one JSON value that encodes and decodes to the
// same; a shelve duration accepted is in range; a command value accepted is one the control can send.
func FuzzDecodeJSON(f *testing.F) {
	// What the pages send (static/js/api.js posts JSON.stringify(body), {} when there is none).
	for _, s := range []string{
		`{"value":2}`, `{"value":12.5}`, `{"value":true}`, `{"value":"CLOSED"}`, `{"value":"Higher"}`,
		`{"on":true,"reason":"work on the feeder"}`, `{"on":false,"reason":""}`, `{"comment":"seen"}`,
		`{"ids":["limit:n.i:H","discrete:n.brk"],"comment":"seen"}`, `{"duration":"1h","comment":"maintenance"}`, `{}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	for _, s := range []string{
		``, ` `, `null`, `[]`, `"x"`, `{`, `{"a":1}{"b":2}`, `{"value":1} x`,
		// A stray '}' or ']' after the value was accepted (dec.More does not see them): found by this target
		// (testdata/fuzz/FuzzDecodeJSON holds its input).
		`{"value":1}}`, `{"value":1}]`,
		`{"value":1e400}`, `{"value":[1]}`, `{"ids":"x"}`, `{"all":true,"priority":1e10}`, `{"duration":1e300}`,
		`{"duration":-1e-300}`, `{"duration":"-1h"}`, `{"duration":"2562047h47m16.854775807s"}`, `{"duration":{}}`,
		`{"comment":"\u0000\ud800"}`, "{\"comment\":\"\xff\"}", `{"Value":1,"VALUE":2}`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Add([]byte(`{"value":2}`), uint8(1))
	f.Add([]byte(`value=2`), uint8(4))

	contentTypes := []string{"application/json", "", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded"}
	def := func(id string) *points.Def {
		for i := range testDefs {
			if testDefs[i].ID == id {
				return &testDefs[i]
			}
		}
		f.Fatalf("no point %s", id)
		return nil
	}
	lo, hi := -10.0, 10.0
	targets := []commandTarget{
		{def: def("n.brk"), ctl: &Control{Point: "n.brk", Type: "double"}},
		{def: def("n.brk"), ctl: &Control{Point: "n.brk", Type: "single"}},
		{def: def("s.tap"), ctl: &Control{Point: "s.tap", Type: "step"}},
		{def: def("n.i"), ctl: &Control{Point: "n.i", Type: "setpoint_float", Min: &lo, Max: &hi}},
		{def: def("n.i"), ctl: &Control{Point: "n.i", Type: "setpoint_normalized"}},
		{def: def("n.i"), ctl: &Control{Point: "n.i", Type: "setpoint_scaled"}},
	}

	// The limit, once (as seeds, inputs this large make the engine spend its time minimising them): a value
	// within it but padded past it with white space is too large, as a value past it is.
	for _, tc := range []struct {
		body []byte
		st   int
	}{
		{append([]byte(`{"value":1}`), bytes.Repeat([]byte(" "), fuzzBodyLimit-11)...), 0},
		{append([]byte(`{"value":1}`), bytes.Repeat([]byte(" "), fuzzBodyLimit)...), http.StatusRequestEntityTooLarge},
		{[]byte(`{"comment":"` + strings.Repeat("x", fuzzBodyLimit) + `"}`), http.StatusRequestEntityTooLarge},
	} {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/x", bytes.NewReader(tc.body))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, fuzzBodyLimit)
		st := 0
		if err := decodeJSON(r, new(ackRequest)); err != nil {
			st = Status(err)
		}
		if st != tc.st {
			f.Fatalf("%.20q... (%d bytes): status %d, want %d", tc.body, len(tc.body), st, tc.st)
		}
	}

	f.Fuzz(func(t *testing.T, body []byte, ct uint8) {
		contentType := contentTypes[int(ct)%len(contentTypes)]
		for _, newReq := range []func() any{
			func() any { return new(ackRequest) }, func() any { return new(shelveRequest) },
			func() any { return new(selectRequest) }, func() any { return new(tagRequest) },
		} {
			for _, optional := range []bool{false, true} {
				v := newReq()
				r := httptest.NewRequest(http.MethodPost, "/api/v1/x", bytes.NewReader(body))
				if contentType != "" {
					r.Header.Set("Content-Type", contentType)
				}
				r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, fuzzBodyLimit)
				var err error
				if optional {
					err = decodeOptionalJSON(r, v)
				} else {
					err = decodeJSON(r, v)
				}
				if err != nil {
					checkRefusal(t, err, len(body))
					continue
				}
				empty := len(bytes.TrimSpace(body)) == 0
				switch {
				case contentType != "" && !strings.HasPrefix(contentType, "application/json") && !(optional && len(body) == 0):
					t.Fatalf("accepted with Content-Type %q", contentType)
				case len(body) > fuzzBodyLimit:
					t.Fatalf("accepted %d bytes", len(body))
				case !json.Valid(body) && !(optional && empty):
					t.Fatalf("%T: accepted a body that is not one JSON value: %q", v, body)
				}
				// Encoded and decoded again, it is the same (RawMessage fields are compacted by the encoding, so
				// the encodings are compared).
				enc, err := json.Marshal(v)
				if err != nil {
					t.Fatalf("%T %+v: %v", v, v, err)
				}
				v2 := newReq()
				if err := json.Unmarshal(enc, v2); err != nil {
					t.Fatalf("%T: %s: %v", v, enc, err)
				}
				if enc2, _ := json.Marshal(v2); !bytes.Equal(enc, enc2) {
					t.Fatalf("%T: encoded %s, again %s", v, enc, enc2)
				}
				switch req := v.(type) {
				case *shelveRequest:
					d, err := parseShelve(req.Duration)
					if err != nil {
						checkRefusal(t, err, 0)
					} else if d <= 0 || d > alarms.MaxShelve {
						t.Fatalf("shelve %s: accepted %v", req.Duration, d)
					}
				case *selectRequest:
					for _, tg := range targets {
						x, err := parseCommandValue(req.Value, tg)
						if err == nil {
							err = checkValue(tg.ctl, x)
						}
						if err != nil {
							checkRefusal(t, err, 0)
							continue
						}
						if !sendable(tg.ctl, x) {
							t.Fatalf("%s %s: accepted %v", tg.ctl.Type, req.Value, x)
						}
					}
				}
			}
		}
	})
}

// sendable reports whether a control can send x: a finite number, one of the states of a discrete command, within
// a set-point's range when it has one.
func sendable(c *Control, x float64) bool {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return false
	case c.Type == "single":
		return x == 0 || x == 1
	case c.Type == "double" || c.Type == "step":
		return x == 1 || x == 2
	}
	return (c.Min == nil || x >= *c.Min) && (c.Max == nil || x <= *c.Max)
}

// checkRefusal checks that err is a refusal of the client's request: an *Error with a 4xx status (413 only for a
// body over the limit) and a short message in words.
func checkRefusal(t *testing.T, err error, bodyLen int) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	st := Status(err)
	if st < 400 || st >= 500 {
		t.Fatalf("%v: status %d", err, st)
	}
	if st == http.StatusRequestEntityTooLarge && bodyLen <= fuzzBodyLimit {
		t.Fatalf("%v: 413 for %d bytes", err, bodyLen)
	}
	msg := Message(err)
	if msg == "" || len(msg) > 300 || !utf8.ValidString(msg) {
		t.Fatalf("message %q (%d bytes)", msg, len(msg))
	}
}
