// Package ecserr is the error value every layer of Palisade returns when a
// request is at fault or cannot be served: an ECS error code, a message for a
// person, and the HTTP status the API answers with. Validation, operations
// and the transport all speak it, so a code chosen deep in the model reaches
// the client unchanged.
package ecserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an ECS-style API error.
type Error struct {
	Status  int    // HTTP status, e.g. 400
	Code    string // ECS error code, e.g. "InvalidSecurityGroupId.NotFound"
	Message string // what is wrong and, where it helps, what to do
	Field   string // the request field at fault, if one is (not sent to clients)
	// Cause is what made the service fail (a 5xx), for the server's log:
	// not sent to clients, whom it could tell of the service's insides.
	Cause error
}

// At returns a copy of the error that names the field at fault.
func (e *Error) At(field string) *Error {
	c := *e
	c.Field = field
	return &c
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// New returns an error with a formatted message.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error inside err, or an InternalError wrapping it, so that
// every failure can be rendered as an ECS error envelope.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: "InternalError",
		Message: "The request processing has failed due to some unknown error: " + err.Error()}
}

// Is reports whether err is an *Error with the given code.
func Is(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// Common errors shared by many actions.

func MissingParameter(name string) *Error {
	return New(http.StatusBadRequest, "MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

func InvalidParameter(name, why string) *Error {
	return New(http.StatusBadRequest, "InvalidParameter", "The specified parameter %q is not valid: %s", name, why)
}

func NotFound(code, what string) *Error {
	return New(http.StatusNotFound, code, "The specified %s does not exist.", what)
}

func Forbidden(code, format string, args ...any) *Error {
	return New(http.StatusForbidden, code, format, args...)
}

func BadRequest(code, format string, args ...any) *Error {
	return New(http.StatusBadRequest, code, format, args...)
}
