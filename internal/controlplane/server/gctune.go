package server

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// DefaultGCHeadroom is how much the heap may grow between collections
// beyond Go's own pacing (Config.GCHeadroom).
const DefaultGCHeadroom = 64 << 20

// gcPace is the process's GC tuning: one for all the servers in it (a
// test's several), running while any of them serves.
var gcPace struct {
	sync.Mutex
	users int
	stop  chan struct{}
	done  chan struct{}
}

// gcTuneEvery is how often the live heap is read (after each collection
// the pacing needs adjusting; reading it costs microseconds).
const gcTuneEvery = 100 * time.Millisecond

// tuneGC lets the heap grow by at least headroom bytes between collections
// (not just by the live heap, as GOGC=100 does), until stop: the GC
// percent is set from the live heap after each collection, at least 100
// and at most 1000. Why: with a small live heap (tens of MiB) the
// analyses' short-lived allocations (hundreds of MiB a second under a
// storm of them) start a collection every few MiB, and each collection
// costs every request, not only the analyses: two stop-the-world pauses
// that wait for every thread, the analyses' low-priority ones included,
// write barriers, and mark assists charged to whichever goroutine
// allocates. The heap then peaks at about the live heap plus headroom
// (or twice the live heap when that is more): a bounded cost in memory.
// Nothing is tuned when headroom is not positive or when the GC percent
// is not Go's default (GOGC set, or debug.SetGCPercent called): the
// operator's choice stands.
func tuneGC(headroom int64) (stop func()) {
	gcPace.Lock()
	defer gcPace.Unlock()
	if headroom <= 0 || gcPace.users == 0 && gcPercent() != 100 {
		return func() {}
	}
	if gcPace.users++; gcPace.users == 1 {
		stop, done := make(chan struct{}), make(chan struct{})
		gcPace.stop, gcPace.done = stop, done
		go func() {
			defer close(done)
			defer debug.SetGCPercent(100)
			sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
			t := time.NewTicker(gcTuneEvery)
			defer t.Stop()
			var cycles uint64
			set := 100
			for {
				select {
				case <-stop:
					return
				case <-t.C:
				}
				metrics.Read(sample)
				if c := sample[1].Value.Uint64(); c == cycles {
					continue
				} else {
					cycles = c
				}
				if pct := gcPercentFor(sample[0].Value.Uint64(), headroom); pct != set {
					debug.SetGCPercent(pct)
					set = pct
				}
			}
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			gcPace.Lock()
			defer gcPace.Unlock()
			if gcPace.users--; gcPace.users == 0 {
				close(gcPace.stop)
				<-gcPace.done
			}
		})
	}
}

// gcPercentFor is the GC percent that lets a heap of live bytes grow by
// headroom before the next collection: at least 100, at most 1000, in
// steps of 10 (so that small changes of the live heap change nothing).
func gcPercentFor(live uint64, headroom int64) int {
	if live == 0 {
		return 1000
	}
	pct := int(min(uint64(headroom)*100/live, 1000))
	return max(100, pct/10*10)
}

// gcPercent is the GC percent in force.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
