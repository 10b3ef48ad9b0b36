package lab

import (
	"context"
	"sync"
	"sync/atomic"
)

// parallel runs fn(0)…fn(n-1) on up to workers goroutines and returns the
// first error; after an error or cancellation no new item starts.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var (
		next   atomic.Int64
		mu     sync.Mutex
		first  error
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		failed.Store(true)
	}
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(err)
					return
				}
				if err := fn(i); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
