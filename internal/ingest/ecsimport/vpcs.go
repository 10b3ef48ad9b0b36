package ecsimport

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisade-sg/palisade/internal/core/model"
)

// convertVPC turns a DescribeVpcs entry into its blocks: the VPC with its
// primary IPv4 and IPv6 blocks, then one entry of its ID for each
// secondary IPv4 block (the model's VPC holds one of each). A block that
// cannot be read is left out, with a warning.
func (b *builder) convertVPC(s sourced[vpcItem]) []*model.VPC {
	it := s.v
	block := func(text, what string) netip.Prefix {
		if text == "" {
			return netip.Prefix{}
		}
		p, err := netip.ParsePrefix(strings.TrimSpace(text))
		if err != nil || p != p.Masked() {
			b.warn(s.src, it.VpcId, "", "its %s %q cannot be read, so addresses in it count as the internet in reachability", what, text)
			return netip.Prefix{}
		}
		return p
	}
	v := &model.VPC{ID: it.VpcId, Region: it.RegionId, Name: it.VpcName, Description: it.Description,
		CIDR: block(it.CidrBlock, "CIDR block"), IPv6CIDR: block(it.Ipv6CidrBlock, "IPv6 CIDR block")}
	out := []*model.VPC{v}
	for _, text := range it.SecondaryCidrBlocks.SecondaryCidrBlock {
		if p := block(text, "secondary CIDR block"); p.IsValid() && p != v.CIDR {
			out = append(out, &model.VPC{ID: it.VpcId, Region: it.RegionId, Name: it.VpcName, CIDR: p})
		}
	}
	return out
}

// checkVPCs warns when instances, ENIs or groups are in VPCs the import
// does not hold: the analysis would take those VPCs' other addresses for
// the internet.
func (b *builder) checkVPCs(a *Account) {
	held := map[string]bool{}
	for _, v := range a.VPCs {
		held[v.ID] = true
	}
	missing := map[string]bool{}
	note := func(id string) {
		if id != "" && !held[id] {
			missing[id] = true
		}
	}
	for _, g := range a.Groups {
		note(g.VpcID)
	}
	for _, in := range a.Instances {
		note(in.VpcID)
	}
	for _, n := range a.ENIs {
		note(n.VpcID)
	}
	if len(missing) == 0 {
		return
	}
	ids := slices.Sorted(maps.Keys(missing))
	b.warn("DescribeVpcs", "", "", "%s not read, so the analysis takes the addresses in it for the internet; save `aliyun vpc DescribeVpcs --RegionId %s --PageSize 50` too",
		plural(ids, "VPC"), cmp.Or(b.region, "<region>"))
}

// plural names ids as "VPC vpc-a" or "VPC vpc-a, vpc-b" (at most five named).
func plural(ids []string, what string) string {
	shown := ids[:min(len(ids), 5)]
	s := fmt.Sprintf("%s %s", what, strings.Join(shown, ", "))
	if len(ids) > len(shown) {
		s += fmt.Sprintf(" and %d more", len(ids)-len(shown))
	}
	return s
}
