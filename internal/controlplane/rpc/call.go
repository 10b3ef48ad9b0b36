package rpc

import "time"

// Call is a finished request as Server.Observe sees it.
type Call struct {
	// Request holds what was parsed before the request ended: Params is
	// nil when the parameters could not be read, and AccessKeyID is set
	// only when the signature was verified.
	Request    *Request
	Method     string // the HTTP method
	Start      time.Time
	Duration   time.Duration
	Status     int    // the HTTP status answered
	Code       string // the error code; "" on success
	Message    string // the error message; "" on success
	Body       []byte // the answer as sent
	RemoteAddr string // the peer's address (host:port), as net/http gives it
	UserAgent  string
}
