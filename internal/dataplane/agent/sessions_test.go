package agent

import (
	"context"
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ti-mo/conntrack"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
	"github.com/palisade-sg/palisade/internal/dataplane/sessions"
)

// TestAgentCutsDeniedSessions: after each apply the agent cuts the
// connections the policy in force denies on its host's NICs, those of the
// first apply too (the policy may have changed while it was down), and
// leaves those it accepts and those of other hosts' NICs.
func TestAgentCutsDeniedSessions(t *testing.T) {
	tcp := func(src, dst string, dport uint16) conntrack.Flow {
		return conntrack.NewFlow(syscall.IPPROTO_TCP, conntrack.StatusAssured, netip.MustParseAddr(src), netip.MustParseAddr(dst), 40000, dport, 120, 0)
	}
	to80 := tcp("10.0.0.2", "10.0.0.1", 80)      // i-2 → i-1, both here
	to8080 := tcp("10.0.0.2", "10.0.0.1", 8080)  // denied until the change
	far80 := tcp("10.0.0.2", "10.0.0.3", 80)     // i-3's ingress is h2's
	far8080 := tcp("10.0.0.2", "10.0.0.3", 8080) // i-3's ingress is h2's
	synctest.Test(t, func(t *testing.T) {
		ct := sessions.NewFake(to80, to8080, far80, far8080)
		cuts := make(chan sessions.Result, 10)
		e := startWith(t, 0, func(c *Config) {
			c.Conntrack = func() (sessions.Conntrack, error) { return ct, nil }
			c.OnCut = func(r sessions.Result) { cuts <- r }
		})
		e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
		e.waitApplied(t, 5)
		if r := nextCut(t, cuts); r.Cut != 1 {
			t.Fatalf("first cut %+v, want 1 cut", r)
		}
		if d := ct.Deleted(); len(d) != 1 || d[0].TupleOrig != to8080.TupleOrig {
			t.Fatalf("deleted %v, want the connection to 8080 only", d)
		}
		groups, _ := records(8080)
		e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 7, Groups: groups}}})
		e.waitApplied(t, 7)
		if r := nextCut(t, cuts); r.Cut != 1 || r.Checked != 3 {
			t.Fatalf("second cut %+v, want 1 cut of 3 checked", r)
		}
		if d := ct.Deleted(); len(d) != 2 || d[1].TupleOrig != to80.TupleOrig {
			t.Fatalf("deleted %v, want the connection to 80 next", d)
		}
		// A change that leaves this host's table as it is (a group no NIC
		// of it is in) is applied without a cut: no verdict changed.
		other := &model.SecurityGroup{ID: "sg-other", VpcID: "vpc-a", Type: model.Normal, InnerAccessPolicy: model.InnerDrop}
		e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 8, Groups: []*model.SecurityGroup{other}}}})
		e.waitApplied(t, 8)
		e.expect(t, "watch")
		synctest.Wait()
		select {
		case r := <-cuts:
			t.Fatalf("a cut after a change that left the table as it was: %+v", r)
		default:
		}
	})
}

// TestAgentCutsAfterRepair: connections let in while another program had
// flushed the table are cut once the guard has put the policy back.
func TestAgentCutsAfterRepair(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ct := sessions.NewFake()
		cuts := make(chan sessions.Result, 10)
		e := startWith(t, 0, func(c *Config) {
			c.CheckEvery = time.Hour // the table's notice brings the repair
			c.Conntrack = func() (sessions.Conntrack, error) { return ct, nil }
			c.OnCut = func(r sessions.Result) { cuts <- r }
		})
		e.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
		e.waitApplied(t, 5)
		if r := nextCut(t, cuts); r.Cut != 0 {
			t.Fatalf("first cut %+v, want none", r)
		}
		w := e.expect(t, "watch") // held: no change from the server from here on
		denied := conntrack.NewFlow(syscall.IPPROTO_TCP, conntrack.StatusAssured, netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1"), 40000, 8080, 120, 0)
		ct.Add(denied) // let in by the flushed table
		e.kernel.Tamper()
		if r := nextCut(t, cuts); r.Cut != 1 {
			t.Fatalf("cut after the repair %+v, want 1", r)
		}
		w.answer(reply{err: context.Canceled})
	})
}

// TestAgentCutsAfterRestart: an agent stopped after an apply, before its
// cut, finds on its start the table as it left it, so its first apply
// changes nothing; it cuts all the same (the denied connection flowed on
// for days).
func TestAgentCutsAfterRestart(t *testing.T) {
	denied := conntrack.NewFlow(syscall.IPPROTO_TCP, conntrack.StatusAssured, netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1"), 40000, 8080, 120, 0)
	synctest.Test(t, func(t *testing.T) {
		first := startWith(t, 0, func(c *Config) {
			c.Conntrack = func() (sessions.Conntrack, error) { return sessions.NewFake(), nil }
		})
		first.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
		first.waitApplied(t, 5)
		first.stop(t)

		cuts := make(chan sessions.Result, 10)
		applied := make(chan nft.Stats, 10)
		second := startWith(t, 0, func(c *Config) {
			c.OpenTable = func() (nft.Table, error) { // the table as the kernel kept it
				k := nft.NewFake(opts)
				_, err := k.Apply(first.kernel.Applied())
				return k, err
			}
			c.Conntrack = func() (sessions.Conntrack, error) { return sessions.NewFake(denied), nil }
			c.OnCut = func(r sessions.Result) { cuts <- r }
			applied2 := c.OnApplied
			c.OnApplied = func(rev int64, st nft.Stats) { applied <- st; applied2(rev, st) }
		})
		second.expect(t, "snapshot").answer(reply{snap: snapAt(5, 80)})
		second.waitApplied(t, 5)
		if st := <-applied; !st.IsZero() {
			t.Fatalf("the restarted agent's first apply changed the table (%+v): the test needs it unchanged", st)
		}
		if r := nextCut(t, cuts); r.Cut != 1 {
			t.Fatalf("cut %+v after the restart, want the denied connection cut", r)
		}
	})
}

// nextCut waits for the agent's next cut (an hour of the bubble's time at
// most: the agent's tickers keep the bubble from ever blocking).
func nextCut(t *testing.T, cuts chan sessions.Result) sessions.Result {
	t.Helper()
	select {
	case r := <-cuts:
		return r
	case <-time.After(time.Hour):
		t.Fatal("no cut in an hour")
	}
	return sessions.Result{}
}
