// Package sessions cuts the established connections a policy change
// denies, as ECS does: "unless the rule action changes, changes to security
// group rules or to the groups a NIC is in do not affect established
// sessions", so a session whose verdict becomes drop is cut, and one still
// accepted is left alone.
//
// The kernel accepts the packets of a tracked connection before any rule
// (ct state established), so a connection once accepted would keep flowing
// after the rule that let it in is revoked. After each apply the agent hands
// the policy in force to a Cutter, which reads the host's connection table
// (conntrack), decides each connection's original direction on the NICs of
// this host with the one policy engine (policy.Compiled, on the path
// policy.Cloud.PathOf picks, as the kernel's chains do), and deletes the
// connections now dropped on a side this host enforces: their next packet
// meets the rules as a new one, and is dropped.
package sessions

import (
	"errors"
	"net/netip"
	"syscall"

	"github.com/ti-mo/conntrack"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/flowlog"
)

// Conntrack is the seam to the kernel's connection table of the namespace
// the agent enforces: Kernel (netlink), or a fake in tests.
type Conntrack interface {
	Dump() ([]conntrack.Flow, error)
	// Delete deletes the connection of a dumped entry; an entry gone
	// meanwhile is an error wrapping syscall.ENOENT.
	Delete(conntrack.Flow) error
	Close() error
}

// Denied is a connection the policy now drops on a side of this host.
type Denied struct {
	Flow     conntrack.Flow
	NIC      string          // the ID of the NIC whose side drops it
	Side     model.Direction // Egress: the NIC is the source; Ingress: the destination
	Packet   policy.Packet   // the original direction as the host's rules see it
	Decision policy.Decision // the drop, and what decided it
}

// Decider decides connections under one policy for one host's NICs.
type Decider struct {
	eng  *policy.Compiled
	c    *policy.Cloud
	nics map[netip.Addr]*model.Instance // this host's NICs by address; nil: several NICs have it
}

// NewDecider prepares the decisions of the policy c for the NICs bound to
// host. A NIC is found by any of its addresses, its public one included
// (flowlog.NICAddrs, as flow records are resolved). An address two NICs of
// the host share (overlapping VPC blocks, a classic and a VPC instance)
// names neither: a connection on it is never cut, rather than decided
// with the wrong NIC's policy, maybe another account's.
func NewDecider(c *policy.Cloud, host string) *Decider {
	d := &Decider{eng: policy.Compile(c), c: c, nics: map[netip.Addr]*model.Instance{}}
	for _, in := range c.Instances { // the NICs: instances and attached ENIs
		if in.Host != host {
			continue
		}
		for _, a := range flowlog.NICAddrs(in) {
			if had, ok := d.nics[a]; ok && had != in {
				d.nics[a] = nil
				continue
			}
			d.nics[a] = in
		}
	}
	return d
}

// NICs is how many addresses of this host's NICs the decider knows.
func (d *Decider) NICs() int { return len(d.nics) }

// Decide decides an entry's original direction on each side this host
// enforces: the egress of the NIC that sent it, the ingress of the NIC it
// was sent to. It returns the first side that drops it, and false when
// every side of this host accepts it (or none is this host's).
//
// The packet decided is the one the rules saw in the forward hook: from the
// original source to the original destination after any NAT of this
// namespace's prerouting (the reply's source), so a connection to a public
// address NATed here is decided at the private address the NIC has.
func (d *Decider) Decide(f conntrack.Flow) (Denied, bool) {
	o, r := f.TupleOrig, f.TupleReply
	pkt := policy.Packet{Src: o.IP.SourceAddress.Unmap(), Dst: r.IP.SourceAddress.Unmap(), Proto: o.Proto.Protocol}
	if !pkt.Dst.IsValid() {
		pkt.Dst = o.IP.DestinationAddress.Unmap()
	}
	// Ports as conntrack keeps them (the rules look at them only for TCP
	// and UDP: policy's portsMatch).
	pkt.SrcPort, pkt.DstPort = o.Proto.SourcePort, r.Proto.SourcePort
	if pkt.DstPort == 0 {
		pkt.DstPort = o.Proto.DestinationPort
	}
	if in := d.nics[pkt.Src]; in != nil {
		if dec := d.decide(in, model.Egress, pkt); dec.Verdict == policy.Drop {
			return Denied{Flow: f, NIC: in.ID, Side: model.Egress, Packet: pkt, Decision: dec}, true
		}
	}
	in, ok := d.nics[pkt.Dst]
	if !ok {
		in = d.nics[o.IP.DestinationAddress.Unmap()]
	}
	if in != nil {
		if dec := d.decide(in, model.Ingress, pkt); dec.Verdict == policy.Drop {
			return Denied{Flow: f, NIC: in.ID, Side: model.Ingress, Packet: pkt, Decision: dec}, true
		}
	}
	return Denied{}, false
}

func (d *Decider) decide(in *model.Instance, dir model.Direction, pkt policy.Packet) policy.Decision {
	return d.eng.Decide(in, dir, d.c.PathOf(in, dir, pkt), pkt)
}

// Result counts one cut.
type Result struct {
	Entries   int // in the connection table
	Checked   int // decided (at most the bound)
	Cut       int // deleted
	Gone      int // denied, but ended before they could be deleted
	Failed    int // denied, and the kernel refused to delete them
	Unchecked int // not decided: over the bound
}

// cutFlows decides at most max of the entries dumped (0: all) and deletes
// those denied. It returns what it did, and the last error of a deletion
// (the others are counted in Failed); onDenied, if set, sees each entry
// deleted. The bounded share starts at the entry at start (modulo their
// number): successive cuts of a table over the bound start where the last
// stopped, so that no entry stays undecided for good.
func cutFlows(ct Conntrack, d *Decider, flows []conntrack.Flow, max, start int, onDenied func(Denied)) (Result, error) {
	n := len(flows)
	res, count := Result{Entries: n}, n
	if max > 0 && n > max {
		res.Unchecked, count, start = n-max, max, start%n
	} else {
		start = 0
	}
	var last error
	for i := range count {
		f := flows[(start+i)%n]
		res.Checked++
		den, ok := d.Decide(f)
		if !ok {
			continue
		}
		switch err := ct.Delete(deletion(f)); {
		case err == nil:
			res.Cut++
			if onDenied != nil {
				onDenied(den)
			}
		case errors.Is(err, syscall.ENOENT):
			res.Gone++
		default:
			res.Failed++
			last = err
		}
	}
	return res, last
}

// deletion names a dumped entry for the kernel's delete: its original
// tuple and zone, which find it.
func deletion(f conntrack.Flow) conntrack.Flow {
	return conntrack.Flow{TupleOrig: f.TupleOrig, Zone: f.Zone}
}
