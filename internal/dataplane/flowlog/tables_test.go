package flowlog

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
	"github.com/palisade-sg/palisade/internal/dataplane/nft"
)

// Two VPCs copied from one block, of two accounts, put instances with one
// private address on one host: a record names the NIC whose group decided
// it, or none, never the other account's.
func TestTablesSharedAddress(t *testing.T) {
	shared, own := netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("192.168.1.11")
	inst := func(id, owner, vpc, host, group string, a netip.Addr) *model.Instance {
		return &model.Instance{ID: id, Owner: owner, VpcID: vpc, PrivateIP: a, SecurityGroups: []string{group, "sg-both"},
			Host: host, Interface: "pi-" + id}
	}
	c := policy.NewCloud(nil, []*model.Instance{
		inst("i-a", "A", "vpc-a", "h1", "sg-a", shared),
		inst("i-b", "B", "vpc-b", "h1", "sg-b", shared),
		inst("i-c", "A", "vpc-a", "h1", "sg-a", own),
		inst("i-far", "C", "vpc-c", "h2", "sg-c", shared), // another host's: not this one's
	}, nil)
	rs := &nft.Ruleset{}
	var tables Tables
	tables.Update("h1", rs, c)
	res := tables.Resolver()
	rule := func(group string) nft.Entry {
		return nft.Entry{Side: model.Ingress, Reason: policy.ByRule, GroupID: group, RuleID: "sgr-1", Priority: 1, Policy: model.Accept, Verdict: policy.Accept}
	}
	for _, tc := range []struct {
		name  string
		addr  netip.Addr
		entry nft.Entry
		want  string // the VMID; "" for none
	}{
		{"rule of A's group", shared, rule("sg-a"), "i-a"},
		{"rule of B's group", shared, rule("sg-b"), "i-b"},
		{"intra-group of B's group", shared, nft.Entry{Side: model.Ingress, Reason: policy.IntraGroup, GroupID: "sg-b", Verdict: policy.Accept}, "i-b"},
		{"default verdict", shared, nft.Entry{Side: model.Ingress, Reason: policy.DefaultIngressDrop, Verdict: policy.Drop}, ""},
		{"a group both are in", shared, rule("sg-both"), ""},
		{"a group neither is in", shared, rule("sg-c"), ""},
		{"an address one NIC holds, default verdict", own, nft.Entry{Side: model.Ingress, Reason: policy.DefaultIngressDrop, Verdict: policy.Drop}, "i-c"},
		{"an address of no NIC here", netip.MustParseAddr("192.168.1.99"), rule("sg-a"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ifc, ok := res.Interface(tc.addr, tc.entry)
			if got := ifc.VMID; ok != (tc.want != "") || got != tc.want {
				t.Errorf("resolved to %q (%v), want %q", got, ok, tc.want)
			}
		})
	}
}
