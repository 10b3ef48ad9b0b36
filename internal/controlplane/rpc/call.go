package rpc

import (
	"net"
	"net/netip"
	"time"
)

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

// ClientHost is the client's address of a request: the host part of the
// peer's address (host:port, as net/http gives it), or the address as it
// is when it has no port.
func ClientHost(remoteAddr string) string {
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return h
	}
	return remoteAddr
}

// ClientShare names the client of a request for bounds per client (the
// sampled log of refusals, failed sign-ins): its address, or its IPv6 /64,
// which one client typically holds whole and could otherwise spread its
// requests over.
func ClientShare(remoteAddr string) string {
	host := ClientHost(remoteAddr)
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if a = ShareOf(a); a.Is6() {
		return netip.PrefixFrom(a, 64).String()
	}
	return a.String()
}

// ShareOf is the address a client is counted under: an IPv4 address as
// it is, an IPv6 address as the first of its /64.
func ShareOf(a netip.Addr) netip.Addr {
	if a = a.Unmap(); a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}
