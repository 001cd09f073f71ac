package iec104

import (
	"errors"
	"fmt"
)

// Decoding errors. A *DecodeError wraps one of these; branch with errors.Is.
var (
	ErrStartByte   = errors.New("start byte is not 0x68")
	ErrLength      = errors.New("APDU length out of range 4..253")
	ErrTruncated   = errors.New("input ends inside the frame")
	ErrUFunction   = errors.New("invalid U-frame function code")
	ErrSFrame      = errors.New("S-frame with a payload")
	ErrShortASDU   = errors.New("ASDU shorter than its header")
	ErrObjectCount = errors.New("ASDU length does not match its object count")
	ErrUnknownType = errors.New("unknown type ID")
	ErrValue       = errors.New("value out of range")
	ErrTooLong     = errors.New("ASDU longer than 249 octets")
)

// DecodeError says what is wrong with a frame or an ASDU and at which octet offset.
type DecodeError struct {
	Err    error  // one of the Err* sentinels of this package
	Offset int    // octet offset from the start of the input where the problem was found
	Detail string // what was found, for people
}

func (e *DecodeError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("iec104: %v at offset %d", e.Err, e.Offset)
	}
	return fmt.Sprintf("iec104: %v at offset %d: %s", e.Err, e.Offset, e.Detail)
}

func (e *DecodeError) Unwrap() error { return e.Err }

func decodeErr(err error, off int, format string, args ...any) *DecodeError {
	return &DecodeError{Err: err, Offset: off, Detail: fmt.Sprintf(format, args...)}
}

// EncodeError reports a value that cannot be encoded.
type EncodeError struct {
	Type   TypeID
	Index  int // object index, -1 for the header
	Detail string
}

func (e *EncodeError) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("iec104: encode %v: %s", e.Type, e.Detail)
	}
	return fmt.Sprintf("iec104: encode %v object %d: %s", e.Type, e.Index, e.Detail)
}
