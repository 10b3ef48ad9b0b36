package rpc

import "runtime"

// encoded is an answer already encoded, by a low-priority call.
type encoded struct {
	body        []byte
	contentType string
	err         error // of the encoding
}

// lowWorker is a goroutine locked, for its whole life, to an OS thread at
// the lowered priority: it runs one call at a time. The thread is never
// unlocked, so it ends with the goroutine: an unprivileged process cannot
// raise a thread's priority back, and no other goroutine must run at the
// lowered one.
type lowWorker struct{ calls chan func() }

// maxIdleLowWorkers is how many idle workers (and threads) are kept for
// the next calls, so that a stream of analyses, refused ones included,
// does not make a thread for each.
const maxIdleLowWorkers = 8

func (s *Server) lowWorker() *lowWorker {
	s.lowOnce.Do(func() { s.idleLow = make(chan *lowWorker, maxIdleLowWorkers) })
	select {
	case w := <-s.idleLow:
		return w
	default:
	}
	w := &lowWorker{calls: make(chan func())}
	go func() {
		runtime.LockOSThread()
		lowerThreadPriority(s.Nice)
		for call := range w.calls {
			call()
			select {
			case s.idleLow <- w:
			default:
				return // enough are idle: this one's thread ends
			}
		}
	}()
	return w
}

// lowPriority runs the handler and encodes its answer on a worker thread
// whose CPU priority is lowered to Nice (see Server.LowPriority). A panic
// is passed on to the caller's goroutine, where net/http expects
// http.ErrAbortHandler.
func (s *Server) lowPriority(fn func() (any, error), req *Request) (any, error) {
	type out struct {
		v     any
		err   error
		panic any
	}
	ch := make(chan out, 1)
	s.lowWorker().calls <- func() {
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
	}
	o := <-ch
	if o.panic != nil {
		panic(o.panic)
	}
	return o.v, o.err
}
