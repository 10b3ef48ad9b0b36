package rpc

import "runtime"

// encoded is an answer already encoded, by a low-priority call.
type encoded struct {
	body        []byte
	contentType string
	err         error // of the encoding
}

// lowPriority runs the handler and encodes its answer on an OS thread of
// its own whose CPU priority is lowered to nice (see Server.LowPriority).
// The thread is never unlocked, so it ends with the goroutine: an
// unprivileged process cannot raise a thread's priority back, and no other
// goroutine must run at the lowered one. A panic is passed on to the
// caller's goroutine, where net/http expects http.ErrAbortHandler.
func (s *Server) lowPriority(fn func() (any, error), req *Request) (any, error) {
	type out struct {
		v     any
		err   error
		panic any
	}
	ch := make(chan out, 1)
	go func() {
		runtime.LockOSThread()
		lowerThreadPriority(s.Nice)
		defer func() {
			if p := recover(); p != nil {
				ch <- out{panic: p}
			}
		}()
		v, err := fn()
		if err != nil {
			ch <- out{err: err}
			return
		}
		body, contentType, eerr := encodeResult(req, v)
		ch <- out{v: encoded{body, contentType, eerr}}
	}()
	o := <-ch
	if o.panic != nil {
		panic(o.panic)
	}
	return o.v, o.err
}
