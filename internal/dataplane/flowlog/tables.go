package flowlog

import (
	"net/netip"
	"strings"
	"sync"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Tables are what a host's collector resolves with, kept up to date by the
// agent (agent.Config.OnRuleset = tables.Update).
type Tables struct {
	Entries Entries
	mu      sync.RWMutex
	ifaces  map[netip.Addr]Interface
}

// Update takes the entries of the ruleset just applied and the interfaces
// of the host's instances from the policy it was built from.
func (t *Tables) Update(host string, rs *nft.Ruleset, c *policy.Cloud) {
	t.Entries.Set(rs.Entries)
	m := map[netip.Addr]Interface{}
	for _, in := range c.Instances {
		if in.Host != host {
			continue
		}
		ifc := Interface{AccountID: in.Owner, VpcID: in.VpcID, VSwitchID: in.VSwitchID, VMID: in.ID, HostInterface: in.Interface}
		if strings.HasPrefix(in.ID, "eni-") {
			// A secondary ENI, judged as a NIC of its own (model.NICs); the
			// NIC does not carry its instance's ID.
			ifc.ENI = in.ID
		} else {
			ifc.ENI = model.DerivedID("eni", in.ID) // the primary ENI's ID
		}
		for _, a := range NICAddrs(in) {
			m[a] = ifc
		}
	}
	t.mu.Lock()
	t.ifaces = m
	t.mu.Unlock()
}

// Resolver resolves with the tables.
func (t *Tables) Resolver() Resolver {
	return Resolver{Entries: &t.Entries, Interface: func(a netip.Addr) (Interface, bool) {
		t.mu.RLock()
		defer t.mu.RUnlock()
		i, ok := t.ifaces[a]
		return i, ok
	}}
}

// NICAddrs are the addresses that resolve to a NIC: its own (private,
// secondary, IPv6) and its public address (or EIP), which the host may see
// before or without the NAT to the private one. The session cutter
// (dataplane/sessions) maps a connection to a NIC with them too.
func NICAddrs(in *model.Instance) []netip.Addr {
	var out []netip.Addr
	for _, a := range append(in.Addresses(), in.PublicIP) {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}
