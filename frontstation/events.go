// Package frontstation is the front-end processor: one Link per outstation
// (RTU, PLC, IED) keeps IEC 60870-5-104 connections, runs interrogation,
// clock synchronisation and counter interrogation, maps what arrives to
// points of the cache, and carries commands (Commander) with
// select-before-operate.
package frontstation

import (
	"fmt"
	"time"
)

// EventKind classifies what a link reports besides point values.
type EventKind uint8

// Event kinds.
const (
	EventLinkState EventKind = iota + 1 // the link entered a state
	EventSecurity                       // something this HMI did not cause, or a TLS failure
	EventAnomaly                        // a protocol oddity: malformed ASDU, unknown type or address, late response
	EventCommand                        // a command step
	EventDevice                         // the device reports itself: end of initialisation, negative interrogation
)

func (k EventKind) String() string {
	switch k {
	case EventLinkState:
		return "link"
	case EventSecurity:
		return "security"
	case EventAnomaly:
		return "anomaly"
	case EventCommand:
		return "command"
	case EventDevice:
		return "device"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one thing worth journaling that is not a point value.
type Event struct {
	Time    time.Time
	Kind    EventKind
	Link    string
	Point   string // point ID, when the event concerns one
	Message string
	// Code classifies security events (one alarm per code): tls,
	// unsolicited_confirmation, confirmation_mismatch, station_command,
	// remote_change, local_operation.
	Code string
	// State is the link's new state, for EventLinkState.
	State State
}

// EventSink receives events. It is called from link goroutines, including a
// connection's receive path, so it must not block: queue and return.
type EventSink func(Event)
