package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a configuration file. Line and Col count from 1;
// both are 0 when the problem concerns the whole file (it cannot be read).
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error returns "FILE:LINE:COL: message", or "FILE: message" without a line.
func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found in a configuration file, in the order of
// their positions. Load and Parse return it (never empty) as their error;
// get it back with errors.As.
type Errors []*Error

// Error returns the errors one per line, as *Error.Error writes them.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sorted returns es ordered by position, without exact repetitions (an
// anchor's value used through several aliases reports its problem once).
func (es Errors) sorted() Errors {
	out := slices.Clone(es)
	slices.SortStableFunc(out, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	seen := make(map[Error]bool, len(out))
	return slices.DeleteFunc(out, func(e *Error) bool {
		dup := seen[*e]
		seen[*e] = true
		return dup
	})
}
