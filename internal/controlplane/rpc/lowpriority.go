package rpc

import (
	"context"
	"net/http"
	"runtime"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

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

// maxLowWorkers bounds the low-priority workers (busy and idle, so their
// threads): a burst of analyses, even ones the analysis bounds refuse in
// the handler, would otherwise make a thread for each call. With a Gate
// (the server's), a call is admitted, or refused, before it takes a
// worker, and the analyses admitted at once are fewer than GOMAXPROCS by
// default, so with at least that many workers, none that could run waits
// here.
func maxLowWorkers() int { return max(maxIdleLowWorkers, runtime.GOMAXPROCS(0)) }

func (s *Server) lowInit() {
	s.lowOnce.Do(func() {
		s.idleLow = make(chan *lowWorker, maxIdleLowWorkers)
		s.lowSlots = make(chan struct{}, maxLowWorkers())
	})
}

// lowWorker returns an idle worker or a new one; the caller holds a slot
// of lowSlots, which the worker gives back once it is idle again or gone,
// so that workers never outnumber the slots.
func (s *Server) lowWorker() *lowWorker {
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
				<-s.lowSlots
			default:
				<-s.lowSlots
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
func (s *Server) lowPriority(ctx context.Context, fn func() (any, error), req *Request) (any, error) {
	s.lowInit()
	// All workers busy: wait for one, while the client waits.
	select {
	case s.lowSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ecserr.New(http.StatusServiceUnavailable, "ServiceUnavailable",
			"The server is busy with other analyses; retry in a moment.")
	}
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
		v, err := encodedCall(fn, req)
		ch <- out{v: v, err: err}
	}
	o := <-ch
	if o.panic != nil {
		panic(o.panic)
	}
	return o.v, o.err
}
