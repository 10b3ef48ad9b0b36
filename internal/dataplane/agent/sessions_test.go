package agent

import (
	"net/netip"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/ti-mo/conntrack"

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
		if r := <-cuts; r.Cut != 1 {
			t.Fatalf("first cut %+v, want 1 cut", r)
		}
		if d := ct.Deleted(); len(d) != 1 || d[0].TupleOrig != to8080.TupleOrig {
			t.Fatalf("deleted %v, want the connection to 8080 only", d)
		}
		groups, _ := records(8080)
		e.expect(t, "watch").answer(reply{changes: &Changes{Snapshot: Snapshot{Revision: 7, Groups: groups}}})
		e.waitApplied(t, 7)
		if r := <-cuts; r.Cut != 1 || r.Checked != 3 {
			t.Fatalf("second cut %+v, want 1 cut of 3 checked", r)
		}
		if d := ct.Deleted(); len(d) != 2 || d[1].TupleOrig != to80.TupleOrig {
			t.Fatalf("deleted %v, want the connection to 80 next", d)
		}
		e.expect(t, "watch")
	})
}
