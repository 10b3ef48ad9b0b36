package store

import (
	"fmt"
	"sync"
	"testing"
)

type memoKey struct{ n int }

// TestMemo: each key's value is computed once and the same value returned
// to every reader, concurrent ones included, within the list and beyond it
// (the map); a nil Memo computes on every call.
func TestMemo(t *testing.T) {
	for _, keys := range []int{1, memoFew, memoFew + 1, 50} {
		t.Run(fmt.Sprint(keys), func(t *testing.T) {
			var m Memo
			var mu sync.Mutex
			calls := map[memoKey]int{}
			get := func(k memoKey) *int {
				return m.Get(k, func() any {
					mu.Lock()
					calls[k]++
					mu.Unlock()
					return &[]int{k.n}[0] // a new pointer per computation
				}).(*int)
			}
			got := make([][]*int, 8)
			var wg sync.WaitGroup
			for g := range got {
				wg.Go(func() {
					for n := range keys {
						got[g] = append(got[g], get(memoKey{n}))
					}
				})
			}
			wg.Wait()
			for n := range keys {
				first := get(memoKey{n})
				for g := range got {
					if got[g][n] != first || *first != n {
						t.Fatalf("key %d: reader %d got %p (%d), later %p (%d)", n, g, got[g][n], *got[g][n], first, *first)
					}
				}
				before := calls[memoKey{n}]
				get(memoKey{n})
				if calls[memoKey{n}] != before || before < 1 || before > len(got) {
					t.Errorf("key %d computed %d times, then %d", n, before, calls[memoKey{n}])
				}
			}
		})
	}
	var nilMemo *Memo
	calls := 0
	for range 3 {
		nilMemo.Get(memoKey{}, func() any { calls++; return calls })
	}
	if calls != 3 {
		t.Errorf("a nil Memo computed %d times in 3 calls, want 3", calls)
	}
}
