package flowlog

import (
	"net/netip"
	"slices"
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
	ifaces  map[netip.Addr][]nic // usually one; several when NICs share an address
}

// nic is a NIC of the host that an address resolves to, with its groups.
type nic struct {
	ifc    Interface
	groups []string
}

// Update takes the entries of the ruleset just applied and the interfaces
// of the host's instances from the policy it was built from.
func (t *Tables) Update(host string, rs *nft.Ruleset, c *policy.Cloud) {
	t.Entries.Set(rs.Entries)
	m := map[netip.Addr][]nic{}
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
			m[a] = append(m[a], nic{ifc, in.SecurityGroups})
		}
	}
	t.mu.Lock()
	t.ifaces = m
	t.mu.Unlock()
}

// Resolver resolves with the tables.
func (t *Tables) Resolver() Resolver {
	return Resolver{Entries: &t.Entries, Interface: func(a netip.Addr, e nft.Entry) (Interface, bool) {
		t.mu.RLock()
		defer t.mu.RUnlock()
		return resolve(t.ifaces[a], e)
	}}
}

// resolve picks the NIC of an address among those of the host that hold
// it. Two NICs of one host share an address when their VPCs overlap (a
// copied VPC block, often another account's); the entry that decided then
// names the NIC when its group is the groups of only one of them. A
// default verdict names no group: such a record is not attributed rather
// than given to the wrong NIC, maybe another account's (the session cutter
// leaves such connections alone for the same reason).
func resolve(nics []nic, e nft.Entry) (Interface, bool) {
	if len(nics) == 1 {
		return nics[0].ifc, true
	}
	var found *nic
	for i := range nics {
		if e.GroupID != "" && slices.Contains(nics[i].groups, e.GroupID) {
			if found != nil {
				return Interface{}, false
			}
			found = &nics[i]
		}
	}
	if found == nil {
		return Interface{}, false
	}
	return found.ifc, true
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
