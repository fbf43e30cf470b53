// Package errs defines Gantry's typed errors. Each carries a machine-readable
// code that the GraphQL layer exposes as extensions.code.
package errs

import (
	"errors"
	"fmt"
)

// Code classifies an error for API clients.
type Code string

// The codes clients can rely on.
const (
	NotFound          Code = "NOT_FOUND"
	InvalidInput      Code = "INVALID_INPUT"
	InvalidTransition Code = "INVALID_TRANSITION"
	NoCapacity        Code = "NO_CAPACITY"
	Conflict          Code = "CONFLICT"
	Internal          Code = "INTERNAL"
)

// Error is an error with a code and, for input errors, the offending field.
type Error struct {
	Code  Code
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Msg)
	}
	return e.Msg
}

// New returns an Error with the given code.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Invalid returns an INVALID_INPUT error about one field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: InvalidInput, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the first *Error in err's chain, or "" if none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
