package agent

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// TestAgentPutsTheTableBack: another program flushes the agent's table
// (Fake.Tamper, as `nft flush ruleset` does to the kernel's): on the
// table's notice (Table.Watch), or within a CheckEvery, the agent applies
// the ruleset in force again, without a change from the server; a repair
// the kernel refuses is tried again at the next check; with CheckEvery
// negative nothing is checked.
func TestAgentPutsTheTableBack(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkEvery time.Duration
		failFirst  bool
		want       bool // the table is back
	}{
		{"put back", time.Second, false, true},
		{"put back on the notice, no check due", time.Hour, false, true},
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

// TestAgentFailsClosedWithoutServer: an agent whose server does not answer
// at start finds the kernel holding no policy (a reboot, a flush): it
// drops the traffic of every instance interface until the server answers,
// and the guard keeps it so, rather than let it all pass. A kernel holding
// a policy (the agent restarted) keeps it, until a flush.
func TestAgentFailsClosedWithoutServer(t *testing.T) {
	closed := nft.Build(policy.NewCloud(nil, nil, nil), host, opts).String()
	for _, tc := range []struct {
		name string
		held bool // the kernel holds a policy at start
	}{
		{"the kernel holds no policy", false},
		{"the kernel holds a policy", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := nft.NewFake(opts)
				before := want(records(80))
				if tc.held {
					groups, ins := records(80)
					if _, err := k.Apply(nft.Build(policy.NewCloud(groups, ins, nil), host, opts)); err != nil {
						t.Fatal(err)
					}
				}
				e, log := runLogged(t, func(c *Config) {
					c.CheckEvery = time.Second
					c.OpenTable = func() (nft.Table, error) { return k, nil }
				})
				for range 3 {
					e.expect(t, "snapshot").answer(reply{err: errServer})
				}
				wantNow := closed
				if tc.held {
					wantNow = before
				}
				if got := k.Applied(); got == nil || got.String() != wantNow {
					t.Fatalf("while the server does not answer the kernel holds:\n%v\nwant:\n%s", got, wantNow)
				}
				if failed := strings.Contains(log.String(), "dropping the traffic of every instance interface"); failed == tc.held {
					t.Errorf("the fail-closed policy logged: %v, want %v:\n%s", failed, !tc.held, log.String())
				}
				// A flush meanwhile: the guard puts the fail-closed policy
				// back; a policy the agent does not know, the next retry
				// replaces with it.
				k.Tamper()
				time.Sleep(2 * time.Second)
				synctest.Wait()
				if tc.held {
					e.expect(t, "snapshot").answer(reply{err: errServer})
					time.Sleep(time.Second)
					synctest.Wait()
				}
				if got := k.Applied(); got == nil || got.String() != closed {
					t.Errorf("after a flush the kernel holds:\n%v\nwant the fail-closed policy", got)
				}
				e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
				time.Sleep(time.Second)
				synctest.Wait()
				if got := k.Applied(); got == nil || got.String() != before {
					t.Errorf("once the server answered the kernel holds:\n%v\nwant:\n%s", got, before)
				}
				e.expect(t, "watch").answer(reply{err: context.Canceled})
			})
		})
	}
}
