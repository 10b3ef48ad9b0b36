package audit

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sg/palisade/internal/testkit/cloudgen"
)

// TestWorkersBoundParallelism holds the audit's parallel steps to
// Options.Workers goroutines at once, whatever GOMAXPROCS is.
func TestWorkersBoundParallelism(t *testing.T) {
	for _, workers := range []int{1, 2, 3} {
		in := &Input{Options: Options{Workers: workers}.withDefaults()}
		e := &engine{in: in}
		var now, most atomic.Int32
		var mu sync.Mutex
		var seen []int
		e.parallel(12, func(k int) {
			n := now.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond) // let the others overlap, if they may
			now.Add(-1)
			mu.Lock()
			seen = append(seen, k)
			mu.Unlock()
		})
		if got := most.Load(); got > int32(workers) {
			t.Errorf("Workers %d: %d goroutines ran at once", workers, got)
		}
		slices.Sort(seen)
		if len(seen) != 12 || seen[0] != 0 || seen[11] != 11 || len(slices.Compact(seen)) != 12 {
			t.Errorf("Workers %d: ran %v, want 0…11 once each", workers, seen)
		}
	}
}

// TestWorkersSameFindings: the findings do not depend on the worker count.
func TestWorkersSameFindings(t *testing.T) {
	for seed := range uint64(4) {
		c := cloudgen.Generate(seed+1, cloudgen.Small).Snapshot()
		want := Run(c, Options{})
		for _, w := range []int{1, 3} {
			got := Run(c, Options{Workers: w})
			if !slices.Equal(got, want) {
				t.Errorf("seed %d, Workers %d: %d findings differ from the default's %d", seed+1, w, len(got), len(want))
			}
		}
	}
}
