package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestAgentPutsTheTableBack: another program flushes the agent's table
// (Fake.Tamper, as `nft flush ruleset` does to the kernel's): within a
// CheckEvery the agent applies the ruleset in force again, without a
// change from the server; a repair the kernel refuses is tried again at
// the next check; with CheckEvery negative nothing is checked.
func TestAgentPutsTheTableBack(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkEvery time.Duration
		failFirst  bool
		want       bool // the table is back
	}{
		{"put back", time.Second, false, true},
		{"the first repair refused", time.Second, true, true},
		{"no checks", -1, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e, log := runLogged(t, func(c *Config) { c.CheckEvery = tc.checkEvery })

				groups, ins := records(80)
				e.expect(t, "snapshot").answer(reply{snap: snapshotOf(5, groups, ins)})
				e.waitApplied(t, 5)
				w := e.expect(t, "watch") // held: no change from the server from here on
				want := e.kernel.Applied().String()
				e.kernel.Tamper()
				if tc.failFirst {
					e.kernel.FailNextApply(errors.New("netlink: the kernel is busy"))
				}
				time.Sleep(5 * time.Second)
				synctest.Wait()
				got := e.kernel.Applied()
				if back := got != nil && got.String() == want; back != tc.want {
					t.Errorf("the table is back: %v, want %v", back, tc.want)
				}
				logs := log.String()
				if tc.want && !strings.Contains(logs, "another program changed the table") {
					t.Errorf("the repair is not logged:\n%s", logs)
				}
				if tc.failFirst && !strings.Contains(logs, "the kernel is busy") {
					t.Errorf("the refused repair is not logged:\n%s", logs)
				}
				w.answer(reply{err: context.Canceled})
			})
		})
	}
}
