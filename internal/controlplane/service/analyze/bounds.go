package analyze

import (
	"container/list"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Options bound what analyses may cost; zero fields take their defaults.
type Options struct {
	// MaxConcurrent is how many analyses run at once (default
	// GOMAXPROCS: an analysis keeps a core busy, and the API needs the
	// rest); more wait in the queues (see Queue) or are refused with
	// Throttling, so a storm of them cannot hold memory or slow the
	// resource actions.
	MaxConcurrent int
	// MaxPerAccount is how many of those one account may run (default 1),
	// so one tenant cannot take them all: an account asking for many at
	// once has them run one after another.
	MaxPerAccount int
	// Queue is how many analyses of one account may wait for a slot
	// (default DefaultQueue; negative: none), at most MaxQueueWait each;
	// one more is refused with Throttling.User (which the SDKs retry), so
	// that a client's few analyses at once are answered in turn while a
	// storm of them holds no more than the queue.
	Queue int
	// CPU is how many cores the analyses running may keep busy together,
	// their worker goroutines included (default GOMAXPROCS-1, at least 1),
	// so that a core is always left to the API: an admitted analysis waits
	// for a share of them before it computes.
	CPU int
}

// DefaultQueue is how many analyses of an account wait for a slot by
// default; MaxQueueWait bounds each wait.
const (
	DefaultQueue = 2
	MaxQueueWait = 10 * time.Second
)

// DefaultMaxResults and MaxResultsLimit bound a page of links or changes
// (MaxResults); MaxGraphEdges bounds a group graph, which is not paged.
const (
	DefaultMaxResults = 1000
	MaxResultsLimit   = 1000
	MaxGraphEdges     = 100000
)

func (o Options) withDefaults() Options {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	if o.MaxPerAccount <= 0 {
		o.MaxPerAccount = 1
	}
	o.MaxPerAccount = min(o.MaxPerAccount, o.MaxConcurrent)
	if o.Queue == 0 {
		o.Queue = DefaultQueue
	}
	o.Queue = max(o.Queue, 0)
	if o.CPU <= 0 {
		o.CPU = max(1, runtime.GOMAXPROCS(0)-1)
	}
	return o
}

// gate counts the analyses running, in all and per account, and those
// waiting in each account's queue. The waiters are served in the order
// they came: a slot freed goes to the oldest one it may admit, before a
// new arrival can take it, so none waits out its MaxQueueWait while later
// ones are let in.
type gate struct {
	o         Options
	mu        sync.Mutex
	total     int
	byAccount map[string]int
	waiting   map[string]int // in each account's queue (Waiting ones not counted)
	queue     list.List      // of *waiter, oldest first
	cpu       chan struct{}  // the CPU tokens taken (a send takes one)
}

// waiter is an analysis waiting for a slot; admitted (under the gate's
// lock), it holds the slot, and ready is closed.
type waiter struct {
	account  string
	queued   bool // counted in waiting
	admitted bool
	ready    chan struct{}
	elem     *list.Element
}

func newGate(o Options) *gate {
	o = o.withDefaults()
	return &gate{o: o, byAccount: map[string]int{}, waiting: map[string]int{}, cpu: make(chan struct{}, o.CPU)}
}

// share is an admitted analysis's hold on the CPU: tokens taken from the
// gate's pool, each a goroutine it may keep busy.
type share struct {
	g      *gate
	tokens int
}

// take waits for one token (until ctx ends).
func (g *gate) take(ctx context.Context) (*share, error) {
	select {
	case g.cpu <- struct{}{}:
		return &share{g: g, tokens: 1}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// workers takes, without waiting, the tokens no other analysis holds (up
// to GOMAXPROCS in all) and returns how many goroutines the analysis may
// run: at least the one token it waited for.
func (s *share) workers() int {
	for s.tokens < runtime.GOMAXPROCS(0) {
		select {
		case s.g.cpu <- struct{}{}:
			s.tokens++
			continue
		default:
		}
		break
	}
	return s.tokens
}

// release gives the tokens back.
func (s *share) release() {
	for ; s.tokens > 0; s.tokens-- {
		<-s.g.cpu
	}
}

type waitKey struct{}

// Waiting marks ctx so that an analysis run with it waits for a free slot
// (until ctx ends) instead of being refused: for the console, whose user
// would rather wait a moment than retry, and its own work ahead of time.
// The bounds hold all the same.
func Waiting(ctx context.Context) context.Context { return context.WithValue(ctx, waitKey{}, true) }

// enterCtx admits an analysis of an account, or queues it: marked
// Waiting, it waits for a slot until ctx ends; otherwise it waits in the
// account's queue while there is room in it (Options.Queue), at most
// MaxQueueWait, and is refused with Throttling when the queue is full or
// the wait ends.
func (g *gate) enterCtx(ctx context.Context, account string) (func(), error) {
	g.mu.Lock()
	done, err := g.enterLocked(account)
	if err == nil {
		g.mu.Unlock()
		return done, nil
	}
	w := &waiter{account: account, queued: ctx.Value(waitKey{}) == nil, ready: make(chan struct{})}
	if w.queued {
		if g.waiting[account] >= g.o.Queue {
			g.mu.Unlock()
			return nil, err
		}
		g.waiting[account]++
	}
	w.elem = g.queue.PushBack(w)
	g.mu.Unlock()
	var timeout <-chan time.Time
	if w.queued {
		t := time.NewTimer(MaxQueueWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.ready:
		return g.leave(account), nil
	case <-timeout:
	case <-ctx.Done():
	}
	g.mu.Lock()
	if !w.admitted {
		g.unqueueLocked(w)
		g.mu.Unlock()
		return nil, err
	}
	g.mu.Unlock()
	// Handed a slot as the wait ended: take it, unless the caller is gone.
	if ctx.Err() != nil {
		g.leave(account)()
		return nil, err
	}
	return g.leave(account), nil
}

// unqueueLocked takes w out of the queue.
func (g *gate) unqueueLocked(w *waiter) {
	g.queue.Remove(w.elem)
	if w.queued {
		if g.waiting[w.account]--; g.waiting[w.account] == 0 {
			delete(g.waiting, w.account)
		}
	}
}

// admitLocked hands the slots free to the waiters, oldest first, each as
// its account's bound allows.
func (g *gate) admitLocked() {
	for e := g.queue.Front(); e != nil && g.total < g.o.MaxConcurrent; {
		next := e.Next()
		if w := e.Value.(*waiter); g.byAccount[w.account] < g.o.MaxPerAccount {
			g.total++
			g.byAccount[w.account]++
			g.unqueueLocked(w)
			w.admitted = true
			close(w.ready)
		}
		e = next
	}
}

// leave returns the function that ends an admitted analysis of account.
func (g *gate) leave(account string) func() {
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.total--
		if g.byAccount[account]--; g.byAccount[account] == 0 {
			delete(g.byAccount, account) // the map holds running accounts only
		}
		g.admitLocked()
	}
}

// enter admits an analysis of an account or refuses it with Throttling
// (Throttling.User for the account's own bound); the returned function
// ends it.
func (g *gate) enter(account string) (func(), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.enterLocked(account)
}

func (g *gate) enterLocked(account string) (func(), error) {
	if g.byAccount[account] >= g.o.MaxPerAccount {
		return nil, ecserr.New(http.StatusBadRequest, "Throttling.User",
			"Request was denied due to user flow control: this account runs %d analyses and has %d waiting, the most one account may; retry when one ends.",
			g.byAccount[account], g.waiting[account])
	}
	if g.total >= g.o.MaxConcurrent {
		return nil, ecserr.New(http.StatusBadRequest, "Throttling",
			"Request was denied due to request throttling: %d analyses are running, the most this server runs at once; retry in a moment.", g.total)
	}
	// No arrival is let in ahead of a waiter that could take the slot:
	// each slot freed went to the waiters first (admitLocked), so one
	// still waiting is held by the total bound, which holds this analysis
	// too, or by its own account's.
	g.total++
	g.byAccount[account]++
	return g.leave(account), nil
}

// Page selects part of a long answer: MaxResults items from the offset a
// NextToken of the previous page gave.
type Page struct {
	MaxResults int    // 0: DefaultMaxResults
	NextToken  string // "" : from the start
}

// bounds reads a page request.
func (p Page) bounds() (offset, size int, err error) {
	size = p.MaxResults
	if size == 0 {
		size = DefaultMaxResults
	}
	if size < 1 || size > MaxResultsLimit {
		return 0, 0, ecserr.BadRequest("InvalidParameter.MaxResults", "MaxResults must be from 1 to %d.", MaxResultsLimit)
	}
	if p.NextToken != "" {
		off, err := strconv.Atoi(p.NextToken)
		if err != nil || off < 0 || off > 1<<31-1 {
			return 0, 0, ecserr.BadRequest("InvalidNextToken.Malformed", "NextToken %q is not one this server returned.", p.NextToken)
		}
		offset = off
	}
	return offset, size, nil
}

// pageOf cuts one page out of items and returns it with the token of the
// next page ("" after the last).
func pageOf[T any](items []T, p Page) ([]T, string, error) {
	off, size, err := p.bounds()
	if err != nil {
		return nil, "", err
	}
	if off > len(items) {
		off = len(items)
	}
	end := min(len(items), off+size)
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[off:end], next, nil
}
