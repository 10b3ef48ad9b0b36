package analyze

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/ecserr"
)

// Options bound what analyses may cost; zero fields take their defaults.
type Options struct {
	// MaxConcurrent is how many analyses run at once (default
	// GOMAXPROCS: an analysis keeps a core busy, and the API needs the rest): one more is refused with Throttling, not queued, so a
	// storm of them cannot hold memory or slow the resource actions.
	MaxConcurrent int
	// MaxPerAccount is how many of those one account may run (default half
	// of MaxConcurrent, at least 1), so one tenant cannot take them all.
	MaxPerAccount int
	// CPU is how many cores the analyses running may keep busy together,
	// their worker goroutines included (default GOMAXPROCS-1, at least 1),
	// so that a core is always left to the API: an admitted analysis waits
	// for a share of them before it computes.
	CPU int
}

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
		o.MaxPerAccount = max(1, o.MaxConcurrent/2)
	}
	o.MaxPerAccount = min(o.MaxPerAccount, o.MaxConcurrent)
	if o.CPU <= 0 {
		o.CPU = max(1, runtime.GOMAXPROCS(0)-1)
	}
	return o
}

// gate counts the analyses running, in all and per account.
type gate struct {
	o         Options
	mu        sync.Mutex
	total     int
	byAccount map[string]int
	freed     chan struct{} // closed (and replaced) when an analysis ends
	cpu       chan struct{} // the CPU tokens taken (a send takes one)
}

func newGate(o Options) *gate {
	o = o.withDefaults()
	return &gate{o: o, byAccount: map[string]int{}, freed: make(chan struct{}), cpu: make(chan struct{}, o.CPU)}
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

// enterCtx is enter, waiting for a slot when ctx is marked Waiting.
func (g *gate) enterCtx(ctx context.Context, account string) (func(), error) {
	for {
		g.mu.Lock()
		freed := g.freed
		g.mu.Unlock()
		done, err := g.enter(account)
		if err == nil || ctx.Value(waitKey{}) == nil {
			return done, err
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, err
		}
	}
}

// enter admits an analysis of an account or refuses it with Throttling;
// the returned function ends it.
func (g *gate) enter(account string) (func(), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.total >= g.o.MaxConcurrent {
		return nil, ecserr.New(http.StatusBadRequest, "Throttling",
			"Request was denied due to request throttling: %d analyses are running, the most this server runs at once; retry in a moment.", g.total)
	}
	if g.byAccount[account] >= g.o.MaxPerAccount {
		return nil, ecserr.New(http.StatusBadRequest, "Throttling",
			"Request was denied due to request throttling: this account runs %d analyses already, the most one account may run at once; retry when one ends.", g.byAccount[account])
	}
	g.total++
	g.byAccount[account]++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.total--
		if g.byAccount[account]--; g.byAccount[account] == 0 {
			delete(g.byAccount, account) // the map holds running accounts only
		}
		close(g.freed)
		g.freed = make(chan struct{})
	}, nil
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
