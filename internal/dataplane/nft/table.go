package nft

import "context"

// Table is the nftables table Palisade owns in one network namespace, as the
// agent uses it: the seam between the compiler's output (a Ruleset) and the
// kernel. *Kernel talks netlink; *Fake keeps the table in memory, for tests
// that run without root. Implementations may be called from several
// goroutines.
type Table interface {
	// Apply makes the table hold rs, changing only what differs from what
	// it holds, all or nothing: after an error the table holds what it held
	// before. Stats say what changed.
	Apply(rs *Ruleset) (Stats, error)
	// Counters returns the counters of every security-group rule the table
	// holds, by rule.
	Counters() (map[RuleKey]Counter, error)
	// Drifted reports whether another program changed the table since the
	// last Apply (see Kernel.Drifted); the next Apply then writes it whole
	// again.
	Drifted() (bool, error)
	// Watch calls changed when the table may have changed (see
	// Kernel.Watch), until ctx is done; an error says it cannot.
	Watch(ctx context.Context, changed func()) error
	// FailClosed applies rs (a ruleset of no instance: its fail-closed
	// rules drop the traffic of every instance interface) when the table
	// holds no policy: it is missing (a reboot, `nft flush ruleset`) or
	// its base chain holds no rule (`nft flush table`). A table holding a
	// policy is left as it is. It reports whether it applied rs.
	FailClosed(rs *Ruleset) (bool, error)
	// Delete removes the table and everything in it; a missing table is
	// not an error.
	Delete() error
	// Close releases what the Table holds open; the table stays in force.
	Close() error
}

var (
	_ Table = (*Kernel)(nil)
	_ Table = (*Fake)(nil)
)
