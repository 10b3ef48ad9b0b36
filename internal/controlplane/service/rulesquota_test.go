package service

import (
	"net/netip"
	"testing"

	"github.com/palisade-sg/palisade/internal/controlplane/store/sqlite"
	"github.com/palisade-sg/palisade/internal/core/model"
)

// TestNICRuleQuotaOfSoftReads: an authorize checks the NIC-wide rule total
// of its group's members with their other groups read softly from the
// view: another group of theirs changed between the authorize's run and
// its commit is no conflict while the total holds, and refuses the write
// (rechecked at commit, run again, it sees the total over the quota) when
// together they cross it.
func TestNICRuleQuotaOfSoftReads(t *testing.T) {
	for _, tt := range []struct {
		name    string
		between int // weight added to another group of the member
		code    string
	}{
		{"nothing between", 0, ""},
		{"another group grows within the total", 1, ""},
		{"another group grows over the total", 200, "AclLimitExceed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			vpc := e.vpc()
			prl := model.PortRangeList{ID: model.NewID("prl"), Region: e.c.Region, Owner: e.c.Account, Name: "wide", MaxEntries: 200,
				Entries: []model.PortEntry{{Range: model.PortRange{Start: 80, End: 80}}}}
			e.put(KindPortRangeList, prl.ID, prl)
			cidr := netip.MustParsePrefix("10.0.0.0/8")
			var groups []string
			for i := range 5 {
				id := e.group(CreateGroupInput{VpcID: vpc})
				if i < 4 { // 4 × 200: 800 of the NIC's 1,000
					g := e.load(id)
					g.Rules = append(g.Rules, model.Rule{ID: model.NewID("sgr"), Direction: model.Ingress, Policy: model.Accept, Priority: 1,
						Protocol: model.TCP, PortRangeListID: prl.ID, Peer: model.Peer{CIDR: cidr}})
					e.put(KindGroup, id, g)
				}
				groups = append(groups, id)
			}
			e.instance(vpc, groups...)
			is := &interleaveStore{Store: e.s.Store.(*sqlite.Store)}
			is.before = func() {
				g := e.load(groups[3])
				switch tt.between {
				case 1:
					g.Rules = append(g.Rules, model.Rule{ID: model.NewID("sgr"), Direction: model.Ingress, Policy: model.Accept, Priority: 1,
						Protocol: model.UDP, PortRange: model.PortRange{Start: 53, End: 53}, Peer: model.Peer{CIDR: cidr}})
				case 200: // over the group's own quota too, as state from before a quota change
					g.Rules = append(g.Rules, model.Rule{ID: model.NewID("sgr"), Direction: model.Ingress, Policy: model.Accept, Priority: 1,
						Protocol: model.UDP, PortRangeListID: prl.ID, Peer: model.Peer{CIDR: cidr}})
				default:
					return
				}
				e.put(KindGroup, g.ID, g)
			}
			e.s.Store = is
			err := e.s.Authorize(e.ctx, RulesInput{Caller: e.c, SecurityGroupID: groups[4], Direction: model.Ingress,
				Permissions: []model.RuleInput{{IpProtocol: "TCP", PortRange: "22/22", SourceCidrIp: "10.0.0.0/8"}}})
			e.s.Store = is.Store
			wantCode(t, err, tt.code)
			if is.before != nil && tt.between != 0 {
				t.Fatal("the write between was not made")
			}
			if n := len(e.load(groups[4]).Rules); n != 1 && tt.code == "" || n != 0 && tt.code != "" {
				t.Errorf("%d rules authorized, want them only without an error", n)
			}
		})
	}
}
