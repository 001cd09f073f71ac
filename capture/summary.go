package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"hmi/frontstation/iec104"
)

// Summary collects per-connection statistics, control operations and
// anomalies from records. Add records in capture order.
type Summary struct {
	conns []*ConnSummary
	by    map[*Conn]*ConnSummary
}

// NewSummary returns an empty summary.
func NewSummary() *Summary { return &Summary{by: make(map[*Conn]*ConnSummary)} }

// Connections returns the summaries in order of first appearance.
func (s *Summary) Connections() []*ConnSummary { return s.conns }

// ConnSummary is what one TCP connection carried.
type ConnSummary struct {
	Conn *Conn
	// Formats counts the frames by APCI format ("I", "S", "U"), as far as the
	// control field could be read, including frames that did not decode.
	Formats map[string]int
	// Errors counts the records with an error (frames that did not decode,
	// skipped octets, gaps).
	Errors int
	// Types and Causes count the I-frames by type ID and cause of transmission.
	Types  map[iec104.TypeID]int
	Causes map[iec104.Cause]int
	// Operations are the control operations: process commands (types 45..64)
	// and the system commands C_IC, C_CI, C_CS and C_TS.
	Operations []*Operation
	Anomalies  []Anomaly

	open     map[opKey]*Operation // operations that can still get a response
	selected map[opKey]bool       // a select was seen for the key
	nextNS   [2]int               // expected N(S) per direction (0 client, 1 server); -1 unknown
}

// Step names of a control operation. A system command, or a process command
// executed directly, has no select steps.
const (
	StepSelect      = "select"       // act with S/E = 1
	StepSelectCon   = "select_con"   // its actcon
	StepExecute     = "execute"      // act with S/E = 0, or the act of a system command
	StepExecuteCon  = "execute_con"  // its actcon
	StepExecuteTerm = "execute_term" // actterm
	StepCancel      = "cancel"       // deact
	StepCancelCon   = "cancel_con"   // deactcon
)

// Outcomes of a control operation.
const (
	OutcomeSelecting  = "selecting"  // select sent, no answer
	OutcomeSelected   = "selected"   // select confirmed, no execute
	OutcomeExecuting  = "executing"  // execute sent, no answer
	OutcomeConfirmed  = "confirmed"  // execute confirmed, no termination (yet)
	OutcomeTerminated = "terminated" // actterm received
	OutcomeCancelling = "cancelling" // deact sent, no answer
	OutcomeCancelled  = "cancelled"  // deactcon received
	OutcomeFailed     = "failed"     // a negative confirmation
	OutcomeSuperseded = "superseded" // a new request for the same object while this one waited for an answer
)

// Operation is one control operation with all its steps, matched by
// (type ID, CA, IOA) and cause of transmission.
type Operation struct {
	Type    iec104.TypeID
	CA      uint16
	IOA     uint32
	Steps   []Step
	Outcome string
	// Latencies, zero when the pair of steps was not seen.
	SelectToCon    time.Duration // select -> its actcon
	ExecuteToCon   time.Duration // execute -> its actcon
	ExecuteToTerm  time.Duration // execute -> actterm
	selectAt, exAt time.Time
	phase          string // the last request step: select, execute, cancel
}

// Step is one ASDU of an operation.
type Step struct {
	Name     string
	Time     time.Time
	Packet   int
	Cause    iec104.Cause
	Negative bool // P/N bit or cause 44..47
	Test     bool
	Value    string // the command's value, as in the JSON output
	QU       uint8
}

// Anomaly kinds.
const (
	AnomalyMalformed       = "malformed"              // a frame that does not decode
	AnomalyJunk            = "junk"                   // octets outside any frame
	AnomalyGap             = "gap"                    // octets missing from the capture
	AnomalyIncomplete      = "incomplete"             // an unfinished frame at the end of a stream or before a gap
	AnomalySequence        = "sequence"               // N(S) not the expected one
	AnomalyUnknownType     = "unknown_type"           // a type ID this stack does not know
	AnomalyNegative        = "negative"               // P/N set or cause 44..47
	AnomalyNoSelect        = "execute_without_select" // an execute with no select where the object was selected before
	AnomalyUnmatched       = "unmatched_response"     // a confirmation or termination that matches no command
	AnomalyUnexpectedCause = "unexpected_cause"       // a control type with a cause that is no step of an operation
)

// Anomaly is something in the traffic that deserves a look.
type Anomaly struct {
	Kind   string
	Time   time.Time
	Packet int
	Src    string
	Detail string
}

type opKey struct {
	t   iec104.TypeID
	ca  uint16
	ioa uint32
}

// controlType reports the types whose activations are control operations.
func controlType(t iec104.TypeID) bool {
	return t.IsCommand() || t == iec104.C_IC_NA_1 || t == iec104.C_CI_NA_1 || t == iec104.C_CS_NA_1 || t == iec104.C_TS_TA_1
}

// Add accounts for one record.
func (s *Summary) Add(r *Record) {
	cs := s.by[r.Conn]
	if cs == nil {
		cs = &ConnSummary{
			Conn:     r.Conn,
			Formats:  make(map[string]int),
			Types:    make(map[iec104.TypeID]int),
			Causes:   make(map[iec104.Cause]int),
			open:     make(map[opKey]*Operation),
			selected: make(map[opKey]bool),
			nextNS:   [2]int{-1, -1},
		}
		if r.Conn.Handshake {
			cs.nextNS = [2]int{0, 0}
		}
		s.by[r.Conn] = cs
		s.conns = append(s.conns, cs)
	}
	cs.add(r)
}

func (cs *ConnSummary) anomaly(r *Record, kind, format string, args ...any) {
	cs.Anomalies = append(cs.Anomalies, Anomaly{Kind: kind, Time: r.Time, Packet: r.Packet, Src: r.Src.String(), Detail: fmt.Sprintf(format, args...)})
}

func (cs *ConnSummary) add(r *Record) {
	if r.APDU.Format != 0 {
		cs.Formats[r.APDU.Format.String()]++
	}
	if r.Err != nil {
		cs.Errors++
		switch {
		case errors.Is(r.Err, iec104.ErrStartByte):
			cs.anomaly(r, AnomalyJunk, "%d octets outside any frame at stream offset %d", len(r.Raw), r.Offset)
		case errors.Is(r.Err, ErrGap):
			cs.anomaly(r, AnomalyGap, "%v", r.Err)
		case errors.Is(r.Err, ErrIncomplete):
			cs.anomaly(r, AnomalyIncomplete, "%v", r.Err)
		case errors.Is(r.Err, iec104.ErrUnknownType):
			cs.anomaly(r, AnomalyUnknownType, "type %d with %d objects", uint8(r.ASDU.Type), r.ASDU.Count)
		default:
			cs.anomaly(r, AnomalyMalformed, "%v", r.Err)
		}
	}
	// Sequence check on every I-frame whose control field is sound.
	if r.APDU.Format == iec104.FormatI && r.apci {
		d := 1
		if r.FromClient {
			d = 0
		}
		ns := int(r.APDU.SendSeq)
		if want := cs.nextNS[d]; want >= 0 && ns != want {
			cs.anomaly(r, AnomalySequence, "N(S) %d where %d was expected", ns, want)
		}
		cs.nextNS[d] = (ns + 1) % 32768
	}
	h := r.ASDU
	if h == nil {
		return
	}
	cs.Types[h.Type]++
	cs.Causes[h.Cause]++
	if !h.Type.Known() && r.Err == nil {
		cs.anomaly(r, AnomalyUnknownType, "type %d without objects", uint8(h.Type))
	}
	if h.IsNegative() {
		cs.anomaly(r, AnomalyNegative, "%v %v negative CA=%d%s", h.Type, h.Cause, h.CA, ioaText(r))
	}
	if controlType(h.Type) && len(r.Objects) == 1 {
		cs.control(r, h, r.Objects[0])
	}
}

func ioaText(r *Record) string {
	if len(r.Objects) == 0 {
		return ""
	}
	return fmt.Sprintf(" IOA=%d", r.Objects[0].IOA)
}

// control follows the steps of control operations.
func (cs *ConnSummary) control(r *Record, h *iec104.ASDU, o iec104.Object) {
	k := opKey{h.Type, h.CA, o.IOA}
	op := cs.open[k]
	step := Step{Time: r.Time, Packet: r.Packet, Cause: h.Cause, Negative: h.IsNegative(), Test: h.Test,
		Value: value(h.Type, o), QU: o.QU}
	start := func() *Operation {
		if op != nil && op.Outcome != OutcomeConfirmed {
			// Still waiting for an answer when the next request came.
			op.Outcome = OutcomeSuperseded
		}
		op = &Operation{Type: h.Type, CA: h.CA, IOA: o.IOA}
		cs.Operations = append(cs.Operations, op)
		cs.open[k] = op
		return op
	}
	switch {
	case h.Cause == iec104.CauseActivation && h.Type.IsCommand() && o.Select:
		start()
		cs.selected[k] = true
		step.Name, op.phase, op.selectAt, op.Outcome = StepSelect, StepSelect, r.Time, OutcomeSelecting
	case h.Cause == iec104.CauseActivation:
		if op == nil || op.Outcome != OutcomeSelected && op.Outcome != OutcomeSelecting {
			start()
			if h.Type.IsCommand() && cs.selected[k] {
				cs.anomaly(r, AnomalyNoSelect, "%v CA=%d IOA=%d executed without a select; it was selected before", h.Type, h.CA, o.IOA)
			}
		}
		step.Name, op.phase, op.exAt, op.Outcome = StepExecute, StepExecute, r.Time, OutcomeExecuting
	case h.Cause == iec104.CauseDeactivation:
		if op == nil {
			start()
		}
		step.Name, op.phase, op.Outcome = StepCancel, StepCancel, OutcomeCancelling
	case h.Cause == iec104.CauseActivationCon || h.Cause == iec104.CauseDeactivationCon ||
		h.Cause == iec104.CauseActivationTerm || h.Cause.IsError():
		if op == nil {
			cs.anomaly(r, AnomalyUnmatched, "%v %v CA=%d IOA=%d matches no command", h.Type, h.Cause, h.CA, o.IOA)
			return
		}
		cs.response(r, h, op, &step)
		switch op.Outcome {
		case OutcomeTerminated, OutcomeCancelled, OutcomeFailed:
			delete(cs.open, k)
		}
	default:
		cs.anomaly(r, AnomalyUnexpectedCause, "%v with cause %v CA=%d IOA=%d", h.Type, h.Cause, h.CA, o.IOA)
		return
	}
	op.Steps = append(op.Steps, step)
}

// response names a confirmation or termination after the request it answers
// and updates the operation's outcome and latencies.
func (cs *ConnSummary) response(r *Record, h *iec104.ASDU, op *Operation, step *Step) {
	neg := h.IsNegative()
	switch {
	case h.Cause == iec104.CauseActivationTerm:
		step.Name = StepExecuteTerm
		if !op.exAt.IsZero() {
			op.ExecuteToTerm = r.Time.Sub(op.exAt)
		}
		op.Outcome = OutcomeTerminated
		if neg {
			op.Outcome = OutcomeFailed
		}
		return
	case h.Cause == iec104.CauseDeactivationCon || op.phase == StepCancel:
		step.Name = StepCancelCon
		op.Outcome = OutcomeCancelled
	case op.phase == StepSelect:
		step.Name = StepSelectCon
		op.SelectToCon = r.Time.Sub(op.selectAt)
		op.Outcome = OutcomeSelected
	default:
		step.Name = StepExecuteCon
		if !op.exAt.IsZero() {
			op.ExecuteToCon = r.Time.Sub(op.exAt)
		}
		op.Outcome = OutcomeConfirmed
	}
	if neg {
		op.Outcome = OutcomeFailed
	}
}

// WriteText writes the summary for people.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, cs := range s.conns {
		cs.text(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (cs *ConnSummary) text(b *strings.Builder) {
	c := cs.Conn
	fmt.Fprintf(b, "%v", c)
	if c.Handshake {
		b.WriteString(" (from its start)")
	}
	fmt.Fprintf(b, "\n  time: %s .. %s\n", c.First.UTC().Format(timeLayout), c.Last.UTC().Format(timeLayout))
	fmt.Fprintf(b, "  frames: I %d, S %d, U %d; errors %d\n", cs.Formats["I"], cs.Formats["S"], cs.Formats["U"], cs.Errors)
	if len(cs.Types) > 0 {
		b.WriteString("  types:")
		for i, t := range sortedKeys(cs.Types) {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, " %v (%d) %d", t, uint8(t), cs.Types[t])
		}
		b.WriteString("\n  causes:")
		for i, c := range sortedKeys(cs.Causes) {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, " %v (%d) %d", c, uint8(c), cs.Causes[c])
		}
		b.WriteByte('\n')
	}
	if len(cs.Operations) > 0 {
		fmt.Fprintf(b, "  control operations: %d\n", len(cs.Operations))
		for _, op := range cs.Operations {
			fmt.Fprintf(b, "    %v CA=%d IOA=%d: %s", op.Type, op.CA, op.IOA, op.Outcome)
			for _, l := range []struct {
				name string
				d    time.Duration
			}{{"select->actcon", op.SelectToCon}, {"execute->actcon", op.ExecuteToCon}, {"execute->actterm", op.ExecuteToTerm}} {
				if l.d != 0 {
					fmt.Fprintf(b, ", %s %s", l.name, l.d.Round(time.Microsecond))
				}
			}
			b.WriteByte('\n')
			for _, st := range op.Steps {
				fmt.Fprintf(b, "      %s packet %d %s %v", st.Time.UTC().Format(timeLayout), st.Packet, st.Name, st.Cause)
				if st.Negative {
					b.WriteString(" negative")
				}
				if st.Test {
					b.WriteString(" test")
				}
				if st.Value != "" {
					fmt.Fprintf(b, " value=%s", st.Value)
				}
				if st.QU != 0 {
					fmt.Fprintf(b, " qu=%d", st.QU)
				}
				b.WriteByte('\n')
			}
		}
	}
	if len(cs.Anomalies) > 0 {
		fmt.Fprintf(b, "  anomalies: %d\n", len(cs.Anomalies))
		for _, a := range cs.Anomalies {
			fmt.Fprintf(b, "    %s packet %d from %s %s: %s\n", a.Time.UTC().Format(timeLayout), a.Packet, a.Src, a.Kind, a.Detail)
		}
	}
	b.WriteByte('\n')
}

func sortedKeys[K ~uint8](m map[K]int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

type jsonSummary struct {
	File       string          `json:"file"`
	Connection int             `json:"connection"`
	Client     string          `json:"client"`
	Server     string          `json:"server"`
	Handshake  bool            `json:"handshake"`
	First      string          `json:"first"`
	Last       string          `json:"last"`
	Formats    map[string]int  `json:"formats"`
	Errors     int             `json:"errors"`
	Types      map[string]int  `json:"types"`
	Causes     map[string]int  `json:"causes"`
	Operations []jsonOperation `json:"operations"`
	Anomalies  []jsonAnomaly   `json:"anomalies"`
}

type jsonOperation struct {
	TypeID          uint8      `json:"type_id"`
	Type            string     `json:"type"`
	CA              uint16     `json:"ca"`
	IOA             uint32     `json:"ioa"`
	Outcome         string     `json:"outcome"`
	SelectToConMS   *float64   `json:"select_to_actcon_ms,omitempty"`
	ExecuteToConMS  *float64   `json:"execute_to_actcon_ms,omitempty"`
	ExecuteToTermMS *float64   `json:"execute_to_actterm_ms,omitempty"`
	Steps           []jsonStep `json:"steps"`
}

type jsonStep struct {
	Step     string          `json:"step"`
	Time     string          `json:"time"`
	Packet   int             `json:"packet"`
	COT      uint8           `json:"cot"`
	Negative bool            `json:"negative"`
	Test     bool            `json:"test"`
	Value    json.RawMessage `json:"value,omitempty"`
	QU       uint8           `json:"qu"`
}

type jsonAnomaly struct {
	Kind   string `json:"kind"`
	Time   string `json:"time"`
	Packet int    `json:"packet"`
	Src    string `json:"src"`
	Detail string `json:"detail"`
}

func ms(d time.Duration) *float64 {
	if d == 0 {
		return nil
	}
	v := float64(d) / float64(time.Millisecond)
	return &v
}

// MarshalJSON encodes the connection summary as one JSON object; types and
// causes are keyed by their numbers.
func (cs *ConnSummary) MarshalJSON() ([]byte, error) {
	c := cs.Conn
	j := jsonSummary{
		File: c.File, Connection: c.ID, Client: c.Client.String(), Server: c.Server.String(), Handshake: c.Handshake,
		First: c.First.UTC().Format(timeLayout), Last: c.Last.UTC().Format(timeLayout),
		Formats: cs.Formats, Errors: cs.Errors,
		Types: make(map[string]int), Causes: make(map[string]int),
		Operations: []jsonOperation{}, Anomalies: []jsonAnomaly{},
	}
	for t, n := range cs.Types {
		j.Types[fmt.Sprint(uint8(t))] = n
	}
	for c, n := range cs.Causes {
		j.Causes[fmt.Sprint(uint8(c))] = n
	}
	for _, op := range cs.Operations {
		jo := jsonOperation{TypeID: uint8(op.Type), Type: op.Type.String(), CA: op.CA, IOA: op.IOA, Outcome: op.Outcome,
			SelectToConMS: ms(op.SelectToCon), ExecuteToConMS: ms(op.ExecuteToCon), ExecuteToTermMS: ms(op.ExecuteToTerm),
			Steps: []jsonStep{}}
		for _, st := range op.Steps {
			js := jsonStep{Step: st.Name, Time: st.Time.UTC().Format(timeLayout), Packet: st.Packet, COT: uint8(st.Cause),
				Negative: st.Negative, Test: st.Test, QU: st.QU}
			if st.Value != "" {
				js.Value = json.RawMessage(st.Value)
			}
			jo.Steps = append(jo.Steps, js)
		}
		j.Operations = append(j.Operations, jo)
	}
	for _, a := range cs.Anomalies {
		j.Anomalies = append(j.Anomalies, jsonAnomaly{Kind: a.Kind, Time: a.Time.UTC().Format(timeLayout), Packet: a.Packet, Src: a.Src, Detail: a.Detail})
	}
	return json.Marshal(j)
}

// WriteJSON writes one JSON object per connection, one per line.
func (s *Summary) WriteJSON(w io.Writer) error {
	for _, cs := range s.conns {
		b, err := json.Marshal(cs)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}
