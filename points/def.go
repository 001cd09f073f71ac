package points

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Def describes a point: its identity, presentation and source address. The cache keeps a copy; it never changes
// after New.
type Def struct {
	ID     string        // stable tag, unique in the cache, e.g. "north.feeder1.breaker"
	Name   string        // for people
	Area   string        // slash path for navigation and permissions, e.g. "north/feeder1"
	Kind   Kind          // the type of the value
	Unit   string        // engineering unit of analog values, may be empty
	Labels []string      // state labels, index = value, e.g. ["OFF", "ON"] for a single point; read-only
	Link   string        // the front-end link that feeds the point; SetCommFail acts on it
	CA     uint16        // IEC common address of the station
	IOA    uint32        // IEC information object address
	MaxAge time.Duration // the value is Stale when not updated for longer than this; 0: never stale
}

// Errors of New, each wrapped by a *DefError; branch with errors.Is.
var (
	ErrEmptyID     = errors.New("empty ID")
	ErrDuplicateID = errors.New("duplicate ID")
	ErrMaxAge      = errors.New("negative max age")
	ErrTooMany     = errors.New("too many points")
)

// DefError reports a Def that New rejects. New returns every DefError it finds, joined with errors.Join; errors.As
// gives the first, and the joined error's Unwrap() []error gives them all.
type DefError struct {
	Index int    // position of the Def in the slice given to New
	ID    string // the Def's ID, possibly empty
	Err   error  // wraps ErrEmptyID, ErrDuplicateID, ErrKind, ErrMaxAge or ErrTooMany
}

// Error says which Def is wrong and why, e.g. `points: def 2 ("a"): duplicate ID (first at def 0)`.
func (e *DefError) Error() string {
	if e.ID == "" {
		return fmt.Sprintf("points: def %d: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("points: def %d (%q): %v", e.Index, e.ID, e.Err)
}

// Unwrap returns the cause, for errors.Is.
func (e *DefError) Unwrap() error { return e.Err }

// maxPoints is the largest point count: a Handle is an int32.
const maxPoints = math.MaxInt32

// checkCount rejects more defs than handles can number, before New allocates for them.
func checkCount(defs []Def) error {
	if len(defs) > maxPoints {
		return &DefError{Index: maxPoints, ID: defs[maxPoints].ID,
			Err: fmt.Errorf("%w: at most %d", ErrTooMany, maxPoints)}
	}
	return nil
}

// validate checks defs for New; idIndex reports the index of an ID already seen, or -1, and records it.
func validate(defs []Def, idIndex func(id string, i int) int) error {
	var errs []error
	for i := range defs {
		d := &defs[i]
		if d.ID == "" {
			errs = append(errs, &DefError{Index: i, Err: ErrEmptyID})
		} else if j := idIndex(d.ID, i); j >= 0 {
			errs = append(errs, &DefError{Index: i, ID: d.ID, Err: fmt.Errorf("%w (first at def %d)", ErrDuplicateID, j)})
		}
		if !d.Kind.Valid() {
			errs = append(errs, &DefError{Index: i, ID: d.ID, Err: fmt.Errorf("%w %d", ErrKind, uint8(d.Kind))})
		}
		if d.MaxAge < 0 {
			errs = append(errs, &DefError{Index: i, ID: d.ID, Err: fmt.Errorf("%w %v", ErrMaxAge, d.MaxAge)})
		}
	}
	return errors.Join(errs...)
}
