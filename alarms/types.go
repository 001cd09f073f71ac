// Package alarms is the alarm engine: alarm definitions on points and links,
// ISA-18.2 / IEC 62682 states, priorities, acknowledgement, shelving, out of
// service and suppression by design.
package alarms

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// State is an alarm's state (ISA-18.2).
type State uint8

// Alarm states.
const (
	Normal          State = iota + 1 // condition clear, nothing to acknowledge
	ActiveUnacked                    // condition present, not acknowledged
	ActiveAcked                      // condition present, acknowledged
	ReturnedUnacked                  // condition cleared before it was acknowledged
	Shelved                          // hidden by an operator until ShelvedUntil
	Suppressed                       // suppressed by design (e.g. the points of a link that is down)
	OutOfService                     // taken out of service by an engineer
)

var stateNames = [...]string{"", "normal", "active_unacked", "active_acked", "returned_unacked", "shelved", "suppressed", "out_of_service"}

func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState parses the names String returns.
func ParseState(s string) (State, error) {
	for i, n := range stateNames {
		if i > 0 && n == s {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("alarms: unknown state %q", s)
}

// Priority is 1 (critical) to 4 (low).
type Priority uint8

// Valid reports whether p is one of the priorities 1..4.
func (p Priority) Valid() bool { return p >= 1 && p <= 4 }

// Source says what raises an alarm.
type Source uint8

// Alarm sources.
const (
	SourceDiscrete Source = iota + 1 // a discrete point in a configured state
	SourceLimit                      // an analog point beyond HH, H, L or LL
	SourceQuality                    // a point's quality: invalid or commfail
	SourceLink                       // a link down
	SourceCommand                    // a command that failed
	SourceSecurity                   // a security event
)

var sourceNames = [...]string{"", "discrete", "limit", "quality", "link", "command", "security"}

func (s Source) String() string {
	if int(s) < len(sourceNames) && s != 0 {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}

// Alarm is the current state of one alarm. Its ID is stable across
// restarts: it names the source, e.g. "limit:north.t1.temp:HH",
// "discrete:north.f1.trip", "quality:north.f1.i", "link:north".
type Alarm struct {
	ID           string
	Source       Source
	Point        string // point ID, empty for link and security alarms
	Link         string
	Area         string
	Priority     Priority
	State        State
	Message      string    // what the operator reads
	Value        float64   // the value that raised it (or last evaluated)
	RaisedAt     time.Time // when the condition last became active
	ClearedAt    time.Time // when it last returned to normal; zero while active
	AckedBy      string
	AckedAt      time.Time
	Comment      string // the last operator comment (ack, shelve, out of service)
	ShelvedBy    string
	ShelvedUntil time.Time // for Shelved
	// Underlying is the state the alarm would be in without shelving,
	// suppression or out of service; it is what the engine re-evaluates.
	Underlying State
}

// Transition is one change of an alarm's state, with who caused it.
type Transition struct {
	Alarm   Alarm // the alarm after the transition
	From    State
	At      time.Time
	User    string // empty for the engine's own transitions
	Action  string // raise, clear, ack, shelve, unshelve, shelve_expired, suppress, unsuppress, out_of_service, in_service
	Comment string
}

// Journal is where the engine keeps alarm states and transitions (the
// store implements it). An operator action's transition is committed
// before the action returns.
type Journal interface {
	// LoadAlarms returns the last saved state of every alarm.
	LoadAlarms(ctx context.Context) ([]Alarm, error)
	// SaveTransition commits a transition (operator actions wait for it).
	SaveTransition(ctx context.Context, t Transition) error
	// QueueTransition queues a transition of the engine's own for the
	// store's group commit; it never blocks, and reports a full queue.
	QueueTransition(t Transition) error
}

// ErrQueueFull is what QueueTransition returns (or wraps) when its queue
// has no room. The engine keeps the transition and offers it again later,
// in order; any other error is treated the same way.
var ErrQueueFull = errors.New("alarms: journal queue full")

// BatchJournal is a Journal that can commit several transitions in one
// transaction. The engine uses it, when the Journal implements it, for an
// operator action on many alarms (acknowledge all visible): all of them are
// committed, or none.
type BatchJournal interface {
	Journal
	// SaveTransitions commits ts, in order, all or none.
	SaveTransitions(ctx context.Context, ts []Transition) error
}
