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
		for _, a := range append(in.Addresses(), in.PublicIP) {
			if a.IsValid() {
				m[a] = ifc
			}
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
