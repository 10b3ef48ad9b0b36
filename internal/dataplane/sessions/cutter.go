package sessions

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/palisade-sg/palisade/internal/core/policy"
)

// DefaultMaxEntries bounds the connections one cut decides: the kernel's
// default table size on a host with a few GB of memory. What is over it is
// logged, and left to the next cuts (each starts where the last stopped).
// The dump itself reads the whole table, as large as the kernel lets it
// grow (nf_conntrack_max).
const DefaultMaxEntries = 1 << 18

// Config configures a Cutter.
type Config struct {
	Host string // the host whose NICs' sides are enforced here
	// Open opens the connection table of the namespace the agent
	// programs; it is called at the first cut and again after a failure.
	Open func() (Conntrack, error)
	// MaxEntries bounds the connections one cut decides (0:
	// DefaultMaxEntries).
	MaxEntries int
	Log        *slog.Logger
	// OnCut, if set, is called after each cut with what it did.
	OnCut func(Result)
}

// Cutter cuts, after each policy applied, the connections it denies. The
// cut runs on the Cutter's goroutine (Run), off the apply's path: Changed
// only hands the policy over. Policies handed over while a cut runs are
// taken together, the newest one deciding.
type Cutter struct {
	cfg  Config
	mu   sync.Mutex
	next *policy.Cloud // handed over, not yet cut with (mu)
	kick chan struct{}
	ct   Conntrack // Run's
	// from is where the next cut of a table over MaxEntries starts (Run's).
	from int
	cut  atomic.Uint64
}

// New returns a Cutter; Run runs it.
func New(cfg Config) *Cutter {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Cutter{cfg: cfg, kick: make(chan struct{}, 1)}
}

// Changed hands over the policy the kernel enforces from now on (call it
// once the apply succeeded): the connections it denies are cut soon after.
func (c *Cutter) Changed(cl *policy.Cloud) {
	c.mu.Lock()
	c.next = cl
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // a cut is due already; it takes the newest policy
	}
}

// Total is the number of connections cut since the Cutter started.
func (c *Cutter) Total() uint64 { return c.cut.Load() }

// Run cuts after each change until ctx is done.
func (c *Cutter) Run(ctx context.Context) {
	defer func() {
		if c.ct != nil {
			c.ct.Close()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		c.mu.Lock()
		cl := c.next
		c.next = nil
		c.mu.Unlock()
		if cl != nil {
			c.once(cl)
		}
	}
}

const unreadable = "agent: cannot read the connection table: connections the new policy denies keep flowing until they end (the next change tries again)"

// once cuts with one policy.
func (c *Cutter) once(cl *policy.Cloud) {
	log := c.cfg.Log
	if c.ct == nil {
		ct, err := c.cfg.Open()
		if err != nil {
			log.Warn(unreadable, "err", err)
			return
		}
		c.ct = ct
	}
	d := NewDecider(cl, c.cfg.Host)
	if d.NICs() == 0 {
		return // no side of a connection is this host's
	}
	flows, err := c.ct.Dump()
	if err != nil {
		log.Warn(unreadable, "err", err)
		c.ct.Close()
		c.ct = nil
		return
	}
	c.mu.Lock()
	newer := c.next != nil
	c.mu.Unlock()
	if newer {
		// A newer policy is in force: the table may hold connections it
		// accepted that this one would cut. The next cut decides them.
		return
	}
	res, err := cutFlows(c.ct, d, flows, c.cfg.MaxEntries, c.from, func(den Denied) {
		log.Debug("agent: cut a connection the policy now denies", "proto", den.Packet.Proto,
			"src", den.Packet.Src, "sport", den.Packet.SrcPort, "dst", den.Packet.Dst, "dport", den.Packet.DstPort,
			"nic", den.NIC, "side", den.Side, "decided", den.Decision.String())
	})
	c.from += res.Checked
	c.cut.Add(uint64(res.Cut))
	if res.Cut > 0 {
		log.Info("agent: cut the established connections the policy now denies", "cut", res.Cut, "checked", res.Checked, "total", c.cut.Load())
	}
	if res.Failed > 0 {
		log.Warn("agent: the kernel refused to delete connections the policy now denies; they keep flowing until they end (conntrack -D deletes them)", "failed", res.Failed, "err", err)
	}
	if res.Unchecked > 0 {
		log.Warn("agent: more connections than one cut decides; the rest are decided by the next cuts, and keep flowing until then even if the policy denies them", "unchecked", res.Unchecked, "max", c.cfg.MaxEntries)
	}
	if c.cfg.OnCut != nil {
		c.cfg.OnCut(res)
	}
}
