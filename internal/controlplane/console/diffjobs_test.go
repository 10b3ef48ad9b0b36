package console

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/service"
)

// TestAccountDiffsBounded: the diffs run one at a time, so one account's
// sessions asking many at once end their own oldest past
// maxAccountDiffs, and never another account's or their own newest.
// (The console's slot for work ahead is held throughout: no diff runs,
// each waits for it as behind a long audit.)
func TestAccountDiffsBounded(t *testing.T) {
	c := &Console{cache: newResultCache(8)}
	c.cache.ahead <- struct{}{} // the slot held: every diff waits
	start := func(account string, n int) *diffJob {
		s := &session{id: fmt.Sprintf("%s-s%d", account, n), account: account}
		_, j := c.startAuditDiff(context.Background(), s, service.Caller{Account: account}, nil)
		return j
	}
	other := start("other", 0)
	const sessions = 3 * maxAccountDiffs
	var flood []*diffJob
	for i := range sessions {
		flood = append(flood, start("flood", i))
	}
	again := start("other", 1)

	ended := func(j *diffJob) bool {
		c.diffs.mu.Lock()
		defer c.diffs.mu.Unlock()
		return j.ended
	}
	for i, j := range flood {
		if want := i < sessions-maxAccountDiffs; ended(j) != want {
			t.Errorf("flood's diff %d of %d: ended %v, want %v", i+1, sessions, ended(j), want)
		}
	}
	if ended(other) || ended(again) {
		t.Errorf("another account's diffs ended (%v, %v) by one account's flood", ended(other), ended(again))
	}
	// An ended diff tells its session so.
	if ended(flood[0]) {
		<-flood[0].done
		if !errors.Is(flood[0].err, context.Canceled) {
			t.Errorf("an ended diff's error: %v", flood[0].err)
		}
	}

	// Done: end every diff while the slot is still held, so none runs.
	c.diffs.mu.Lock()
	for _, j := range c.diffs.m {
		j.end()
	}
	c.diffs.mu.Unlock()
	for _, j := range c.diffs.m {
		<-j.done
	}
}
