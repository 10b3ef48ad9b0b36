package rpc

import (
	"context"
	crand "crypto/rand"
	"math/rand/v2"
	"sync"
)

// Request is what a Handler gets: the routed action and its parameters,
// after the signature was verified.
type Request struct {
	Action      string
	Version     string
	Product     string // e.g. "Ecs"
	Params      Params // query and form parameters merged, signature ones included
	AccessKeyID string // the authenticated caller
	RequestID   string // also set on the response
	Format      string // "JSON" or "XML"
	HTTPMethod  string // GET or POST
	Host        string // as the client addressed the server
	Size        int    // bytes of the query string and body, for rate limits by cost
}

// Handler serves one action. It returns a response struct embedding Base
// (pointer or value; the server fills RequestId) or an error, normally an
// *ecserr.Error; any other error is answered as 500 InternalError.
type Handler func(ctx context.Context, req *Request) (any, error)

// RouteKey selects a Handler.
type RouteKey struct{ Version, Action string }

// Base is embedded in every response struct.
type Base struct {
	RequestId string
}

// SetRequestID sets RequestId; the server calls it on every response.
func (b *Base) SetRequestID(id string) { b.RequestId = id }

type accessKeyKey struct{}

// WithAccessKeyID returns ctx carrying the authenticated AccessKeyId, as the
// server passes it to handlers (and tests may, to call handlers directly).
func WithAccessKeyID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, accessKeyKey{}, id)
}

// AccessKeyID returns the authenticated AccessKeyId carried by ctx, "" if none.
func AccessKeyID(ctx context.Context) string {
	id, _ := ctx.Value(accessKeyKey{}).(string)
	return id
}

// NewRequestID returns a random upper-case GUID such as
// 473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E (a version 4 UUID).
// Its bytes come from ChaCha8 generators seeded by crypto/rand, pooled:
// a read of crypto/rand per request is a system call, and every request
// and every recorded event takes an ID.
func NewRequestID() string {
	g := idSources.Get().(*rand.ChaCha8)
	var b [16]byte
	g.Read(b[:])
	idSources.Put(g)
	return UUID(b)
}

var idSources = sync.Pool{New: func() any {
	var seed [32]byte
	crand.Read(seed[:]) // never fails (crypto/rand panics rather than return an error)
	return rand.NewChaCha8(seed)
}}

// UUID is the upper-case text of the version 4 UUID made of the random
// bytes b (its version and variant bits set).
func UUID(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	// Written in one buffer, one allocation (the string).
	const digits = "0123456789ABCDEF"
	var out [36]byte
	j := 0
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = digits[c>>4], digits[c&0x0f]
		j += 2
	}
	return string(out[:])
}
