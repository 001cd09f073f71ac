package web

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Code classifies an Error; status maps each code to its HTTP status, in this one place.
type Code uint8

// Error codes.
const (
	CodeInternal        Code = iota // something broke on our side
	CodeInvalid                     // the request is malformed: bad JSON, bad parameter
	CodeUnauthenticated             // no valid session
	CodeForbidden                   // the user may not do this: role, area, tag, CSRF
	CodeNotFound                    // no such point, alarm, command, user, page
	CodeConflict                    // the state does not allow it: a command pending, the link down, a selection not held
	CodeTooLarge                    // the body is over the limit
	CodeUnprocessable               // well-formed but refused: a value out of range, an interlock
	CodeTooMany                     // login throttled
	CodeUnavailable                 // a part the request needs is not configured
)

// status is the one mapping of codes to HTTP statuses.
var status = [...]int{
	CodeInternal:        http.StatusInternalServerError,
	CodeInvalid:         http.StatusBadRequest,
	CodeUnauthenticated: http.StatusUnauthorized,
	CodeForbidden:       http.StatusForbidden,
	CodeNotFound:        http.StatusNotFound,
	CodeConflict:        http.StatusConflict,
	CodeTooLarge:        http.StatusRequestEntityTooLarge,
	CodeUnprocessable:   http.StatusUnprocessableEntity,
	CodeTooMany:         http.StatusTooManyRequests,
	CodeUnavailable:     http.StatusServiceUnavailable,
}

// Error is the one error type of the handlers: a code, and a message for the user that says why.
type Error struct {
	Code       Code
	Message    string        // for the user, e.g. "interlock: earth switch closed"
	Err        error         // the cause, for the log; may be nil
	RetryAfter time.Duration // CodeTooMany: when to try again
}

// Error returns "web: MESSAGE" and the cause.
func (e *Error) Error() string {
	s := "web: " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error with code and message.
func errorf(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// wrapf returns an *Error with code and message around cause.
func wrapf(code Code, cause error, msg string) *Error {
	return &Error{Code: code, Message: msg, Err: cause}
}

// Status returns the HTTP status of err: that of its *Error, 413 for a body over the limit, 500 for anything else.
func Status(err error) int {
	if e, ok := errors.AsType[*Error](err); ok && int(e.Code) < len(status) {
		return status[e.Code]
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// Message returns what the user reads for err: the message of its *Error, or a generic text that reveals nothing
// of an internal failure.
func Message(err error) string {
	if e, ok := errors.AsType[*Error](err); ok && e.Message != "" {
		return e.Message
	}
	switch Status(err) {
	case http.StatusRequestEntityTooLarge:
		return "request body too large"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "the request was cancelled or took too long"
	}
	return "internal error"
}

// errUnauthenticated is the answer to a request without a valid session.
var errUnauthenticated = errorf(CodeUnauthenticated, "not logged in, or the session has ended")
