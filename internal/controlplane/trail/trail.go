package trail

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palisade-sg/palisade/internal/controlplane/peers"
)

// Options say how much the trail keeps and how it buffers.
type Options struct {
	// MaxAge drops events older than this; 0 takes DefaultMaxAge.
	MaxAge time.Duration
	// MaxEvents keeps at most this many events (the newest); 0 takes
	// DefaultMaxEvents.
	MaxEvents int
	// Queue is how many events may wait to be written; when it is full
	// further events are dropped (and counted) rather than slow a call
	// down. 0 takes DefaultQueue.
	Queue int
	Log   *slog.Logger
	// Now is the clock of retention and of LookupEvents' default window;
	// nil is time.Now.
	Now func() time.Time
}

// Defaults of Options. 90 days is as far back as ActionTrail's
// LookupEvents reaches.
const (
	DefaultMaxAge    = 90 * 24 * time.Hour
	DefaultMaxEvents = 1_000_000
	DefaultQueue     = 4096 // of events of at most about 12 KiB each
)

// batchSize bounds the events written in one transaction.
const batchSize = 500

// writeDelay bounds how long an event waits in the queue before it is
// written when no Flush asks for it (LookupEvents flushes first).
const writeDelay = 50 * time.Millisecond

// pruneEvery is how often events past MaxAge are deleted.
const pruneEvery = time.Minute

// Trail records events in the background and answers queries.
type Trail struct {
	st    *store
	opt   Options
	ch    chan Event
	flush chan chan error
	wake  chan struct{} // the queue is half full: write without waiting
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	recorded, dropped, failed atomic.Uint64
	now                       func() time.Time
	peers                     *peers.Fanin // nil: this server's events only
}

// Open opens (creating if needed) the trail file at path and starts the
// writer. path ":memory:" keeps the trail in a temporary file removed on
// Close.
func Open(path string, opt Options) (*Trail, error) {
	if opt.MaxAge <= 0 {
		opt.MaxAge = DefaultMaxAge
	}
	if opt.MaxEvents <= 0 {
		opt.MaxEvents = DefaultMaxEvents
	}
	if opt.Queue <= 0 {
		opt.Queue = DefaultQueue
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	st, err := openStore(path)
	if err != nil {
		return nil, err
	}
	t := &Trail{st: st, opt: opt, ch: make(chan Event, opt.Queue), flush: make(chan chan error), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), now: opt.Now}
	held, err := st.count(context.Background())
	if err != nil {
		st.close()
		return nil, err
	}
	go t.run(held)
	return t, nil
}

// Record queues an event without waiting; it reports false (and counts a
// drop) when the queue is full or the trail is closed.
func (t *Trail) Record(ev Event) bool {
	select {
	case <-t.stop:
	default:
		select {
		case t.ch <- ev:
			if len(t.ch) >= cap(t.ch)/2 { // write now rather than drop soon
				select {
				case t.wake <- struct{}{}:
				default:
				}
			}
			return true
		default:
		}
	}
	t.dropped.Add(1)
	return false
}

// Flush waits until every event queued before it is written.
func (t *Trail) Flush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case t.flush <- reply:
	case <-t.done:
		return errors.New("the event trail is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats are the trail's counters since Open.
type Stats struct {
	Recorded uint64 // written
	Dropped  uint64 // not queued: the queue was full
	Failed   uint64 // queued but not written: the file refused them
}

// Stats returns the counters.
func (t *Trail) Stats() Stats {
	return Stats{Recorded: t.recorded.Load(), Dropped: t.dropped.Load(), Failed: t.failed.Load()}
}

// Close writes what is queued and closes the file.
func (t *Trail) Close() error {
	t.once.Do(func() { close(t.stop) })
	<-t.done
	return t.st.close()
}

// run writes queued events in batches, one transaction each, and prunes;
// held is the number of events the trail holds, kept here (the writer is
// the only one to change it) so that a batch's prune check costs nothing.
func (t *Trail) run(held int64) {
	defer close(t.done)
	ctx := context.Background()
	tick := time.NewTicker(pruneEvery)
	defer tick.Stop()
	held = t.prune(ctx, held)
	var owed []accountCount // events to delete, per account (trim)
	held, owed = t.trim(ctx, held, owed)
	batch := make([]Event, 0, batchSize)
	write := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := t.st.insert(ctx, batch)
		if err != nil {
			t.failed.Add(uint64(len(batch)))
			t.opt.Log.Error("event trail: events could not be written and are lost", "events", len(batch), "err", err)
		} else {
			t.recorded.Add(uint64(len(batch)))
			held += int64(len(batch))
			held, owed = t.trim(ctx, held, owed)
		}
		batch = batch[:0]
		return err
	}
	// drain takes what is queued now, writing full batches as it goes.
	drain := func() error {
		var err error
		for {
			select {
			case ev := <-t.ch:
				batch = append(batch, ev)
				if len(batch) == batchSize {
					err = errors.Join(err, write())
				}
			default:
				return errors.Join(err, write())
			}
		}
	}
	// The events queued writeDelay after the first are written together
	// (sooner on Flush, on Close, or when the queue is half full): under a
	// stream of calls each transaction takes many events, whose commit and
	// index pages are shared, and the writer is not woken per event.
	timer := time.NewTimer(writeDelay)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case ev := <-t.ch:
			batch = append(batch, ev)
			timer.Reset(writeDelay)
			select {
			case <-timer.C:
			case <-t.wake:
			case reply := <-t.flush:
				reply <- drain()
				timer.Stop() // no stale tick is delivered after Stop (Go 1.23 timers)
				continue
			case <-t.stop:
				drain()
				return
			}
			timer.Stop()
			drain()
		case reply := <-t.flush:
			reply <- drain()
		case <-tick.C:
			held = t.prune(ctx, held)
			held, owed = t.trim(ctx, held, owed)
		case <-t.stop:
			drain()
			return
		}
	}
}

func (t *Trail) prune(ctx context.Context, held int64) int64 {
	n, err := t.st.pruneAge(ctx, t.now().Add(-t.opt.MaxAge))
	if err != nil {
		t.opt.Log.Error("event trail: old events could not be deleted", "err", err)
	}
	return held - n
}

// pruneChunk bounds the events one prune step deletes, so that the writer
// gets back to its queue within tens of milliseconds (50,000 deletes at
// once took 1.6 s: a full queue drops events).
const pruneChunk = 2000

// trim keeps the trail within MaxEvents: past it, fairCuts says what each
// account owes, down to 95% of MaxEvents (so the per-account count is
// read once per 5% of MaxEvents written), and each call deletes up to
// pruneChunk of it. It returns the events held and what is still owed.
func (t *Trail) trim(ctx context.Context, held int64, owed []accountCount) (int64, []accountCount) {
	if len(owed) == 0 && held > int64(t.opt.MaxEvents) {
		var err error
		if owed, err = t.st.fairCuts(ctx, int64(t.opt.MaxEvents-t.opt.MaxEvents/20)); err != nil {
			t.opt.Log.Error("event trail: events could not be counted for pruning", "err", err)
			return held, nil // tried again after the next batch
		}
	}
	for budget := int64(pruneChunk); budget > 0 && len(owed) > 0; {
		c := &owed[0]
		d, err := t.st.deleteOldest(ctx, c.account, min(c.n, budget))
		if err != nil {
			t.opt.Log.Error("event trail: old events could not be deleted", "err", err)
			return held, owed
		}
		held, budget, c.n = held-d, budget-min(c.n, budget), c.n-min(c.n, budget)
		if c.n == 0 || d == 0 {
			owed = owed[1:]
		}
	}
	return held, owed
}

// Find runs a query (for LookupEvents and tests).
func (t *Trail) Find(ctx context.Context, q Query) ([]Event, *Cursor, error) {
	evs, _, next, err := t.find(ctx, q)
	return evs, next, err
}

// find is Find with the position of each event.
func (t *Trail) find(ctx context.Context, q Query) ([]Event, []Cursor, *Cursor, error) {
	if q.Max <= 0 {
		q.Max = DefaultMaxResults
	}
	return t.st.find(ctx, q)
}
