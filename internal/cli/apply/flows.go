package apply

import (
	"slices"

	"github.com/palisade-sg/palisade/internal/analysis/plan"
	"github.com/palisade-sg/palisade/internal/analysis/reach"
	"github.com/palisade-sg/palisade/internal/core/model"
	"github.com/palisade-sg/palisade/internal/core/policy"
)

// flows computes the flows the plan opens and closes, offline, as
// "palisade plan --desired" does: the reachability of the account as read
// against that of the account as the plan leaves it. Both are in the
// file's names (managed resources renamed to their file IDs), so that the
// changes read like the file.
func (b *builder) flows() error {
	var before, after []*model.SecurityGroup
	var beforeI, afterI []*model.Instance
	var beforeP, afterP []*model.PrefixList
	stays := func(fileID string, named bool) bool { return fileID == "" || !named && !b.opt.Prune }
	for _, g := range b.st.Account.Groups {
		c := b.renameGroup(g)
		before = append(before, c)
		if stays(b.toFile[g.ID], slices.ContainsFunc(b.sc.Groups, func(x *model.SecurityGroup) bool { return x.ID == b.toFile[g.ID] })) {
			after = append(after, c)
		}
	}
	for _, in := range b.st.Account.Instances {
		c := b.renameInstance(in)
		beforeI = append(beforeI, c)
		if stays(b.toFile[in.ID], slices.ContainsFunc(b.sc.Instances, func(x *model.Instance) bool { return x.ID == b.toFile[in.ID] })) {
			afterI = append(afterI, c)
		}
	}
	for _, pl := range b.st.Account.PrefixLists {
		c := *pl
		c.ID = cmpOr(b.toFile[pl.ID], pl.ID)
		beforeP = append(beforeP, &c)
		if stays(b.toFile[pl.ID], slices.ContainsFunc(b.sc.PrefixLists, func(x *model.PrefixList) bool { return x.ID == c.ID })) {
			afterP = append(afterP, &c)
		}
	}
	var beforeE, afterE []*model.NetworkInterface
	for _, n := range b.st.Account.ENIs {
		c := b.renameENI(n)
		beforeE = append(beforeE, c)
		if stays(b.toFile[n.ID], slices.ContainsFunc(b.sc.ENIs, func(x *model.NetworkInterface) bool { return x.ID == b.toFile[n.ID] })) {
			afterE = append(afterE, c)
		}
	}
	after = append(after, b.sc.Groups...)
	for _, in := range b.sc.Instances {
		afterI = append(afterI, b.keptInstance(in))
	}
	for _, n := range b.sc.ENIs {
		afterE = append(afterE, b.keptENI(n))
	}
	afterP = append(afterP, b.sc.PrefixLists...)
	// Inside is not the internet, as the server has it.
	vpcs := slices.Clone(b.sc.VPCs)
	for _, v := range b.st.VPCs {
		vpcs = append(vpcs, &model.VPC{ID: v.ID, CIDR: v.CIDR, IPv6CIDR: v.IPv6CIDR})
	}
	inside := reach.InsideBlocks("", vpcs, slices.Values(slices.Concat(beforeI, afterI)))
	o := reach.Options{Inside: inside}
	// The NICs: the instances and their secondary ENIs, each with its groups.
	beforeL, afterL := b.portListsBeforeAfter()
	b.p.Changes = plan.Diff(reach.Compute(policy.NewCloud(before, model.NICs(beforeI, beforeE), beforeP).WithPortRangeLists(beforeL), o),
		reach.Compute(policy.NewCloud(after, model.NICs(afterI, afterE), afterP).WithPortRangeLists(afterL), o))
	b.p.Summary = plan.Summarize(b.p.Changes)
	return nil
}

// keptInstance is a file's instance as apply leaves it: one it keeps in
// place keeps the addresses a file cannot name (secondary IPv4, IPv6 past
// the first), which apply neither adds nor removes.
func (b *builder) keptInstance(in *model.Instance) *model.Instance {
	cur, ok := b.insts[in.ID]
	if !ok || b.instanceMoved(in, cur) != "" {
		return in
	}
	c := *in
	c.SecondaryIPs, c.MoreIPv6 = cur.SecondaryIPs, cur.MoreIPv6
	return &c
}

// keptENI is a file's ENI as apply leaves it: one it keeps in place keeps
// the addresses a file cannot name and its EIP, which a file cannot give
// an ENI (apply does not unbind it).
func (b *builder) keptENI(n *model.NetworkInterface) *model.NetworkInterface {
	cur, ok := b.enis[n.ID]
	if !ok || b.eniMoved(cur, n) {
		return n
	}
	c := *n
	c.SecondaryIPs, c.MoreIPv6, c.PublicIP, c.EipID = cur.SecondaryIPs, cur.MoreIPv6, cur.PublicIP, cur.EipID
	return &c
}

// renameGroup copies a group of the account with the IDs of managed
// resources (itself, its VPC, its rules' peers) replaced by file IDs.
func (b *builder) renameGroup(g *model.SecurityGroup) *model.SecurityGroup {
	c := *g
	c.ID = cmpOr(b.toFile[g.ID], g.ID)
	c.VpcID = cmpOr(b.toFile[g.VpcID], g.VpcID)
	c.Rules = slices.Clone(g.Rules)
	for i := range c.Rules {
		p := &c.Rules[i].Peer
		p.GroupID = cmpOr(b.toFile[p.GroupID], p.GroupID)
		p.PrefixListID = cmpOr(b.toFile[p.PrefixListID], p.PrefixListID)
		c.Rules[i].PortRangeListID = cmpOr(b.toFile[c.Rules[i].PortRangeListID], c.Rules[i].PortRangeListID)
	}
	return &c
}

func (b *builder) renameInstance(in *model.Instance) *model.Instance {
	c := *in
	c.ID = cmpOr(b.toFile[in.ID], in.ID)
	c.VpcID = cmpOr(b.toFile[in.VpcID], in.VpcID)
	c.SecurityGroups = make([]string, len(in.SecurityGroups))
	for i, g := range in.SecurityGroups {
		c.SecurityGroups[i] = cmpOr(b.toFile[g], g)
	}
	return &c
}

func (b *builder) renameENI(n *model.NetworkInterface) *model.NetworkInterface {
	c := *n
	c.ID = cmpOr(b.toFile[n.ID], n.ID)
	c.VpcID = cmpOr(b.toFile[n.VpcID], n.VpcID)
	c.InstanceID = cmpOr(b.toFile[n.InstanceID], n.InstanceID)
	c.SecurityGroups = make([]string, len(n.SecurityGroups))
	for i, g := range n.SecurityGroups {
		c.SecurityGroups[i] = cmpOr(b.toFile[g], g)
	}
	return &c
}
